package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// A run ID chosen with WithRunID cannot have an '@', ChildRunID's
// separator: a run "o-1@Bill" of Billing would be taken for the child of
// run o-1's call Bill, which would then never start its own child and
// take that run's state as its result.
func TestRunIDWithAtRefused(t *testing.T) {
	sink := runtime.NewMemorySink()
	c := newCallFlows(t, sink, newRecorder(), nil, false)
	_, err := c.child.Execute(context.Background(), billing{Amount: 999, Charge: "forged"}, runtime.WithRunID("o-1@Bill"))
	if !errors.Is(err, runtime.ErrBadRunID) || !strings.Contains(err.Error(), `'@'`) {
		t.Fatalf("a run ID with '@': %v, want ErrBadRunID naming '@'", err)
	}
	if h := sink.History("o-1@Bill"); len(h) != 0 {
		t.Fatalf("the refused run recorded %d events", len(h))
	}
	res, err := c.parent.Execute(context.Background(), parentState{Req: billing{Amount: 40}}, runtime.WithRunID("o-1"))
	if err != nil || res.State.Res.Charge != "ch-40" {
		t.Fatalf("parent: %v, result %+v, want its own child's", err, res.State.Res)
	}
	if err := runtime.CheckRunID("o-1@Bill"); !errors.Is(err, runtime.ErrBadRunID) {
		t.Fatalf("CheckRunID: %v", err)
	}
	for _, id := range []string{"o-1", "a-b.2:x.y_z", strings.Repeat("r", runtime.MaxRunIDLen)} {
		if err := runtime.CheckRunID(id); err != nil {
			t.Fatalf("CheckRunID(%q): %v", id, err)
		}
	}
	// A child run's ID is its parent's: WithParent of another run does
	// not make it one.
	_, err = c.child.Execute(context.Background(), billing{}, runtime.WithRunID("o-1@Bill:2"),
		runtime.WithParent(runtime.RunRef{Flow: "Order", RunID: "o-9"}))
	if !errors.Is(err, runtime.ErrBadRunID) {
		t.Fatalf("a child ID of another parent: %v", err)
	}
}

// Start refuses a run ID outside the rule of run IDs (CheckRunID) with an
// error wrapping ErrBadRunID, and records nothing: WithRunID("") is not a
// request for a generated ID, and a line break or another control
// character would forge lines in logs and answers that quote the ID.
func TestStartRefusesInvalidRunID(t *testing.T) {
	long := strings.Repeat("r", runtime.MaxRunIDLen+1)
	for _, tc := range []struct{ id, want string }{
		{"", "run ID of 0 bytes"},
		{long, "run ID of 129 bytes"},
		{"a\nb", `'\n' at byte 1`},
		{"a\x00b", `'\x00' at byte 1`},
		{"a\x1bb", `'\x1b' at byte 1`},
		{"a b", `' ' at byte 1`},
		{"a\u202eb", `'\u202e' at byte 1`},
		{"a\xffb", "the byte 0xff at byte 1"},
		{"-a", `'-' at byte 0`},
	} {
		sink := runtime.NewMemorySink()
		c := newCallFlows(t, sink, newRecorder(), nil, false)
		_, err := c.child.Start(context.Background(), billing{Amount: 1}, runtime.WithRunID(tc.id))
		if !errors.Is(err, runtime.ErrBadRunID) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Start with run ID %q: %v, want ErrBadRunID naming %s", tc.id, err, tc.want)
		}
		if runs := sink.Runs(); len(runs) != 0 {
			t.Errorf("Start with run ID %q recorded runs %v", tc.id, runs)
		}
		if err := runtime.CheckRunID(tc.id); !errors.Is(err, runtime.ErrBadRunID) {
			t.Errorf("CheckRunID(%q): %v", tc.id, err)
		}
	}
}
