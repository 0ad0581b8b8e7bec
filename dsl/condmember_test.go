package dsl_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
)

// memberFlow is a JSON flow whose conditions read members of state
// fields, beside one on a field alone (the JSON form before members).
const memberFlow = `{"version": 1, "flows": [{"name": "Route", "state": "S", "steps": [
  {"name": "Route", "action": {"kind": "choose", "when": [
    {"if": {"and": [{"field": "Customer.Tier", "op": "==", "value": "gold"}, {"field": "Order.Lines.Count", "op": ">", "value": 3}]}, "target": "done"},
    {"if": {"not": {"field": "Shipping.Express"}}, "target": "done"},
    {"if": {"field": "Total", "op": ">=", "value": 100}, "target": "done"}
  ], "otherwise": "fail"}}
]}]}`

// A member path is "field": "A.B.C" in JSON, a field and its members in
// the model, and the same text again when encoded; a field alone stays
// what it was.
func TestCondMembersJSON(t *testing.T) {
	f, ds := flowfile.Load("in.json", []byte(memberFlow), dsl.CheckOptions{})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	when := f.Flows[0].Steps[0].Action.When
	c := when[0].When.Args[1]
	var members []string
	for _, m := range c.Members {
		members = append(members, m.Name)
	}
	if c.Field.Name != "Order" || strings.Join(members, ",") != "Lines,Count" || c.Path() != "Order.Lines.Count" {
		t.Errorf("field %q, members %v, path %q; want Order, [Lines Count], Order.Lines.Count", c.Field.Name, members, c.Path())
	}
	if got := when[2].When; got.Field.Name != "Total" || len(got.Members) != 0 {
		t.Errorf("a field alone reads as field %q, members %v", got.Field.Name, got.Members)
	}
	for i, want := range []string{`Customer.Tier == "gold" and Order.Lines.Count > 3`, `not Shipping.Express`, `Total >= 100`} {
		if got := when[i].When.String(); got != want {
			t.Errorf("when %d: String() = %q, want %q", i, got, want)
		}
	}
	b, err := when[0].When.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"and":[{"field":"Customer.Tier","op":"==","value":"gold"},{"field":"Order.Lines.Count","op":">","value":3}]}`; string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	// .flow and back: the same model.
	src, fds := flowfile.Format(f)
	if fds.HasErrors() {
		t.Fatal(fds)
	}
	if !strings.Contains(string(src), "when Customer.Tier == \"gold\" and Order.Lines.Count > 3 -> done") {
		t.Errorf(".flow form:\n%s", src)
	}
}

// An empty member ("Customer..Tier", a dot at either end) is the empty
// error, naming the path.
func TestCondEmptyMember(t *testing.T) {
	for _, path := range []string{"Customer..Tier", "Customer.", ".Tier"} {
		src := strings.Replace(memberFlow, `"Shipping.Express"`, `"`+path+`"`, 1)
		_, ds := flowfile.Load("in.json", []byte(src), dsl.CheckOptions{})
		var got []string
		for _, d := range ds {
			if d.Code == "empty" {
				got = append(got, d.Message)
			}
		}
		if len(got) != 1 || !strings.Contains(got[0], "Route") {
			t.Errorf("%q: empty errors %q, want one naming the step", path, got)
		}
	}
}

// Eval reads a member in the JSON object of its field, by its name as
// written; a field or member on the way that is missing or null reads the
// member as the zero value of the literal's type, as the generated code
// reads one behind a nil pointer; one that is not an object is an error
// naming it.
func TestEvalMembers(t *testing.T) {
	cond := func(path, op string, lit dsl.Literal) *dsl.Cond {
		f, m := dsl.ParsePath(path, diag.Range{})
		c := &dsl.Cond{Op: dsl.CondOp(op), Field: f, Members: m}
		if op != string(dsl.CondField) {
			c.Value = &lit
		}
		return c
	}
	str := func(s string) dsl.Literal { return dsl.Literal{Kind: dsl.LitString, Text: s} }
	num := func(s string) dsl.Literal { return dsl.Literal{Kind: dsl.LitNumber, Text: s} }
	dur := func(s string) dsl.Literal { return dsl.Literal{Kind: dsl.LitDuration, Text: s} }
	for _, tc := range []struct {
		state string
		c     *dsl.Cond
		want  bool
		err   string
	}{
		{`{"Customer": {"Tier": "gold"}}`, cond("Customer.Tier", "==", str("gold")), true, ""},
		{`{"Customer": {"Tier": "silver"}}`, cond("Customer.Tier", "==", str("gold")), false, ""},
		{`{"Order": {"Lines": {"Count": 4}}}`, cond("Order.Lines.Count", ">", num("3")), true, ""},
		{`{"Shipping": {"Express": true}}`, cond("Shipping.Express", "field", dsl.Literal{}), true, ""},
		{`{"Customer": {"Since": "1h"}}`, cond("Customer.Since", "<", dur("24h")), true, ""},
		// Missing or null on the way: the zero value.
		{`{}`, cond("Customer.Tier", "==", str("")), true, ""},
		{`{"Customer": null}`, cond("Customer.Tier", "!=", str("gold")), true, ""},
		{`{"Customer": {}}`, cond("Customer.Tier", "==", str("gold")), false, ""},
		{`{"Order": {"Lines": null}}`, cond("Order.Lines.Count", ">=", num("0")), true, ""},
		{`{"Order": {"Lines": null}}`, cond("Order.Lines.Count", ">", num("0")), false, ""},
		{`{"Customer": {"Tier": null}}`, cond("Customer.Tier", "==", str("")), true, ""},
		{`{"Shipping": null}`, cond("Shipping.Express", "field", dsl.Literal{}), false, ""},
		// Members are JSON names as written: no case folding.
		{`{"Customer": {"tier": "gold"}}`, cond("Customer.Tier", "==", str("gold")), false, ""},
		// Not an object on the way, or the member of another type.
		{`{"Customer": "gold"}`, cond("Customer.Tier", "==", str("gold")), false, `state field "Customer" is a string, not an object with a member "Tier"`},
		{`{"Order": {"Lines": [1]}}`, cond("Order.Lines.Count", ">", num("3")), false, `state field "Order.Lines" is an array, not an object with a member "Count"`},
		{`{"Customer": {"Tier": 3}}`, cond("Customer.Tier", "==", str("gold")), false, `state field "Customer.Tier" is a number, not a string`},
		{`{"Customer": {"Since": "long"}}`, cond("Customer.Since", "<", dur("24h")), false, `state field "Customer.Since" is "long", not a duration such as "90m"`},
	} {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal([]byte(tc.state), &fields); err != nil {
			t.Fatal(err)
		}
		got, err := tc.c.Eval(func(name string) json.RawMessage { return fields[name] })
		errText := ""
		if err != nil {
			errText = err.Error()
		}
		if got != tc.want || errText != tc.err {
			t.Errorf("%s on %s = %v, %q; want %v, %q", tc.c, tc.state, got, errText, tc.want, tc.err)
		}
	}
}
