package jsonflows

import (
	"context"
	"testing"

	"github.com/flowgen/flowgen/engine"
)

// A call of flow B starts the definition of B whose registration is
// committed: while a replacement is attached, before its change commits
// (and after, if it is refused), the one before it; once the replacement
// is activated, the replacement. Before, a call between the replacement's
// attach and its refusal started a child of the refused definition, and
// one between the old definition's stop and the replacement's attach
// found none.
func TestCallsStartTheCommittedDefinition(t *testing.T) {
	x := New(nil, Options{}) // flows without schedules: no call to a cluster
	ctx := context.Background()
	called := func() string {
		x.mu.Lock()
		defer x.mu.Unlock()
		return x.attached["B"].Hash
	}
	v1, v2 := engine.ExecFlow{Name: "B", Hash: "v1"}, engine.ExecFlow{Name: "B", Hash: "v2"}
	stop, err := x.Attach(ctx, v1)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Activate(ctx, v1); err != nil {
		t.Fatal(err)
	}
	// A change replaces v1 by v2 (the engine stops v1 first), and is
	// refused: v1 is attached again.
	stop()
	if got := called(); got != "v1" {
		t.Errorf("after v1's stop, a call starts %q, want v1", got)
	}
	stop, err = x.Attach(ctx, v2)
	if err != nil {
		t.Fatal(err)
	}
	if got := called(); got != "v1" {
		t.Errorf("v2 attached, not committed: a call starts %q, want v1", got)
	}
	stop()
	if stop, err = x.Attach(ctx, v1); err != nil {
		t.Fatal(err)
	}
	if got := called(); got != "v1" {
		t.Errorf("v2 refused: a call starts %q, want v1", got)
	}
	// Accepted.
	stop()
	if _, err := x.Attach(ctx, v2); err != nil {
		t.Fatal(err)
	}
	if err := x.Activate(ctx, v2); err != nil {
		t.Fatal(err)
	}
	if got := called(); got != "v2" {
		t.Errorf("v2 committed: a call starts %q, want v2", got)
	}
}
