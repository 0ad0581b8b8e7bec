package flowtemporal

import (
	"context"
	"errors"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/runtime"
)

// Flow is a flow definition that runs on Temporal. The workflow and the
// activities it registers read the definition's steps, routing, retry
// policies and timeouts; the activities call its Go steps, Caller and
// Publisher on the worker, and the workflow emits to its Sink.
type Flow[S any] struct {
	def   *runtime.Flow[S]
	steps []*runtime.Step[S]
	byID  map[string]*runtime.Step[S] // every step, branches included
	// branch are the branches of the flow's blocks, by ID: their
	// activities hand back what a merge takes (ExecActivity).
	branch map[string]bool
	opts   Options
	calls  map[string]Callee // the flows its calls and rollback calls run, by ID
}

// Callee is a flow that another flow's calls run as child workflows: a
// *Flow of any state type, given to New.
type Callee interface {
	ID() string
	register(r worker.Registry, seen map[string]bool)
}

// Options are for an executor that runs flows whose definition is chosen
// per run (temporal/jsonflows: the engine's JSON flows); generated flows
// need none.
type Options struct {
	// Pin is carried in the input of every activity the workflow runs
	// (ActionInput.Pin), so that the worker that runs it finds the same
	// definition.
	Pin string
	// OnWait, if set, is called from workflow code when a run starts
	// waiting for an event (waiting true) and when it stops waiting
	// without it (a timeout, an abort: waiting false), so that events can
	// be routed to it; ctx is not cancelled by an abort.
	OnWait func(ctx workflow.Context, w *runtime.Wait, waiting bool)
	// Reclaim, if set, is called from workflow code, in place of OnWait's
	// waiting false, when the timer of an await fires: it takes the wait
	// back and reports whether an event received in time for it
	// (runtime.Wait.InTime) was signalled to the run (signalled, with its
	// payload's EventSum), which the run then takes instead of timing
	// out, as on the runtime, where the time the event was received
	// decides, not which of the timer and the event the run hears of
	// first. With GiveBack set, it is called so too, in place of OnWait's
	// waiting false, when a run is aborted in an await. ctx is not
	// cancelled by an abort.
	Reclaim func(ctx workflow.Context, w *runtime.Wait) (signalled bool, sum string)
	// GiveBack, if set with Reclaim, is called from workflow code when a
	// run is aborted in an await whose wait Reclaim, called in place of
	// OnWait's waiting false, says was signalled an event: the run did not
	// take it (the abort came first), and gives it back (d), so that
	// another wait takes it, as on the runtime, where an aborted run takes
	// no event. ctx is not cancelled by the abort.
	GiveBack func(ctx workflow.Context, w *runtime.Wait, d runtime.Delivery)
	// Calls are the flows def's calls and rollback calls run, as child
	// workflows (see New).
	Calls []Callee
	// Children, if set, gives the child workflows of def's calls and
	// rollback calls their input and memo, for an executor whose
	// workflows take more than the state (temporal/jsonflows: the
	// callee's pinned definition): arg for a child of flow started with
	// the call's input (nil: the child's zero state). It runs in workflow
	// code, so what it reads must be recorded (workflow.SideEffect). A
	// flow with it needs no Calls; an error fails the call.
	Children func(ctx workflow.Context, flow string, input any) (arg any, memo map[string]any, err error)
	// Progress makes each run record where it is in its memo
	// (MemoProgress) whenever its machine state or step changes, for an
	// executor that lists runs from Temporal's visibility (ProgressOf). It
	// costs the run's history one event per such change.
	Progress bool
	// MaxInput bounds the input of an activity the workflow schedules (a
	// step's or a rollback's attempt: its state and payload), encoded:
	// past it the step fails with ErrInputTooLarge, before it is
	// scheduled; and its result, the state an attempt left: past it the
	// attempt fails, permanently, with ErrResultTooLarge (payloadlimit.go).
	// Set it to the cluster's payload limit (limit.blobSize.error).
	// Default DefaultMaxInput.
	MaxInput int
}

// New returns def on Temporal. def must not be started by the runtime as
// well: its definition is compiled here, and a run belongs to one executor.
// calls are the flows that def's calls and rollback calls run (each built
// with New from the definition the call was built with): each runs as a
// child workflow, and Register registers them too. A call of a flow not
// in calls is an error.
func New[S any](def *runtime.Flow[S], calls ...Callee) (*Flow[S], error) {
	return NewWith(def, Options{Calls: calls})
}

// NewWith is New with options.
func NewWith[S any](def *runtime.Flow[S], o Options) (*Flow[S], error) {
	f := &Flow[S]{def: def, steps: def.Steps(), byID: map[string]*runtime.Step[S]{}, branch: map[string]bool{}, opts: o, calls: map[string]Callee{}}
	if len(f.steps) == 0 {
		return nil, errors.New("flowtemporal: flow " + def.ID() + " has no steps")
	}
	for _, c := range o.Calls {
		f.calls[c.ID()] = c
	}
	if err := f.checkSubscriber(); err != nil {
		return nil, err
	}
	for _, st := range f.steps {
		for _, s := range append([]*runtime.Step[S]{st}, st.Branches...) {
			if err := f.checkCalls(s, st != s); err != nil {
				return nil, err
			}
			f.byID[s.ID] = s
			f.branch[s.ID] = st != s
		}
		// Compiles the definition once, so that a flow that would not
		// start on the runtime does not register on Temporal either.
		if _, err := def.Route(st.ID, runtime.OutcomeOK); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// ID is the flow's ID, which is also its workflow type.
func (f *Flow[S]) ID() string { return f.def.ID() }

// Runtime returns the runtime definition the flow runs.
func (f *Flow[S]) Runtime() *runtime.Flow[S] { return f.def }

// checkCalls refuses a call or rollback call of step st whose flow is not
// among the flow's calls, a call in a branch, which would wait, a
// rollback gated by an event, and a step whose every attempt awaits one.
func (f *Flow[S]) checkCalls(st *runtime.Step[S], branch bool) error {
	if st.RollbackAwait != nil {
		// The engine sets it for rollbacks of remote providers, which
		// flowgen-temporal does not have; nothing here would wait.
		return errors.New("flowtemporal: flow " + f.def.ID() + ": step " + st.ID + "'s rollback awaits an event (RollbackAwait), which this target does not run")
	}
	if st.Await != nil && st.Await.EachAttempt {
		// The engine sets it for Go steps of remote providers, as above.
		return errors.New("flowtemporal: flow " + f.def.ID() + ": step " + st.ID + " awaits before each attempt (Await.EachAttempt), which this target does not run")
	}
	var flows []string
	if st.Call != nil {
		if branch {
			return errors.New("flowtemporal: flow " + f.def.ID() + ": branch " + st.ID + " calls a flow: a branch cannot wait")
		}
		flows = append(flows, st.Call.Flow)
	}
	if rc := st.RollbackCall(); rc != nil {
		flows = append(flows, rc.Flow)
	}
	for _, callee := range flows {
		if _, ok := f.calls[callee]; !ok && f.opts.Children == nil {
			return errors.New("flowtemporal: flow " + f.def.ID() + ": step " + st.ID + " calls flow " + callee +
				", which New was not given: pass its flowtemporal.Flow")
		}
	}
	return nil
}

// checkSubscriber refuses a flow with an await whose definition was given
// a Subscriber other than Awaits' (runtime.New refuses one with none): on
// Temporal an await is a signal, so that Subscriber (options moved from
// the runtime as they were) would never be asked, and an event published
// on it would never wake a run.
func (f *Flow[S]) checkSubscriber() error {
	if _, ok := f.def.Subscriber().(signalsOnly); ok {
		return nil
	}
	for _, st := range f.steps {
		for _, s := range append([]*runtime.Step[S]{st}, st.Branches...) {
			if s.Await != nil {
				return errors.New("flowtemporal: flow " + f.def.ID() + ": step " + s.ID + " awaits an event, which on Temporal is a signal " +
					"(Run.Deliver, flowtemporal.Deliver), so the Subscriber the flow was given (runtime.WithSubscriber) would never be asked: " +
					"leave it out of a generated NewXTemporal's options (a definition built by hand takes flowtemporal.Awaits() instead)")
			}
		}
	}
	return nil
}

// Register registers the flow's workflow (WorkflowName) and one activity
// per step that does work and per rollback (ActivityName) with a worker,
// and those of every flow it calls, directly or through others, once each.
// A called flow may also be registered on its own before its callers (the
// callers then register it again, with Temporal's already-registered check
// off); registered after one of them, Temporal panics as for any name
// registered twice.
func (f *Flow[S]) Register(r worker.Registry) { f.register(r, map[string]bool{}) }

func (f *Flow[S]) register(r worker.Registry, seen map[string]bool) {
	id := f.def.ID()
	if seen[id] {
		return
	}
	// The first flow registered is the one Register was called on; the
	// flows it calls may have been registered by the worker's code too.
	again := len(seen) > 0
	seen[id] = true
	r.RegisterWorkflowWithOptions(f.Workflow, workflow.RegisterOptions{Name: WorkflowName(id), DisableAlreadyRegisteredCheck: again})
	for _, st := range f.steps {
		for _, s := range append([]*runtime.Step[S]{st}, st.Branches...) {
			if !s.OnlyWaits() { // a step that only waits runs no activity
				r.RegisterActivityWithOptions(f.ExecActivity, activity.RegisterOptions{Name: ActivityName(id, s.ID, false), DisableAlreadyRegisteredCheck: again})
			}
			if s.Rollback != nil && s.RollbackCall() == nil {
				r.RegisterActivityWithOptions(f.RollbackActivity, activity.RegisterOptions{Name: ActivityName(id, s.ID, true), DisableAlreadyRegisteredCheck: again})
			}
		}
	}
	for _, c := range f.opts.Calls {
		c.register(r, seen)
	}
}

// Awaits is the runtime option the generated NewXTemporal adds: on
// Temporal an await is a signal (Deliver), so the definition needs no
// Subscriber, and one that a runtime run of it would use says so. It comes
// before the caller's options, so that a runtime.WithSubscriber among them,
// which no await would ask, is seen by New and refused. A call is a child
// workflow, which the cluster keeps, so the definition runs no child runs
// of its own either (childWorkflows): runtime.Flow.Register does not ask
// the callees' sinks to load histories then, which a runtime parent needs
// to find its children after a restart, and refused a worker's sink given
// to a caller alone.
func Awaits() runtime.Option {
	return both(runtime.WithSubscriber(signalsOnly{}), runtime.WithChildren(childWorkflows{}))
}

// both is the option that applies a, then b (P, the runtime's options,
// is not named outside it).
func both[O ~func(P), P any](a, b O) O { return func(p P) { a(p); b(p) } }

type signalsOnly struct{}

var errSignalsOnly = errors.New("flowtemporal: this flow's awaits are Temporal signals (flowtemporal.Deliver); it does not run on the runtime")

func (signalsOnly) Subscribe(context.Context, runtime.Wait, func(runtime.Delivery) bool) (func(), error) {
	return nil, errSignalsOnly
}
