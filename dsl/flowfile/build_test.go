package flowfile

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/internal/growth"
	"github.com/flowgen/flowgen/parser"
	"github.com/flowgen/flowgen/runtime"
)

var updateBuild = flag.Bool("update-build", false, "rewrite the golden files of the Build tests")

// mustBuild parses and builds src, failing the test on any diagnostic.
func mustBuild(t testing.TB, name string, src []byte) *dsl.File {
	t.Helper()
	pf, diags := parser.Parse(name, src)
	if len(diags) > 0 {
		t.Fatalf("Parse: %v", diags)
	}
	f, diags := Build(pf)
	if len(diags) > 0 {
		t.Fatalf("Build: %v", diags)
	}
	return f
}

func TestBuild(t *testing.T) {
	src := `// Pay charges the customer.
//
// Twice documented.
flow Pay {
    state PayState
    trigger rpc "Pay.Start"
    trigger event orders "order.placed"
    trigger schedule "@every 1h"
    retry 3 backoff 100ms..5s multiplier 1.5 jitter none
    timeout 10s
    deadline 1m

    // not a doc: a blank line follows

    step Charge {
        rpc payments "Payment.Charge" (Amount) -> ChargeID
        retry 5 backoff 1s..1h30m jitter full
        timeout 2s
        deadline 30s
        rollback rpc payments "Payment.Refund" (ChargeID) -> RefundID
        publish billing "charged" (ChargeID)
        publish audit "charged"
    }
    // Wait waits.
    step Wait {
        await payments "settled" -> Settlement correlate ChargeID timeout 72h
        irreversible
        on timeout -> fail
    }
    step Refunded {
        await payments "refunded" correlate ChargeID on "refund.charge_id" timeout 1h
        irreversible
    }
    step Tell { publish mail "paid" (Email) publish audit "told" }
    step Remind {
        publish mail "reminder" (Email)
        sleep 336h
        deadline 400h
    }
    step RemindAgain { sleep until RemindAt irreversible }
    step Decide {
        outcomes yes, no
        rollback Undecide
        on yes -> done
        on no -> Charge
    }
}
`
	f := mustBuild(t, "pay.flow", []byte(src))
	id := func(name string) *dsl.Ident { return &dsl.Ident{Name: name} }
	want := &dsl.File{
		Version: dsl.FormatVersion,
		Name:    "pay.flow",
		Flows: []*dsl.Flow{{
			Name:  "Pay",
			Doc:   "Pay charges the customer.\n\nTwice documented.",
			State: id("PayState"),
			Triggers: []*dsl.Trigger{
				{Trigger: runtime.Trigger{Kind: dsl.TriggerRPC, Endpoint: "Pay.Start"}},
				{Trigger: runtime.Trigger{Kind: dsl.TriggerEvent, Topic: "orders", Event: "order.placed"}},
				{Trigger: runtime.Trigger{Kind: dsl.TriggerSchedule, Schedule: "@every 1h"}},
			},
			Retry:    &dsl.Retry{Attempts: 3, Initial: dsl.Duration(100 * time.Millisecond), Max: dsl.Duration(5 * time.Second), Multiplier: 1.5, Jitter: dsl.JitterNone},
			Timeout:  dsl.Duration(10 * time.Second),
			Deadline: dsl.Duration(time.Minute),
			Steps: []*dsl.Step{{
				Name:     "Charge",
				Action:   &dsl.Action{Kind: dsl.ActionRPC, Service: "payments", Endpoint: "Payment.Charge", Request: id("Amount"), Response: id("ChargeID")},
				Retry:    &dsl.Retry{Attempts: 5, Initial: dsl.Duration(time.Second), Max: dsl.Duration(90 * time.Minute), Jitter: dsl.JitterFull},
				Timeout:  dsl.Duration(2 * time.Second),
				Deadline: dsl.Duration(30 * time.Second),
				Rollback: &dsl.Rollback{Action: &dsl.Action{Kind: dsl.ActionRPC, Service: "payments", Endpoint: "Payment.Refund", Request: id("ChargeID"), Response: id("RefundID")}},
				Publish: []*dsl.Publication{
					{Topic: "billing", Event: "charged", Payload: id("ChargeID")},
					{Topic: "audit", Event: "charged"},
				},
			}, {
				Name:         "Wait",
				Doc:          "Wait waits.",
				Action:       &dsl.Action{Kind: dsl.ActionAwait, Topic: "payments", Event: "settled", Response: id("Settlement"), Correlate: id("ChargeID"), Timeout: dsl.Duration(72 * time.Hour)},
				Irreversible: true,
				Transitions:  []*dsl.Transition{{On: id("timeout"), Target: id("fail")}},
			}, {
				Name:         "Refunded",
				Action:       &dsl.Action{Kind: dsl.ActionAwait, Topic: "payments", Event: "refunded", Correlate: id("ChargeID"), CorrelateOn: id("refund.charge_id"), Timeout: dsl.Duration(time.Hour)},
				Irreversible: true,
			}, {
				// The publish-step rule: the first publish is the action.
				Name:    "Tell",
				Action:  &dsl.Action{Kind: dsl.ActionPublish, Topic: "mail", Event: "paid", Request: id("Email")},
				Publish: []*dsl.Publication{{Topic: "audit", Event: "told"}},
			}, {
				// A sleep is the action: the publish is after it.
				Name:     "Remind",
				Action:   &dsl.Action{Kind: dsl.ActionSleep, Duration: dsl.Duration(336 * time.Hour)},
				Deadline: dsl.Duration(400 * time.Hour),
				Publish:  []*dsl.Publication{{Topic: "mail", Event: "reminder", Payload: id("Email")}},
			}, {
				Name:         "RemindAgain",
				Action:       &dsl.Action{Kind: dsl.ActionSleep, Until: id("RemindAt")},
				Irreversible: true,
			}, {
				Name:        "Decide",
				Action:      &dsl.Action{Kind: dsl.ActionGo},
				Rollback:    &dsl.Rollback{Name: id("Undecide")},
				Outcomes:    []*dsl.Ident{id("yes"), id("no")},
				Transitions: []*dsl.Transition{{On: id("yes"), Target: id("done")}, {On: id("no"), Target: id("Charge")}},
			}},
		}},
	}
	if diff := cmp.Diff(want, f, buildIgnoreRanges); diff != "" {
		t.Errorf("model (-want +got):\n%s", diff)
	}
}

var buildIgnoreRanges = cmpopts.IgnoreTypes(diag.Range{})

// TestBuildRanges checks that every range Build fills points at the right
// text: the text under each range is what the node was written as.
func TestBuildRanges(t *testing.T) {
	src := "flow Pay {\n" +
		"    state PayState\n" +
		"    trigger rpc \"Pay.Start\"\n" +
		"    retry 2\n" +
		"    step Charge {\n" +
		"        rpc payments \"P.Charge\" (Amount) -> ID\n" +
		"        rollback Refund\n" +
		"        publish audit \"charged\"\n" +
		"        outcomes partly\n" +
		"        on partly -> done\n" +
		"    }\n" +
		"    step Go {}\n" +
		"}\n"
	f := mustBuild(t, "r.flow", []byte(src))
	text := func(r diag.Range) string {
		if r.Start.File != "r.flow" || r.End.File != "r.flow" || r.Start.Line < 1 {
			t.Errorf("range %+v: want file and line", r)
		}
		return src[r.Start.Offset:r.End.Offset]
	}
	fl := f.Flows[0]
	s := fl.Steps[0]
	got := []string{
		text(f.Range), text(fl.Range), text(fl.NameRange), text(fl.State.Range), text(fl.Triggers[0].Range), text(fl.Retry.Range),
		text(s.Range), text(s.NameRange), text(s.Action.Range), text(s.Action.Request.Range), text(s.Action.Response.Range),
		text(s.Rollback.Range), text(s.Rollback.Name.Range), text(s.Publish[0].Range), text(s.Outcomes[0].Range),
		text(s.Transitions[0].Range), text(s.Transitions[0].On.Range), text(s.Transitions[0].Target.Range),
		text(fl.Steps[1].Action.Range),
	}
	want := []string{
		strings.TrimSuffix(src, "\n"), strings.TrimSuffix(src, "\n"), "Pay", "PayState", `trigger rpc "Pay.Start"`, "retry 2",
		src[strings.Index(src, "step Charge") : strings.Index(src, "    }\n")+5], "Charge", `rpc payments "P.Charge" (Amount) -> ID`, "Amount", "ID",
		"rollback Refund", "Refund", `publish audit "charged"`, "partly",
		"on partly -> done", "partly", "done",
		"Go", // a Go step's action points at its name
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("text under ranges (-want +got):\n%s", diff)
	}
	r := s.Action.Response.Range
	if r.Start.Line != 6 || r.Start.Column != 45 || r.End.Column != 47 {
		t.Errorf("response range %v-%v: want 6:45-6:47", r.Start, r.End)
	}

	// A correlation path's range covers it as written, quotes included.
	src = "flow W { step A { await t \"e\" correlate ID on order_id }\n" +
		"step B { await t \"e\" correlate ID on \"p.order_id\" } }\n"
	f = mustBuild(t, "r.flow", []byte(src))
	a, b := f.Flows[0].Steps[0].Action, f.Flows[0].Steps[1].Action
	got = []string{text(a.Correlate.Range), text(a.CorrelateOn.Range), a.CorrelateOn.Name, text(b.CorrelateOn.Range), b.CorrelateOn.Name}
	want = []string{"ID", "order_id", "order_id", `"p.order_id"`, "p.order_id"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("correlation ranges (-want +got):\n%s", diff)
	}

	// A sleep's range is its line; until's field is the name.
	src = "flow S { step A { sleep 336h  irreversible }\nstep B { sleep   until At } }\n"
	f = mustBuild(t, "r.flow", []byte(src))
	a, b = f.Flows[0].Steps[0].Action, f.Flows[0].Steps[1].Action
	got = []string{text(a.Range), text(b.Range), text(b.Until.Range)}
	want = []string{"sleep 336h", "sleep   until At", "At"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sleep ranges (-want +got):\n%s", diff)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name, body string // body is inside "flow F { ... }" on line 2
		want       []string
	}{
		{"bad unit", "timeout 10x", []string{`2:13: invalid duration "10x": unknown unit "x"`}},
		{"missing unit", "step S { timeout 1h30 }", []string{`2:22: invalid duration "1h30": missing unit`}},
		{"overflow", "deadline 9999999999h", []string{`2:14: invalid duration "9999999999h": out of range`}},
		{"backoff", "retry 2 backoff 1q..2s", []string{`2:21: invalid duration "1q": unknown unit "q"`}},
		{"await timeout", `step S { await t "e" timeout 3y }`, []string{`2:34: invalid duration "3y": unknown unit "y"`}},
		{"number with an exponent", "step S { choose { when X > 1e6 -> done otherwise -> done } }", []string{`2:32: invalid number 1e6`}},
		{"hex number", "step S { choose { when X == 0x10 -> done otherwise -> done } }", []string{`2:33: invalid number 0x10`}},
		{"condition in days", "step S { choose { when X > 1d -> done otherwise -> done } }", []string{`2:32: invalid duration "1d": unknown unit "d"`}},
		{"condition in weeks", "step S { choose { when X > 2w -> done otherwise -> done } }", []string{`2:32: invalid duration "2w": unknown unit "w"`}},
		{"number with a fractional exponent", "step S { choose { when X > 2.5E3 -> done otherwise -> done } }", []string{`2:32: invalid number 2.5E3`}},
		{"number with separators", "step S { choose { when X > 1_000 -> done otherwise -> done } }", []string{`2:32: invalid number 1_000`}},
		{"binary number", "step S { choose { when X > 0b101 -> done otherwise -> done } }", []string{`2:32: invalid number 0b101`}},
		{"condition duration without a unit", "step S { choose { when X > 1h30 -> done otherwise -> done } }", []string{`2:32: invalid duration "1h30": missing unit`}},
		{"fraction attempts", "retry 1.5", []string{`2:11: invalid retry attempts "1.5": want a whole number`}},
		{"zero attempts", "retry 0", []string{`2:11: invalid retry attempts "0": want at least 1`}},
		{"huge attempts", "retry 99999999999999999999", []string{`2:11: invalid retry attempts "99999999999999999999": too large`}},
		{"small multiplier", "retry 2 multiplier 0.5", []string{`2:24: invalid multiplier "0.5": want at least 1`}},
		{"two states", "state A state B", []string{`2:13: duplicate state in flow "F"`}},
		{"two flow retries", "retry 2\n retry 3", []string{`3:2: duplicate retry in flow "F"`}},
		{"two flow timeouts", "timeout 1s timeout 2s", []string{`2:16: duplicate timeout in flow "F"`}},
		{"two flow deadlines", "deadline 1s deadline 2s", []string{`2:17: duplicate deadline in flow "F"`}},
		{"two actions", `step S { rpc a "A.B" await t "e" timeout 1s }`, []string{`2:26: step "S" has a second action`}},
		{"sleep and rpc", `step S { sleep 1h rpc a "A.B" }`, []string{`2:23: step "S" has a second action`}},
		{"two sleeps", `step S { sleep until At sleep 1h }`, []string{`2:29: step "S" has a second action`}},
		{"sleep days", `step S { sleep 14d }`, []string{`2:20: invalid duration "14d": unknown unit "d"`}},
		{"two writes", "parallel P { step S { writes A writes B } }", []string{`2:36: duplicate writes in step "S"`}},
		{"branch errors", `parallel P { step S { sleep 1x } }`, []string{`2:33: invalid duration "1x": unknown unit "x"`}},
		{"two step retries", "step S { retry 1 retry 2 }", []string{`2:22: duplicate retry in step "S"`}},
		{"two step timeouts", "step S { timeout 1s timeout 1s }", []string{`2:25: duplicate timeout in step "S"`}},
		{"two step deadlines", "step S { deadline 1s deadline 1s }", []string{`2:26: duplicate deadline in step "S"`}},
		{"two rollbacks", "step S { rollback A rollback B }", []string{`2:25: duplicate rollback in step "S"`}},
		{"two irreversible", "step S { irreversible irreversible }", []string{`2:27: duplicate irreversible in step "S"`}},
		{"two outcomes", "step S { outcomes a outcomes b }", []string{`2:25: duplicate outcomes in step "S"`}},
		{"several at once", "timeout 1x step S { retry 0 retry 2 }", []string{
			`2:13: invalid duration "1x": unknown unit "x"`,
			`2:31: invalid retry attempts "0": want at least 1`,
			`2:33: duplicate retry in step "S"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "flow F {\n    " + tt.body + "\n}\n"
			pf, diags := parser.Parse("e.flow", []byte(src))
			if len(diags) > 0 {
				t.Fatalf("Parse: %v", diags)
			}
			f, diags := Build(pf)
			if f == nil || len(f.Flows) != 1 {
				t.Fatalf("Build must return the model even with errors, got %+v", f)
			}
			var got []string
			for _, d := range diags {
				if d.Severity != diag.Error || d.Hint == "" || d.Range.Start.File != "e.flow" {
					t.Errorf("%v: want an error with a hint in e.flow", d)
				}
				got = append(got, fmt.Sprintf("%d:%d: %s", d.Range.Start.Line, d.Range.Start.Column, d.Message))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildNil(t *testing.T) {
	f, diags := Build(nil)
	if f == nil || len(diags) > 0 || f.Version != dsl.FormatVersion {
		t.Errorf("Build(nil) = %+v, %v", f, diags)
	}
}

func TestDoc(t *testing.T) {
	tests := []struct{ src, want string }{
		{"// A.\nflow A {}", "A."},
		{"// A.\n\nflow A {}", ""},
		// Only one space after // is dropped: indentation below it is kept,
		// as Go doc comments keep it for code blocks.
		{"// one\n\n// two\n//\n//   three  \nflow A {}", "two\n\n  three"},
		{"//no space\nflow A {}", "no space"},
		{"flow B {} // trailing, not a doc\nflow A {}", ""},
	}
	for _, tt := range tests {
		f := mustBuild(t, "d.flow", []byte(tt.src))
		if got := f.Flows[len(f.Flows)-1].Doc; got != tt.want {
			t.Errorf("Doc of %q = %q, want %q", tt.src, got, tt.want)
		}
	}
}

// flowCorpus returns the .flow files of the shared corpus and the fmt goldens.
func flowCorpus(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "flows", dir, "*.flow"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus in %s: %v", dir, err)
	}
	if dir == "good" {
		more, _ := filepath.Glob(filepath.Join("..", "..", "parser", "testdata", "fmt", "*", "*.flow"))
		files = append(files, more...)
	}
	return files
}

// TestFormatKeepsModel: for every good flow, the formatted text builds to
// the same model (ranges aside) as the original, so fmt never changes what
// a flow means, its doc comments included.
func TestFormatKeepsModel(t *testing.T) {
	for _, name := range flowCorpus(t, "good") {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		pf, diags := parser.Parse(name, src)
		if len(diags) > 0 {
			t.Errorf("%s: %v", name, diags)
			continue
		}
		before, diags := Build(pf)
		if diags.HasErrors() && !strings.Contains(name, "invalid") {
			t.Errorf("%s: %v", name, diags)
			continue
		}
		formatted := parser.Format(pf)
		pf2, diags := parser.Parse(name, formatted)
		if len(diags) > 0 {
			t.Errorf("%s: formatted text does not parse: %v\n%s", name, diags, formatted)
			continue
		}
		after, _ := Build(pf2)
		if diff := cmp.Diff(before, after, buildIgnoreRanges); diff != "" {
			t.Errorf("%s: fmt changed the model (-before +after):\n%s", name, diff)
		}
	}
}

// TestGoodCorpusChecksClean: the good corpus is good for every stage, so
// that other packages (graph, gen, the CLI) can use it as valid input.
func TestGoodCorpusChecksClean(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "flows", "good", "*.flow"))
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, diags := Load(name, src, dsl.CheckOptions{}); len(diags) > 0 {
			t.Errorf("%s: %v", name, diags)
		}
	}
}

// TestBadCorpus: every file under testdata/flows/bad fails Parse or Build;
// the diagnostics, as users see them, are in testdata/build/bad.golden.
func TestBadCorpus(t *testing.T) {
	var out bytes.Buffer
	sources := map[string][]byte{}
	for _, name := range flowCorpus(t, "bad") {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		rel := "testdata/flows/bad/" + filepath.Base(name)
		sources[rel] = src
		pf, diags := parser.Parse(rel, src)
		if len(diags) == 0 {
			_, diags = Build(pf)
		}
		if !diags.HasErrors() {
			t.Errorf("%s: no error", name)
		}
		if err := diag.Fprint(&out, diags, func(file string) []byte { return sources[file] }, 0); err != nil {
			t.Fatal(err)
		}
	}
	golden := filepath.Join("testdata", "build", "bad.golden")
	if *updateBuild {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run BadCorpus -update-build)", err)
	}
	if diff := cmp.Diff(string(want), out.String()); diff != "" {
		t.Errorf("%s (-want +got):\n%s", golden, diff)
	}
}

// genFlow writes a flow of n steps that uses every statement, in the
// proportions a real flow might: rpc steps with retries, rollbacks and
// publications, awaits, Go steps with outcomes, publish steps, comments.
func genFlow(n int) []byte {
	var b bytes.Buffer
	b.WriteString("// Big is generated for benchmarks.\nflow Big {\n    state BigState\n    trigger rpc \"Big.Start\"\n")
	b.WriteString("    retry 3 backoff 100ms..5s multiplier 1.5\n    timeout 10s\n\n")
	for i := range n {
		next := fmt.Sprintf("S%d", i+1)
		if i == n-1 {
			next = "done"
		}
		switch i % 5 {
		case 0:
			fmt.Fprintf(&b, "    // S%d calls a service.\n    step S%d {\n", i, i)
			fmt.Fprintf(&b, "        rpc svc%d \"Service.Call%d\" (Req%d) -> Rsp%d\n", i%7, i, i, i)
			b.WriteString("        retry 5 backoff 200ms..10s\n")
			fmt.Fprintf(&b, "        rollback rpc svc%d \"Service.Undo%d\" (Rsp%d)\n", i%7, i, i)
			fmt.Fprintf(&b, "        publish events \"s%d.done\" (Rsp%d)\n    }\n", i, i)
		case 1:
			fmt.Fprintf(&b, "    step S%d {\n        await topic \"event.%d\" -> Got%d correlate Key timeout 1h\n", i, i, i)
			fmt.Fprintf(&b, "        irreversible\n        on timeout -> fail\n    }\n")
		case 2:
			fmt.Fprintf(&b, "    step S%d { // a Go step\n        outcomes yes, no\n        rollback Undo%d\n", i, i)
			fmt.Fprintf(&b, "        on yes -> %s\n        on no -> fail\n    }\n", next)
		case 3:
			fmt.Fprintf(&b, "    step S%d {\n        publish events \"s%d\" (Out%d)\n        irreversible\n    }\n", i, i, i)
		case 4:
			fmt.Fprintf(&b, "    step S%d {\n        timeout 2s\n        rollback Undo%d\n        on ok -> %s\n    }\n", i, i, next)
		}
	}
	b.WriteString("}\n")
	return b.Bytes()
}

func TestGenFlowBuilds(t *testing.T) {
	f := mustBuild(t, "big.flow", genFlow(10))
	if len(f.Flows[0].Steps) != 10 {
		t.Fatalf("got %d steps", len(f.Flows[0].Steps))
	}
}

func benchmarkParseBuild(b *testing.B, steps int) {
	src := genFlow(steps)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	var parse, build time.Duration
	for b.Loop() {
		start := time.Now()
		pf, diags := parser.Parse("big.flow", src)
		if len(diags) > 0 {
			b.Fatal(diags)
		}
		mid := time.Now()
		if _, diags := Build(pf); len(diags) > 0 {
			b.Fatal(diags)
		}
		parse += mid.Sub(start)
		build += time.Since(mid)
	}
	perStep := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) / float64(steps) }
	b.ReportMetric(perStep(parse+build), "ns/step")
	b.ReportMetric(perStep(parse), "parse-ns/step")
	b.ReportMetric(perStep(build), "build-ns/step")
}

// BenchmarkParse1000 is parse + build of a 1,000-step flow.
func BenchmarkParse1000(b *testing.B) { benchmarkParseBuild(b, 1000) }

// BenchmarkParse10000 is parse + build of a 10,000-step flow.
func BenchmarkParse10000(b *testing.B) { benchmarkParseBuild(b, 10000) }

// BenchmarkParseGrowth parses and builds both sizes in each iteration and
// reports the cost per step of the large file over that of the small one,
// measured in the same run: 1.0 is linear growth.
func BenchmarkParseGrowth(b *testing.B) {
	run := func(src []byte) func() {
		return func() {
			pf, diags := parser.Parse("big.flow", src)
			if len(diags) == 0 {
				_, diags = Build(pf)
			}
			if len(diags) > 0 {
				b.Fatal(diags)
			}
		}
	}
	growth.Report(b, "step", growth.Case{N: 1000, Run: run(genFlow(1000))}, growth.Case{N: 10000, Run: run(genFlow(10000))})
}

// FuzzBuild: for any input that parses, Build does not panic, positions
// every diagnostic in the input, and the formatted text builds to the same
// model (so fmt never changes what a flow means).
//
//	go test ./dsl -run '^$' -fuzz FuzzBuild -fuzztime 5m
func FuzzBuild(f *testing.F) {
	for _, dir := range []string{"good", "bad"} {
		for _, name := range flowCorpus(f, dir) {
			src, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
	// A block whose branch repeats writes and has a bad duration.
	f.Add([]byte("flow A { parallel P { step B { writes X writes Y timeout 1x } on ok -> P } }"))
	f.Fuzz(func(t *testing.T, src []byte) {
		pf, diags := parser.Parse("fuzz.flow", src)
		if len(diags) > 0 {
			return // FuzzParse covers syntax errors
		}
		before, diags := Build(pf)
		for _, d := range diags {
			p := d.Range.Start
			if p.File != "fuzz.flow" || p.Line < 1 || p.Column < 1 || p.Offset > len(src) || d.Range.End.Offset > len(src) {
				t.Fatalf("%v: invalid range %+v", d, d.Range)
			}
		}
		formatted := parser.Format(pf)
		pf2, diags2 := parser.Parse("fuzz.flow", formatted)
		if len(diags2) > 0 {
			t.Fatalf("formatted text does not parse: %v\n%s", diags2, formatted)
		}
		after, diags2 := Build(pf2)
		if diff := cmp.Diff(before, after, buildIgnoreRanges); diff != "" {
			t.Fatalf("fmt changed the model (-before +after):\n%s\n%s", diff, formatted)
		}
		if len(diags) != len(diags2) {
			t.Fatalf("fmt changed the diagnostics: %v, then %v", diags, diags2)
		}
	})
}

// A bad value is left zero by Build, and what Check says of the zero (a
// sleep that waits no time) would hide the cause on the same line: Load
// drops Check's findings on a line where Build reported an error.
func TestLoadReportsCauseNotConsequence(t *testing.T) {
	src := "flow F {\n    step A { sleep 14d }\n    step B { sleep 0s }\n}\n"
	_, ds := Load("c.flow", []byte(src), dsl.CheckOptions{})
	ds.Sort()
	var got []string
	for _, d := range ds {
		got = append(got, fmt.Sprintf("%d:%d: %s %s: %s", d.Range.Start.Line, d.Range.Start.Column, d.Severity, d.Code, d.Message))
	}
	want := []string{
		`2:20: error syntax: invalid duration "14d": unknown unit "d"`,
		`3:20: error sleep: sleep in step "B" waits no time`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}
