package flowfile

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/parser"
)

// kindLines are the .flow action lines of each action kind, which
// together write every field of the kind ("" for the Go step, which has
// no line; a sleep has one of its two fields, so it has two lines). A
// kind added to dsl's table without a line here fails TestKindsInGrammar.
var kindLines = map[dsl.ActionKind][]string{
	dsl.ActionGo:      {""},
	dsl.ActionRPC:     {`rpc customers "Customer.Create" (Customer) -> CustomerID`},
	dsl.ActionAwait:   {`await payments "payment.succeeded" -> Payment correlate CustomerID on "payment.customer" timeout 72h`},
	dsl.ActionPublish: {`publish billing "subscription.created" (SubscriptionID)`},
	dsl.ActionSleep:   {`sleep 336h`, `sleep until ReminderAt`},
	dsl.ActionCall:    {`call Billing (Invoice) -> Receipt`},
	dsl.ActionChoose:  {`choose { when Tier == "gold" and not (Total < 100 or Wait > 1h) -> done otherwise -> fail }`},
}

// TestKindsInGrammar keeps the table of action kinds (dsl/kinds.go) and the
// grammar (parser/ast.go) in step: every kind's keyword starts a step
// statement, the lines of each kind build actions of that kind that
// together set every field the table gives it, each survives the JSON form,
// and its diagram label is the line as written (less an await's timeout,
// which the diagram shows on a line of its own).
func TestKindsInGrammar(t *testing.T) {
	var stepStmt string
	for _, rule := range strings.Split(parser.EBNF(), "\n") {
		if s, ok := strings.CutPrefix(rule, "StepStmt = "); ok {
			stepStmt = s
		}
	}
	if stepStmt == "" {
		t.Fatalf("no StepStmt rule in parser.EBNF():\n%s", parser.EBNF())
	}
	for _, k := range dsl.Kinds() {
		lines, ok := kindLines[k.Kind]
		if !ok {
			t.Errorf("kind %s: add an action line of it to kindLines", k.Kind)
			continue
		}
		if k.Keyword != "" && !strings.Contains(stepStmt, `("`+k.Keyword+`" `) {
			t.Errorf("kind %s: the grammar's StepStmt has no statement starting with %q: %s", k.Kind, k.Keyword, stepStmt)
		}
		written := map[dsl.ActionField]bool{}
		for _, line := range lines {
			for _, f := range kindLine(t, k, line) {
				written[f] = true
			}
		}
		for _, kf := range k.Fields {
			if !written[kf.Field] {
				t.Errorf("kind %s: no line of kindLines sets field %q: write every field of the kind", k.Kind, kf.Field)
			}
		}
	}
}

// kindLine checks one action line of kind k and returns the fields it
// sets.
func kindLine(t *testing.T, k *dsl.KindSpec, line string) []dsl.ActionField {
	t.Helper()
	if !strings.HasPrefix(line, k.Keyword) {
		t.Errorf("kind %s: line %q does not start with its keyword %q", k.Kind, line, k.Keyword)
	}
	tail := "\n        irreversible"
	if k.Decides {
		tail = "" // a decision has nothing to undo, and may say nothing else
	}
	src := "flow F {\n    state S\n    step A {\n        " + line + tail + "\n    }\n}\n"
	if k.Kind == dsl.ActionCall {
		src += "\nflow Billing {\n    state Invoice\n    step Pay { irreversible }\n}\n" // what it calls
	}
	f := mustBuild(t, "kinds.flow", []byte(src))
	a := f.Flows[0].Steps[0].Action
	if a.Kind != k.Kind {
		t.Errorf("line %q builds a %s action, want %s", line, a.Kind, k.Kind)
		return nil
	}
	var set []dsl.ActionField
	for _, kf := range k.Fields {
		if a.HasField(kf.Field) {
			set = append(set, kf.Field)
		}
	}
	if ds := dsl.Check(f, dsl.CheckOptions{}); len(ds) > 0 {
		t.Errorf("kind %s: Check: %v", k.Kind, ds)
	}
	b, err := dsl.EncodeJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	back, ds := dsl.DecodeJSON("kinds.json", b)
	if len(ds) > 0 {
		t.Fatalf("kind %s: DecodeJSON of\n%s: %v", k.Kind, b, ds)
	}
	if diff := cmp.Diff(a, back.Flows[0].Steps[0].Action, cmpopts.IgnoreTypes(diag.Range{})); diff != "" {
		t.Errorf("kind %s: the JSON form changes the action (-flow +json):\n%s", k.Kind, diff)
	}
	label := a.Spec().Label(a, func(s string) string { return s })
	want, _, _ := strings.Cut(line, " timeout ")
	switch {
	case k.Kind == dsl.ActionGo:
		want = "go"
	case k.Decides:
		want = k.Keyword // the conditions are on the diagram's edges
	}
	if label != want {
		t.Errorf("kind %s: label %q, want %q", k.Kind, label, want)
	}
	return set
}

// TestRollbackKeywords keeps the kinds that can undo a step (dsl/kinds.go,
// Rollback) and the keywords the grammar's Rollback rule takes
// (parser.IsRollbackKeyword, whose complement the parser's hint for
// `rollback sleep 1h` names) in step.
func TestRollbackKeywords(t *testing.T) {
	for _, k := range dsl.Kinds() {
		if k.Keyword != "" && k.Rollback != parser.IsRollbackKeyword(k.Keyword) {
			t.Errorf("kind %s: Rollback is %v, but parser.IsRollbackKeyword(%q) is %v", k.Kind, k.Rollback, k.Keyword, !k.Rollback)
		}
	}
}
