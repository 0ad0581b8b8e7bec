package store

import (
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// Filter.Match, the rule every list of runs applies (a store's, and
// Temporal's in temporal/jsonflows): each field on its own, Since
// inclusive and Until exclusive at the edge, zero fields matching all.
func TestFilterMatch(t *testing.T) {
	at := time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)
	r := RunInfo{RunID: "r1", Flow: "Order", State: runtime.StateWaiting, Started: at, Correlation: "o-1"}
	for _, c := range []struct {
		name string
		f    Filter
		want bool
	}{
		{"zero", Filter{}, true},
		{"flow", Filter{Flow: "Order"}, true},
		{"other flow", Filter{Flow: "Signup"}, false},
		{"state", Filter{State: runtime.StateWaiting}, true},
		{"other state", Filter{State: runtime.StateDone}, false},
		{"non-terminal", Filter{NonTerminal: true}, true},
		{"since its start", Filter{Since: at}, true},
		{"since after its start", Filter{Since: at.Add(time.Nanosecond)}, false},
		{"until after its start", Filter{Until: at.Add(time.Nanosecond)}, true},
		{"until its start", Filter{Until: at}, false},
		{"correlation", Filter{Correlation: "o-1"}, true},
		{"other correlation", Filter{Correlation: "o-2"}, false},
		{"After and Limit are not Match's", Filter{After: "zz", Limit: 1, Newest: true}, true},
	} {
		if got := c.f.Match(&r); got != c.want {
			t.Errorf("%s: Match = %v, want %v", c.name, got, c.want)
		}
	}
	done := r
	done.State = runtime.StateDone
	if (Filter{NonTerminal: true}).Match(&done) {
		t.Error("NonTerminal matches a run that is done")
	}
}
