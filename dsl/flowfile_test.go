package dsl_test

// Tests of the checks and the JSON form on .flow sources, which they read
// through dsl/flowfile (dsl itself has no .flow parser; see export_test.go
// for the hand-built models they share with the package's own tests).

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
	"github.com/flowgen/flowgen/parser"
	"github.com/flowgen/flowgen/runtime"
)

var updateCheck = flag.Bool("update-check", false, "rewrite dsl/testdata/check/*/diagnostics.golden")

// jsonIgnore compares models by content: positions differ between a
// .flow source and its JSON form by design, and the file name is the
// caller's.
var jsonIgnore = cmp.Options{cmpopts.IgnoreTypes(diag.Range{}), cmpopts.IgnoreFields(dsl.File{}, "Name", "Package")}

// roundTripCorpus returns models to round-trip: hand-built ones, a generated one
// and every .flow file of the repository's testdata that builds cleanly.
func roundTripCorpus(t *testing.T) map[string]*dsl.File {
	t.Helper()
	sm := dsl.SignupModel()
	for _, s := range sm.Steps {
		if s.Action == nil {
			s.Action = &dsl.Action{Kind: dsl.ActionGo} // Build and DecodeJSON always set it
		}
	}
	sm.Doc = "Signup creates a customer.\nTwo lines, with \"quotes\" & <tags> -> arrows."
	sm.Triggers = []*dsl.Trigger{{Trigger: runtime.Trigger{Kind: dsl.TriggerRPC, Endpoint: "Signup.Start"}}, {Trigger: runtime.Trigger{Kind: dsl.TriggerEvent, Topic: "accounts", Event: "signup.requested"}}, {Trigger: runtime.Trigger{Kind: dsl.TriggerSchedule, Schedule: "@every 1h"}}}
	sm.Deadline = dsl.Duration(90 * 60e9)
	files := map[string]*dsl.File{
		"signup": {Version: dsl.FormatVersion, Flows: []*dsl.Flow{sm}},
		"big":    dsl.GeneratedFile(50),
		"empty":  {Version: dsl.FormatVersion, Flows: []*dsl.Flow{}},
	}
	paths, _ := filepath.Glob("../testdata/flows/good/*.flow")
	more, _ := filepath.Glob("testdata/check/*/input.flow")
	for _, p := range append(paths, more...) {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		ast, ds := parser.Parse(p, src)
		if ds.HasErrors() {
			continue
		}
		f, ds := flowfile.Build(ast)
		if ds.HasErrors() {
			continue
		}
		files[p] = f
	}
	return files
}

func TestJSONRoundTrip(t *testing.T) {
	for name, f := range roundTripCorpus(t) {
		t.Run(name, func(t *testing.T) {
			b, err := dsl.EncodeJSON(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte("{\n  \"version\": 1,\n")) {
				t.Errorf("JSON does not start with the version:\n%s", b)
			}
			g, ds := dsl.DecodeJSON("rt.json", b)
			if len(ds) > 0 {
				t.Fatalf("decoding our own JSON: %v\n%s", ds.Err(), b)
			}
			if diff := cmp.Diff(f, g, jsonIgnore); diff != "" {
				t.Errorf("model -> JSON -> model changed (-want +got):\n%s", diff)
			}
			b2, err := dsl.EncodeJSON(g)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, b2) {
				t.Errorf("JSON -> model -> JSON is not stable:\n%s\n---\n%s", b, b2)
			}
		})
	}
}

// TestCheckGolden loads every testdata/check/<case>/input.{flow,json} and
// compares what a user would see (normalised diagnostics with the source
// line, caret and hint) with diagnostics.golden. Run
// `go test ./dsl -run TestCheckGolden -update-check` after a deliberate
// change, and review the diff.
func TestCheckGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/check/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			inputs, _ := filepath.Glob(filepath.Join(dir, "input.*"))
			if len(inputs) != 1 {
				t.Fatalf("want one input.flow or input.json in %s, found %v", dir, inputs)
			}
			src, err := os.ReadFile(inputs[0])
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Base(inputs[0])
			_, ds := flowfile.Load(name, src, dsl.CheckOptions{})
			for _, d := range ds {
				if !d.Range.Start.IsValid() || d.Range.Start.File != name || d.Code == "" {
					t.Errorf("diagnostic without position, file or code: %+v", d)
				}
			}
			list, dropped := ds.Normalize(0)
			var got bytes.Buffer
			if err := diag.Fprint(&got, list, func(string) []byte { return src }, dropped); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join(dir, "diagnostics.golden")
			if *updateCheck {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update-check to create it)", err)
			}
			if diff := cmp.Diff(string(want), got.String()); diff != "" {
				t.Errorf("diagnostics differ from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// TestLoadJSONEqualsFlow checks that a .flow file and its JSON form give
// the same model and the same findings (apart from positions).
func TestLoadJSONEqualsFlow(t *testing.T) {
	for _, c := range []string{"clean", "no-rollback", "retry-budget", "undefined"} {
		src, err := os.ReadFile(filepath.Join("testdata/check", c, "input.flow"))
		if err != nil {
			t.Fatal(err)
		}
		f, fds := flowfile.Load("in.flow", src, dsl.CheckOptions{})
		if f == nil {
			t.Fatalf("%s: no model: %v", c, fds)
		}
		js, err := dsl.EncodeJSON(f)
		if err != nil {
			t.Fatal(err)
		}
		g, jds := flowfile.Load("in.json", js, dsl.CheckOptions{})
		if diff := cmp.Diff(f, g, jsonIgnore); diff != "" {
			t.Errorf("%s: models differ (-flow +json):\n%s", c, diff)
		}
		msgs := func(l diag.List) []string {
			var out []string
			for _, d := range l {
				out = append(out, d.Code+": "+d.Message)
			}
			return out
		}
		if diff := cmp.Diff(msgs(fds), msgs(jds)); diff != "" {
			t.Errorf("%s: findings differ (-flow +json):\n%s", c, diff)
		}
	}
}

// loadStrings runs flowfile.Load on a .flow source and formats the
// diagnostics as "line:col: severity code: message [hint: ...]".
func loadStrings(t *testing.T, src string, opts dsl.CheckOptions) []string {
	t.Helper()
	_, ds := flowfile.Load("t.flow", []byte(src), opts)
	ds.Sort()
	var out []string
	for _, d := range ds {
		p := d.Range.Start
		if !p.IsValid() {
			t.Errorf("diagnostic without a position: %v", d)
		}
		s := fmt.Sprintf("%s %s: %s", d.Severity, d.Code, d.Message)
		if d.Hint != "" {
			s += " [hint: " + d.Hint + "]"
		}
		out = append(out, strings.TrimPrefix(p.String(), "t.flow:")+": "+s)
	}
	return out
}

// TestCheckFlowSnippets covers positions in .flow text, which the JSON
// table tests cannot: each diagnostic must point at the name or statement
// it is about.
func TestCheckFlowSnippets(t *testing.T) {
	tests := []struct {
		name, src string
		opts      dsl.CheckOptions
		want      []string
	}{
		{"target", "flow F {\n    step A { irreversible  on ok -> Bb }\n    step B { irreversible }\n}\n", dsl.CheckOptions{},
			// B is unreachable only because of the typo: not reported.
			[]string{`2:37: error undefined-target: transition to undefined step "Bb" in step "A" [hint: did you mean "B"?]`}},
		{"outcome", "flow F {\n    step A { irreversible  on ko -> done }\n}\n", dsl.CheckOptions{},
			[]string{`2:31: error undefined-outcome: step "A" cannot end with outcome "ko": its outcomes are ok, error [hint: did you mean "ok"?]`}},
		{"strict rollback", "flow F {\n    step A { rpc s \"S.A\" }\n}\n", dsl.CheckOptions{StrictRollback: true},
			[]string{`2:10: error no-rollback: step "A" has side effects (an rpc) but neither a rollback nor ` + "`irreversible`" + ` [hint: add ` + "`rollback <Method>` or `rollback rpc ...`" + ` to undo it when a later step fails, or mark it ` + "`irreversible`" + `]`}},
		{"await", "flow F {\n    step A {\n        await t \"e\"\n    }\n}\n", dsl.CheckOptions{},
			[]string{`3:9: error await-no-timeout: await in step "A" has no timeout: a run could wait forever [hint: add ` + "`timeout <duration>`" + ` to the await line, such as ` + "`timeout 72h`" + `, and handle it with ` + "`on timeout -> <Step>`" + `]`}},
		// The step's deadline bounds the wait (the runtime waits for the
		// earlier of the two): the await cannot wait forever.
		{"await bounded by its deadline", "flow F {\n    step A {\n        deadline 1h\n        await t \"e\"\n    }\n}\n", dsl.CheckOptions{},
			nil},
		{"await, the flow's deadline", "flow F {\n    deadline 1h\n    step A {\n        await t \"e\"\n    }\n}\n", dsl.CheckOptions{},
			[]string{`4:9: error await-no-timeout: await in step "A" has no timeout: a run could wait forever [hint: add ` + "`timeout <duration>`" + ` to the await line, such as ` + "`timeout 72h`" + `, and handle it with ` + "`on timeout -> <Step>`" + `]`}},
		{"budget at the step's retry", "flow F {\n    timeout 1s\n    step A {\n        retry 3\n        deadline 2s\n        irreversible\n    }\n}\n", dsl.CheckOptions{},
			[]string{`4:9: error retry-budget: retry schedule of step "A" takes up to 3s (3 attempts × 1s timeout + 0s backoff), more than its deadline 2s [hint: raise the deadline to at least 3s, or lower the attempts, the timeout or the backoff]`}},
		{"cron at the schedule", "flow F {\n    trigger schedule \"bad\"\n    step A { irreversible }\n}\n", dsl.CheckOptions{},
			[]string{`2:22: error cron: invalid schedule "bad": expected exactly 5 fields, found 1 [hint: use a 5-field cron expression such as "0 3 * * *" (minute hour day-of-month month day-of-week), a descriptor such as "@daily", or "@every 1h"]`}},
		// A bad value is pointed at, not the keyword that starts its line.
		{"reversed backoff at its range", "flow F {\n    retry 3 backoff 5s..100ms\n    step A { irreversible }\n}\n", dsl.CheckOptions{},
			[]string{"2:21: error backoff-range: backoff of flow \"F\" starts at 5s, above its maximum 100ms [hint: write the range as `backoff 100ms..5s`]"}},
		{"empty trigger value at its string", "flow F {\n    trigger event t \"\"\n    step A { irreversible }\n}\n", dsl.CheckOptions{},
			[]string{`2:21: error empty: empty event in event trigger [hint: name the event]`}},
		{"one day", "flow F {\n    step A { sleep 1d }\n}\n", dsl.CheckOptions{},
			[]string{`2:20: error syntax: invalid duration "1d": unknown unit "d" [hint: durations use Go syntax, which has no days: 1 day is 24h]`}},
		{"choose without when", "flow F {\n    state S\n    step A {\n        choose {\n            otherwise -> done\n        }\n    }\n}\n", dsl.CheckOptions{},
			[]string{"4:9: error choose: choose in step \"A\" has no `when` line: it always goes to its otherwise [hint: add `when <condition> -> Step` lines, or replace the step by `on ok -> Step` in the step before it]"}},
		{"choose without otherwise", "flow F {\n    state S\n    step A {\n        choose {\n            when X -> done\n        }\n    }\n}\n", dsl.CheckOptions{},
			[]string{"4:9: error choose-otherwise: choose in step \"A\" has no `otherwise`: a run whose state matches no condition would have nowhere to go [hint: end the choose with `otherwise -> Step` (or `otherwise -> fail`)]"}},
		// A zero on a step does not lift the flow's bound: a warning at
		// each line (zero-policy).
		{"zero policies", "flow F {\n    timeout 5s\n    deadline 1m\n    step A {\n        timeout 0s\n        deadline 0s\n        irreversible\n    }\n}\n", dsl.CheckOptions{},
			[]string{
				"5:17: warning zero-policy: step \"A\"'s `timeout 0s` is as if it were not written: the step keeps the flow's `timeout 5s` [hint: a step cannot lift the flow's timeout: remove the line, or give the step the timeout it needs]",
				"6:18: warning zero-policy: step \"A\"'s `deadline 0s` is as if it were not written: the step keeps the flow's `deadline 1m` [hint: a step cannot lift the flow's deadline: remove the line, or give the step the deadline it needs]",
			}},
		// Without a flow bound to keep, a zero is no warning.
		{"zero policies alone", "flow F {\n    step A {\n        timeout 0s\n        deadline 0s\n        irreversible\n    }\n}\n", dsl.CheckOptions{}, nil},
		// One endpoint's port method takes one request or none (port-call);
		// discarding the response beside a call that keeps it is fine.
		{"port call", "flow F {\n    state S\n    step A {\n        rpc s \"S.Do\" (X)\n        irreversible\n    }\n    step B {\n        rpc s \"S.Do\"\n        irreversible\n    }\n}\n", dsl.CheckOptions{},
			[]string{"8:9: error port-call: rpc s \"S.Do\" sends no request here but one at line 4: method SDo of port FS takes one request type, or none [hint: send the same kind of field on every call of an endpoint, or call two endpoints]"}},
		{"port call without a response", "flow F {\n    state S\n    step A {\n        rpc s \"S.Do\" -> X\n        irreversible\n    }\n    step B {\n        rpc s \"S.Do\"\n        irreversible\n    }\n}\n", dsl.CheckOptions{}, nil},
		// The hint names the outcomes the step can end with: a call never
		// times out (its child's steps have the bounds).
		{"outcomes on a call", "flow F {\n    step A {\n        call G\n        outcomes x\n        irreversible\n    }\n}\n\nflow G {\n    step B { irreversible }\n}\n", dsl.CheckOptions{},
			[]string{"4:18: error outcomes-not-go: call step \"A\" declares outcomes, but only a Go step can return them [hint: remove `outcomes`; a call step ends with ok or error]"}},
		{"outcomes on an rpc with a timeout", "flow F {\n    step A {\n        rpc s \"S.Do\"\n        timeout 1s\n        outcomes x\n        irreversible\n    }\n}\n", dsl.CheckOptions{},
			[]string{"5:18: error outcomes-not-go: rpc step \"A\" declares outcomes, but only a Go step can return them [hint: remove `outcomes`; an rpc step ends with ok, error or timeout]"}},
		{"build errors do not stop the checks", "flow F {\n    timeout 10x\n    step A { on ok -> Nope  irreversible }\n}\n", dsl.CheckOptions{},
			[]string{
				`2:13: error syntax: invalid duration "10x": unknown unit "x" [hint: durations use Go syntax with units ns, us, ms, s, m, h, such as 250ms or 1h30m]`,
				`3:23: error undefined-target: transition to undefined step "Nope" in step "A" [hint: a target is a step of flow "F", done or fail]`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := loadStrings(t, tt.src, tt.opts)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Load (-want +got):\n%s", diff)
			}
		})
	}
}

// fuzzPackage is the rest of a Go package for FuzzCheck's input: flows
// it may call (Billing, with a state, and Pong, which calls back to a flow
// named F, closing a cycle through another file).
func fuzzPackage() []*dsl.Flow {
	src := []byte(`flow Billing {
    state Invoice
    step Charge { irreversible }
}
flow Pong {
    step Back {
        call F
        irreversible
    }
}
`)
	f, ds := flowfile.Load("billing.flow", src, dsl.CheckOptions{CallsByName: true})
	if f == nil || ds.HasErrors() {
		panic(fmt.Sprint("fuzzPackage: ", ds))
	}
	return f.Flows
}

// FuzzCheck feeds arbitrary input through Load as JSON and as .flow text,
// in a package with another .flow file (fuzzPackage): Check must not
// panic, and every diagnostic must be positioned inside the input, name
// its file and carry a code.
func FuzzCheck(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/check/*/input.*")
	more, _ := filepath.Glob("../testdata/flows/*/*.flow")
	for _, p := range append(seeds, more...) {
		if src, err := os.ReadFile(p); err == nil {
			f.Add(src)
			if strings.HasSuffix(p, ".flow") {
				if fl, ds := flowfile.Load("seed.flow", src, dsl.CheckOptions{}); fl != nil && !ds.HasErrors() {
					if js, err := dsl.EncodeJSON(fl); err == nil {
						f.Add(js)
					}
				}
			}
		}
	}
	f.Add([]byte(`{"version": 1, "flows": [{"name": "F", "retry": {"attempts": 2147483647, "initial": "1ns", "multiplier": 1.0000001}, "timeout": "1h", "deadline": "1s", "steps": [{"name": "A", "action": {"kind": "go"}, "irreversible": true}]}]}`))
	// A block whose branch is a block (refused), and one with writes.
	f.Add([]byte(`{"version": 1, "flows": [{"name": "F", "state": "S", "steps": [{"name": "P", "parallel": {"branches": [{"name": "A", "parallel": {"branches": []}, "action": {"kind": "go"}}, {"name": "B", "action": {"kind": "go"}, "writes": ["X"], "irreversible": true}]}, "on": [{"on": "ok", "target": "P"}]}]}]}`))
	// Calls into the package: one that checks, and a cycle through it.
	f.Add([]byte("flow F {\n  state S\n  step A {\n    call Billing (Inv) -> Inv\n    irreversible\n  }\n  step B {\n    call Pong\n    irreversible\n  }\n}\n"))
	pkg := fuzzPackage()
	f.Fuzz(func(t *testing.T, src []byte) {
		for _, name := range []string{"fuzz.json", "fuzz.flow"} {
			fl, ds := flowfile.Load(name, src, dsl.CheckOptions{StrictRollback: true, PackageFlows: func() []*dsl.Flow { return pkg }})
			for _, d := range ds {
				if !d.Range.Start.IsValid() || d.Range.Start.File != name || d.Code == "" || d.Message == "" ||
					d.Range.Start.Offset > len(src) || d.Range.End.Offset > len(src) {
					t.Fatalf("%s: bad diagnostic %+v", name, d)
				}
			}
			if fl != nil && !ds.HasErrors() {
				// A model that checks clean must survive the JSON form.
				js, err := dsl.EncodeJSON(fl)
				if err != nil {
					t.Fatalf("EncodeJSON: %v", err)
				}
				g, jds := dsl.DecodeJSON("rt.json", js)
				if len(jds) > 0 {
					t.Fatalf("our own JSON does not decode: %v\n%s", jds.Err(), js)
				}
				if diff := cmp.Diff(fl, g, jsonIgnore); diff != "" {
					t.Fatalf("round trip changed the model:\n%s", diff)
				}
				for _, fl := range fl.Flows {
					_ = fl.GoNames()
					_ = fl.Edges()
				}
			}
		}
	})
}

// TestJSONCorrelateOn: the correlation path is "correlate_on" in JSON,
// next to "correlate", and absent when the flow names none.
func TestJSONCorrelateOn(t *testing.T) {
	src := "flow F { state S\n" +
		"step A { await t \"e\" correlate ID on \"payment.order_id\" timeout 1h }\n" +
		"step B { await t \"e\" correlate ID timeout 1h } }\n"
	f, ds := flowfile.Load("c.flow", []byte(src), dsl.CheckOptions{})
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	b, err := dsl.EncodeJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"correlate": "ID",
            "correlate_on": "payment.order_id",
            "timeout": "1h"`, `"correlate": "ID",
            "timeout": "1h"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON form lacks\n%s\nin\n%s", want, b)
		}
	}
	g, ds := dsl.DecodeJSON("c.json", b)
	if len(ds) > 0 {
		t.Fatal(ds.Err())
	}
	on := g.Flows[0].Steps[0].Action.CorrelateOn
	if on == nil || on.Name != "payment.order_id" || on.Range.Start.Path != "$.flows[0].steps[0].action.correlate_on" {
		t.Errorf("decoded correlate_on = %+v", on)
	}
	if a := g.Flows[0].Steps[1].Action; a.CorrelateOn != nil || a.CorrelationPath() != dsl.DefaultCorrelationPath {
		t.Errorf("await without on: CorrelateOn %v, path %q", a.CorrelateOn, a.CorrelationPath())
	}
}

// TestFormatKeepsMeaning: `flowgen fmt` changes layout, never the model.
// Every fmt golden input and every good flow of the repository builds to
// the same model before and after formatting.
func TestFormatKeepsMeaning(t *testing.T) {
	inputs, _ := filepath.Glob("../parser/testdata/fmt/*/input.flow")
	good, _ := filepath.Glob("../testdata/flows/good/*.flow")
	for _, path := range append(inputs, good...) {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		ast, ds := parser.Parse(path, src)
		if ds.HasErrors() {
			continue
		}
		before, ds := flowfile.Build(ast)
		if ds.HasErrors() {
			continue
		}
		formatted := parser.Format(ast)
		ast2, ds := parser.Parse(path, formatted)
		if ds.HasErrors() {
			t.Errorf("%s: formatted source does not parse: %v\n%s", path, ds.Err(), formatted)
			continue
		}
		after, _ := flowfile.Build(ast2)
		if diff := cmp.Diff(before, after, jsonIgnore); diff != "" {
			t.Errorf("%s: fmt changed the model (-before +after):\n%s", path, diff)
		}
	}
}
