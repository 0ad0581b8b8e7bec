package runtime

import (
	"context"
	"time"

	"github.com/flowgen/flowgen/internal/option"
)

// IsVersion1 is referenced by generated code (`const _ = runtime.IsVersion1`):
// a runtime with another generated-code ABI drops the constant, so stale
// generated code stops compiling instead of misbehaving.
const IsVersion1 = true

// Outcome names how a step ended. "" and "ok" mean ok; "error" and
// "timeout" are set by the runtime; other names are chosen by Go steps and
// routed by Step.Next.
type Outcome = string

// Outcomes the runtime sets itself.
const (
	OutcomeOK      Outcome = "ok"
	OutcomeError   Outcome = "error"
	OutcomeTimeout Outcome = "timeout"
	// OutcomeRetry is the outcome of an attempt that failed and will be tried
	// again. It appears only on events (a self-transition); it is reserved
	// and cannot be routed by Step.Next.
	OutcomeRetry Outcome = "retry"
)

// Transition targets besides step IDs.
const (
	Done = "done" // the run ends done
	Fail = "fail" // the run fails: completed steps roll back
)

// RetryPolicy says how often and how patiently an action is tried.
// Before attempt n+1 the run sleeps min(Max, Initial*Multiplier^(n-1)); with
// Jitter the sleep is drawn uniformly from [0, that] ("full jitter").
type RetryPolicy struct {
	Attempts   int           // total attempts, >= 1 (0 means 1)
	Initial    time.Duration // first backoff; 0 retries at once
	Max        time.Duration // cap on one backoff; 0 means no cap
	Multiplier float64       // growth per attempt; 0 means DefaultMultiplier
	Jitter     bool          // full jitter
}

// DefaultMultiplier is a RetryPolicy's growth per attempt when its
// Multiplier is 0: the .flow language's default too (dsl.DefaultMultiplier).
const DefaultMultiplier = 2.0

// Growth is the policy's growth per attempt: Multiplier, or
// DefaultMultiplier when it is 0.
func (p RetryPolicy) Growth() float64 {
	if p.Multiplier <= 0 {
		return DefaultMultiplier
	}
	return p.Multiplier
}

func (p RetryPolicy) attempts() int {
	if p.Attempts < 1 {
		return 1
	}
	return p.Attempts
}

// backoff is the ceiling of the sleep before attempt failed+1, without jitter.
func (p RetryPolicy) backoff(failed int) time.Duration {
	if p.Initial <= 0 {
		return 0
	}
	m := p.Growth()
	d := float64(p.Initial)
	for i := 1; i < failed; i++ {
		d *= m
		if p.Max > 0 && d >= float64(p.Max) {
			return p.Max
		}
		if d >= float64(1<<62) { // no overflow, whatever the policy
			return time.Duration(1 << 62)
		}
	}
	if p.Max > 0 && d > float64(p.Max) {
		return p.Max
	}
	return time.Duration(d)
}

// Step is one step of a flow. Fields are read when the flow is first started
// and must not change afterwards.
type Step[S any] struct {
	ID string
	// Exec does the step's work on the run's state. It returns "" or "ok" on
	// success, or a named outcome routed by Next. An error is retried
	// per Retry unless marked Permanent. A panic is an error.
	Exec func(ctx context.Context, state *S) (Outcome, error)
	// Rollback undoes a completed Exec when the run fails or is aborted.
	// nil: nothing to undo.
	Rollback func(ctx context.Context, state *S) error

	Retry   RetryPolicy
	Timeout time.Duration // per attempt; 0 means none
	// Deadline is the step's whole budget, attempts and backoffs included,
	// from the moment it is entered; 0 means none. An attempt's timeout is
	// cut to what is left, no retry starts that could not finish in time,
	// and a step out of budget ends with the outcome "timeout".
	Deadline        time.Duration
	RollbackRetry   RetryPolicy
	RollbackTimeout time.Duration // per rollback attempt; 0 means none
	// Irreversible documents that the step has effects and, on purpose, no
	// Rollback. Register rejects an irreversible step with a Rollback.
	Irreversible bool
	// Next routes outcomes to a step ID, Done or Fail. A missing "ok" goes to
	// the next registered step (Done after the last); a missing "error" or
	// "timeout" goes to Fail; a named outcome missing here fails the step
	// with ErrUnknownOutcome.
	Next map[Outcome]string
	// Publish lists events published after Exec succeeds, as part of the
	// attempt: a failed publication fails the attempt.
	Publish []Publication[S]

	// Await, when set, makes the step wait for an event before Exec runs:
	// the run records that it waits (the state "<id>:waiting", with the
	// wait's absolute deadline) and holds no goroutine until the event is
	// delivered, the deadline passes (outcome "timeout") or the run is
	// aborted. Exec then runs with the payload (EventPayload); it may be nil.
	Await *Await[S]
	// Sleep, when set, makes the step wait until a time before Exec runs,
	// recorded the same way; Exec may be nil. A step has at most one of
	// Await and Sleep.
	Sleep *Sleep[S]
	// Call, when set, makes the step run another flow as a child run and
	// wait for its end, recorded the same way (NewCall); Exec then runs
	// with the child's final state as its payload (EventPayload). A child
	// that does not end done fails the step with a *ChildError. A step has
	// at most one of Await, Sleep and Call, and a call no Deadline.
	Call *FlowCall[S]
	// RollbackAwait, when set, makes each attempt of Rollback wait for an
	// event first, recorded and without a goroutine as a waiting step
	// does: the event that starts the attempt carries the Wait, whose
	// deadline (Timeout) ends the attempt with ErrTimeout, the rollback's
	// retry policy then governing. An abort does not end it (a rollback
	// finishes whatever happens). The engine gates the rollbacks that
	// remote providers serve on a provider being live.
	RollbackAwait *Await[S]

	// Branches, when set, make the step a parallel block (NewParallel):
	// its branches run at the same time, each on a copy of the state as
	// it was when the block was entered, and the block's outcome is ok
	// once every branch completed, routed by Next. A block has no Exec,
	// Rollback, retry or timeout of its own.
	Branches []*Step[S]
	// Writes, for a branch of a parallel block, copies the fields the
	// branch writes from its copy of the state (src) into the run's state
	// (dst) when it completes; the branch's other changes are discarded.
	// nil: the branch changes nothing.
	Writes func(dst, src *S)

	response         func(s *S) any // NewRPC: where the response goes (WithResponse)
	correlationField string         // NewAwait: the payload path it matches (WithCorrelationField)
	needs            needs          // what the predefined step needs from the flow's options
	rollbackCall     *FlowCall[S]   // WithRollbackCall: the flow the rollback runs, and its input
	rollbackCallBad  bool           // WithRollbackCall of no flow: Register refuses it
	// choices, for a NewChoice, is how many outcomes it can end with
	// besides error (its conditions', and otherwise): Register refuses
	// a choice whose Next leaves one unrouted, which would otherwise
	// fail only the runs that reach it. 0: not a choice.
	choices int
}

// Await is what a waiting step waits for: an event of Topic/Event, and with
// Correlate only one whose payload member at Field (a dot-separated path;
// "" means CorrelationField) equals Correlate(state).
type Await[S any] struct {
	Topic, Event string
	Correlate    func(s *S) string
	Field        string
	// CorrelateField names the state field Correlate reads, for the
	// step's error when it is empty (Step.CorrelationError; "": the
	// error names the step and the payload path only).
	CorrelateField string
	// CorrelateBefore, if set, is the correlation value Correlate gave
	// before its rule changed, for an executor that replays runs recorded
	// then (the Temporal target, under a workflow version): the engine's
	// JSON flows read a null correlate field as "" until they read it as
	// written (CorrelationText). The runtime does not call it: a run keeps
	// the Wait its history recorded.
	CorrelateBefore func(s *S) string
	// Timeout bounds the wait from when the step is entered (0: only the
	// step's Deadline bounds it). The deadline is fixed then, recorded in
	// the run's history, and kept by Resume.
	Timeout time.Duration
	// EachAttempt makes every attempt of the step wait, not only its
	// first: an attempt that fails and is retried takes the run back to
	// the step's waiting state ("X:running -> X:waiting", outcome retry,
	// with the attempt's error and the wait, whose deadline is the first
	// wait's), after its backoff; the next attempt runs when the wait
	// ends, in the same visit, under the same idempotency key. The engine
	// gates the Go steps that remote providers serve on a live provider
	// this way.
	EachAttempt bool
}

// Sleep is how long a sleeping step waits: For, counted from when the step
// is entered, or until the time Until returns (read on entry). The
// wake-up time is recorded in the run's history and kept by Resume. A time
// in the past wakes the run at once; the zero time (a time never set), or
// one a history cannot record (past the year 9999 or before the year 0:
// RecordableTime), ends the step with the outcome "error"
// (Step.SleepError).
type Sleep[S any] struct {
	For   time.Duration
	Until func(s *S) time.Time
	// Field names the state field Until reads, for the step's error
	// ("": the error names the step only).
	Field string
	// Invalid, if set, says why the state's value Until read as the zero
	// time is no time at all (a string that is not one), and is nil for
	// a value not set: the step's error then says so, rather than that
	// the time was never set (Step.SleepError). The engine's JSON flows
	// set it; a typed state's time.Time has no such value.
	Invalid func(s *S) error
}

// Publication is an event a step publishes after it succeeds.
type Publication[S any] struct {
	Topic, Event string
	Payload      func(s *S) any // nil publishes a null payload
}

// StepOption configures a Step built by NewStep or a predefined step. A
// nil StepOption sets nothing.
type StepOption[S any] func(*Step[S])

// WithID sets the step ID (predefined steps default to a name derived from
// their endpoint or event).
func WithID[S any](id string) StepOption[S] { return func(s *Step[S]) { s.ID = id } }

// WithRetry sets the step's retry policy.
func WithRetry[S any](p RetryPolicy) StepOption[S] { return func(s *Step[S]) { s.Retry = p } }

// WithTimeout sets the per-attempt timeout.
func WithTimeout[S any](d time.Duration) StepOption[S] { return func(s *Step[S]) { s.Timeout = d } }

// WithDeadline sets the step's total budget (see Step.Deadline).
func WithDeadline[S any](d time.Duration) StepOption[S] { return func(s *Step[S]) { s.Deadline = d } }

// WithRollback sets the function that undoes the step.
func WithRollback[S any](fn func(ctx context.Context, s *S) error) StepOption[S] {
	return func(s *Step[S]) { s.Rollback, s.rollbackCall, s.rollbackCallBad = fn, nil, false }
}

// WithRollbackRetry sets the retry policy of the rollback.
func WithRollbackRetry[S any](p RetryPolicy) StepOption[S] {
	return func(s *Step[S]) { s.RollbackRetry = p }
}

// WithRollbackTimeout sets the per-attempt timeout of the rollback.
func WithRollbackTimeout[S any](d time.Duration) StepOption[S] {
	return func(s *Step[S]) { s.RollbackTimeout = d }
}

// WithIrreversible marks the step as having no rollback on purpose.
func WithIrreversible[S any]() StepOption[S] { return func(s *Step[S]) { s.Irreversible = true } }

// WithNext routes an outcome to a step ID, Done or Fail.
func WithNext[S any](outcome Outcome, target string) StepOption[S] {
	return func(s *Step[S]) {
		if s.Next == nil {
			s.Next = make(map[Outcome]string)
		}
		s.Next[outcome] = target
	}
}

// WithPublish adds an event published after the step succeeds.
func WithPublish[S any](topic, event string, payload func(s *S) any) StepOption[S] {
	return func(s *Step[S]) {
		s.Publish = append(s.Publish, Publication[S]{Topic: topic, Event: event, Payload: payload})
	}
}

// WithResponse sets where an RPC step decodes its response, for example
// func(s *State) any { return &s.CustomerID }.
func WithResponse[S any](into func(s *S) any) StepOption[S] {
	return func(s *Step[S]) { s.response = into }
}

// WithCorrelationField sets the payload member a correlated NewAwait
// compares with its correlation value: a dot-separated path of JSON object
// members, such as "order_id" or "payment.order_id". Without it, an await
// compares CorrelationField.
func WithCorrelationField[S any](path string) StepOption[S] {
	return func(s *Step[S]) {
		s.correlationField = path
		if s.Await != nil {
			s.Await.Field = path
		}
	}
}

// NewStep returns a Go step: Exec is the work, options add the rest.
func NewStep[S any](id string, exec func(ctx context.Context, s *S) (Outcome, error), opts ...StepOption[S]) *Step[S] {
	st := &Step[S]{ID: id, Exec: exec}
	option.Apply(st, opts)
	return st
}

// OnlyWaits reports whether s does nothing once its wait ended: no Exec,
// no publications (a sleep, an await that keeps no payload). Such a step
// has no attempt to run, on the runtime or on another executor (the
// Temporal target runs no activity for it), and its deadline is judged at
// its wake-up time.
func (s *Step[S]) OnlyWaits() bool { return s.Exec == nil && len(s.Publish) == 0 }
