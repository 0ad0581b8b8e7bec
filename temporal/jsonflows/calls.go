package jsonflows

import (
	"encoding/json"
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
)

// Calls of JSON flows. A call step's child is a workflow of the callee's
// name on the dynamic workflow, like any run: its input pins the callee's
// definition as the flows registered in this process have it when the call
// starts (recorded in the parent's history, so a replay starts the same
// child), and its memo carries it for the activities' workers, as a run
// started through the API has (flowtemporal.Options.Children).

// attach makes f the definition that calls of flow f.Name start.
func (x *Executor) attach(f engine.ExecFlow) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.attached == nil {
		x.attached = map[string]engine.ExecFlow{}
	}
	x.attached[f.Name] = f
}

// pinned is the definition a call starts its child on, as recorded.
type pinned struct {
	Found      bool   `json:"found"`
	Hash       string `json:"hash"`
	Definition []byte `json:"definition"`
}

// children gives the child workflow of a call of flow its input (the
// callee's pinned definition and the call's input state, nil: the empty
// state) and memo.
func (x *Executor) children(ctx workflow.Context, flow string, input any) (any, map[string]any, error) {
	var p pinned
	err := workflow.SideEffect(ctx, func(workflow.Context) any {
		x.mu.Lock()
		defer x.mu.Unlock()
		f, ok := x.attached[flow]
		return pinned{Found: ok, Hash: f.Hash, Definition: f.Source}
	}).Get(&p)
	if err != nil {
		return nil, nil, err
	}
	if !p.Found {
		return nil, nil, fmt.Errorf("flow %q is not loaded on this worker", flow)
	}
	state, err := callState(input)
	if err != nil {
		return nil, nil, err
	}
	f := engine.ExecFlow{Name: flow, Hash: p.Hash, Source: p.Definition}
	in, err := runInput(f, state)
	if err != nil {
		return nil, nil, err
	}
	return in, map[string]any{memoDefinition: f.Source, memoStart: stateHash(state)}, nil
}

// callState is a call's input as the child's initial state: the state
// field's JSON as it is, {} for none, and another value encoded as a
// run's state is (runtime.EncodeState: through a pointer, <, > and &
// kept as they are), so that the start hash in the child's memo
// (memoStart) is that of the state its run records.
func callState(input any) (json.RawMessage, error) {
	if raw, ok := input.(json.RawMessage); ok || input == nil {
		if len(raw) == 0 {
			return json.RawMessage(`{}`), nil
		}
		return raw, nil
	}
	return runtime.EncodeState(input)
}
