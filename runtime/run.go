package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"
	"unsafe"

	"github.com/looplab/fsm"
)

// Result is how a run ended.
type Result[S any] struct {
	RunID string
	State S
	Final RunState
	// Err is nil when Final is done. Otherwise: a *StepError for failed and
	// compensated, an error wrapping ErrAborted for aborted, those joined with
	// every *RollbackError for compensation_failed, and an error wrapping
	// ErrSink when a sink stopped the run.
	Err error
}

// Run is one execution of a flow: its own ID, state, state machine and
// history. Its methods are safe for concurrent use.
type Run[S any] struct {
	flow    *Flow[S]
	def     *definition[S]
	env     runEnv
	ctx     context.Context // cancelled by Abort and by Start's context
	cancel  context.CancelCauseFunc
	quiet   context.Context // ctx without cancellation: sinks and rollbacks
	machine *fsm.FSM
	clock   Clock
	sink    Sink

	// Owned by the run's goroutine.
	state        S
	pos          int       // position of the machine state in def.states
	attempt      int       // attempt of the current phase, 1-based
	phaseStart   time.Time // when the running step was entered (Step.Deadline)
	lastTime     time.Time // time of the last event
	seq          uint64
	stack        []frame // completed steps with a rollback, oldest first
	visits       []int32 // per step: how often the run entered it
	undoing      frame   // the frame whose rollback is running
	rolledBack   bool    // a rollback has started: the run cannot end "failed"
	clean        bool    // no action ran since snap was taken
	cause        error   // why the run is failing
	rollbackErrs []error
	ctxs         []stepCtx // first-attempt contexts, allocated once per run
	snap         json.RawMessage
	lastState    S // the state snap encodes (def.valueState only)
	arena        []byte
	sn           *snapshotter
	// Small flows keep their bookkeeping inside the Run: one allocation.
	// Mind the Run's size: with a small state it is just under a size
	// class (896 bytes, malloc's header included).
	stackBuf  [16]frame
	visitsBuf [16]int32

	mu     sync.Mutex // guards track, halted, over and done
	track  tracker
	halted error
	over   bool          // the run has ended: result is final
	done   chan struct{} // made on first need (Done, Wait): Execute needs none
	result Result[S]
}

// frame is one completed execution of a step, to be undone.
type frame struct {
	step  int32
	visit int32
}

// snapshotter encodes states; pooled because only its buffer is per event.
type snapshotter struct {
	buf []byte
	enc *json.Encoder
}

func (s *snapshotter) Write(p []byte) (int, error) {
	s.buf = append(s.buf, p...)
	return len(p), nil
}

var snapshotters = sync.Pool{New: func() any {
	s := &snapshotter{}
	s.enc = json.NewEncoder(s)
	return s
}}

// errAttemptTimeout is the cancellation cause of an attempt's context when
// its timeout passes.
var errAttemptTimeout = fmt.Errorf("%w: attempt deadline passed", ErrTimeout)

func (f *Flow[S]) newRun(ctx context.Context, state S, id string, opts []RunOption) (*Run[S], error) {
	def, err := f.definition()
	if err != nil {
		return nil, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ro := applyRunOptions(opts)
	switch {
	case id == "":
		id = ro.id
	case ro.id != "" && ro.id != id:
		return nil, fmt.Errorf("%w: resuming run %q with run ID %q", ErrHistory, id, ro.id)
	}
	if id == "" {
		id = f.opts.ids()
	}
	r := &Run[S]{
		flow:  f,
		def:   def,
		env:   runEnv{runID: id, flow: f.id, opts: &f.opts},
		clock: f.opts.clock,
		sink:  f.opts.sink,
		state: state,
		sn:    snapshotters.Get().(*snapshotter),
	}
	r.stack = r.stackBuf[:0]
	if n := len(def.steps); n <= len(r.visitsBuf) {
		r.visits = r.visitsBuf[:n]
	} else {
		r.visits = make([]int32, n)
	}
	// The first event carries the initial state: encode it now so that a
	// state JSON cannot encode fails Start rather than the run.
	if _, err := r.snapshot(); err != nil {
		snapshotters.Put(r.sn)
		return nil, fmt.Errorf("runtime: flow %q: state does not encode as JSON: %w", f.id, err)
	}
	if err := f.addLive(r); err != nil {
		snapshotters.Put(r.sn)
		return nil, err
	}
	r.ctx, r.cancel = context.WithCancelCause(ctx)
	r.quiet = quietContext(ctx, r.ctx)
	r.machine = def.machines.Get().(*fsm.FSM)
	r.machine.SetState(MachinePending)
	r.track = tracker{machine: MachinePending, kind: kindPending, snap: r.snap}
	return r, nil
}

// quietContext returns context.WithoutCancel(run), run being a cancellable
// child of parent that adds no values: run's values without its
// cancellation. When parent can never be cancelled and has no deadline, it
// is that already, without an allocation.
func quietContext(parent, run context.Context) context.Context {
	if parent.Done() == nil {
		if _, ok := parent.Deadline(); !ok {
			return parent
		}
	}
	return context.WithoutCancel(run)
}

// applyRunOptions is apart from newRun so that the options, whose address
// escapes to the option functions, are allocated only when there are some.
func applyRunOptions(opts []RunOption) runOptions {
	if len(opts) == 0 {
		return runOptions{}
	}
	ro := new(runOptions)
	for _, o := range opts {
		o(ro)
	}
	return *ro
}

// ID returns the run's ID.
func (r *Run[S]) ID() string { return r.env.runID }

// Wait waits for the run to end and returns its result; the error is
// Result.Err, or ctx's error if ctx ends first.
func (r *Run[S]) Wait(ctx context.Context) (Result[S], error) {
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case <-r.doneChan():
		return r.result, r.result.Err
	case <-ctx.Done():
		return Result[S]{RunID: r.env.runID}, ctx.Err()
	}
}

// Done is closed when the run has ended.
func (r *Run[S]) Done() <-chan struct{} { return r.doneChan() }

func (r *Run[S]) doneChan() chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done == nil {
		r.done = make(chan struct{})
		if r.over {
			close(r.done)
		}
	}
	return r.done
}

// Abort cancels the running step's context; the run then rolls back its
// completed steps and ends aborted (or compensation_failed). A step that
// ignores its context is waited for, up to its timeout if it has one. Abort
// during a rollback changes nothing: the rollback finishes. It returns
// ErrFinished if the run is over.
func (r *Run[S]) Abort() error {
	r.mu.Lock()
	over := r.over
	r.mu.Unlock()
	if over {
		return ErrFinished
	}
	r.cancel(ErrAborted)
	return nil
}

// Status returns the run's current status; History is filled in when the
// flow's sink can load histories.
func (r *Run[S]) Status() Status {
	r.mu.Lock()
	st := r.track.status()
	halted := r.halted
	r.mu.Unlock()
	st.RunID, st.Flow = r.env.runID, r.def.id
	if halted != nil {
		st.State, st.Err = StateFailed, halted.Error()
	}
	if l := r.env.opts.loader; l != nil {
		st.History, _ = l.LoadHistory(context.Background(), r.env.runID)
	}
	return st
}

// loop drives the run from its current machine state to a terminal one.
func (r *Run[S]) loop() {
	var err error
	for err == nil {
		st := &r.def.states[r.pos]
		switch st.kind {
		case kindPending:
			if r.ctx.Err() != nil {
				err = r.transition(posAborting, 0, "", ErrAborted.Error())
			} else {
				err = r.enter(r.def.steps[0].running, 0, "", "")
			}
		case kindRunning:
			err = r.runStep(&r.def.steps[st.step])
		case kindFailing, kindAborting:
			err = r.unwind(st.kind)
		case kindRollback:
			err = r.runRollback(&r.def.steps[st.step])
		case kindTerminal:
			r.finish(nil)
			return
		}
	}
	r.finish(err)
}

// runStep runs the current step's attempts and moves the run on.
func (r *Run[S]) runStep(d *stepDef[S]) error {
	var out Outcome
	var err error
	for {
		if r.ctx.Err() != nil { // aborted before an attempt started
			return r.transition(posAborting, 0, "", ErrAborted.Error())
		}
		timeout := d.Timeout
		if d.Deadline > 0 {
			left := r.phaseStart.Add(d.Deadline).Sub(r.clock.Now())
			if left <= 0 { // only after Resume: attempts never outlive the deadline
				out, err = "", fmt.Errorf("%w: step deadline %v passed", ErrTimeout, d.Deadline)
				r.attempt--
				break
			}
			if timeout <= 0 || left < timeout {
				timeout = left
			}
		}
		out, err = r.attempt1(d, timeout)
		if r.ctx.Err() != nil {
			if err != nil {
				return r.transition(posAborting, r.attempt, failedOutcome(err), err.Error())
			}
			r.push(d)
			return r.transition(posAborting, r.attempt, okOutcome(out), "")
		}
		if err == nil || IsPermanent(err) || r.attempt >= d.attempts {
			break
		}
		wait := backoff(d.Retry, r.attempt)
		if d.Deadline > 0 && !r.clock.Now().Add(wait).Before(r.phaseStart.Add(d.Deadline)) {
			err = fmt.Errorf("%w: step deadline %v leaves no time for attempt %d: %w", ErrTimeout, d.Deadline, r.attempt+1, err)
			break
		}
		if err := r.transition(d.running, r.attempt, OutcomeRetry, err.Error()); err != nil {
			return err
		}
		r.attempt++
		r.sleep(wait, true) // an abort is seen at the top
	}
	if err == nil {
		out = okOutcome(out)
		if to, ok := d.target(out); ok {
			r.push(d)
			if to == posFailing {
				r.cause = &StepError{Step: d.ID, Attempt: r.attempt, Outcome: out, Err: routedToFail(out)}
			}
			return r.enter(to, r.attempt, out, "")
		}
		err = fmt.Errorf("%w %q", ErrUnknownOutcome, out)
		r.cause = &StepError{Step: d.ID, Attempt: r.attempt, Outcome: out, Err: err}
		return r.enter(posFailing, r.attempt, out, err.Error())
	}
	out, to := OutcomeError, d.errTo
	if errors.Is(err, ErrTimeout) {
		out, to = OutcomeTimeout, d.timeoutTo
	}
	if to == posFailing {
		r.cause = &StepError{Step: d.ID, Attempt: r.attempt, Outcome: out, Err: err}
	}
	return r.enter(to, r.attempt, out, err.Error())
}

func okOutcome(out Outcome) Outcome {
	if out == "" {
		return OutcomeOK
	}
	return out
}

func failedOutcome(err error) Outcome {
	if errors.Is(err, ErrTimeout) {
		return OutcomeTimeout
	}
	return OutcomeError
}

// push records a completed step that has something to undo.
func (r *Run[S]) push(d *stepDef[S]) {
	if d.hasRollback {
		r.stack = append(r.stack, frame{int32(d.index), r.visits[d.index]})
	}
}

// enter moves to a new phase: a step starts its first attempt.
func (r *Run[S]) enter(to, attempt int, out Outcome, errText string) error {
	if err := r.transition(to, attempt, out, errText); err != nil {
		return err
	}
	if s := r.def.states[to]; s.kind == kindRunning {
		r.visits[s.step]++
		r.attempt = 1
		r.phaseStart = r.lastTime
	}
	return nil
}

// unwind rolls back the most recent completed step, or ends the run.
func (r *Run[S]) unwind(kind stateKind) error {
	if n := len(r.stack); n > 0 {
		r.undoing = r.stack[n-1]
		r.stack = r.stack[:n-1]
		r.rolledBack = true
		r.attempt = 1
		return r.transition(r.def.steps[r.undoing.step].rollback, 0, "", "")
	}
	to := posFailed
	switch {
	case len(r.rollbackErrs) > 0:
		to = posCompensationFailed
	case kind == kindAborting:
		to = posAborted
	case r.rolledBack:
		to = posCompensated
	}
	return r.transition(to, 0, "", "")
}

// runRollback runs the current rollback's attempts and returns to unwind.
func (r *Run[S]) runRollback(d *stepDef[S]) error {
	var err error
	for {
		err = r.rollback1(d)
		if err == nil || IsPermanent(err) || r.attempt >= d.rbAttempts {
			break
		}
		if err := r.transition(d.rollback, r.attempt, OutcomeRetry, err.Error()); err != nil {
			return err
		}
		r.attempt++
		r.sleep(backoff(d.RollbackRetry, r.attempt-1), false)
	}
	back := posFailing
	if r.cause == nil {
		back = posAborting
	}
	if err != nil {
		r.rollbackErrs = append(r.rollbackErrs, &RollbackError{Step: d.ID, Err: err})
		return r.transition(back, r.attempt, OutcomeError, err.Error())
	}
	return r.transition(back, r.attempt, OutcomeOK, "")
}

// attempt1 runs one attempt of a step. Changes to the state survive only if
// the attempt succeeds.
func (r *Run[S]) attempt1(d *stepDef[S], timeout time.Duration) (Outcome, error) {
	r.clean = false
	if timeout > 0 {
		return r.guarded(d, false, r.ctx, timeout)
	}
	saved := r.state
	out, err := d.exec(r.stepContext(d), &r.state, r.env.opts.pub)
	if err != nil {
		r.state = saved
	}
	return out, err
}

// rollback1 runs one attempt of a rollback, under a context that the run's
// abort does not cancel.
func (r *Run[S]) rollback1(d *stepDef[S]) error {
	r.clean = false
	if d.RollbackTimeout > 0 {
		_, err := r.guarded(d, true, r.quiet, d.RollbackTimeout)
		return err
	}
	saved := r.state
	err := d.undo(r.newStepCtx(r.quiet, d, true), &r.state)
	if err != nil {
		r.state = saved
	}
	return err
}

// stepContext returns the context of the current attempt of d, reusing the
// run's preallocated one for the common first attempt of a first visit.
func (r *Run[S]) stepContext(d *stepDef[S]) *stepCtx {
	if r.attempt != 1 || r.visits[d.index] != 1 || len(r.def.steps) > 64 {
		return r.newStepCtx(r.ctx, d, false)
	}
	if r.ctxs == nil {
		r.ctxs = make([]stepCtx, len(r.def.steps))
	}
	c := &r.ctxs[d.index]
	if c.env == nil {
		*c = stepCtx{Context: r.ctx, env: &r.env, step: d.ID, visit: 1, attempt: 1}
	}
	return c
}

func (r *Run[S]) newStepCtx(parent context.Context, d *stepDef[S], rollback bool) *stepCtx {
	visit := r.visits[d.index]
	if rollback {
		visit = r.undoing.visit
	}
	return &stepCtx{Context: parent, env: &r.env, step: d.ID, visit: visit, attempt: int32(r.attempt), rollback: rollback}
}

type attemptResult struct {
	out Outcome
	err error
}

// guarded runs an attempt on its own goroutine, on a copy of the state, so
// that the run can abandon it when its timeout passes even if it ignores its
// context. The copy replaces the state only if the attempt succeeds in time.
func (r *Run[S]) guarded(d *stepDef[S], rollback bool, parent context.Context, timeout time.Duration) (Outcome, error) {
	actx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	if r.env.opts.realClock {
		// A real deadline too, so that clients honouring deadlines see it.
		var c context.CancelFunc
		actx, c = context.WithTimeoutCause(actx, timeout, errAttemptTimeout)
		defer c()
	}
	expired, stop := timer(r.clock, timeout)
	defer stop()
	sc := r.newStepCtx(actx, d, rollback)
	work := r.state
	results := make(chan attemptResult, 1)
	pub := r.env.opts.pub
	go func() {
		var res attemptResult
		if rollback {
			res.err = d.undo(sc, &work)
		} else {
			res.out, res.err = d.exec(sc, &work, pub)
		}
		results <- res
	}()
	done := actx.Done()
	for {
		select {
		case res := <-results:
			timedOut := context.Cause(actx) == errAttemptTimeout
			if res.err == nil {
				r.state = work
			} else if timedOut && !errors.Is(res.err, ErrTimeout) {
				res.err = fmt.Errorf("%w after %v: %w", ErrTimeout, timeout, res.err)
			}
			return res.out, res.err
		case <-expired:
			cancel(errAttemptTimeout)
			r.abandoned(d, timeout)
			return "", fmt.Errorf("%w after %v", ErrTimeout, timeout)
		case <-done:
			if context.Cause(actx) == errAttemptTimeout {
				r.abandoned(d, timeout)
				return "", fmt.Errorf("%w after %v", ErrTimeout, timeout)
			}
			// The run was aborted: the step is cancelled; wait for it to
			// return, or for its timeout.
			done = nil
		}
	}
}

func (r *Run[S]) abandoned(d *stepDef[S], timeout time.Duration) {
	if l := r.env.opts.logger; l != nil {
		l.Warn("flow step abandoned after its timeout", "flow", r.def.id, "run_id", r.env.runID, "step", d.ID, "timeout", timeout)
	}
}

// exec runs Exec and the step's publications, turning a panic into an error.
func (d *stepDef[S]) exec(ctx context.Context, s *S, pub Publisher) (out Outcome, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = "", &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	out, err = d.Exec(ctx, s)
	if err != nil || len(d.Publish) == 0 {
		return out, err
	}
	if pub == nil {
		return "", Permanent(fmt.Errorf("%w: step %q publishes but the flow has no Publisher (WithPublisher)", ErrNotConfigured, d.ID))
	}
	for _, p := range d.Publish {
		var payload any
		if p.Payload != nil {
			payload = p.Payload(s)
		}
		if err := pub.Publish(ctx, p.Topic, p.Event, payload); err != nil {
			return "", fmt.Errorf("publishing %s %s: %w", p.Topic, p.Event, err)
		}
	}
	return out, nil
}

// undo runs Rollback, turning a panic into an error.
func (d *stepDef[S]) undo(ctx context.Context, s *S) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return d.Rollback(ctx, s)
}

// backoff is the sleep before attempt failed+1: the policy's ceiling, or a
// uniform draw below it with full jitter.
func backoff(p RetryPolicy, failed int) time.Duration {
	d := p.backoff(failed)
	if p.Jitter && d > 0 {
		return time.Duration(rand.Int64N(int64(d) + 1))
	}
	return d
}

// sleep waits d on the run's clock; an abortable sleep ends early, returning
// false, when the run is aborted.
func (r *Run[S]) sleep(d time.Duration, abortable bool) bool {
	if d <= 0 {
		return !abortable || r.ctx.Err() == nil
	}
	c, stop := timer(r.clock, d)
	if !abortable {
		<-c
		return true
	}
	select {
	case <-c:
		return true
	case <-r.ctx.Done():
		stop()
		return false
	}
}

// transition fires the machine event into state to, records the event with
// the sink, and only then moves the run there. An illegal transition (a bug
// in the runtime) or a refusing sink stops the run.
func (r *Run[S]) transition(to, attempt int, out Outcome, errText string) error {
	from := r.pos
	dst := &r.def.states[to]
	if err := r.machine.Event(context.Background(), dst.name); err != nil {
		if _, same := err.(fsm.NoTransitionError); !same {
			return fmt.Errorf("runtime: flow %q: illegal transition %s -> %s: %w", r.def.id, r.def.states[from].name, dst.name, err)
		}
	}
	snap, err := r.snapshot()
	if err != nil {
		return fmt.Errorf("runtime: flow %q: state does not encode as JSON: %w", r.def.id, err)
	}
	r.seq++
	e := Event{
		RunID:   r.env.runID,
		Seq:     r.seq,
		Time:    r.clock.Now().Round(0), // no monotonic reading: events compare equal after a JSON round trip
		Flow:    r.def.id,
		Step:    r.def.eventStep(from, to),
		From:    r.def.states[from].name,
		To:      dst.name,
		Attempt: attempt,
		Outcome: out,
		Error:   errText,
		State:   snap,
	}
	if err := r.emit(&e); err != nil {
		if l := r.env.opts.logger; l != nil {
			l.Error("flow sink refused an event; run stopped", "flow", r.def.id, "run_id", r.env.runID, "seq", e.Seq, "error", err)
		}
		return fmt.Errorf("%w: event %d (%s -> %s): %w", ErrSink, e.Seq, e.From, e.To, err)
	}
	r.mu.Lock()
	r.track.apply(&e, r.def.states[from].kind, dst.kind, r.def.stepID(dst.step))
	r.mu.Unlock()
	r.pos, r.lastTime = to, e.Time
	return nil
}

func (r *Run[S]) emit(e *Event) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return r.sink.Emit(r.quiet, *e)
}

// snapshot encodes the state. Events share the previous snapshot while the
// state does not change, and new ones are carved from a per-run arena, so a
// snapshot usually costs no allocation.
func (r *Run[S]) snapshot() (json.RawMessage, error) {
	if r.snap != nil && (r.clean || r.def.valueState && sameBytes(&r.state, &r.lastState)) {
		r.clean = true
		return r.snap, nil
	}
	sn := r.sn
	sn.buf = sn.buf[:0]
	var b []byte
	if f := r.def.flat; f != nil {
		sn.buf = f.encode(sn.buf, unsafe.Pointer(&r.state))
		b = sn.buf
	} else {
		if err := sn.enc.Encode(&r.state); err != nil {
			return nil, err
		}
		b = bytes.TrimSuffix(sn.buf, []byte{'\n'})
	}
	r.clean = true
	if r.snap != nil && bytes.Equal(b, r.snap) {
		return r.snap, nil
	}
	if cap(r.arena)-len(r.arena) < len(b) {
		// Chunks grow with the run, so short runs stay small.
		r.arena = make([]byte, 0, max(4*len(b), min(2*cap(r.arena), 64<<10), 64))
	}
	r.lastState = r.state
	start := len(r.arena)
	r.arena = append(r.arena, b...)
	r.snap = r.arena[start:len(r.arena):len(r.arena)]
	return r.snap, nil
}

// sameBytes reports whether two values have the same memory. For a
// valueState type (no pointers but immutable strings, no custom marshalers)
// equal memory means equal JSON, so the encoding can be skipped. Differing
// padding only costs a needless encode.
func sameBytes[S any](a, b *S) bool {
	n := unsafe.Sizeof(*a)
	return n == 0 || unsafe.String((*byte)(unsafe.Pointer(a)), n) == unsafe.String((*byte)(unsafe.Pointer(b)), n)
}

// finish records the result, releases the run's resources and wakes Wait.
func (r *Run[S]) finish(halt error) {
	res := Result[S]{RunID: r.env.runID, State: r.state}
	if halt != nil {
		res.Final, res.Err = StateFailed, halt
	} else {
		res.Final = RunState(r.def.states[r.pos].name)
		res.Err = r.resultErr(res.Final)
	}
	r.result = res
	r.def.machines.Put(r.machine)
	r.machine = nil
	r.sn.buf = r.sn.buf[:0]
	snapshotters.Put(r.sn)
	r.sn = nil
	r.flow.removeLive(r)
	r.cancel(nil)
	r.mu.Lock()
	r.halted = halt
	r.over = true
	if r.done != nil {
		close(r.done)
	}
	r.mu.Unlock()
}

func (r *Run[S]) resultErr(final RunState) error {
	cause := r.cause
	if cause == nil && final != StateDone {
		cause = ErrAborted
		if c := context.Cause(r.ctx); c != nil && c != ErrAborted {
			cause = fmt.Errorf("%w: %w", ErrAborted, c)
		}
	}
	switch final {
	case StateDone:
		return nil
	case StateCompensationFailed:
		return errors.Join(append([]error{cause}, r.rollbackErrs...)...)
	}
	return cause
}
