package flowfile

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/dsl"
)

// TestBuildParallel: a block is one step of the flow, with its branches
// (their docs, actions, rollbacks and writes) and its own on lines, and
// every range points at what it came from.
func TestBuildParallel(t *testing.T) {
	src := `flow Order {
    state OrderState
    step Start { irreversible }
    // Prepare does two things at once.
    parallel Prepare {
        // Reserve reserves.
        step Reserve {
            rpc inventory "Stock.Reserve" (Items) -> Reservation
            rollback rpc inventory "Stock.Release" (Reservation)
        }
        step Authorize {
            writes Authorization, Card
            rollback Void
        }
        on ok -> done
    }
}
`
	f := mustBuild(t, "p.flow", []byte(src))
	id := func(name string) *dsl.Ident { return &dsl.Ident{Name: name} }
	want := []*dsl.Step{{
		Name:         "Start",
		Action:       &dsl.Action{Kind: dsl.ActionGo},
		Irreversible: true,
	}, {
		Name: "Prepare",
		Doc:  "Prepare does two things at once.",
		Parallel: &dsl.Parallel{Branches: []*dsl.Step{{
			Name:     "Reserve",
			Doc:      "Reserve reserves.",
			Action:   &dsl.Action{Kind: dsl.ActionRPC, Service: "inventory", Endpoint: "Stock.Reserve", Request: id("Items"), Response: id("Reservation")},
			Rollback: &dsl.Rollback{Action: &dsl.Action{Kind: dsl.ActionRPC, Service: "inventory", Endpoint: "Stock.Release", Request: id("Reservation")}},
		}, {
			Name:     "Authorize",
			Action:   &dsl.Action{Kind: dsl.ActionGo},
			Rollback: &dsl.Rollback{Name: id("Void")},
			Writes:   []*dsl.Ident{id("Authorization"), id("Card")},
		}}},
		Transitions: []*dsl.Transition{{On: id("ok"), Target: id("done")}},
	}}
	fl := f.Flows[0]
	if diff := cmp.Diff(want, fl.Steps, buildIgnoreRanges); diff != "" {
		t.Fatalf("steps (-want +got):\n%s", diff)
	}
	at := func(start, end int) string { return src[start:end] }
	blk := fl.Steps[1]
	auth := blk.Parallel.Branches[1]
	got := []string{
		at(blk.NameRange.Start.Offset, blk.NameRange.End.Offset),
		at(blk.Range.Start.Offset, blk.Range.End.Offset)[:len("parallel Prepare {")],
		at(auth.Writes[1].Range.Start.Offset, auth.Writes[1].Range.End.Offset),
		at(blk.Transitions[0].Range.Start.Offset, blk.Transitions[0].Range.End.Offset),
		at(auth.Range.Start.Offset, auth.Range.End.Offset)[:len("step Authorize")],
	}
	if diff := cmp.Diff([]string{"Prepare", "parallel Prepare {", "Card", "on ok -> done", "step Authorize"}, got); diff != "" {
		t.Errorf("text under ranges (-want +got):\n%s", diff)
	}
}
