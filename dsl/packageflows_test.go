package dsl

import (
	"strings"
	"testing"
)

// A call may run a flow of the package's other files (PackageFlows), which
// are read only when a call names a flow the file does not declare: a file
// whose calls are its own never pays for reading the package, nor sees its
// flows. The callee found is the one gen and the Go checks use (Callee),
// and a state-less callee given a field is still a call-type error.
func TestPackageFlows(t *testing.T) {
	billing := []byte(`{"version": 1, "flows": [{"name": "Billing", "state": "Invoice", "steps": [{"name": "Charge", "action": {"kind": "go"}, "irreversible": true}]},
	  {"name": "Ping", "steps": [{"name": "P", "action": {"kind": "go"}, "irreversible": true}]}]}`)
	pkg, ds := LoadJSON("billing.json", billing, CheckOptions{})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	reads := 0
	opts := CheckOptions{PackageFlows: func() []*Flow { reads++; return pkg.Flows }}

	own := []byte(`{"version": 1, "flows": [{"name": "Shop", "state": "S", "steps": [
	  {"name": "Bill", "action": {"kind": "call", "flow": "Local"}, "irreversible": true}]},
	  {"name": "Local", "steps": [{"name": "L", "action": {"kind": "go"}, "irreversible": true}]}]}`)
	f, ds := LoadJSON("own.json", own, opts)
	if ds.HasErrors() || reads != 0 || f.Package != nil {
		t.Fatalf("a file calling its own flows: %v, read the package %d times, Package %v", ds, reads, f.Package)
	}

	shop := []byte(`{"version": 1, "flows": [{"name": "Shop", "state": "S", "steps": [
	  {"name": "Bill", "action": {"kind": "call", "flow": "Billing", "request": "Invoice", "response": "Invoice"}, "irreversible": true},
	  {"name": "Tick", "action": {"kind": "call", "flow": "Ping", "request": "Invoice"}, "irreversible": true}]}]}`)
	f, ds = LoadJSON("shop.json", shop, opts)
	if reads != 1 {
		t.Errorf("the package was read %d times, want once", reads)
	}
	if got := f.Callee(f.Flows[0].Steps[0].Action); got != pkg.Flows[0] {
		t.Errorf("Callee of the call of Billing: %v", got)
	}
	if len(ds) != 1 || ds[0].Code != "call-type" || !strings.Contains(ds[0].Message, "Ping, which declares no state") {
		t.Errorf("diagnostics: %v, want only the call-type error of Ping", ds)
	}
}

// A call of a flow no file declares, when files of the package were left
// out of PackageFlows for their syntax errors, names them: one may declare
// it. Unparsed is asked only for that diagnostic.
func TestPackageFlowsUnparsed(t *testing.T) {
	asked := 0
	unparsed := []string{"billing.flow"}
	opts := CheckOptions{
		PackageFlows: func() []*Flow { return nil },
		PackageScope: CallScope{Unparsed: func() []string { asked++; return unparsed }},
	}
	own := []byte(`{"version": 1, "flows": [{"name": "Shop", "steps": [
	  {"name": "Bill", "action": {"kind": "call", "flow": "Local"}, "irreversible": true}]},
	  {"name": "Local", "steps": [{"name": "L", "action": {"kind": "go"}, "irreversible": true}]}]}`)
	if _, ds := LoadJSON("own.json", own, opts); ds.HasErrors() || asked != 0 {
		t.Fatalf("a file calling its own flows: %v, Unparsed asked %d times", ds, asked)
	}
	shop := []byte(`{"version": 1, "flows": [{"name": "Shop", "steps": [
	  {"name": "Bill", "action": {"kind": "call", "flow": "Billing"}, "irreversible": true}]},
	  {"name": "Bulling", "steps": [{"name": "L", "action": {"kind": "go"}, "irreversible": true}]}]}`)
	for _, tc := range []struct {
		unparsed      []string
		message, hint string
	}{
		{[]string{"billing.flow"}, `which neither this file nor its Go package declares, but billing.flow beside it has syntax errors`,
			`fix billing.flow first (flowgen check billing.flow shows them): it may declare flow Billing`},
		{[]string{"a.flow", "b.flow"}, `but a.flow, b.flow beside it have syntax errors`,
			`fix a.flow, b.flow first (flowgen check a.flow b.flow shows them): one of them may declare flow Billing`},
		{nil, `which neither this file nor its Go package declares`, `did you mean "Bulling"?`},
	} {
		unparsed = tc.unparsed
		_, ds := LoadJSON("shop.json", shop, opts)
		if len(ds) != 1 || ds[0].Code != "call-flow" || !strings.HasSuffix(ds[0].Message, tc.message) || ds[0].Hint != tc.hint {
			t.Errorf("unparsed %v: %v, want a call-flow error ending %q, hint %q", tc.unparsed, ds, tc.message, tc.hint)
		}
	}
}
