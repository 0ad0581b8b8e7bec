package graph

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/dsl"
)

// TestParallelForkJoin: a block forks into its branches and joins them;
// its outcomes leave from the join, and a failing block undoes its
// completed branches (one undo state for the block) before the steps
// before it, or, when its failing branch cancelled the others before any
// completed, the steps before it alone. A block with nothing to undo fails
// like a step.
func TestParallelForkJoin(t *testing.T) {
	undo := &dsl.Step{Name: "Before", Action: &dsl.Action{Kind: dsl.ActionGo}, Rollback: &dsl.Rollback{Name: &dsl.Ident{Name: "UndoBefore"}}}
	branch := func(name string, rb bool) *dsl.Step {
		s := &dsl.Step{Name: name, Action: &dsl.Action{Kind: dsl.ActionGo}, Irreversible: !rb}
		if rb {
			s.Rollback = &dsl.Rollback{Name: &dsl.Ident{Name: "Undo" + name}}
		}
		return s
	}
	blk := &dsl.Step{Name: "P", Parallel: &dsl.Parallel{Branches: []*dsl.Step{branch("A", true), branch("B", false)}}}
	got := edgeList(t, flowOf("F", undo, blk), "")
	want := []string{
		`[*] --> F_Before`,
		`F_Before -ok-> F_P`,
		`F_Before -error-> F_failed`,
		`F_P --> F_P_fork`,
		`F_P_fork --> F_A`,
		`F_A --> F_P_join`,
		`F_P_fork --> F_B`,
		`F_B --> F_P_join`,
		`F_P_join -ok-> F_done`,
		`F_P_join -.error.-> F_undo_P`,
		`F_P_join -.error.-> F_undo_Before`,
		`F_undo_P -..-> F_undo_Before`,
		`F_undo_Before -.all undone.-> F_compensated`,
		`F_undo_Before -.all undone.-> F_aborted`,
		`F_undo_Before -.a rollback failed.-> F_compensation_failed`,
		`F_aborting -~abort~-> F_aborted`,
		`F_aborting -~abort~-> F_undo_Before`,
		`F_aborting -~abort~-> F_undo_P`,
	}
	// The block's own edges are added when its state is, before the
	// flow's start edge: sort neither, compare as sets of lines.
	if diff := cmp.Diff(sorted(want), sorted(got)); diff != "" {
		t.Errorf("edges (-want +got):\n%s", diff)
	}

	plain := &dsl.Step{Name: "P", Parallel: &dsl.Parallel{Branches: []*dsl.Step{branch("A", false)}}}
	got = edgeList(t, flowOf("F", undo, plain), "")
	if !slices.Contains(got, `F_P_join -.error.-> F_undo_Before`) {
		t.Errorf("a block with nothing to undo should fail to the undo of the step before it: %v", got)
	}

	// The first step, a block whose branches have rollbacks: none may
	// have completed when it fails, and the run ends failed.
	got = edgeList(t, flowOf("F", blk), "")
	for _, e := range []string{`F_P_join -.error.-> F_undo_P`, `F_P_join -error-> F_failed`} {
		if !slices.Contains(got, e) {
			t.Errorf("a first block that fails: no edge %s in %v", e, got)
		}
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// A block whose branches' rollbacks call a flow has an undo state that is
// drawn as a call, as a step's undo state is (docs/language.md): the box
// of a call, linked to the flow's start in DOT. Rollbacks calling two
// flows leave it unmarked: a call links one flow (its lines name both).
func TestParallelUndoCallsAFlow(t *testing.T) {
	callUndo := func(name, flow string) *dsl.Step {
		return &dsl.Step{Name: name, Action: &dsl.Action{Kind: dsl.ActionGo},
			Rollback: &dsl.Rollback{Action: &dsl.Action{Kind: dsl.ActionCall, Flow: &dsl.Ident{Name: flow}}}}
	}
	plain := &dsl.Step{Name: "C", Action: &dsl.Action{Kind: dsl.ActionGo}, Irreversible: true}
	child := func(name string) *dsl.Flow {
		return &dsl.Flow{Name: name, Steps: []*dsl.Step{{Name: "X", Action: &dsl.Action{Kind: dsl.ActionGo}, Irreversible: true}}}
	}
	for _, tc := range []struct {
		name     string
		branches []*dsl.Step
		call     string
	}{
		{"one flow", []*dsl.Step{callUndo("A", "Undo"), plain}, "Undo"},
		{"one flow twice", []*dsl.Step{callUndo("A", "Undo"), callUndo("B", "Undo")}, "Undo"},
		{"two flows", []*dsl.Step{callUndo("A", "Undo"), callUndo("B", "Other")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blk := &dsl.Step{Name: "P", Parallel: &dsl.Parallel{Branches: tc.branches}}
			last := &dsl.Step{Name: "Z", Action: &dsl.Action{Kind: dsl.ActionGo}, Irreversible: true}
			f := &dsl.File{Version: dsl.FormatVersion, Flows: []*dsl.Flow{{Name: "F", Steps: []*dsl.Step{blk, last}}, child("Undo"), child("Other")}}
			d, err := build(f, "")
			if err != nil {
				t.Fatal(err)
			}
			var undo *node
			for _, n := range d.flows[0].nodes {
				if n.id == "F_undo_P" {
					undo = n
				}
			}
			if undo == nil || undo.call != tc.call {
				t.Fatalf("undo P: %+v, want call %q", undo, tc.call)
			}
			dot, err := DOT(f, "")
			if err != nil {
				t.Fatal(err)
			}
			link := `"F_undo_P" -> "Undo_start"`
			if got := strings.Contains(string(dot), link); got != (tc.call != "") {
				t.Errorf("DOT has %s: %v, want %v\n%s", link, got, tc.call != "", dot)
			}
		})
	}
}

// TestParallelUndoLabelClaimsNoOrder: a block's undo state lists its
// branches' rollbacks in file order, while the run undoes the completed
// branches newest completion first (docs/language.md, "Parallel blocks"),
// an order only the run knows. So the label must not present the list as
// that order: a heading "newest first" above a file-order list did.
func TestParallelUndoLabelClaimsNoOrder(t *testing.T) {
	branch := func(name string) *dsl.Step {
		return &dsl.Step{Name: name, Action: &dsl.Action{Kind: dsl.ActionGo}, Rollback: &dsl.Rollback{Name: &dsl.Ident{Name: "Undo" + name}}}
	}
	blk := &dsl.Step{Name: "P", Parallel: &dsl.Parallel{Branches: []*dsl.Step{branch("A"), branch("B")}}}
	d, err := build(flowOf("F", blk), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range d.flows[0].nodes {
		if n.id != "F_undo_P" {
			continue
		}
		want := []string{"completed branches, last finished undone first; listed in file order:", "A: UndoA", "B: UndoB"}
		if diff := cmp.Diff(want, n.lines); diff != "" {
			t.Errorf("undo P lines (-want +got):\n%s", diff)
		}
		return
	}
	t.Fatal("no undo state F_undo_P")
}
