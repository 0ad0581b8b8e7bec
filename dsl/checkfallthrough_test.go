package dsl_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/dsl"
)

// TestChooseFallThrough: a target of a choose that goes on by default to
// another target of the same choose is a warning at the step that falls
// through, and only that: an explicit `on ok` (to anywhere), a next step
// that the choose does not route to, or a target that routes every
// outcome itself is silent.
func TestChooseFallThrough(t *testing.T) {
	route := func(targets ...string) string {
		var b strings.Builder
		b.WriteString("    step Route {\n        choose {\n")
		for _, t := range targets[:len(targets)-1] {
			b.WriteString("            when X -> " + t + "\n")
		}
		b.WriteString("            otherwise -> " + targets[len(targets)-1] + "\n        }\n    }\n")
		return b.String()
	}
	wrap := func(body string) string { return "flow F {\n    state S\n" + body + "}\n" }
	tests := []struct {
		name, src string
		want      []string // "line:col code" of the choose-fallthrough warnings
	}{
		// The order: Concierge runs ShipFast and Ship, ShipFast runs Ship.
		{"each target falls into the next", wrap(route("Concierge", "ShipFast", "Ship") +
			"    step Concierge { irreversible }\n    step ShipFast { irreversible }\n    step Ship { irreversible }\n    step Remind { irreversible }\n"),
			[]string{"10:10", "11:10"}},
		{"on ok ends each", wrap(route("A", "B") +
			"    step A {\n        irreversible\n        on ok -> C\n    }\n    step B { irreversible }\n    step C { irreversible }\n"), nil},
		// Going on on purpose, said so.
		{"on ok to the next target", wrap(route("A", "B") +
			"    step A {\n        irreversible\n        on ok -> B\n    }\n    step B { irreversible }\n"), nil},
		// A step between them is where the ways meet.
		{"next is no target", wrap(route("A", "C") +
			"    step A { irreversible }\n    step B { irreversible }\n    step C { irreversible }\n"), nil},
		{"targets in the other order", wrap(route("B", "A") +
			"    step A { irreversible }\n    step B { irreversible }\n"), []string{"9:10"}},
		{"otherwise to done", wrap(route("A", "done") + "    step A { irreversible }\n    step B { irreversible }\n"), nil},
		// A declared outcome without an on line goes on too.
		{"declared outcome falls through", wrap(route("A", "B") +
			"    step A {\n        irreversible\n        outcomes maybe\n        on ok -> done\n    }\n    step B { irreversible }\n"),
			[]string{"9:10"}},
		// A target that chooses routes every outcome itself.
		{"target that chooses", wrap(route("A", "B") +
			"    step A {\n        choose {\n            when Y -> done\n            otherwise -> fail\n        }\n    }\n    step B { irreversible }\n"), nil},
		// A parallel block falls through by its own on lines; its
		// branches are never targets, so their order does not count.
		{"target that is a block", wrap(route("P", "B") +
			"    parallel P {\n        step P1 { irreversible }\n        step P2 { irreversible }\n    }\n    step B { irreversible }\n"),
			[]string{"9:14"}},
		{"block with on ok", wrap(route("P", "B") +
			"    parallel P {\n        step P1 { irreversible }\n        on ok -> done\n    }\n    step B { irreversible }\n"), nil},
		{"step into a block", wrap(route("A", "P") +
			"    step A { irreversible }\n    parallel P {\n        step P1 { irreversible }\n    }\n"),
			[]string{"9:10"}},
		// The choose routing to itself (a loop, reported as one) is not a
		// target the step before it falls into.
		{"choose among its targets", "flow F {\n    state S\n    step A { irreversible }\n" + route("A", "Route") + "}\n", nil},
		// Two chooses: only targets of the same one count.
		{"targets of two chooses", wrap(route("A", "done") + strings.Replace(route("B", "done"), "Route", "Route2", 1) +
			"    step A { irreversible }\n    step B { irreversible }\n"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, d := range loadStrings(t, tt.src, dsl.CheckOptions{}) {
				if strings.Contains(d, " choose-fallthrough: ") {
					got = append(got, d[:strings.Index(d, ": ")])
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("choose-fallthrough at (-want +got):\n%s\n%s", diff, tt.src)
			}
		})
	}
}

// TestChooseFallThroughMessage: the warning names the choose and both
// targets, and its hint ends the step where the choose's ways meet, or at
// done when nothing follows its last target.
func TestChooseFallThroughMessage(t *testing.T) {
	src := "flow F {\n    state S\n    step Route {\n        choose {\n            when X -> A\n            otherwise -> B\n        }\n    }\n" +
		"    step A { irreversible }\n    step B { irreversible }\n%s}\n"
	for _, tt := range []struct{ after, want string }{
		{"    step Next { irreversible }\n", "9:10: warning choose-fallthrough: step \"A\", a target of the choose in step \"Route\", goes on to \"B\", another of its targets, when it ends ok (with no `on` line for it, a step goes on to the next one in the file): a run the choose sends to \"A\" runs \"B\" too [hint: end it with `on ok -> Next` (the step after the choose's last target, where its ways likely meet) or `on ok -> done`; if going on to \"B\" is meant, say so: `on ok -> B`]"},
		{"", "9:10: warning choose-fallthrough: step \"A\", a target of the choose in step \"Route\", goes on to \"B\", another of its targets, when it ends ok (with no `on` line for it, a step goes on to the next one in the file): a run the choose sends to \"A\" runs \"B\" too [hint: end it with `on ok -> done` (which ends the run); if going on to \"B\" is meant, say so: `on ok -> B`]"},
	} {
		got := loadStrings(t, strings.Replace(src, "%s", tt.after, 1), dsl.CheckOptions{})
		if diff := cmp.Diff([]string{tt.want}, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	}
}
