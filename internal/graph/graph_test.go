package graph

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/dsl"
	"github.com/google/go-cmp/cmp"
)

// edgeList renders a flow's edges as "from -label-> to" lines (start is
// "[*]", rollback edges use "-.label.->", abort edges "-~label~->") for
// exact comparison.
func edgeList(t *testing.T, f *dsl.File, flow string) []string {
	t.Helper()
	d, err := build(f, flow)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, g := range d.flows {
		for _, e := range g.edges {
			from := e.from
			if from == "" {
				from = "[*]"
			}
			arrow := fmt.Sprintf("-%s->", e.label)
			if e.rollback {
				arrow = fmt.Sprintf("-.%s.->", e.label)
			}
			if e.abort {
				arrow = fmt.Sprintf("-~%s~->", e.label)
			}
			out = append(out, fmt.Sprintf("%s %s %s", from, arrow, e.to))
		}
	}
	return out
}

func flowOf(name string, steps ...*dsl.Step) *dsl.File {
	return &dsl.File{Version: dsl.FormatVersion, Flows: []*dsl.Flow{{Name: name, Steps: steps}}}
}

func TestCompensationChainBrief(t *testing.T) {
	got := edgeList(t, briefSignup(), "")
	want := []string{
		`[*] -rpc "Signup.Start", event accounts "signup.requested"-> Signup_CreateCustomer`,
		`Signup_CreateCustomer -ok-> Signup_CreateSubscription`,
		// Nothing completed yet that could be undone: plain failure.
		`Signup_CreateCustomer -error, timeout-> Signup_failed`,
		`Signup_CreateSubscription -ok-> Signup_AwaitPayment`,
		// CreateSubscription did not complete: only CreateCustomer is undone.
		`Signup_CreateSubscription -.error, timeout.-> Signup_undo_CreateCustomer`,
		`Signup_AwaitPayment -ok-> Signup_Activate`,
		`Signup_AwaitPayment -.error.-> Signup_undo_CreateSubscription`,
		`Signup_AwaitPayment -timeout-> Signup_ExpireTrial`,
		`Signup_Activate -ok-> Signup_done`,
		`Signup_Activate -.error, timeout.-> Signup_undo_CreateSubscription`,
		// ExpireTrial is irreversible: its own "ok -> fail" starts undoing
		// the step before it.
		`Signup_ExpireTrial -.ok, error, timeout.-> Signup_undo_CreateSubscription`,
		// A failure ends compensated, an abort aborted.
		`Signup_undo_CreateCustomer -.all undone.-> Signup_compensated`,
		`Signup_undo_CreateCustomer -.all undone.-> Signup_aborted`,
		`Signup_undo_CreateCustomer -.a rollback failed.-> Signup_compensation_failed`,
		`Signup_undo_CreateSubscription -..-> Signup_undo_CreateCustomer`,
		// Activate leads to done: no failure undoes it, an abort while it
		// runs does when it returns ok anyway.
		`Signup_undo_Activate -..-> Signup_undo_CreateSubscription`,
		// An abort begins its rollbacks at any undo state, or has nothing
		// to undo.
		`Signup_aborting -~abort~-> Signup_aborted`,
		`Signup_aborting -~abort~-> Signup_undo_CreateCustomer`,
		`Signup_aborting -~abort~-> Signup_undo_CreateSubscription`,
		`Signup_aborting -~abort~-> Signup_undo_Activate`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("edges (-want +got):\n%s", diff)
	}
}

// A failure after a branch undoes whichever branch ran: both undo states
// are entered from the join, and both lead back to the step before the
// branch.
func TestCompensationChainBranches(t *testing.T) {
	f := flowOf("F",
		goStep("A", withRollback("UndoA")),
		goStep("Review", withOutcomes("yes", "no"), withOn("yes", "B"), withOn("no", "C")),
		goStep("B", withRollback("UndoB"), withOn("ok", "D")),
		goStep("C", withRollback("UndoC")),
		goStep("D", func(s *dsl.Step) { s.Irreversible = true }),
	)
	got := edgeList(t, f, "F")
	want := []string{
		`[*] --> F_A`,
		`F_A -ok-> F_Review`,
		`F_A -error-> F_failed`,
		`F_Review -ok, yes-> F_B`,
		`F_Review -.error.-> F_undo_A`,
		`F_Review -no-> F_C`,
		`F_B -ok-> F_D`,
		`F_B -.error.-> F_undo_A`,
		`F_C -ok-> F_D`,
		`F_C -.error.-> F_undo_A`,
		`F_D -ok-> F_done`,
		`F_D -.error.-> F_undo_B`,
		`F_D -.error.-> F_undo_C`,
		`F_undo_A -.all undone.-> F_compensated`,
		`F_undo_A -.all undone.-> F_aborted`,
		`F_undo_A -.a rollback failed.-> F_compensation_failed`,
		`F_undo_B -..-> F_undo_A`,
		`F_undo_C -..-> F_undo_A`,
		`F_aborting -~abort~-> F_aborted`,
		`F_aborting -~abort~-> F_undo_A`,
		`F_aborting -~abort~-> F_undo_B`,
		`F_aborting -~abort~-> F_undo_C`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("edges (-want +got):\n%s", diff)
	}
}

// A step that completes with a named outcome leading to fail is itself
// undone; one that ends with error or timeout is not.
func TestCompensationIncludesCompletedStep(t *testing.T) {
	f := flowOf("F",
		goStep("Review", withRollback("Unreview"), withOutcomes("rejected"), withOn("rejected", "fail"), withTimeout(1e9)),
	)
	got := edgeList(t, f, "")
	want := []string{
		`[*] --> F_Review`,
		`F_Review -ok-> F_done`,
		`F_Review -error, timeout-> F_failed`,
		`F_Review -.rejected.-> F_undo_Review`,
		`F_undo_Review -.all undone.-> F_compensated`,
		`F_undo_Review -.all undone.-> F_aborted`,
		`F_undo_Review -.a rollback failed.-> F_compensation_failed`,
		`F_aborting -~abort~-> F_aborted`,
		`F_aborting -~abort~-> F_undo_Review`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("edges (-want +got):\n%s", diff)
	}
}

// With a loop back to the first step, a failure there may or may not have
// something to undo: both are drawn.
func TestCompensationLoop(t *testing.T) {
	f := flowOf("F",
		goStep("A", withRollback("UndoA")),
		goStep("B", withOutcomes("again"), withOn("again", "A")),
	)
	got := edgeList(t, f, "")
	want := []string{
		`[*] --> F_A`,
		`F_A -ok-> F_B`,
		`F_A -error-> F_failed`,
		`F_A -.error.-> F_undo_A`,
		`F_B -ok-> F_done`,
		`F_B -.error.-> F_undo_A`,
		`F_B -again-> F_A`,
		// A's earlier run may itself be on the stack below A.
		`F_undo_A -.all undone.-> F_compensated`,
		`F_undo_A -.all undone.-> F_aborted`,
		`F_undo_A -.a rollback failed.-> F_compensation_failed`,
		`F_undo_A -..-> F_undo_A`,
		`F_aborting -~abort~-> F_aborted`,
		`F_aborting -~abort~-> F_undo_A`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("edges (-want +got):\n%s", diff)
	}
}

// The rollback of a flow's last step runs only on an abort: a step that
// fails is not undone, and no step after it can fail. Its undo state is
// drawn, entered from aborting, and its chain ends aborted, never
// compensated, which no failure of this flow can reach.
func TestAbortOnlyRollback(t *testing.T) {
	f := flowOf("F",
		goStep("A", func(s *dsl.Step) { s.Irreversible = true }),
		goStep("Hold", withRollback("Release")),
	)
	got := edgeList(t, f, "")
	want := []string{
		`[*] --> F_A`,
		`F_A -ok-> F_Hold`,
		`F_A -error-> F_failed`,
		`F_Hold -ok-> F_done`,
		`F_Hold -error-> F_failed`,
		`F_undo_Hold -.all undone.-> F_aborted`,
		`F_undo_Hold -.a rollback failed.-> F_compensation_failed`,
		`F_aborting -~abort~-> F_aborted`,
		`F_aborting -~abort~-> F_undo_Hold`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("edges (-want +got):\n%s", diff)
	}
	d, err := build(f, "")
	if err != nil {
		t.Fatal(err)
	}
	var terms []string
	for _, n := range d.flows[0].nodes {
		if n.kind == nodeTerminal {
			terms = append(terms, n.title)
		}
	}
	if want := []string{"done", "failed", "aborted", "compensation_failed"}; !slices.Equal(terms, want) {
		t.Errorf("terminals %v, want %v", terms, want)
	}
}

// An abort of a flow with no rollback has nothing to undo; an
// unreachable step with a rollback (a model that failed Check) is never
// aborted, so its undo state is not drawn.
func TestAbortNothingToUndo(t *testing.T) {
	f := flowOf("F",
		goStep("A", func(s *dsl.Step) { s.Irreversible = true }, withOn("ok", "done")),
		goStep("Never", withRollback("Undo")),
	)
	got := edgeList(t, f, "")
	want := []string{
		`[*] --> F_A`,
		`F_A -ok-> F_done`,
		`F_A -error-> F_failed`,
		`F_Never -ok-> F_done`,
		`F_aborting -~abort~-> F_aborted`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("edges (-want +got):\n%s", diff)
	}
}

// A sleep for a duration that publishes nothing cannot fail (its wake-up
// time is fixed when it is entered): no error edge leaves it. A sleep until
// a field can (the field was never set), and so can one that publishes.
func TestSleepWithoutErrorEdge(t *testing.T) {
	sleep := func(name string, a dsl.Action, opts ...func(*dsl.Step)) *dsl.Step {
		a.Kind = dsl.ActionSleep
		s := &dsl.Step{Name: name, Action: &a}
		for _, o := range opts {
			o(s)
		}
		return s
	}
	f := flowOf("F",
		sleep("Pause", dsl.Action{Duration: dsl.Duration(time.Hour)}),
		sleep("Bounded", dsl.Action{Duration: dsl.Duration(time.Hour)}, func(s *dsl.Step) { s.Deadline = dsl.Duration(time.Minute) }),
		sleep("Until", dsl.Action{Until: id("At")}),
		sleep("Tell", dsl.Action{Duration: dsl.Duration(time.Hour)}, func(s *dsl.Step) {
			s.Publish = []*dsl.Publication{{Topic: "t", Event: "e"}}
			s.Irreversible = true
		}),
	)
	got := edgeList(t, f, "")
	want := []string{
		`[*] --> F_Pause`,
		`F_Pause -ok-> F_Bounded`,
		`F_Bounded -ok-> F_Until`,
		`F_Bounded -timeout-> F_failed`,
		`F_Until -ok-> F_Tell`,
		`F_Until -error-> F_failed`,
		`F_Tell -ok-> F_done`,
		`F_Tell -error-> F_failed`,
		`F_aborting -~abort~-> F_aborted`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("edges (-want +got):\n%s", diff)
	}
}

func TestUnknownFlow(t *testing.T) {
	f := briefSignup()
	f.Flows = append(f.Flows, &dsl.Flow{Name: "Cancel"})
	for _, render := range []func(*dsl.File, string) ([]byte, error){DOT, Mermaid} {
		_, err := render(f, "Signpu")
		if err == nil || err.Error() != `unknown flow "Signpu": the file declares "Signup", "Cancel"` {
			t.Errorf("err = %v", err)
		}
	}
	_, err := DOT(&dsl.File{}, "X")
	if err == nil || !strings.Contains(err.Error(), "declares no flows") {
		t.Errorf("empty file: err = %v", err)
	}
}

// An unchecked model with a transition to a step that does not exist is an
// error, not a panic or a dangling edge.
func TestUnknownTarget(t *testing.T) {
	f := flowOf("F", goStep("A", withOn("ok", "Nowhere")))
	_, err := DOT(f, "")
	if err == nil || !strings.Contains(err.Error(), `unknown step "Nowhere"`) {
		t.Errorf("err = %v", err)
	}
}

func TestIDs(t *testing.T) {
	a := newIDs()
	got := []string{
		a.get(idKey{flow: 0, kind: nodeStep, n: 0}, "A_B_C"),
		a.get(idKey{flow: 1, kind: nodeStep, n: 0}, "A_B_C"), // same text, other thing
		a.get(idKey{flow: 0, kind: nodeStep, n: 0}, "ignored"),
		a.get(idKey{flow: 2, kind: nodeFlow}, "end"),
		a.get(idKey{flow: 3, kind: nodeFlow}, "State"),
		a.get(idKey{flow: 4, kind: nodeFlow}, "Prüfen"),
		a.get(idKey{flow: 5, kind: nodeFlow}, "9lives"),
		a.get(idKey{flow: 6, kind: nodeFlow}, ""),
		a.get(idKey{flow: 7, kind: nodeFlow}, `a"b c`),
	}
	want := []string{"A_B_C", "A_B_C_2", "A_B_C", "end_", "State_", "Pr_00FCfen", "n9lives", "n", "a_0022b_0020c"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

func TestDOTEscape(t *testing.T) {
	for in, want := range map[string]string{
		`plain`:          `plain`,
		`say "hi"`:       `say \"hi\"`,
		`back\slash \N`:  `back\\slash \\N`,
		"two\nlines":     `two\nlines`,
		"tab\there":      `tab\\u0009here`,
		"bidi\u202etext": `bidi\\u202etext`,
		"bad\xffbyte":    `bad\\xffbyte`,
		"ünïcode ×":      "ünïcode ×",
	} {
		if got := dotEscape(in); got != want {
			t.Errorf("dotEscape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMermaidText(t *testing.T) {
	for in, want := range map[string]string{
		`plain words`:           `plain words`,
		`rpc a "B.C" (X) -> Y`:  `rpc a #34;B.C#34; (X) -#62; Y`,
		`a: b; c # d %% e {f}`:  `a#58; b#59; c #35; d #37;#37; e #123;f#125;`,
		"x<script>&amp;":        `x#60;script#62;#38;amp#59;`,
		"new\nline\u202e\xff ×": `new#65533;line#65533;#65533; ×`,
	} {
		if got := mermaidText(in); got != want {
			t.Errorf("mermaidText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRetryText(t *testing.T) {
	ms := func(n int) dsl.Duration { return dsl.Duration(n * 1e6) }
	for _, c := range []struct {
		r    dsl.Retry
		want string
	}{
		{dsl.Retry{Attempts: 1, Initial: ms(100)}, ""},
		{dsl.Retry{Attempts: 3}, "3 attempts"},
		{dsl.Retry{Attempts: 3, Initial: ms(100), Max: ms(5000), Multiplier: 2, Jitter: dsl.JitterFull}, "3 attempts, 100ms..5s"},
		{dsl.Retry{Attempts: 4, Initial: ms(250), Multiplier: 1.5, Jitter: dsl.JitterNone}, "4 attempts, backoff 250ms, multiplier 1.5, no jitter"},
	} {
		if got := retryText(c.r); got != c.want {
			t.Errorf("retryText(%+v) = %q, want %q", c.r, got, c.want)
		}
	}
}

func TestMermaidCheckerRejects(t *testing.T) {
	good := "stateDiagram-v2\n    state \"F\" as F {\n        state \"A\" as F_A\n        F_A : go\n        [*] --> F_A : rpc #34;x#34;\n        F_A --> [*]\n    }\n    classDef undo stroke-dasharray:5 5,stroke:#a03030\n    class F_A undo\n"
	if errs := checkMermaid([]byte(good)); len(errs) > 0 {
		t.Fatalf("good diagram rejected: %v", errs)
	}
	for name, bad := range map[string]string{
		"header":          strings.Replace(good, "stateDiagram-v2", "stateDiagram", 1),
		"quote in name":   strings.Replace(good, `"A"`, `"A"B"`, 1),
		"raw quote":       strings.Replace(good, "#34;x#34;", `"x"`, 1),
		"semicolon":       strings.Replace(good, "F_A : go", "F_A : go; x", 1),
		"colon":           strings.Replace(good, "F_A : go", "F_A : a: b", 1),
		"undeclared":      strings.Replace(good, "F_A --> [*]", "F_B --> [*]", 1),
		"keyword id":      strings.ReplaceAll(good, "F_A", "end"),
		"bad id":          strings.ReplaceAll(good, "F_A", "F-A"),
		"duplicate":       strings.Replace(good, "        F_A : go\n", "        state \"A\" as F_A\n", 1),
		"unbalanced":      strings.Replace(good, "    }\n", "", 1),
		"no start":        strings.Replace(good, "[*] --> F_A", "F_A --> F_A", 1),
		"indentation":     strings.Replace(good, "        F_A : go", "      F_A : go", 1),
		"garbage":         strings.Replace(good, "F_A : go", "F_A -> go", 1),
		"class undefined": strings.Replace(good, "class F_A undo", "class F_A other", 1),
		"empty label":     strings.Replace(good, " : rpc #34;x#34;", " : ", 1),
		"control":         strings.Replace(good, "F_A : go", "F_A : g\x01o", 1),
	} {
		if errs := checkMermaid([]byte(bad)); len(errs) == 0 {
			t.Errorf("%s: accepted:\n%s", name, bad)
		}
	}
}

// The rendered hand-built models pass the strict Mermaid check, including
// names that need escaping and ids that would be keywords.
func TestMermaidOfModelsIsValid(t *testing.T) {
	awkward := flowOf("end",
		goStep("state", withRollback("class"), withOutcomes("a:b"), withOn("a:b", "fail")),
		goStep("Prüfe", func(s *dsl.Step) {
			s.Action = &dsl.Action{Kind: dsl.ActionRPC, Service: "svc", Endpoint: "a;b\"c{d}#e%f<g>h&i\nj\u202ek\\l"}
			s.Doc = "doc\nlines"
		}),
	)
	for name, f := range map[string]*dsl.File{"brief": briefSignup(), "awkward": awkward} {
		out, err := Mermaid(f, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range checkMermaid(out) {
			t.Errorf("%s: %s", name, e)
		}
		if t.Failed() {
			t.Logf("%s:\n%s", name, out)
		}
	}
}
