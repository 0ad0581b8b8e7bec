package demo

import (
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// TestColumns: fixed columns pad the line to its outcome; Fit's put the
// outcome two spaces after the target; the error's first line follows.
func TestColumns(t *testing.T) {
	e := runtime.Event{From: "A:running", To: "A:running", Outcome: "retry", Error: "busy\nmore"}
	for _, c := range []struct {
		cols Columns
		want string
	}{
		{Columns{From: 12, Outcome: 34}, "  A:running    -> A:running        [retry]  busy"},
		{Fit([]runtime.Event{e, {From: "pending", To: "A:running"}}), "  A:running -> A:running  [retry]  busy"},
	} {
		if got := c.cols.Line(e); got != c.want {
			t.Errorf("%+v: %q, want %q", c.cols, got, c.want)
		}
	}
}

// TestCheckStep: a step of the flows passes (as no step does); another is
// a usage error naming the flows and their steps.
func TestCheckStep(t *testing.T) {
	steps := []string{"A", "B"}
	if err := NewLive(nil, Columns{}, "B").CheckStep(steps, "F"); err != nil {
		t.Errorf("a step of the flow: %v", err)
	}
	if err := NewLive(nil, Columns{}, "").CheckStep(steps, "F"); err != nil {
		t.Errorf("no step: %v", err)
	}
	for _, c := range []struct {
		flows []string
		want  string
	}{
		{[]string{"F"}, `-crash-after: flow F has no step "C" (it has A, B)`},
		{[]string{"F", "G", "H"}, `-crash-after: flows F, G and H have no step "C" (they have A, B)`},
	} {
		err := NewLive(nil, Columns{}, "C").CheckStep(steps, c.flows...)
		if _, ok := err.(usageError); !ok || err.Error() != c.want {
			t.Errorf("%v: %#v, want the usage error %q", c.flows, err, c.want)
		}
	}
}
