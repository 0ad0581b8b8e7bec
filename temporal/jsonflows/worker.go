package jsonflows

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
)

// RunInput is the input of a JSON flow's workflow: the definition the run
// follows, pinned by its hash when the run started, and its initial state.
// Every worker that runs the workflow compiles the definition from here,
// whatever the flows it has registered now.
type RunInput struct {
	Hash string `json:"hash"`
	// Definition is the flow's JSON document, as bytes (base64 in JSON) so
	// that no converter reformats what Hash pins.
	Definition []byte       `json:"definition"`
	State      engine.State `json:"state"`
	// Scheduled: a schedule trigger's tick starts the run; its state gets
	// the tick's time as "scheduled_at", as the engine's ticks do.
	Scheduled bool `json:"scheduled,omitempty"`
}

// scheduledStart is the search attribute in which a Temporal Schedule
// gives each run it starts the time of its tick.
var scheduledStart = temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")

// Memo fields of a run's workflow, besides flowtemporal.MemoState.
const (
	// memoDefinition holds the run's definition (RunInput.Definition), for
	// an activity's worker that has not compiled it yet.
	memoDefinition = "flowgen.definition"
	// memoStart holds the hash of the run's initial state, which tells a
	// repeated start (the same state) from a reused run ID.
	memoStart = "flowgen.start"
)

// maxCached bounds the compiled definitions a worker keeps: one per
// definition in use, so a flow redefined more often than that is compiled
// again when an older run needs its definition.
const maxCached = 256

// definitions compiles pinned definitions once per worker.
type definitions struct {
	eng  *engine.Engine
	opts []runtime.Option
	x    *Executor

	mu    sync.Mutex
	flows map[string]*flowtemporal.Flow[engine.State]
}

// get returns the compiled definition of hash, compiling source.
func (d *definitions) get(hash string, source []byte) (*flowtemporal.Flow[engine.State], error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if f := d.flows[hash]; f != nil {
		return f, nil
	}
	if got := engine.DefinitionHash(source); got != hash {
		return nil, fmt.Errorf("jsonflows: definition pinned as %s hashes to %s", hash, got)
	}
	def, err := d.eng.CompileJSON(source, d.opts...)
	if err != nil {
		return nil, err
	}
	f, err := flowtemporal.NewWith(def, flowtemporal.Options{Pin: hash, OnWait: d.x.onWait, Reclaim: d.x.onReclaim, GiveBack: d.x.onGiveBack, Children: d.x.children, Progress: true, MaxInput: d.x.opts.PayloadLimit})
	if err != nil {
		return nil, err
	}
	if len(d.flows) >= maxCached {
		for k := range d.flows { // evicts one: a run that needs it compiles it again
			delete(d.flows, k)
			break
		}
	}
	d.flows[hash] = f
	return f, nil
}

func (d *definitions) cached(hash string) *flowtemporal.Flow[engine.State] {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.flows[hash]
}

// Register makes w a worker of every JSON flow: one dynamic workflow runs
// any flow from the definition in its input, one dynamic activity runs any
// step or rollback, and the inbox workflow routes awaited events. eng
// provides the handlers, the Caller and the publisher (its PublishEvent,
// through x) that the steps use; it must have been made with
// engine.Options.Executor set to x. opts are added to the definitions'
// runtime options (runtime.WithSink to observe the events, for example).
func (x *Executor) Register(w worker.Registry, eng *engine.Engine, opts ...runtime.Option) {
	d := &definitions{eng: eng, x: x, flows: map[string]*flowtemporal.Flow[engine.State]{},
		// The runs' history is Temporal's: no engine store receives events.
		opts: append([]runtime.Option{runtime.WithSink(nil), flowtemporal.Awaits()}, opts...)}
	x.defs = d
	w.RegisterDynamicWorkflow(d.workflow, workflow.DynamicRegisterOptions{})
	w.RegisterDynamicActivity(d.activity, activity.DynamicRegisterOptions{})
	w.RegisterWorkflowWithOptions(inboxWorkflow, workflow.RegisterOptions{Name: inboxWorkflowName})
	w.RegisterWorkflowWithOptions(publicationWorkflow, workflow.RegisterOptions{Name: publicationWorkflowName})
	w.RegisterActivityWithOptions(x.applyPublication, activity.RegisterOptions{Name: publicationActivityName})
	// Registered by name: a local activity given as a function would be
	// taken by the dynamic activity.
	w.RegisterActivityWithOptions(x.tellInbox, activity.RegisterOptions{Name: tellInboxActivity})
	w.RegisterActivityWithOptions(x.reclaimWait, activity.RegisterOptions{Name: reclaimInboxActivity})
}

// workflow runs one run of a JSON flow (the workflow type is the flow's
// name) on the definition its input pins.
func (d *definitions) workflow(ctx workflow.Context, args converter.EncodedValues) (engine.State, error) {
	var in RunInput
	if err := args.Get(&in); err != nil {
		return engine.State{}, err
	}
	f, err := d.get(in.Hash, in.Definition)
	if err != nil {
		// A definition this worker cannot compile (a handler it lacks):
		// failing the task lets a worker that can take the run.
		panic(fmt.Sprintf("jsonflows: run %s: %v", workflow.GetInfo(ctx).WorkflowExecution.ID, err))
	}
	if name := workflow.GetInfo(ctx).WorkflowType.Name; name != f.ID() {
		return engine.State{}, fmt.Errorf("jsonflows: workflow type %q runs a definition of flow %q", name, f.ID())
	}
	if in.Scheduled {
		// The schedule's action is the same for every tick: the tick's
		// time comes with the run, as the engine's state has it.
		if at, ok := workflow.GetTypedSearchAttributes(ctx).GetTime(scheduledStart); ok {
			if err := in.State.Set("scheduled_at", at.UTC()); err != nil {
				return engine.State{}, err
			}
		}
	}
	s, err := f.Workflow(ctx, in.State)
	return *s, err
}

// activity runs one attempt of a step or a rollback of the definition its
// input pins; a worker that has not compiled it reads it from the run's
// memo.
func (d *definitions) activity(ctx context.Context, args converter.EncodedValues) (converter.RawValue, error) {
	var in flowtemporal.ActionInput[engine.State]
	if err := args.Get(&in); err != nil {
		return converter.RawValue{}, err
	}
	f := d.cached(in.Pin)
	if f == nil {
		we := activity.GetInfo(ctx).WorkflowExecution
		src, err := d.x.definitionOf(ctx, we.ID, we.RunID)
		if err == nil {
			f, err = d.get(in.Pin, src)
		}
		if err != nil {
			return converter.RawValue{}, fmt.Errorf("jsonflows: definition %s: %w", in.Pin, err)
		}
	}
	if in.Action.Rollback {
		return f.RollbackActivity(ctx, in)
	}
	return f.ExecActivity(ctx, in)
}

var errNoDefinition = errors.New("the run's memo holds no definition")
