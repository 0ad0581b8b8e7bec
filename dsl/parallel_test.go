package dsl_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
)

// TestCheckParallel covers the block checks one at a time, with their
// positions (the golden testdata/check/parallel shows them together).
func TestCheckParallel(t *testing.T) {
	wrap := func(body string) string { return "flow F {\n    state S\n" + body + "}\n" }
	tests := []struct {
		name, src string
		want      []string
	}{
		{"clean", wrap("    parallel P {\n        step A { irreversible }\n        step B { writes X  irreversible }\n        on ok -> done\n    }\n"), nil},
		{"empty", wrap("    step A { irreversible }\n    parallel P {}\n"),
			[]string{`4:14: error parallel-empty: parallel block "P" has no branches [hint: put the steps that run at the same time in the block: ` + "`parallel P { step A { ... } step B { ... } }`" + `]`}},
		{"branch named like a step", wrap("    step A { irreversible }\n    parallel P {\n        step A { irreversible }\n    }\n"),
			[]string{`5:14: error duplicate-step: duplicate step "A" (first declared at line 3) [hint: rename one of the steps; step names are unique within a flow, branches of parallel blocks included]`}},
		{"step named like a block", wrap("    parallel P {\n        step A { irreversible }\n    }\n    step P { irreversible }\n"),
			[]string{`6:10: error duplicate-step: duplicate step "P" (first declared at line 3) [hint: rename one of them; a parallel block's name is a step name of the flow (steps route to the block by it), unique among its steps and branches]`}},
		{"branch named like a later step", wrap("    parallel P {\n        step A { irreversible }\n    }\n    step A { irreversible }\n"),
			[]string{`6:10: error duplicate-step: duplicate step "A" (first declared at line 4) [hint: rename one of the steps; step names are unique within a flow, branches of parallel blocks included]`}},
		// Every later one names the first, whichever the check meets first
		// (steps are indexed before branches).
		{"branch named like two later steps", wrap("    parallel P {\n        step A { irreversible }\n    }\n    step A { irreversible }\n    step A { irreversible }\n"),
			[]string{
				`6:10: error duplicate-step: duplicate step "A" (first declared at line 4) [hint: rename one of the steps; step names are unique within a flow, branches of parallel blocks included]`,
				`7:10: error duplicate-step: duplicate step "A" (first declared at line 4) [hint: rename one of the steps; step names are unique within a flow, branches of parallel blocks included]`,
			}},
		{"two branches named like a later step", wrap("    parallel P {\n        step A { irreversible }\n        step A { irreversible }\n    }\n    step A { irreversible }\n"),
			[]string{
				`5:14: error duplicate-step: duplicate step "A" (first declared at line 4) [hint: rename one of the steps; step names are unique within a flow, branches of parallel blocks included]`,
				`7:10: error duplicate-step: duplicate step "A" (first declared at line 4) [hint: rename one of the steps; step names are unique within a flow, branches of parallel blocks included]`,
			}},
		{"rollback named like a branch", wrap("    parallel P {\n        step A { rollback B }\n        step B { irreversible }\n    }\n"),
			[]string{`4:27: error rollback-name: rollback "B" has the same name as branch "B" of parallel block "P" [hint: a Go rollback is a handler method of its own; rename it, for example to "UndoB"]`}},
		{"choose into a branch", wrap("    step C {\n        choose {\n            when X -> A\n            otherwise -> done\n        }\n    }\n    parallel P {\n        step A { irreversible }\n    }\n"),
			[]string{`5:23: error branch-target: step "C" routes to "A", a branch of parallel block "P" [hint: a branch runs only when its block starts it: route to the block, ` + "`-> P`" + `]`}},
		// Its own on line: "route to the block" would be a loop.
		{"block into its own branch", wrap("    parallel P {\n        step A { irreversible }\n        on ok -> A\n    }\n"),
			[]string{`5:18: error branch-target: parallel block "P" routes to "A", one of its own branches [hint: the block starts its branches when it is entered; its ` + "`on`" + ` lines route its outcome to a step after it, done or fail]`}},
		{"writes on an rpc", wrap("    parallel P {\n        step A {\n            rpc s \"S.A\" -> X\n            writes Y\n            irreversible\n        }\n    }\n"),
			[]string{`6:20: error writes: rpc step "A" declares ` + "`writes`" + `, but only a Go step does: an rpc writes its ` + "`-> X`" + ` [hint: remove the ` + "`writes`" + ` line]`}},
		{"an rpc and a Go step write one field", wrap("    parallel P {\n        step A {\n            rpc s \"S.A\" -> X\n            irreversible\n        }\n        step B { writes X  irreversible }\n    }\n"),
			[]string{`8:25: error parallel-write: branches "A" and "B" of parallel block "P" both write field "X" [hint: the block merges each branch's fields into the run's state when it completes, so two writers of one field would race; let one branch write it (the other's is at line 5), or use two fields]`}},
		{"a block that loops to itself", wrap("    parallel P {\n        step A { irreversible }\n        on ok -> P\n    }\n"),
			[]string{`3:14: warning loop: parallel block "P" goes back to itself with no wait in it: a run can go round it forever, recording events until its history bound fails it [hint: put a wait in the loop (` + "`sleep 30s`" + ` in a step of it, or an await), or give it a way out that its state reaches]`}},
		{"block timeout from a branch", wrap("    parallel P {\n        step A { timeout 1s  irreversible }\n        on timeout -> Late\n    }\n    step Late { irreversible }\n"), nil},
		{"block outcome", wrap("    parallel P {\n        step A { irreversible }\n        on maybe -> done\n    }\n"),
			[]string{`5:12: error undefined-outcome: parallel block "P" cannot end with outcome "maybe": its outcomes are ok, error [hint: a block ends ok when every branch completed, or with the outcome of the branch that failed]`}},
		{"branch policies are checked", wrap("    parallel P {\n        step A {\n            rpc s \"S.A\"\n        }\n    }\n"),
			[]string{`4:14: warning no-rollback: step "A" has side effects (an rpc) but neither a rollback nor ` + "`irreversible`" + ` [hint: add ` + "`rollback <Method>` or `rollback rpc ...`" + ` to undo it when a later step fails, or mark it ` + "`irreversible`" + `]`}},
		// Branches do not route (branch-route), at what routes: an on
		// line, the outcomes, a choose.
		{"branch with an on line", wrap("    parallel P {\n        step A {\n            irreversible\n            on ok -> done\n        }\n    }\n"),
			[]string{"6:13: error branch-route: branch \"A\" of parallel block \"P\" has `on ok -> done`, but branches do not route [hint: a branch ends ok or fails, and its block goes on once every branch completed: route the block's outcome with `on` lines of the block itself (after its steps), or make \"A\" a step after the block]"}},
		{"branch with outcomes", wrap("    parallel P {\n        step A {\n            outcomes x\n            irreversible\n        }\n    }\n"),
			[]string{"5:22: error branch-route: branch \"A\" of parallel block \"P\" declares outcomes, but branches do not route [hint: a branch ends ok or fails, and its block goes on once every branch completed: route the block's outcome with `on` lines of the block itself (after its steps), or make \"A\" a step after the block]"}},
		{"branch that chooses", wrap("    parallel P {\n        step A {\n            choose {\n                when X -> done\n                otherwise -> done\n            }\n        }\n    }\n"),
			[]string{"5:13: error branch-route: branch \"A\" of parallel block \"P\" chooses where the run goes, but branches do not route [hint: a branch ends ok or fails, and its block goes on once every branch completed: route the block's outcome with `on` lines of the block itself (after its steps), or make \"A\" a step after the block]"}},
		// Branches do not wait (branch-wait), at the waiting action.
		{"branch that awaits", wrap("    parallel P {\n        step A {\n            await t \"e\" timeout 1h\n        }\n    }\n"),
			[]string{"5:13: error branch-wait: branch \"A\" of parallel block \"P\" waits (await), but a branch cannot wait [hint: branches run on goroutines of a running process, while a wait is a recorded state of the whole run; move the await into a step before or after the block]"}},
		{"branch that sleeps", wrap("    parallel P {\n        step A {\n            sleep 1h\n        }\n    }\n"),
			[]string{"5:13: error branch-wait: branch \"A\" of parallel block \"P\" waits (sleep), but a branch cannot wait [hint: branches run on goroutines of a running process, while a wait is a recorded state of the whole run; move the sleep into a step before or after the block]"}},
		{"branch that calls", wrap("    parallel P {\n        step A {\n            call G\n            irreversible\n        }\n    }\n") + "flow G {\n    step B { irreversible }\n}\n",
			[]string{"5:13: error branch-wait: branch \"A\" of parallel block \"P\" waits (call), but a branch cannot wait [hint: branches run on goroutines of a running process, while a wait is a recorded state of the whole run; move the call into a step before or after the block]"}},
		// A Go branch merges only what it declares: one that says nothing
		// of its effects (no writes, rollback or irreversible) has its
		// changes to the state discarded. Declaring its fields, or its
		// effect outside the run (a rollback, irreversible), silences it.
		{"Go branch that declares nothing", wrap("    parallel P {\n        step A {}\n        step B { irreversible }\n    }\n"),
			[]string{
				"4:14: warning branch-writes: branch \"A\" of parallel block \"P\" is a Go step that declares no `writes`: its changes to the state are all discarded when the block merges its branches [hint: declare the fields it sets, `writes A, B`; if it sets none and acts only outside the run, say how to undo that (`rollback <Method>`) or mark it `irreversible`]",
				"4:14: warning no-rollback: step \"A\" has side effects (a Go step) but neither a rollback nor `irreversible` [hint: add `rollback <Method>` or `rollback rpc ...` to undo it when a later step fails, or mark it `irreversible`]",
			}},
		{"Go branch that declares its writes", wrap("    parallel P {\n        step A { writes X }\n    }\n"),
			[]string{"4:14: warning no-rollback: step \"A\" has side effects (a Go step) but neither a rollback nor `irreversible` [hint: add `rollback <Method>` or `rollback rpc ...` to undo it when a later step fails, or mark it `irreversible`]"}},
		{"Go branch with a rollback", wrap("    parallel P {\n        step A { rollback UndoA }\n    }\n"), nil},
		// Only a Go step: an rpc branch writes its -> Field, a publish
		// branch nothing; outside a block a step works on the state itself.
		{"rpc branch and Go step outside a block", wrap("    parallel P {\n        step A { rpc s \"S.A\" -> X }\n    }\n    step B {}\n"),
			[]string{
				"4:14: warning no-rollback: step \"A\" has side effects (an rpc) but neither a rollback nor `irreversible` [hint: add `rollback <Method>` or `rollback rpc ...` to undo it when a later step fails, or mark it `irreversible`]",
				"6:10: warning no-rollback: step \"B\" has side effects (a Go step) but neither a rollback nor `irreversible` [hint: add `rollback <Method>` or `rollback rpc ...` to undo it when a later step fails, or mark it `irreversible`]",
			}},
		{"branch names are Go names", wrap("    parallel P {\n        step a { irreversible }\n    }\n"),
			[]string{`4:14: error name: step name "a" must start with an upper-case letter: it names a Go constant and, for a Go step, a handler method [hint: rename it to "A"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := loadStrings(t, tt.src, dsl.CheckOptions{})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Load (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParallelModel: the derived facts of a block: its outcomes, where
// they go, its branches' writes, the Go methods and names of its
// branches, and what it needs.
func TestParallelModel(t *testing.T) {
	src, err := os.ReadFile("../testdata/flows/good/parallel.flow")
	if err != nil {
		t.Fatal(err)
	}
	f, ds := flowfile.Load("parallel.flow", src, dsl.CheckOptions{})
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	fl := f.Flows[0]
	blk := fl.Step("Prepare")
	if !blk.IsBlock() || blk.Kind() != "parallel" || blk.IsGo() || blk.HasSideEffects() {
		t.Fatalf("Prepare: block %v, kind %q, Go %v, side effects %v", blk.IsBlock(), blk.Kind(), blk.IsGo(), blk.HasSideEffects())
	}
	if got := fl.Outcomes(blk); !cmp.Equal(got, []string{"ok", "error", "timeout"}) {
		t.Errorf("outcomes of the block: %v", got)
	}
	if fl.RetryFor(blk).Attempts != 1 || fl.TimeoutFor(blk) != 0 || fl.DeadlineFor(blk) != 0 {
		t.Errorf("a block takes none of the flow's policies: %+v %v %v", fl.RetryFor(blk), fl.TimeoutFor(blk), fl.DeadlineFor(blk))
	}
	// Its branches take the flow's, as any step that does work
	// (docs/language.md, "Start").
	for _, br := range blk.Branches() {
		if got, want := fl.RetryFor(br), fl.RetryFor(fl.Step("Start")); got != want || got.Attempts != 2 || fl.TimeoutFor(br) != 5*time.Second {
			t.Errorf("branch %s: retry %+v, timeout %v; want the flow's %+v and 5s", br.Name, got, fl.TimeoutFor(br), want)
		}
	}
	var edges []string
	for _, e := range fl.StepEdges(blk) {
		edges = append(edges, e.Outcome+"->"+e.To)
	}
	if want := []string{"ok->Ship", "error->fail", "timeout->Apologise"}; !cmp.Equal(edges, want) {
		t.Errorf("edges %v, want %v", edges, want)
	}
	var writes []string
	for _, b := range blk.Branches() {
		var ws []string
		for _, w := range b.BranchWrites() {
			ws = append(ws, w.Name)
		}
		writes = append(writes, b.Name+":"+strings.Join(ws, ","))
	}
	if want := []string{"ReserveStock:Reservation", "AuthorizeCard:Authorization,CardChecked", "Announce:"}; !cmp.Equal(writes, want) {
		t.Errorf("writes %v, want %v", writes, want)
	}
	var methods []string
	for _, m := range fl.GoMethods() {
		methods = append(methods, m.Name)
	}
	if want := []string{"Start", "AuthorizeCard", "VoidCard"}; !cmp.Equal(methods, want) {
		t.Errorf("methods %v, want %v", methods, want)
	}
	var consts []string
	for _, s := range fl.GoNames().Steps {
		consts = append(consts, s.Const)
	}
	if want := []string{"OrderStepStart", "OrderStepPrepare", "OrderStepReserveStock", "OrderStepAuthorizeCard", "OrderStepAnnounce", "OrderStepShip", "OrderStepApologise"}; !cmp.Equal(consts, want) {
		t.Errorf("step constants %v, want %v", consts, want)
	}
	if n := fl.Needs(); !n.Has(dsl.NeedCaller | dsl.NeedPublisher) {
		t.Errorf("needs %v: the branches call and publish", n)
	}
	if len(fl.Unreachable()) != 0 {
		t.Errorf("unreachable %v", fl.Unreachable())
	}
	blocks := fl.BranchBlocks()
	if blocks["Announce"] != blk || blocks["Ship"] != nil {
		t.Errorf("BranchBlocks: Announce in %v, Ship in %v; want %v and none", blocks["Announce"], blocks["Ship"], blk)
	}
	if len(blocks) != 3 {
		t.Errorf("BranchBlocks has %d names, want the 3 branches: %v", len(blocks), blocks)
	}
}

// TestParallelJSON: a block's JSON form has "parallel" instead of
// "action", round-trips, and the decoder refuses what a block or a branch
// cannot have.
func TestParallelJSON(t *testing.T) {
	src, err := os.ReadFile("../testdata/flows/good/parallel.flow")
	if err != nil {
		t.Fatal(err)
	}
	f, _ := flowfile.Load("parallel.flow", src, dsl.CheckOptions{})
	js, err := dsl.EncodeJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"parallel": {`) || !strings.Contains(string(js), `"writes": [`) {
		t.Fatalf("no block in the JSON form:\n%s", js)
	}
	g, ds := dsl.DecodeJSON("p.json", js)
	if len(ds) > 0 {
		t.Fatal(ds.Err())
	}
	if diff := cmp.Diff(f, g, jsonIgnore); diff != "" {
		t.Errorf("round trip (-flow +json):\n%s", diff)
	}
	for _, tt := range []struct{ step, want string }{
		{`{"name": "P", "parallel": {"branches": []}, "timeout": "1s"}`, `$.flows[0].steps[0].timeout: field "timeout" is not allowed in a parallel block`},
		{`{"name": "P", "parallel": {"branches": [{"name": "A", "parallel": {"branches": []}, "action": {"kind": "go"}}]}}`, `$.flows[0].steps[0].parallel.branches[0].parallel: field "parallel" is not allowed in a branch of a parallel block`},
		{`{"name": "P", "parallel": {"steps": []}}`, `$.flows[0].steps[0].parallel.steps: unknown field "steps" in parallel block`},
		{`{"name": "P", "parallel": []}`, `$.flows[0].steps[0].parallel: expected parallel block object, found array`},
		{`{"name": "A", "action": {"kind": "go"}, "writes": [1]}`, `$.flows[0].steps[0].writes[0]: expected field name string, found number`},
		{`{"name": "A", "action": {"kind": "parallel"}}`, `$.flows[0].steps[0].action.kind: invalid kind "parallel"`},
	} {
		_, ds := dsl.DecodeJSON("p.json", []byte(`{"version": 1, "flows": [{"name": "F", "steps": [`+tt.step+`]}]}`))
		found := false
		for _, d := range ds {
			found = found || strings.HasPrefix(d.Range.Start.Path+": "+d.Message, tt.want)
		}
		if !found {
			t.Errorf("%s: want %q, got %v", tt.step, tt.want, ds)
		}
	}
	// A block written as a branch has no action, being a block: that it
	// cannot nest is the one thing to say, not also that it lacks one
	// (with a hint to add {"kind": "go"}, which would not fix it).
	_, ds = dsl.DecodeJSON("p.json", []byte(`{"version": 1, "flows": [{"name": "F", "steps": [{"name": "P", "parallel": {"branches": [{"name": "A", "parallel": {"branches": [{"name": "B", "action": {"kind": "go"}}]}}]}}]}]}`))
	if len(ds) != 1 || !strings.Contains(ds[0].Message, `field "parallel" is not allowed in a branch`) {
		t.Errorf("nested block: want only that it cannot nest, got %v", ds)
	}
}
