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
