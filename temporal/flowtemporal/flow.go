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
	byID  map[string]int
	opts  Options
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
}

// New returns def on Temporal. def must not be started by the runtime as
// well: its definition is compiled here, and a run belongs to one executor.
func New[S any](def *runtime.Flow[S]) (*Flow[S], error) { return NewWith(def, Options{}) }

// NewWith is New with options.
func NewWith[S any](def *runtime.Flow[S], o Options) (*Flow[S], error) {
	f := &Flow[S]{def: def, steps: def.Steps(), byID: map[string]int{}, opts: o}
	if len(f.steps) == 0 {
		return nil, errors.New("flowtemporal: flow " + def.ID() + " has no steps")
	}
	for i, st := range f.steps {
		if len(st.Branches) > 0 {
			// The workflow walks one step at a time: it would pass a
			// block without running its branches.
			return nil, errors.New("flowtemporal: flow " + def.ID() + ": step " + st.ID + " is a parallel block, which the Temporal target does not run yet")
		}
		f.byID[st.ID] = i
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

// Register registers the flow's workflow (WorkflowName) and one activity
// per step that does work and per rollback (ActivityName) with a worker.
func (f *Flow[S]) Register(r worker.Registry) {
	id := f.def.ID()
	r.RegisterWorkflowWithOptions(f.Workflow, workflow.RegisterOptions{Name: WorkflowName(id)})
	for _, st := range f.steps {
		if hasWork(st) {
			r.RegisterActivityWithOptions(f.ExecActivity, activity.RegisterOptions{Name: ActivityName(id, st.ID, false)})
		}
		if st.Rollback != nil {
			r.RegisterActivityWithOptions(f.RollbackActivity, activity.RegisterOptions{Name: ActivityName(id, st.ID, true)})
		}
	}
}

// hasWork reports whether a step runs an activity: a step that only waits
// (a sleep without Exec) has none.
func hasWork[S any](st *runtime.Step[S]) bool { return st.Exec != nil || len(st.Publish) > 0 }

// Awaits is the runtime option the generated NewXTemporal adds: on
// Temporal an await is a signal (Deliver), so the definition needs no
// Subscriber, and one that a runtime run of it would use says so.
func Awaits() runtime.Option { return runtime.WithSubscriber(signalsOnly{}) }

type signalsOnly struct{}

var errSignalsOnly = errors.New("flowtemporal: this flow's awaits are Temporal signals (flowtemporal.Deliver); it does not run on the runtime")

func (signalsOnly) Subscribe(context.Context, runtime.Wait, func([]byte) bool) (func(), error) {
	return nil, errSignalsOnly
}
