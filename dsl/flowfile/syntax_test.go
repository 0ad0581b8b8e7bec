package flowfile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/parser"
)

// syntaxCorpus is every .flow file of the repository's test data and
// examples, and every JSON form under testdata/json.
func syntaxCorpus(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, pattern := range []string{
		"../../testdata/flows/*/*.flow", "../../testdata/json/*/*.json", "../../testdata/json/*/*.flow",
		"../../testdata/graph/*/*.flow", "../../gen/testdata/*/*.flow", "../../examples/*/*.flow",
		"../../examples/*/*.json", "../../parser/testdata/fmt/*/*.flow", "../testdata/check/*/*.flow",
		"../../temporal/examples/*/*.flow", "../../temporal/conformance/*.flow",
	} {
		paths, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			src, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			out[p] = src
		}
	}
	if len(out) < 50 {
		t.Fatalf("the corpus has %d files: the globs miss the test data", len(out))
	}
	return out
}

// read is the model of a source in either form, with no checks: nil when
// it has syntax or decoding errors, or Build left a bad value zero.
func read(name string, src []byte) *dsl.File {
	var f *dsl.File
	var errs bool
	if strings.HasSuffix(name, ".json") {
		m, ds := dsl.DecodeJSON(name, src)
		f, errs = m, ds.HasErrors()
	} else {
		m, ds := Parse(name, src)
		f, errs = m, ds.HasErrors()
	}
	if errs {
		return nil
	}
	return f
}

// Every flow of the corpus, in its JSON form, has a .flow form that reads
// back to the same model; Format's own comparison is the check, and this
// also compares the printed text with fmt's layout of itself.
func TestFormatJSONRoundTrip(t *testing.T) {
	n := 0
	corpus := syntaxCorpus(t)
	for name, src := range corpus {
		f := read(name, src)
		if f == nil {
			continue
		}
		js, err := dsl.EncodeJSON(f)
		if err != nil {
			t.Fatal(err)
		}
		fromJSON, ds := dsl.DecodeJSON(name+".json", js)
		if ds.HasErrors() {
			t.Fatalf("%s: its JSON form does not decode: %v", name, ds)
		}
		text, ds := Format(fromJSON)
		if ds != nil {
			t.Errorf("%s: %v", name, ds)
			continue
		}
		back := read(name+".flow", text)
		if back == nil {
			t.Errorf("%s: the .flow form does not read:\n%s", name, text)
			continue
		}
		again, ds := Format(back)
		if ds != nil || !bytes.Equal(again, text) {
			t.Errorf("%s: the .flow form is not a fixed point (%v):\n%s\n---\n%s", name, ds, text, again)
		}
		n++
	}
	t.Logf("%d files of %d round-tripped (the others do not read)", n, len(corpus))
}

// FuzzFormatJSON: any source, read as .flow or as the JSON form, that
// reads without errors (and, as .flow, checks clean) has a .flow form that reads back to the same model
// (Format checks that itself), in fmt's canonical layout, or, from JSON
// only, a flow-form error at its place in the JSON that names what .flow
// cannot say (not Format's own check failing); never a panic. A model
// read from .flow always has one.
func FuzzFormatJSON(f *testing.F) {
	for _, src := range syntaxCorpus(f) {
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		// A model with check errors may have no JSON form that decodes (an
		// empty event name is left out of it): flowgen json refuses those.
		if m, ds := Load("fuzz.flow", src, dsl.CheckOptions{}); m != nil && !ds.HasErrors() {
			js, err := dsl.EncodeJSON(m)
			if err != nil {
				t.Fatal(err)
			}
			fromJSON, ds := dsl.DecodeJSON("fuzz.json", js)
			if ds.HasErrors() {
				t.Fatalf("the JSON form of a .flow model does not decode: %v\n%s", ds, js)
			}
			if _, ds := Format(fromJSON); ds != nil {
				t.Fatalf("a .flow model has no .flow form: %v\n%s", ds, src)
			}
		}
		m := read("fuzz.json", src)
		if m == nil {
			return
		}
		out, ds := Format(m)
		for _, d := range ds {
			// What .flow cannot say is an error at its place in the JSON
			// (docs/language.md), never Format's own check that caught
			// a .flow form meaning something else.
			if p := d.Range.Start; d.Code != "flow-form" || p.File != "fuzz.json" || !p.IsValid() || p.Offset > len(src) {
				t.Fatalf("a bad diagnostic %+v of %s", d, src)
			}
			if strings.Contains(d.Message, "would mean something else") || strings.Contains(d.Message, "does not read back") {
				t.Fatalf("Syntax wrote a .flow form that is not the model: %v\n%s", d, src)
			}
		}
		if ds != nil {
			return
		}
		// The .flow form is in fmt's canonical layout.
		pf, pds := parser.Parse("fuzz.flow", out)
		if len(pds) > 0 {
			t.Fatalf("the .flow form does not parse: %v\n%s", pds, out)
		}
		if again := parser.Format(pf); !bytes.Equal(again, out) {
			t.Fatalf("the .flow form is not as fmt writes it:\n%s\n---\n%s", out, again)
		}
	})
}

// A JSON form says what .flow cannot: Format refuses it at its place, and
// the doc comments' trailing blanks, which .flow drops, are not taken for
// a difference.
func TestFormatJSONEdges(t *testing.T) {
	for _, tt := range []struct {
		name, json, want, err string
	}{
		{"trailing blanks in a doc", `{"version": 1, "flows": [{"name": "A", "doc": "A does it.  \n\nReally. ", "steps": [
		  {"name": "B", "doc": "B\t", "action": {"kind": "go"}, "irreversible": true}]}]}`,
			"// A does it.\n//\n// Really.\nflow A {\n    // B\n    step B {\n        irreversible\n    }\n}\n", ""},
		// Build reads "not not X" as X: a not of a not is bracketed.
		{"a not of a not", `{"version": 1, "flows": [{"name": "A", "state": "S", "steps": [
		  {"name": "B", "action": {"kind": "choose", "when": [{"if": {"not": {"not": {"field": "X"}}}, "target": "C"}], "otherwise": "C"}},
		  {"name": "C", "action": {"kind": "go"}, "irreversible": true}]}]}`,
			"flow A {\n    state S\n\n    step B {\n        choose {\n            when not (not X) -> C\n            otherwise -> C\n        }\n    }\n\n    step C {\n        irreversible\n    }\n}\n", ""},
		// A condition's number is any JSON number: .flow writes it in
		// decimal, as fmt does, with the same value.
		{"numbers in JSON notation", `{"version": 1, "flows": [{"name": "A", "state": "S", "steps": [
		  {"name": "B", "action": {"kind": "choose", "when": [{"if": {"or": [{"field": "X", "op": ">", "value": 1.50}, {"field": "X", "op": "<", "value": -1.5e-3}, ` +
			`{"field": "Y", "op": "==", "value": 1E+2}, {"field": "Z", "op": "==", "value": -0}]}, "target": "C"}], "otherwise": "C"}},
		  {"name": "C", "action": {"kind": "go"}, "irreversible": true}]}]}`,
			"flow A {\n    state S\n\n    step B {\n        choose {\n            when X > 1.5 or X < -0.0015 or Y == 100 or Z == 0 -> C\n            otherwise -> C\n        }\n    }\n\n    step C {\n        irreversible\n    }\n}\n", ""},
		{"a Go step that publishes", `{"version": 1, "flows": [{"name": "A", "steps": [
		  {"name": "B", "action": {"kind": "go"}, "irreversible": true, "publish": [{"topic": "t", "event": "e"}]}]}]}`,
			"", `step "B": a Go step that publishes has no .flow form`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, ds := dsl.DecodeJSON("a.json", []byte(tt.json))
			if ds.HasErrors() {
				t.Fatal(ds)
			}
			src, ds := Format(f)
			if tt.err != "" {
				if len(ds) != 1 || ds[0].Code != "flow-form" || !strings.Contains(ds[0].Message, tt.err) || ds[0].Range.Start.Path != "$.flows[0].steps[0]" || src != nil {
					t.Fatalf("Format: %q, %v; want a flow-form error at $.flows[0].steps[0] saying %q", src, ds, tt.err)
				}
				return
			}
			if ds != nil || string(src) != tt.want {
				t.Fatalf("Format: %v\n%s\nwant\n%s", ds, src, tt.want)
			}
		})
	}
}

// TestFormatNils: a model built by hand may hold nils where DecodeJSON
// never puts one (Check and gen.Generate take them); Format refuses it with
// a flow-form error instead of panicking.
func TestFormatNils(t *testing.T) {
	step := &dsl.Step{Name: "A", Action: &dsl.Action{Kind: dsl.ActionGo}, Irreversible: true}
	for name, f := range map[string]*dsl.File{
		"no file":         nil,
		"nil flow":        {Flows: []*dsl.Flow{nil}},
		"nil step":        {Flows: []*dsl.Flow{{Name: "F", Steps: []*dsl.Step{step, nil}}}},
		"nil branch":      {Flows: []*dsl.Flow{{Name: "F", Steps: []*dsl.Step{{Name: "P", Parallel: &dsl.Parallel{Branches: []*dsl.Step{step, nil}}}}}}},
		"nil trigger":     {Flows: []*dsl.Flow{{Name: "F", Triggers: []*dsl.Trigger{nil}, Steps: []*dsl.Step{step}}}},
		"nil transition":  {Flows: []*dsl.Flow{{Name: "F", Steps: []*dsl.Step{{Name: "A", Action: &dsl.Action{Kind: dsl.ActionGo}, Transitions: []*dsl.Transition{nil}}}}}},
		"nil publication": {Flows: []*dsl.Flow{{Name: "F", Steps: []*dsl.Step{{Name: "A", Action: &dsl.Action{Kind: dsl.ActionAwait, Topic: "t", Event: "e"}, Publish: []*dsl.Publication{nil}}}}}},
		"nil when":        {Flows: []*dsl.Flow{{Name: "F", Steps: []*dsl.Step{{Name: "A", Action: &dsl.Action{Kind: dsl.ActionChoose, When: []*dsl.Branch{nil}, Otherwise: &dsl.Ident{Name: "done"}}}}}}},
	} {
		src, ds := Format(f)
		if src != nil || len(ds) != 1 || ds[0].Code != "flow-form" {
			t.Errorf("%s: Format = %q, %v; want one flow-form error", name, src, ds)
		}
	}
}

// A name that .flow writes bare but the JSON form holds as any text (a
// state field, a condition's member, an outcome, a target, a Go rollback)
// is a flow-form error at its place when it is not an identifier, and so
// is a condition's field named "not", which .flow reads as the negation;
// nothing is printed.
func TestFormatJSONBareNames(t *testing.T) {
	flow := func(steps string) string {
		return `{"version": 1, "flows": [{"name": "A", "state": "S", "steps": [` + steps + `]}]}`
	}
	for _, tt := range []struct {
		name, json, path, err string
	}{
		{"rpc request", flow(`{"name": "C", "action": {"kind": "rpc", "service": "s", "endpoint": "e", "request": "a-b"}, "irreversible": true}`),
			"$.flows[0].steps[0].action.request", `state field "a-b" is not an identifier`},
		{"condition member", flow(`{"name": "E", "action": {"kind": "choose", "when": [{"if": {"field": "a.b-c"}, "target": "E"}], "otherwise": "done"}}`),
			"$.flows[0].steps[0].action.when[0].if.field", `member "b-c" is not an identifier`},
		{"condition field not", flow(`{"name": "E", "action": {"kind": "choose", "when": [{"if": {"and": [{"field": "X"}, {"field": "not", "op": "==", "value": 1}]}, "target": "E"}], "otherwise": "done"}}`),
			"$.flows[0].steps[0].action.when[0].if.and[1].field", `a condition's state field "not" has no .flow form`},
		{"condition number beyond float64", flow(`{"name": "E", "action": {"kind": "choose", "when": [{"if": {"or": [{"field": "X"}, {"field": "Y", "op": ">", "value": 1e400}]}, "target": "E"}], "otherwise": "done"}}`),
			"$.flows[0].steps[0].action.when[0].if.or[1].value", `a condition's number 1e400 has no .flow form`},
		{"condition number of a huge exponent", flow(`{"name": "E", "action": {"kind": "choose", "when": [{"if": {"field": "Y", "op": "<", "value": -2.5E-5000}, "target": "E"}], "otherwise": "done"}}`),
			"$.flows[0].steps[0].action.when[0].if.value", `a condition's number -2.5E-5000 has no .flow form`},
		{"keyword target", flow(`{"name": "E", "action": {"kind": "go"}, "irreversible": true, "on": [{"on": "ok", "target": "retry"}]}`),
			"$.flows[0].steps[0].on[0].target", `target "retry" has no .flow form: .flow reads it as a keyword`},
		{"keyword when target", flow(`{"name": "E", "action": {"kind": "choose", "when": [{"if": {"field": "X"}, "target": "E"}], "otherwise": "otherwise"}}`),
			"$.flows[0].steps[0].action.otherwise", `target "otherwise" has no .flow form`},
		{"keyword rollback name", flow(`{"name": "E", "action": {"kind": "go"}, "rollback": {"name": "rpc"}}`),
			"$.flows[0].steps[0].rollback.name", `rollback name "rpc" has no .flow form`},
		{"sleep until", flow(`{"name": "E", "action": {"kind": "sleep", "until": "at-x"}}`),
			"$.flows[0].steps[0].action.until", `state field "at-x" is not an identifier`},
		{"writes", flow(`{"name": "P", "parallel": {"branches": [{"name": "E", "action": {"kind": "go"}, "writes": ["x-y"], "irreversible": true}]}}`),
			"$.flows[0].steps[0].parallel.branches[0].writes[0]", `state field "x-y" is not an identifier`},
		{"outcome", flow(`{"name": "E", "action": {"kind": "go"}, "outcomes": ["x-y"], "irreversible": true}`),
			"$.flows[0].steps[0].outcomes[0]", `outcome "x-y" is not an identifier`},
		{"block target", flow(`{"name": "P", "parallel": {"branches": [{"name": "E", "action": {"kind": "go"}, "irreversible": true}]}, "on": [{"on": "ok", "target": "x y"}]}`),
			"$.flows[0].steps[0].on[0].target", `target "x y" is not an identifier`},
		{"Go rollback", flow(`{"name": "E", "action": {"kind": "go"}, "rollback": {"name": "x-y"}}`),
			"$.flows[0].steps[0].rollback.name", `rollback name "x-y" is not an identifier`},
		// The names of the flow, its state type, a step, a block and a
		// branch: at the name too, not at the flow.
		{"flow name", `{"version": 1, "flows": [{"name": "a-b", "steps": [{"name": "E", "action": {"kind": "go"}, "irreversible": true}]}]}`,
			"$.flows[0].name", `flow name "a-b" is not an identifier`},
		{"state type", `{"version": 1, "flows": [{"name": "A", "state": "s-t", "steps": [{"name": "E", "action": {"kind": "go"}, "irreversible": true}]}]}`,
			"$.flows[0].state", `state type "s-t" is not an identifier`},
		{"step name", flow(`{"name": "b-c", "action": {"kind": "go"}, "irreversible": true}`),
			"$.flows[0].steps[0].name", `step name "b-c" is not an identifier`},
		{"block name", flow(`{"name": "p-q", "parallel": {"branches": [{"name": "E", "action": {"kind": "go"}, "irreversible": true}]}}`),
			"$.flows[0].steps[0].name", `parallel block name "p-q" is not an identifier`},
		{"branch name", flow(`{"name": "P", "parallel": {"branches": [{"name": "e-f", "action": {"kind": "go"}, "irreversible": true}]}}`),
			"$.flows[0].steps[0].parallel.branches[0].name", `step name "e-f" is not an identifier`},
	} {
		t.Run(tt.name, func(t *testing.T) { wantFlowFormError(t, tt.json, tt.path, tt.err) })
	}
}

// A retry policy below the bounds .flow reads (attempts under
// dsl.MinAttempts, a multiplier under dsl.MinMultiplier), which a JSON form
// may hold, is a flow-form error at that policy, not a read-back error at
// "$" (the multiplier written out in 300 decimal digits).
func TestFormatJSONRetryBounds(t *testing.T) {
	for _, tt := range []struct {
		name, json, path, err string
	}{
		{"step attempts", `{"version": 1, "flows": [{"name": "A", "steps": [{"name": "E", "action": {"kind": "go"}, "irreversible": true, "retry": {"attempts": 0}}]}]}`,
			"$.flows[0].steps[0].retry", `step "E": retry attempts 0 have no .flow form`},
		{"flow multiplier", `{"version": 1, "flows": [{"name": "A", "retry": {"attempts": 2, "multiplier": 1e-300}, "steps": [{"name": "E", "action": {"kind": "go"}, "irreversible": true}]}]}`,
			"$.flows[0].retry", `flow "A": retry multiplier 1e-300 has no .flow form`},
	} {
		t.Run(tt.name, func(t *testing.T) { wantFlowFormError(t, tt.json, tt.path, tt.err) })
	}
}

// An action the JSON form can hold and .flow cannot write, a sleep with
// both a duration and an until field, an await's correlate_on path
// without its correlate field, or a condition nested deeper than
// the parentheses .flow reads (parser.MaxParens; a not of a not is
// written "not (not X)"), is a flow-form error at that action or
// condition, not a read-back error at "$".
func TestFormatJSONActionForm(t *testing.T) {
	flow := func(steps string) string {
		return `{"version": 1, "flows": [{"name": "A", "state": "S", "steps": [` + steps + `]}]}`
	}
	nots := func(n int) string {
		return strings.Repeat(`{"not": `, n) + `{"field": "B"}` + strings.Repeat(`}`, n)
	}
	ors := func(n int) string { // C or (C or (... B)): each nested or bracketed
		c := `{"field": "B"}`
		for range n {
			c = `{"or": [{"field": "C"}, ` + c + `]}`
		}
		return c
	}
	for _, tt := range []struct {
		name, json, path, err string
	}{
		{"sleep with both", flow(`{"name": "E", "action": {"kind": "sleep", "duration": "2s", "until": "At"}}`),
			"$.flows[0].steps[0].action", `step "E": a sleep with both a duration and an until field has no .flow form`},
		{"correlate_on alone", flow(`{"name": "E", "action": {"kind": "await", "topic": "t", "event": "e", "correlate_on": "order_id", "timeout": "1h"}}`),
			"$.flows[0].steps[0].action.correlate_on", `step "E": a correlate_on path without a correlate field has no .flow form`},
		{"nots", flow(`{"name": "E", "action": {"kind": "choose", "when": [{"if": ` + nots(parser.MaxParens+2) + `, "target": "done"}], "otherwise": "fail"}}`),
			"$.flows[0].steps[0].action.when[0].if", `step "E": a condition whose parentheses would nest 9 deep has no .flow form: .flow reads them at most 8 deep`},
		{"ors", flow(`{"name": "E", "action": {"kind": "choose", "when": [{"if": {"field": "X"}, "target": "done"}, {"if": ` + ors(parser.MaxParens+2) + `, "target": "done"}], "otherwise": "fail"}}`),
			"$.flows[0].steps[0].action.when[1].if", `step "E": a condition whose parentheses would nest 9 deep has no .flow form`},
	} {
		t.Run(tt.name, func(t *testing.T) { wantFlowFormError(t, tt.json, tt.path, tt.err) })
	}
	// As deep as .flow reads: written, and read back.
	for _, cond := range []string{nots(parser.MaxParens + 1), ors(parser.MaxParens + 1)} {
		src := flow(`{"name": "E", "action": {"kind": "choose", "when": [{"if": ` + cond + `, "target": "done"}], "otherwise": "fail"}}`)
		m, ds := dsl.DecodeJSON("deep.json", []byte(src))
		if ds.HasErrors() {
			t.Fatal(ds)
		}
		if _, ds := Format(m); ds != nil {
			t.Errorf("Format of a condition %d deep: %v", parser.MaxParens, ds)
		}
	}
}

// A doc that a .flow comment cannot hold as it is, which a JSON form's
// may (a control character, a carriage return), is a flow-form error at
// its flow or step, not a read-back error at "$".
func TestFormatJSONDocs(t *testing.T) {
	for _, tt := range []struct {
		name, json, path, err string
	}{
		{"step doc", `{"version": 1, "flows": [{"name": "A", "steps": [{"name": "E", "doc": "a\u0001b", "action": {"kind": "go"}, "irreversible": true}]}]}`,
			"$.flows[0].steps[0]", `flow "A": step "E": its doc has no .flow form: unexpected control character U+0001`},
		{"flow doc", `{"version": 1, "flows": [{"name": "A", "doc": "x\r\ny", "steps": [{"name": "E", "action": {"kind": "go"}, "irreversible": true}]}]}`,
			"$.flows[0]", `flow "A": its doc has no .flow form: a carriage return`},
		{"branch doc", `{"version": 1, "flows": [{"name": "A", "steps": [{"name": "P", "parallel": {"branches": [{"name": "E", "doc": "x\ry", "action": {"kind": "go"}, "irreversible": true}]}}]}]}`,
			"$.flows[0].steps[0].parallel.branches[0]", `step "E": its doc has no .flow form: carriage return not followed by a newline`},
	} {
		t.Run(tt.name, func(t *testing.T) { wantFlowFormError(t, tt.json, tt.path, tt.err) })
	}
}

// wantFlowFormError fails t unless Format of the JSON form src (without
// errors of its own) is one flow-form error at path saying err, and no
// text.
func wantFlowFormError(t *testing.T, src, path, err string) {
	t.Helper()
	f, ds := dsl.DecodeJSON("a.json", []byte(src))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	out, ds := Format(f)
	if len(ds) != 1 || ds[0].Code != "flow-form" || !strings.Contains(ds[0].Message, err) || ds[0].Range.Start.Path != path || out != nil {
		t.Fatalf("Format: %q, %v; want a flow-form error at %s saying %q", out, ds, path, err)
	}
}
