package flowtemporal

// The names a flow has on Temporal. Workers, starters and senders of events
// all derive them here, so they cannot disagree.

const (
	// QueryStatus is the query that returns a run's runtime.Status (its
	// history included).
	QueryStatus = "flowgen.status"
	// QueryHistory is the query that returns a run's events, whole: a
	// history that does not fit in a query's answer (Temporal's bound,
	// 2 MB by default) is read in pages (QueryHistoryPage).
	QueryHistory = "flowgen.history"
	// QueryHistoryPage is the query that returns a page of a run's events
	// (a HistoryPageQuery in, a HistoryPage out), within what a query can
	// answer.
	QueryHistoryPage = "flowgen.history.page"

	// UpdateAbort is the update that aborts a run (an AbortUpdate in, no
	// result; AbortRun sends it): the run itself takes the abort, or
	// refuses it once it has entered its rollback after a failure, or
	// ended, so that its answer is the run's own.
	UpdateAbort = "flowgen.abort"
	// MemoAbortRequested is the memo field where a run records that it
	// took an abort (UpdateAbort), which its step in flight may keep it
	// from recording for a while: Temporal's cancel_requested says it
	// for an abort by cancellation.
	MemoAbortRequested = "flowgen.abort-requested"

	// SignalAttemptFailed is the signal an activity's attempt sends its
	// run when it failed and Temporal will retry it (attemptSignal), so
	// that the run records the retry as it happens.
	SignalAttemptFailed = "flowgen.attempt-failed"

	// MemoState is the memo field where a run that ended records its
	// terminal state (runtime.RunState), which lists of workflows show.
	MemoState = "flowgen.state"
	// MemoCorrelation is the memo field where a run records its
	// correlation (runtime.Event.RunCorrelation) when it enters a
	// correlated wait, so that lists of runs find it by that value.
	MemoCorrelation = "flowgen.correlation"
	// versionMemoCorrelation is the change (workflow.GetVersion) that
	// added MemoCorrelation: a run that waited before it replays without.
	versionMemoCorrelation = "flowgen.memo-correlation"
	// versionNullCorrelation is the change (workflow.GetVersion) after
	// which an event whose correlation member is null no longer wakes a
	// run whose correlation is empty (runtime.Correlation): a run that took
	// one before replays taking it (run.takes).
	versionNullCorrelation = "flowgen.null-correlation"
	// versionStateCorrelation is the change (workflow.GetVersion) after
	// which a JSON flow's null correlate field correlates as "null", as an
	// event's null member does (runtime.CorrelationText), not as "": a run
	// that waited on one before replays waiting for "" (run.correlation).
	versionStateCorrelation = "flowgen.state-correlation"
	// versionFailingOutcome is the change (workflow.GetVersion) after
	// which a step whose attempt returns an outcome that fails it (one the
	// flow does not route, or runtime.ReturnedOutcome's) is not undone, as
	// on the runtime, and the runtime's own outcomes are not routed: a run
	// that returned one before replays as it ran.
	versionFailingOutcome = "flowgen.failing-outcome"
	// versionPayloadNotJSON is the change (workflow.GetVersion) after
	// which an await refuses an event whose payload is not JSON, whatever
	// its correlation, as the runtime's runs do (runtime.PayloadNotJSON):
	// a run that took one before replays taking it (run.takes).
	versionPayloadNotJSON = "flowgen.payload-not-json"
	// versionMergeNotJSON is the change (workflow.GetVersion) after which
	// a parallel branch whose writes leave a state that does not encode as
	// JSON fails (runtime.StateNotJSON), as on the runtime: a run that
	// merged such writes before replays as it ran (run.parallel).
	versionMergeNotJSON = "flowgen.merge-not-json"
	// versionSleepAtDeadline is the change (workflow.GetVersion) after
	// which a sleep whose wake-up time is its deadline itself ends with
	// the outcome timeout (runtime.Wait.Timer), as on the runtime: a run
	// that woke from one before replays going on ok (run.wait).
	versionSleepAtDeadline = "flowgen.sleep-at-deadline"
	// versionSleepRange is the change (workflow.GetVersion) after which a
	// sleep until a time no history can record (runtime.RecordableTime)
	// ends with the outcome error (runtime.Step.SleepError), as on the
	// runtime: a run that set a timer for it before replays so (run.enter).
	versionSleepRange = "flowgen.sleep-range"
	// versionHistoryBound is the change (workflow.GetVersion) after which
	// a run whose history has reached its bound fails there and is
	// compensated, as on the runtime (run.historyFull): a run that went
	// past it before replays going on.
	versionHistoryBound = "flowgen.history-bound"
	// versionReclaim is the change (workflow.GetVersion) after which an
	// await whose timer fires asks where its events are kept for one
	// received in time (Options.Reclaim) before it routes timeout: a run
	// that timed out before replays taking its wait back (run.reclaim).
	versionReclaim = "flowgen.reclaim"
	// versionGiveBack is the change (workflow.GetVersion) after which a
	// run aborted in an await takes its wait back with Options.Reclaim
	// and gives back the event it was signalled and did not take
	// (Options.GiveBack): a run aborted before replays telling OnWait.
	versionGiveBack = "flowgen.abort-gives-back"
	// versionReclaimGivesBack is the change (workflow.GetVersion) after
	// which a run aborted while its await, timed out, waits for the event
	// Options.Reclaim said was signalled to it gives that event back
	// (Options.GiveBack): a run aborted so before replays ending without it.
	versionReclaimGivesBack = "flowgen.reclaim-abort-gives-back"
	// versionLostAttempt is the change (workflow.GetVersion) after which
	// an activity whose last attempt lost its worker runs that attempt
	// again (wfRun.activity), as the runtime's Resume does: a run whose
	// step (or rollback) failed so before replays failing it.
	versionLostAttempt = "flowgen.lost-attempt"
	// versionAbortBeforeRoute is the change (workflow.GetVersion) after
	// which a run whose step ran no attempt since it took an abort (an
	// await timed out, a sleep, a call whose child failed) ends aborted
	// rather than routing the step's outcome, as the runtime's run takes an
	// abort that came first (run.run): a run that routed so before replays
	// as it ran.
	versionAbortBeforeRoute = "flowgen.abort-before-route"
	// versionInputLimit is the change (workflow.GetVersion) after which a
	// step's activity input past Options.MaxInput fails the step
	// (ErrInputTooLarge) instead of being scheduled: a run that scheduled
	// such an input before, on a cluster whose payload limit is above
	// MaxInput, replays scheduling it.
	versionInputLimit = "flowgen.input-limit"
	// versionMergeLimit is the change (workflow.GetVersion) after which a
	// parallel branch whose merged writes leave the run's state past
	// Options.MaxInput fails (ErrResultTooLarge), the state as before the
	// merge: a run that merged so before replays taking the merge.
	versionMergeLimit = "flowgen.merge-limit"
	// MemoProgress is the memo field where a run of a flow with
	// Options.Progress records where it is (a Progress) each time that
	// changes, so that lists of runs show its machine state and step.
	MemoProgress = "flowgen.progress"
	// versionMemoProgress is the change (workflow.GetVersion) that added
	// MemoProgress: a run started before replays without it.
	versionMemoProgress = "flowgen.memo-progress"
	// versionEmptyCorrelation is the change (workflow.GetVersion) after
	// which a correlated await whose value is empty ends with the outcome
	// error (runtime.Step.CorrelationError), as on the runtime: a run that
	// waited so before replays waiting, and takes the event it took
	// (run.wait). GetVersion is asked only for such a wait.
	versionEmptyCorrelation = "flowgen.empty-correlation"

	// Error types of the application errors flowgen's activities return.
	errTypeStep    = "flowgen.error"
	errTypeTimeout = "flowgen.timeout" // the step's error wraps runtime.ErrTimeout
	errTypeLost    = "flowgen.lost"    // the attempt's worker stopped and cut it
	// A retry that found the run's history at its bound did not run
	// (ActionInput.Recorded): the step fails with runtime.ErrHistoryLimit.
	errTypeHistoryFull = "flowgen.history-limit"
	// An abort the run refused (UpdateAbort): it is over, or rolling back
	// after a failure; the details name the runtime's errors it wraps.
	errTypeAbortRefused = "flowgen.abort-refused"
	// An abort that reached the run after its caller stopped waiting for
	// the answer (AbortUpdate.Until): refused, so that it changes nothing.
	errTypeAbortLate = "flowgen.abort-late"
)

// WorkflowName is the workflow type of a flow: the flow's ID.
func WorkflowName(flow string) string { return flow }

// ActivityName is the activity type of a step ("Signup.CreateCustomer") or
// of its rollback ("Signup.CreateCustomer.rollback").
func ActivityName(flow, step string, rollback bool) string {
	if rollback {
		return flow + "." + step + ".rollback"
	}
	return flow + "." + step
}

// SignalName is the signal that delivers an event of topic/event to the
// runs awaiting it ("flowgen.event:payments/payment.succeeded").
func SignalName(topic, event string) string { return "flowgen.event:" + topic + "/" + event }

// endErrorType is the application error type of a run that ended in state.
func endErrorType(state string) string { return "flowgen." + state }
