package flowtemporal

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/internal/snippet"
	"github.com/flowgen/flowgen/runtime"
)

// failedAttempt is an attempt of a step (or rollback) that failed and was
// retried. Temporal retries an activity inside the server, out of the
// workflow's sight, so each failed attempt signals its run, which records
// it as the runtime does, a retry event, at once; and it leaves its record
// in the activity's heartbeat details, which Temporal hands to the next
// attempt, so that the attempt that ends the activity returns every
// record, for the run to record those no signal brought.
type failedAttempt struct {
	Attempt int       `json:"attempt"`
	Error   string    `json:"error"`
	Time    time.Time `json:"time"`
}

// recordHeartbeat heartbeats for attempt n of an activity: its details are
// the record of the failed attempts (oldest first), then n, the attempt
// that last started. Temporal keeps the last details across attempts and
// hands them to the workflow with a timeout, which tells nothing else of
// the attempt it cut (lastHeartbeat).
func recordHeartbeat(ctx context.Context, failed []failedAttempt, n int) {
	activity.RecordHeartbeat(ctx, failed, n)
}

// markStarted heartbeats at once as attempt n starts, when n is a retry:
// should a timeout end the activity (the deadline, while it runs or waits
// out its backoff; or its own timeout once the run was cancelled, which
// Temporal does not retry), the workflow learns which attempt it was, as
// the runtime records it, and so which attempts before it left no record.
// The first attempt need not: details without an attempt are the first's
// (lastHeartbeat).
func markStarted(ctx context.Context, prior []failedAttempt, n int) {
	if n > 1 {
		recordHeartbeat(ctx, prior, n)
	}
}

// lastHeartbeat is the record of the failed attempts and the attempt that
// last started, as the last heartbeat of an activity that timed out left
// them (recordHeartbeat); started is 0 when none says.
func lastHeartbeat(to *temporal.TimeoutError) (failed []failedAttempt, started int) {
	if to.HasLastHeartbeatDetails() && to.LastHeartbeatDetails(&failed, &started) != nil {
		return nil, 0
	}
	return failed, started
}

// retriedBefore is the record of the attempts before this one that failed,
// oldest first, as the attempt before this one left it.
func retriedBefore(ctx context.Context) []failedAttempt {
	var prior []failedAttempt
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &prior); err != nil {
			activity.GetLogger(ctx).Warn("flowgen: unreadable record of the failed attempts", "error", err)
			return nil
		}
	}
	return prior
}

// leaveRecord hands the record of the failed attempts, this one's failure
// (err) added, to the next attempt, when Temporal may retry it: err is
// retryable, attempts are left, the run was not cancelled and the next
// attempt may start before the step's deadline (chanceOfRetry). The SDK
// sends a heartbeat still buffered before it reports the failure, so the
// record is in the server when the next attempt starts.
//
// First, when the retry is sure, it tells the run (SignalAttemptFailed),
// which records the retry at once, as the runtime does: while the next
// attempt waits out its backoff or runs, the run's status shows it. The
// record is what the run falls back on when no signal reached it: then
// the run records the retry only once a later attempt brings the record
// back, so that Temporal's decision alone says whether there was one.
func leaveRecord(ctx context.Context, a runtime.Action, prior []failedAttempt, err error) {
	if runtime.IsPermanent(err) || ctx.Err() != nil {
		return
	}
	info := activity.GetInfo(ctx)
	now := time.Now()
	// Temporal's attempt number, which its policy counts: a.Attempt, but
	// in an activity scheduled again (ActionInput.First).
	chance := chanceOfRetry(info.RetryPolicy, int(info.Attempt), info.ScheduledTime, info.ScheduleToCloseTimeout, now)
	if chance == noRetry {
		return
	}
	failed := failedAttempt{Attempt: a.Attempt, Error: recordedError(err), Time: now.UTC()}
	if c := activity.GetClient(ctx); chance == sureRetry && canSignal(c) {
		sig := attemptSignal{Key: a.Key().String(), Failed: failed}
		if serr := c.SignalWorkflow(ctx, info.WorkflowExecution.ID, info.WorkflowExecution.RunID, SignalAttemptFailed, sig); serr != nil {
			activity.GetLogger(ctx).Warn("flowgen: telling the run of a failed attempt; it learns it when the step ends", "error", serr)
		}
	}
	recordHeartbeat(ctx, kept(append(slices.Clip(prior), failed)), a.Attempt)
}

// retryChance is what a failed attempt can tell, on its worker's clock, of
// whether Temporal will retry it.
type retryChance int

const (
	noRetry    retryChance = iota // no attempts left, or no time left for one
	maybeRetry                    // the next attempt would start within retryMargin of the deadline
	sureRetry
)

// retryMargin is how close to the deadline a retry may start and still be
// sure on the worker's clock: Temporal decides later, on its own clock,
// when the failure reaches it.
const retryMargin = time.Second

// chanceOfRetry is whether Temporal retries failed attempt n of an
// activity under retry policy p, scheduled at scheduled with a
// ScheduleToClose timeout (0: none), as seen at now. Temporal's rule
// (the server's, which alone decides): attempts are left, and the next
// attempt, after its backoff (retryInterval), would start before the
// first schedule plus ScheduleToClose. So close to that, only maybe.
func chanceOfRetry(p *temporal.RetryPolicy, n int, scheduled time.Time, scheduleToClose time.Duration, now time.Time) retryChance {
	if p != nil && p.MaximumAttempts > 0 && int32(n) >= p.MaximumAttempts {
		return noRetry
	}
	if p == nil || scheduleToClose <= 0 {
		return sureRetry
	}
	next, last := now.Add(retryInterval(p, n)), scheduled.Add(scheduleToClose)
	switch {
	case next.After(last.Add(retryMargin)):
		return noRetry
	case next.After(last.Add(-retryMargin)):
		return maybeRetry
	}
	return sureRetry
}

// canSignal reports whether c, the client Temporal gives an activity, can
// signal its run. The SDK's test environment gives activities a client over
// a mock service that expects no call (any call fails the test): there the
// run learns of the failed attempts when the step ends, from the record.
func canSignal(c client.Client) bool {
	if c == nil {
		return false
	}
	svc := reflect.TypeOf(c.WorkflowService())
	for svc != nil && svc.Kind() == reflect.Pointer {
		svc = svc.Elem()
	}
	return svc == nil || !strings.HasSuffix(svc.PkgPath(), "/workflowservicemock/v1")
}

// attemptSignal is what SignalAttemptFailed carries: the idempotency key of
// the action (its step, visit and rollback) and its failed attempt.
type attemptSignal struct {
	Key    string        `json:"key"`
	Failed failedAttempt `json:"failed"`
}

// inflight is an activity the run waits for, under its idempotency key:
// whose retry events go where (branch, when it is a branch's), and which
// attempts have one already.
type inflight struct {
	key      string
	branch   string
	recorded map[int]bool
}

// watchRetries records the retries the activities' attempts signal as they
// fail (SignalAttemptFailed), for the activity in flight under its key;
// a signal for none (a stale one: its activity ended) is dropped. It runs
// for the whole run, on a context its cancellation does not reach, since
// rollbacks retry too.
func (r *wfRun[S]) watchRetries() {
	r.inflight = map[string]*inflight{}
	ctx, _ := workflow.NewDisconnectedContext(r.ctx)
	ch := workflow.GetSignalChannel(ctx, SignalAttemptFailed)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var sig attemptSignal
			ch.Receive(ctx, &sig)
			if in := r.inflight[sig.Key]; in != nil {
				r.recordRetries(in, []failedAttempt{sig.Failed})
			}
		}
	})
}

// begin marks the activity of key in flight, for branch if it is one.
func (r *wfRun[S]) begin(key runtime.Key, branch string) *inflight {
	in := &inflight{key: key.String(), branch: branch, recorded: map[int]bool{}}
	r.inflight[in.key] = in
	return in
}

// end marks the activity in flight ended, run under ao, its last attempt
// last (0 when unknown), and records the failed attempts before it that no
// signal recorded, from the record prior it came back with (retries).
func (r *wfRun[S]) end(in *inflight, prior []failedAttempt, last int, ao workflow.ActivityOptions) {
	r.recordRetries(in, retries(prior, last, ao))
	delete(r.inflight, in.key)
}

// maxRecordedError bounds the error text a failed attempt's record keeps,
// and keptRecords how many records an attempt carries on, the newest: the
// records travel in heartbeat details and results, which Temporal limits
// in size (2 MB a payload), and a step may have any number of attempts.
// Carried on, keptRecords records of 2 KB take about 70 KB. The attempts
// whose records were dropped were told to the run as they failed, by
// their signals (leaveRecord); only those whose signal failed too are
// recorded without their error (retries).
const (
	maxRecordedError = 2048
	keptRecords      = 32
)

// kept is the records of failed carried on: the newest keptRecords.
func kept(failed []failedAttempt) []failedAttempt {
	return failed[max(len(failed)-keptRecords, 0):]
}

// recordedError is err's text, cut to maxRecordedError bytes as an error
// message cuts foreign text (snippet.Cut: at a rune's start, "..." where
// it was cut).
func recordedError(err error) string {
	return snippet.Cut(err.Error(), maxRecordedError)
}

// retries completes the record of the attempts before last, made under
// the activity options ao: an attempt that left none ran past its
// StartToClose timeout, or, when it heartbeated, maybe lost its worker
// (Temporal's history says which; the workflow is not told). The first is
// recorded as the runtime records an attempt past its timeout. Before the
// oldest record of a full record (keptRecords), an attempt's record may
// have been dropped instead (kept), and its error is not known: it is
// recorded saying so. Without a known last attempt (0) the record is
// taken as it is.
func retries(prior []failedAttempt, last int, ao workflow.ActivityOptions) []failedAttempt {
	if last <= 1 {
		return prior
	}
	lost := runtime.AttemptTimeout(ao.StartToCloseTimeout).Error()
	if ao.HeartbeatTimeout > 0 {
		lost = fmt.Errorf("%w: the attempt left no record: it ran past its timeout, or its worker stopped (no heartbeat for %v)",
			runtime.ErrTimeout, ao.HeartbeatTimeout).Error()
	}
	dropped := 0 // the attempts up to which a record may have been dropped
	if len(prior) >= keptRecords {
		dropped = prior[0].Attempt
	}
	full := make([]failedAttempt, 0, last-1)
	i := 0
	for n := 1; n < last; n++ {
		if i < len(prior) && prior[i].Attempt == n {
			full = append(full, prior[i])
			i++
			continue
		}
		if n < dropped {
			full = append(full, failedAttempt{Attempt: n, Error: fmt.Sprintf("the attempt failed, or left no record; its record was dropped (flowtemporal carries the records of the last %d failed attempts)", keptRecords)})
			continue
		}
		full = append(full, failedAttempt{Attempt: n, Error: lost})
	}
	// Last itself, when it failed and was to be retried: the deadline
	// passed while the retry waited out its backoff.
	return append(full, prior[i:]...)
}

// recordRetries records each failed attempt of in that has no retry event
// yet as one: of the current machine state (a step's or a rollback's), or
// of the branch's own machine. An event's time is when its attempt failed,
// kept between the run's last event and now, so that the history's times
// do not go back.
func (r *wfRun[S]) recordRetries(in *inflight, failed []failedAttempt) {
	for _, a := range failed {
		if in.recorded[a.Attempt] {
			continue
		}
		in.recorded[a.Attempt] = true
		edit := func(e *runtime.Event) {
			e.Error = a.Error
			if a.Time.After(e.Time) || a.Time.IsZero() {
				return
			}
			if n := len(r.history); n == 0 || a.Time.After(r.history[n-1].Time) {
				e.Time = a.Time
			}
		}
		if in.branch != "" {
			state := runtime.RunningState(in.branch)
			r.emitBranch(in.branch, state, state, a.Attempt, runtime.OutcomeRetry, nil, edit)
			continue
		}
		r.emit(r.machine, a.Attempt, runtime.OutcomeRetry, nil, edit)
	}
}
