package flowtemporal

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/runtime"
)

// wfRun is one run inside its workflow. Workflow code runs on one
// coroutine at a time, queries between them, so it needs no lock.
type wfRun[S any] struct {
	f       *Flow[S]
	ctx     workflow.Context
	id      string
	state   S
	machine string // the current machine state, as the runtime names it
	history []runtime.Event
	visits  map[string]int
	// done are the completed steps with a rollback, oldest first.
	done  []completion
	cause *stepFailure
	// wait is what the run waits for in its waiting state: the event
	// that ends a call's wait names the child (Event.Child).
	waiting *runtime.Wait
	// parent is the run whose call started this one, if any: its first
	// event records it (Event.Parent).
	parent *runtime.RunRef
	// inflight are the activities the run waits for, by idempotency key
	// (watchRetries).
	inflight map[string]*inflight
	// steps folds the run's step (runtime.RunStep) and listed is the
	// progress its memo holds (progressed).
	steps  runtime.RunStep
	listed Progress
	// abortNow cancels ctx, as the cancellation of the workflow does: the
	// run takes an abort it was sent as an update (UpdateAbort).
	abortNow workflow.CancelFunc
}

type completion struct {
	step  string
	visit int
}

// Workflow is the flow's Temporal workflow: it runs one run from state to
// its end. It returns the final state when the run ends done; otherwise an
// error whose details are the run's ending (Run.Wait reads them). The
// state goes to the SDK through a pointer, as every state does
// (payloadlimit.go); clients read it into an S all the same.
func (f *Flow[S]) Workflow(ctx workflow.Context, state S) (*S, error) {
	s, err := f.runWorkflow(ctx, state)
	return &s, err
}

func (f *Flow[S]) runWorkflow(ctx workflow.Context, state S) (S, error) {
	r := &wfRun[S]{f: f, id: workflow.GetInfo(ctx).WorkflowExecution.ID, state: state,
		machine: runtime.MachinePending, visits: map[string]int{}, parent: parentOf(ctx)}
	// The run's context ends with the workflow's cancellation, or when
	// the run takes an abort update: one context, so the abort takes one
	// path either way. A context of its own records no command, so a
	// history recorded before replays as it ran.
	r.ctx, r.abortNow = workflow.WithCancel(ctx)
	if err := r.takeAborts(ctx); err != nil {
		return state, err
	}
	if err := workflow.SetQueryHandler(ctx, QueryHistory, func() ([]runtime.Event, error) { return r.history, nil }); err != nil {
		return state, err
	}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (runtime.Status, error) { return runtime.Replay(r.history) }); err != nil {
		return state, err
	}
	if err := workflow.SetQueryHandler(ctx, QueryHistoryPage, func(q HistoryPageQuery) (HistoryPage, error) { return pageOf(r.history, q) }); err != nil {
		return state, err
	}
	r.watchRetries()
	return r.run()
}

// run drives the run from its first step: each step waits (await, sleep)
// if it does, runs its activity if it has work, and its outcome goes where
// the flow routes it.
func (r *wfRun[S]) run() (S, error) {
	if r.ctx.Err() != nil {
		return r.abort(0, r.ctx.Err())
	}
	wait := r.enter(r.f.steps[0].ID, 0, "", nil)
	for {
		step := r.f.byID[stepOf(r.machine)]
		var out runtime.Outcome
		var err error
		attempt := 0
		var got runtime.Delivery // the awaited event, or a call's result (Payload)
		var aborted bool
		switch {
		case len(step.Branches) > 0:
			if full := r.historyFull(); full != nil { // the block did not start: nothing in it to roll back
				return r.fail(step.ID, 0, runtime.OutcomeError, full)
			}
			out, err, aborted = r.parallel(step)
			if aborted {
				return r.abort(0, r.ctx.Err())
			}
		case wait != nil:
			if step.Call != nil {
				got.Payload, out, err, aborted = r.call(step, wait)
			} else {
				got, out, err, aborted = r.wait(step, wait)
			}
			if aborted {
				return r.abort(0, r.ctx.Err())
			}
			if out == "" {
				r.emit(runtime.RunningState(step.ID), 0, "", nil, func(e *runtime.Event) { e.Payload, e.Link = got.Payload, got.Link })
			}
		}
		// A child that ended done is a completed call even when the run
		// was aborted meanwhile (as on the runtime): the step takes its
		// result, then the run aborts and rolls it back.
		returned := step.Call != nil && out == "" && r.ctx.Err() != nil
		if !returned && r.ctx.Err() != nil && (out != "" || step.OnlyWaits()) &&
			workflow.GetVersion(r.ctx, versionAbortBeforeRoute, workflow.DefaultVersion, 1) != workflow.DefaultVersion {
			// The run took an abort, and its step runs no attempt now
			// (its wait ended, timed out as its inbox answered, or in the
			// workflow task that brought the abort, after the wait's own
			// select; a call's child failed): the step did not complete,
			// and its outcome is not routed, as the runtime's run aborts
			// a step it did not run (and enters aborting, not failing,
			// after an abort that came first). Else a run that answered
			// the abort taken would end failed, compensated or done.
			return r.abort(0, r.ctx.Err())
		}
		if out == "" && len(step.Branches) == 0 && !returned {
			// Before the step's first attempt, which the failure names, as
			// the runtime's attempts (a step that only waits has one, which
			// does nothing): the step did not run, so it is not rolled back.
			if full := r.historyFull(); full != nil {
				return r.fail(step.ID, 1, runtime.OutcomeError, full)
			}
		}
		if out == "" && step.OnlyWaits() && len(step.Branches) == 0 {
			attempt = 1 // the runtime counts the attempt of a step that only waits, which does nothing
		}
		if out == "" && !step.OnlyWaits() {
			ctx := r.ctx
			if returned {
				ctx, _ = workflow.NewDisconnectedContext(r.ctx)
			}
			out, attempt, err, aborted = r.exec(ctx, step, got.Payload)
			if aborted {
				return r.abort(attempt, err)
			}
			if errors.Is(err, runtime.ErrHistoryLimit) {
				// A retry found the run's history at its bound and did
				// not run (ActionInput.Recorded): the run fails there, as
				// the runtime's, not routed by the step's outcome.
				return r.fail(step.ID, attempt, runtime.OutcomeError, err)
			}
			// An attempt the abort did not stop (one that does not
			// heartbeat, or returned anyway) counts, as on the runtime,
			// which waits for it: a completed step is rolled back.
			returned = returned || r.ctx.Err() != nil
		}
		if out == "" {
			out = runtime.OutcomeOK
		}
		to, rerr := r.f.def.Route(step.ID, out)
		var failedBy error // the outcome out fails the step: it did not complete
		if err == nil && !returned {
			failedBy = r.outcomeFails(out, rerr)
		}
		if err == nil && failedBy == nil && step.Rollback != nil {
			r.done = append(r.done, completion{step.ID, r.visits[step.ID]})
		}
		if returned {
			if err != nil {
				return r.abort(attempt, err)
			}
			r.emit(runtime.MachineAborting, attempt, out, nil, nil)
			return r.unwind(true)
		}
		if failedBy != nil {
			rerr = failedBy
		}
		if rerr != nil { // a named outcome nothing routes fails the step
			err, to = rerr, runtime.Fail
		}
		switch to {
		case runtime.Done:
			r.emit(string(runtime.StateDone), attempt, out, nil, nil)
			return r.state, nil
		case runtime.Fail:
			return r.fail(step.ID, attempt, out, err)
		}
		wait = r.enter(to, attempt, out, err)
	}
}

// fail fails the run at step, whose attempt ended with out and err (nil:
// the outcome routed to fail), and compensates it.
func (r *wfRun[S]) fail(step string, attempt int, out runtime.Outcome, err error) (S, error) {
	r.emit(runtime.MachineFailing, attempt, out, err, nil) // routed by its outcome: no error, as on the runtime
	if err == nil {
		err = runtime.RoutedToFail(out)
	}
	cause := failureOf(step, attempt, out, err)
	r.cause = &cause
	return r.unwind(false)
}

// Temporal's own bounds of a workflow's history, below the limits past
// which Temporal terminates the workflow (51,200 events, 50 MB by
// default), with room left for the compensation of the run: a step with
// an activity costs about seven events of Temporal's history, so a run
// that loops through its steps can reach Temporal's limits before the
// flow's own bound (runtime.WithMaxHistory) counts its transitions.
// Variables, so that a test can reach them.
var (
	temporalHistoryEvents = 40_000
	temporalHistoryBytes  = 40 << 20
)

// historyFull is the error that fails the run, as the runtime's, when a
// step is about to run or a parallel block is entered with the run's
// history at its flow's bound (runtime.Flow.HistoryFull), or with the
// workflow's Temporal history at Temporal's bounds above, or nil. A run
// recorded before this rule replays going on (versionHistoryBound):
// GetVersion is asked only when the bound is reached, so replays ask it
// at the same point.
func (r *wfRun[S]) historyFull() error {
	err := r.f.def.HistoryFull(len(r.history))
	if err == nil {
		info := workflow.GetInfo(r.ctx)
		if n, size := info.GetCurrentHistoryLength(), info.GetCurrentHistorySize(); n >= temporalHistoryEvents || size >= temporalHistoryBytes {
			err = fmt.Errorf("%w: the workflow's Temporal history holds %d events, %d bytes (flowgen stops a run on Temporal at %d events or %d bytes, below Temporal's own limits)",
				runtime.ErrHistoryLimit, n, size, temporalHistoryEvents, temporalHistoryBytes)
		}
	}
	if err == nil || workflow.GetVersion(r.ctx, versionHistoryBound, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return nil
	}
	return err
}

// outcomeFails is the error that out, the outcome of a step's attempt that
// returned no error, fails the step with, as on the runtime: one of the
// runtime's own (runtime.ReturnedOutcome) or one the flow does not route
// (routeErr, Route's error for out).
// Such a step did not complete, so it is not undone. nil when out routes,
// and for a run that returned one before this rule (versionFailingOutcome),
// which replays as it ran: the step undone, the runtime's own outcomes
// routed. GetVersion is asked only when out fails the step, from the
// attempt's recorded result, so replays ask it at the same point.
func (r *wfRun[S]) outcomeFails(out runtime.Outcome, routeErr error) error {
	_, err := runtime.ReturnedOutcome(out)
	if err == nil {
		err = routeErr
	}
	if err == nil || workflow.GetVersion(r.ctx, versionFailingOutcome, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return nil
	}
	return err
}

// correlation is c, the correlation value of the wait that await a
// enters, or, in a run recorded before a's rule changed what it gives
// (Await.CorrelateBefore: a JSON flow's null correlate field, "" before,
// "null" since; versionStateCorrelation), what it gave then, so that the
// run replays taking the events it took. GetVersion is asked only when
// the two differ, from the run's state, so replays ask it at the same
// point.
func (r *wfRun[S]) correlation(a *runtime.Await[S], c string) string {
	before := a.CorrelateBefore(&r.state)
	if before == c || workflow.GetVersion(r.ctx, versionStateCorrelation, workflow.DefaultVersion, 1) != workflow.DefaultVersion {
		return c
	}
	return before
}

// stepOf is the step of a machine state ("X:running" gives "X").
func stepOf(machine string) string {
	step, _, _ := runtime.ParseMachineState(machine)
	return step
}

// enter records the transition into step (its waiting state if it waits)
// and returns what it waits for, or nil.
func (r *wfRun[S]) enter(step string, attempt int, out runtime.Outcome, err error) *runtime.Wait {
	st := r.f.byID[step]
	r.visits[step]++
	now := workflow.Now(r.ctx)
	var w *runtime.Wait
	if st.Await != nil || st.Sleep != nil || st.Call != nil {
		w = st.NewWait(&r.state, now) // the runtime's: the deadline bounds a sleep too
		if sl := st.Sleep; sl != nil && sl.Until != nil && w.Until.IsZero() {
			if t := sl.Until(&r.state); runtime.RecordableTime(t) != nil &&
				workflow.GetVersion(r.ctx, versionSleepRange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
				w.Until = t.Round(0) // a run from before set its timer for it: it replays so
			}
		}
		if a := st.Await; a != nil && a.CorrelateBefore != nil && w.Correlated {
			w.Correlation = r.correlation(a, w.Correlation)
		}
		if st.Call != nil {
			w.Child = &runtime.RunRef{Flow: st.Call.Flow,
				RunID: runtime.ChildRunID(runtime.Key{RunID: r.id, Step: step, Visit: r.visits[step]}, 1)}
		}
	}
	to := runtime.RunningState(step)
	switch {
	case len(st.Branches) > 0:
		to = runtime.ParallelState(step)
	case w != nil:
		to = runtime.WaitingState(step)
	}
	r.emit(to, attempt, out, err, func(e *runtime.Event) {
		if w != nil {
			recorded := *w // the event's copy: without the fields the event has
			e.Wait = &recorded
		}
	})
	if w != nil {
		w.Flow, w.RunID, w.Step = r.f.ID(), r.id, step
		w.Key = runtime.Key{RunID: r.id, Step: step, Visit: r.visits[step]}.String()
	}
	r.waiting = w
	return w
}

// wait blocks until the awaited event (a signal whose payload matches),
// the wait's timer (runtime.Wait.Timer: a sleep's wake-up time, or the
// deadline, outcome "timeout"), or the run's cancellation. A sleep until a
// time never set, or one no history can record, ends with "error"
// (runtime.Step.SleepError), and so does a correlated await whose value
// is empty (runtime.Step.CorrelationError). The event comes with its sender's
// link, if it carried one (SignalArg). When the timer fires, an event
// received in time may still be on its way (reclaim).
func (r *wfRun[S]) wait(st *runtime.Step[S], w *runtime.Wait) (got runtime.Delivery, out runtime.Outcome, err error, aborted bool) {
	if st.Sleep != nil && w.Until.IsZero() {
		return got, runtime.OutcomeError, st.SleepError(&r.state), false
	}
	if err := st.CorrelationError(w); err != nil &&
		workflow.GetVersion(r.ctx, versionEmptyCorrelation, workflow.DefaultVersion, 1) != workflow.DefaultVersion {
		return got, runtime.OutcomeError, err, false
	}
	tctx, cancelTimer := workflow.WithCancel(r.ctx)
	defer cancelTimer()
	sel := workflow.NewSelector(r.ctx)
	fired, woke := false, false
	at, timeout := w.Timer()
	if timeout && w.Until.Equal(w.Deadline) &&
		workflow.GetVersion(r.ctx, versionSleepAtDeadline, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		timeout = false // a run from before woke at its deadline: it replays so
	}
	if !at.IsZero() {
		t := workflow.NewTimer(tctx, max(at.Sub(workflow.Now(r.ctx)), 0))
		sel.AddFuture(t, func(f workflow.Future) {
			if f.Get(tctx, nil) == nil {
				fired, woke = timeout, !timeout
			}
		})
	}
	var ch workflow.ReceiveChannel
	var dropped [][]byte // the payloads of the events the run did not take
	if st.Await != nil {
		ch = workflow.GetSignalChannel(r.ctx, SignalName(w.Topic, w.Event))
		sel.AddReceive(ch, func(c workflow.ReceiveChannel, _ bool) {
			d, taken := r.receive(c, st, w)
			if taken {
				got, woke = d, true
			} else {
				dropped = append(dropped, d.Payload)
			}
		})
	}
	sel.AddReceive(r.ctx.Done(), func(workflow.ReceiveChannel, bool) { aborted = true })
	reclaimed := false // the wait was taken back by Options.Reclaim
	if st.Await != nil && r.f.opts.OnWait != nil {
		r.f.opts.OnWait(r.ctx, w, true)
		defer func() {
			if !woke && !reclaimed {
				dctx, _ := workflow.NewDisconnectedContext(r.ctx)
				r.f.opts.OnWait(dctx, w, false)
			}
		}()
	}
	for !fired && !woke && !aborted {
		sel.Select(r.ctx)
	}
	if fired && st.Await != nil {
		got, woke, aborted, reclaimed = r.reclaim(ch, st, w, dropped)
		fired = !woke && !aborted
	}
	if aborted && st.Await != nil && !reclaimed {
		reclaimed = r.giveBack(ch, st, w, dropped)
	}
	switch {
	case aborted:
		return runtime.Delivery{}, "", nil, true
	case fired:
		return runtime.Delivery{}, runtime.OutcomeTimeout, w.TimeoutError(), false
	}
	return got, "", nil, false
}

// exec runs the step's activity under ctx, its attempts as the step's
// retry policy says, and takes its state if it succeeded.
func (r *wfRun[S]) exec(ctx workflow.Context, st *runtime.Step[S], payload []byte) (runtime.Outcome, int, error, bool) {
	counted := r.f.def.HistoryFull(len(r.history)) == nil
	t := r.attempts(ctx, st, r.visits[st.ID], r.state, payload, r.entered(st.ID), "", counted)
	if t.cancelled {
		return "", t.attempt, t.err, true
	}
	if t.err == nil {
		r.state = t.state
	}
	return t.out, t.attempt, t.err, false
}

// tried is how an activity's attempts ended: the state its last attempt
// returned, its outcome and attempt, or its error. cancelled reports that
// the run's context was cancelled: before an attempt that counts ran
// (attempt 0), or while one ran that then failed (its attempt and error).
type tried[S any] struct {
	state     S
	out       runtime.Outcome
	attempt   int
	err       error
	cancelled bool
}

// attempts runs the activity of visit of step st (a branch of the block the
// run is in, when branch is set) on state, entered at entered (its deadline
// counts from there), and records its failed attempts as retry events. A
// cancelled activity is waited for (Temporal's WaitForCancellation): one
// that succeeded anyway returns its state. counted says that the history
// bound was checked before the step's first attempt (or the block's
// entry), so its retries check it on (attempt): false for a run of older
// code that the check let go on past its bound (versionHistoryBound).
func (r *wfRun[S]) attempts(ctx workflow.Context, st *runtime.Step[S], visit int, state S, payload []byte, entered time.Time, branch string, counted bool) tried[S] {
	ao := workflow.ActivityOptions{
		StartToCloseTimeout: st.Timeout,
		RetryPolicy:         RetryPolicy(st.Retry),
		WaitForCancellation: true,
	}
	if st.Deadline > 0 {
		// The deadline counts from when the step was entered, a wait
		// included.
		left := entered.Add(st.Deadline).Sub(workflow.Now(r.ctx))
		if left <= 0 {
			return tried[S]{state: state, out: runtime.OutcomeTimeout, err: runtime.DeadlinePassed(st.Deadline)}
		}
		ao.ScheduleToCloseTimeout = left
	}
	if ao.StartToCloseTimeout <= 0 && ao.ScheduleToCloseTimeout <= 0 {
		ao.StartToCloseTimeout = DefaultTimeout
	}
	ao.HeartbeatTimeout = heartbeatTimeout(ao)
	a := runtime.Action{RunID: r.id, Step: st.ID, Visit: visit, Payload: payload}
	in := ActionInput[S]{Action: a, State: state, Pin: r.f.opts.Pin}
	if counted {
		in.Recorded = len(r.history)
	}
	var res ActionOutput[S]
	live := r.begin(a.Key(), branch)
	left := func() time.Duration { return entered.Add(st.Deadline).Sub(workflow.Now(r.ctx)) }
	if st.Deadline <= 0 {
		left = nil
	}
	err := r.activity(ctx, &ao, ActivityName(r.f.ID(), st.ID, false), &in, live, max(st.Retry.Attempts, 1), left, &res)
	if err == nil {
		r.end(live, res.Retried, res.Attempt, ao)
		return tried[S]{state: res.State, out: res.Outcome, attempt: res.Attempt}
	}
	if temporal.IsCanceledError(err) {
		r.end(live, nil, 0, ao)
		return tried[S]{state: state, err: err, cancelled: true} // no attempt ran, or none that counts
	}
	// A failed attempt; maybe one the cancellation waited for (cancelled
	// then), whose error and attempt count as on the runtime.
	attempt, prior, cause := failure(err, max(st.Retry.Attempts, 1), ao.StartToCloseTimeout, st.Deadline)
	r.end(live, prior, attempt, ao)
	return tried[S]{state: state, out: runtime.FailedOutcome(cause), attempt: attempt, err: cause, cancelled: ctx.Err() != nil}
}

// activity runs activity name of in under ctx and *ao until it ends, its
// output in res, its attempts numbered up to attempts. When its last
// attempt lost its worker (lostAttempt: the worker was killed, or stopped
// and cut it), that attempt runs again in an activity scheduled anew, with
// the same idempotency key and attempt number, as the runtime's Resume runs
// again the attempt a crash cut: Temporal counts a lost attempt as a failed
// one, and would otherwise fail the step (or the rollback, leaving the run
// compensation_failed) at its last attempt, the only one under the default
// policy, though it never failed. Not once the run is cancelled, nor past
// the step's deadline (left: the time left of it, nil for none); *ao is
// then the options the activity ended under. A run whose step failed so
// before this rule replays failing it (versionLostAttempt): GetVersion is
// asked only when an attempt was lost so, so replays ask it at the same
// point; so is versionInputLimit's only when in does not fit. in is
// encoded once each time it is scheduled (Flow.input).
func (r *wfRun[S]) activity(ctx workflow.Context, ao *workflow.ActivityOptions, name string, in *ActionInput[S], live *inflight, attempts int, left func() time.Duration, res *ActionOutput[S]) error {
	for {
		arg, err := r.f.input(name, in)
		if err != nil && workflow.GetVersion(r.ctx, versionInputLimit, workflow.DefaultVersion, 1) != workflow.DefaultVersion {
			return err
		}
		err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, *ao), name, arg).Get(ctx, res)
		attempt, prior, lost := lostAttempt(err, attempts)
		if !lost || ctx.Err() != nil || left != nil && left() <= 0 ||
			workflow.GetVersion(r.ctx, versionLostAttempt, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
			return err
		}
		if left != nil {
			ao.ScheduleToCloseTimeout = left()
		}
		// The attempts before it that failed are recorded now; the one
		// it lost is not a failure (the runtime records none for it).
		failed := retries(prior, attempt, *ao)
		r.recordRetries(live, failed)
		in.First, in.Retried = attempt, kept(failed)
		once := *ao.RetryPolicy
		once.MaximumAttempts = 1 // the last attempt again, alone
		ao.RetryPolicy = &once
		ao.HeartbeatTimeout = heartbeatTimeout(*ao)
	}
}

// lostAttempt reports whether err ends an activity whose last attempt
// (attempt, of attempts) lost its worker rather than failed: its
// heartbeats stopped (its worker was killed, or stalled past
// HeartbeatTimeout), or its worker stopped and cancelled it (errTypeLost);
// prior is the record of the attempts before it that failed.
func lostAttempt(err error, attempts int) (attempt int, prior []failedAttempt, lost bool) {
	var act *temporal.ActivityError
	if !errors.As(err, &act) || act.RetryState() != enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED {
		return 0, nil, false
	}
	var to *temporal.TimeoutError
	if errors.As(err, &to) && to.TimeoutType() == enumspb.TIMEOUT_TYPE_HEARTBEAT {
		prior, _ = lastHeartbeat(to)
		return attempts, prior, true
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == errTypeLost {
		var d attemptDetail
		if app.HasDetails() && app.Details(&d) != nil {
			d.Retried = nil
		}
		return attempts, d.Retried, true
	}
	return 0, nil, false
}

// entered is when the current visit of step was entered: the time of the
// last event that entered it.
func (r *wfRun[S]) entered(step string) time.Time {
	for i := len(r.history) - 1; i >= 0; i-- {
		e := &r.history[i]
		if e.To == runtime.RunningState(step) || e.To == runtime.WaitingState(step) {
			if e.From != runtime.WaitingState(step) {
				return e.Time
			}
		}
	}
	return workflow.Now(r.ctx)
}

// failure is the last attempt and the error of an activity whose attempts
// ended in failure, and the record of the attempts before it that failed
// (failedAttempt): the step's own error as its activity reported it, with
// the record in its details, or a Temporal timeout, the runtime's error for
// it (an attempt past StartToClose (timeout) is runtime.AttemptTimeout, the
// step past its ScheduleToClose (deadline) runtime.DeadlinePassed), with
// the record and the attempt in the last heartbeat details Temporal kept
// (lastHeartbeat); an attempt that failed with no time left for the next
// within the deadline is runtime.NoTimeForRetry, as on the runtime.
func failure(err error, attempts int, timeout, deadline time.Duration) (int, []failedAttempt, error) {
	var act *temporal.ActivityError
	errors.As(err, &act)
	// Temporal did not retry: the next attempt could not have started
	// before ScheduleToClose.
	noTime := deadline > 0 && act != nil && act.RetryState() == enumspb.RETRY_STATE_TIMEOUT
	// A timeout first: Temporal gives the failure of the attempt before a
	// timed-out last attempt as the timeout's cause.
	var to *temporal.TimeoutError
	if errors.As(err, &to) {
		prior, attempt := lastHeartbeat(to)
		if act != nil && act.StartedEventID() != 0 {
			// An attempt ran when the timeout came (none did: the
			// deadline passed before the first started, or in a retry's
			// backoff): the one the details name, since every retry
			// heartbeats as it starts (markStarted), so none names the
			// first; and one that ran after the last one recorded as
			// failed is the next, even when its start heartbeat was lost
			// (its worker died as it started).
			attempt = max(attempt, 1)
			if n := len(prior); n > 0 && prior[n-1].Attempt >= attempt {
				attempt = prior[n-1].Attempt + 1
			}
		}
		if act != nil && act.RetryState() == enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED {
			attempt = attempts
		}
		cause := fmt.Errorf("%w: %s timeout", runtime.ErrTimeout, to.TimeoutType()) // a heartbeat: the worker is gone
		switch typ := to.TimeoutType(); {
		case typ == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE && deadline > 0:
			// While attempt ran (the runtime cuts it there), or after it
			// failed, before the next started: the runtime's error.
			return attempt, prior, runtime.DeadlinePassed(deadline)
		case typ == enumspb.TIMEOUT_TYPE_START_TO_CLOSE:
			cause = runtime.AttemptTimeout(timeout)
		}
		if noTime {
			cause = runtime.NoTimeForRetry(deadline, attempt+1, cause)
		}
		return attempt, prior, cause
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		var d attemptDetail
		if app.HasDetails() && app.Details(&d) != nil {
			d.Retried = nil
		}
		var cause error = &remoteError{msg: app.Message(), timeout: app.Type() == errTypeTimeout}
		if app.Type() == errTypeHistoryFull {
			cause = &remoteError{msg: app.Message(), wraps: wrapsOf(runtime.ErrHistoryLimit)}
		}
		if noTime {
			cause = runtime.NoTimeForRetry(deadline, d.Attempt+1, cause)
		}
		return d.Attempt, d.Retried, cause
	}
	return 0, nil, err
}

// abort records the cancellation of the run, the runtime's Abort, and
// unwinds it. The event's error is the abort's, as on the runtime, or that
// of the attempt the abort waited for, cause, when it failed.
func (r *wfRun[S]) abort(attempt int, cause error) (S, error) {
	if attempt > 0 && cause != nil { // an attempt that failed after all
		r.emit(runtime.MachineAborting, attempt, runtime.FailedOutcome(cause), cause, nil)
	} else {
		r.emit(runtime.MachineAborting, attempt, "", runtime.ErrAborted, nil)
	}
	return r.unwind(true)
}

// unwind rolls back the completed steps newest first, each with its own
// retries, under a context the cancellation of the run does not reach, and
// ends the run.
func (r *wfRun[S]) unwind(aborting bool) (S, error) {
	dctx, _ := workflow.NewDisconnectedContext(r.ctx)
	back := runtime.MachineFailing
	if aborting {
		back = runtime.MachineAborting
	}
	var rbErrs []stepFailure
	for i := len(r.done) - 1; i >= 0; i-- {
		c := r.done[i]
		st := r.f.byID[c.step]
		enter := func(edit func(*runtime.Event)) { r.emit(runtime.RollbackState(c.step), 0, "", nil, edit) }
		var attempt int
		var err error
		var child *runtime.RunRef
		if st.RollbackCall() != nil {
			attempt, child, err = r.rollbackCall(dctx, st, c.visit, enter)
		} else {
			enter(nil)
			attempt, err = r.rollback(dctx, st, c.visit)
		}
		link := func(e *runtime.Event) { e.Child = startedChild(child, err) }
		if err != nil {
			rbErrs = append(rbErrs, failureOf(c.step, attempt, "", err))
			r.emit(back, attempt, runtime.OutcomeError, err, link)
			continue
		}
		r.emit(back, attempt, runtime.OutcomeOK, nil, link)
	}
	end := ending{Final: runtime.EndState(aborting, len(r.done) > 0, len(rbErrs) > 0),
		Cause: r.cause, Rollbacks: rbErrs, Aborted: aborting}
	r.emit(string(end.Final), 0, "", nil, nil)
	end.State, _ = runtime.EncodeState(&r.state) // it did for every event
	return r.state, end.workflowError()
}

// rollback runs a step's rollback activity.
func (r *wfRun[S]) rollback(ctx workflow.Context, st *runtime.Step[S], visit int) (int, error) {
	ao := workflow.ActivityOptions{StartToCloseTimeout: st.RollbackTimeout, RetryPolicy: RetryPolicy(st.RollbackRetry)}
	if ao.StartToCloseTimeout <= 0 {
		ao.StartToCloseTimeout = DefaultTimeout
	}
	ao.HeartbeatTimeout = heartbeatTimeout(ao)
	a := runtime.Action{RunID: r.id, Step: st.ID, Visit: visit, Rollback: true}
	in := ActionInput[S]{Action: a, State: r.state, Pin: r.f.opts.Pin}
	var res ActionOutput[S]
	live := r.begin(a.Key(), "")
	err := r.activity(ctx, &ao, ActivityName(r.f.ID(), st.ID, true), &in, live, max(st.RollbackRetry.Attempts, 1), nil, &res)
	if err != nil {
		attempt, prior, cause := failure(err, max(st.RollbackRetry.Attempts, 1), ao.StartToCloseTimeout, 0)
		r.end(live, prior, attempt, ao)
		return attempt, cause
	}
	r.end(live, res.Retried, res.Attempt, ao)
	r.state = res.State
	return res.Attempt, nil
}

// emit records the transition from the current machine state to `to` and
// hands the event to the flow's sink. Workflow code runs again on replay,
// so the sink is called only when the code is not replaying: at least once
// per event (a workflow task that fails after emitting runs again), in Seq
// order, never from replay. A sink's error is logged; the run's durable
// record is Temporal's history, not the sink.
func (r *wfRun[S]) emit(to string, attempt int, out runtime.Outcome, err error, edit func(*runtime.Event)) {
	e := r.event(r.machine, to, attempt, out, err)
	e.Step = stepOf(r.machine)
	if e.Step == "" {
		e.Step = stepOf(to)
	}
	if w := r.waiting; w != nil && w.Child != nil && r.machine == runtime.WaitingState(stepOf(r.machine)) && to != r.machine {
		e.Child = startedChild(w.Child, err) // the end of a call's wait names its child
	}
	if edit != nil {
		edit(&e)
	}
	r.machine = to
	r.record(e)
}

// emitBranch records a transition of branch's own machine (from -> to),
// while the run's machine stays in the branch's parallel block.
func (r *wfRun[S]) emitBranch(branch, from, to string, attempt int, out runtime.Outcome, err error, edit func(*runtime.Event)) {
	e := r.event(from, to, attempt, out, err)
	e.Step, e.Branch = branch, branch
	if edit != nil {
		edit(&e)
	}
	r.record(e)
}

// event is the next event of the run, from -> to, with the run's state.
func (r *wfRun[S]) event(from, to string, attempt int, out runtime.Outcome, err error) runtime.Event {
	e := runtime.Event{RunID: r.id, Seq: uint64(len(r.history) + 1), Time: workflow.Now(r.ctx).UTC(), Flow: r.f.ID(),
		From: from, To: to, Attempt: attempt, Outcome: out}
	if err != nil {
		e.Error = err.Error()
	}
	if snap, jerr := runtime.EncodeState(&r.state); jerr == nil {
		e.State = snap
	} else {
		// Not for a state an activity or a branch's merge left: those
		// fail when it does not encode (attempt, parallel), as on the
		// runtime. What is left (a run recorded before those rules) is
		// recorded without its state, and said here.
		workflow.GetLogger(r.ctx).Error("flowgen: the run's state does not encode as JSON; its event is recorded without it", "run_id", r.id, "seq", e.Seq, "from", from, "to", to, "error", jerr)
	}
	if e.Seq == 1 {
		e.Parent = r.parent
	}
	return e
}

// record appends e to the run's history, records in the run's memo what
// lists of runs show of it, and hands e to the sink.
func (r *wfRun[S]) record(e runtime.Event) {
	r.history = append(r.history, e)
	// One upsert per event at most: a run's end and a wait's correlation
	// never come with the same event, so a history recorded before the
	// progress has the upserts it had.
	memo := map[string]any{}
	if runtime.RunState(e.To).Terminal() {
		// Lists of runs (visibility) show how a run ended without a query.
		// Not under workflow.GetVersion, unlike the correlation below: it
		// came one commit after the workflow itself (dce5098), and a
		// version added now would read every history recorded since as
		// the default, without the write those histories hold.
		memo[MemoState] = e.To
	}
	if c, ok := e.RunCorrelation(); ok && workflow.GetVersion(r.ctx, versionMemoCorrelation, workflow.DefaultVersion, 1) == 1 {
		// Lists of runs (visibility) find a run by its correlation.
		memo[MemoCorrelation] = c
	}
	if p, ok := r.progressed(&e); ok {
		memo[MemoProgress] = p
	}
	if len(memo) > 0 {
		if merr := workflow.UpsertMemo(r.ctx, memo); merr != nil {
			workflow.GetLogger(r.ctx).Error("flowgen: recording the run in its memo", "run_id", r.id, "seq", e.Seq, "error", merr)
		}
	}
	if !workflow.IsReplaying(r.ctx) {
		if serr := r.f.def.Sink().Emit(context.Background(), e); serr != nil {
			workflow.GetLogger(r.ctx).Error("flowgen: sink refused an event", "run_id", r.id, "seq", e.Seq, "error", serr)
		}
	}
}

// takes is w.Matches, except in a run that took an event whose correlation
// member was null for an empty correlation, as Matches did until
// runtime.Correlation compared null as written ("null"): replaying such a
// run must take it again. workflow.GetVersion is asked only for such an
// event, so no other run records the change's marker.
//
// A payload that is not JSON is refused, whatever the correlation, as the
// runtime's runs refuse it (runtime.PayloadNotJSON): the event that wakes
// the run records it, and the step's activity takes it in its input, which
// must encode. A run that took one before, at a wait that matched it (one
// with no correlation), takes it again when it replays: GetVersion is
// asked only for such a payload.
func (r *wfRun[S]) takes(w *runtime.Wait, payload []byte) bool {
	if w.Matches(payload) {
		return !runtime.PayloadNotJSON(payload) ||
			workflow.GetVersion(r.ctx, versionPayloadNotJSON, workflow.DefaultVersion, 1) == workflow.DefaultVersion
	}
	if !w.Correlated || w.Correlation != "" {
		return false
	}
	if m, ok := runtime.CorrelationMember(payload, w.Field); !ok || string(m) != "null" {
		return false
	}
	return workflow.GetVersion(r.ctx, versionNullCorrelation, workflow.DefaultVersion, 1) == workflow.DefaultVersion
}
