package dsl

import "testing"

// A flow whose calls are resolved by name (an engine's pinned definition
// of one flow) may call a flow the file does not declare; any other file
// may not ("call-flow").
func TestCallsByName(t *testing.T) {
	src := []byte(`{"version": 1, "flows": [{"name": "Shop", "state": "S", "steps": [
	  {"name": "Bill", "action": {"kind": "call", "flow": "Billing", "request": "Invoice", "response": "Receipt"},
	   "rollback": {"action": {"kind": "call", "flow": "Refund", "request": "Receipt"}}}]}]}`)
	if _, ds := LoadJSON("shop.json", src, CheckOptions{CallsByName: true}); ds.HasErrors() {
		t.Errorf("CallsByName: %v", ds)
	}
	_, ds := LoadJSON("shop.json", src, CheckOptions{})
	n := 0
	for _, d := range ds {
		if d.Code == "call-flow" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("without CallsByName: %v, want two call-flow errors", ds)
	}
}

// A branch's rollback call is a call of the flow: its callee must exist
// (the generated constructor takes it) and it counts for call cycles.
func TestBranchRollbackCallIsACall(t *testing.T) {
	src := []byte(`{"version": 1, "flows": [
	  {"name": "Par", "state": "S", "steps": [
	    {"name": "P", "parallel": {"branches": [
	      {"name": "A", "action": {"kind": "go"}, "rollback": {"action": {"kind": "call", "flow": "Undo", "request": "Kid"}}},
	      {"name": "B", "action": {"kind": "go"}, "irreversible": true}]}}]},
	  {"name": "Undo", "state": "S", "steps": [
	    {"name": "U", "action": {"kind": "call", "flow": "Par", "request": "Kid"}, "irreversible": true}]}]}`)
	f, ds := LoadJSON("par.json", src, CheckOptions{})
	if f == nil {
		t.Fatalf("load: %v", ds)
	}
	calls := f.Flows[0].Calls()
	if len(calls) != 1 || calls[0].Step.Name != "A" || !calls[0].Rollback || calls[0].Action.Flow.Name != "Undo" {
		t.Fatalf("Calls of Par: %+v, want A's rollback call of Undo", calls)
	}
	cycle := false
	for _, d := range ds {
		cycle = cycle || d.Code == "call-cycle"
	}
	if !cycle {
		t.Errorf("Par -> (a branch's rollback) Undo -> Par is no call cycle: %v", ds)
	}
}
