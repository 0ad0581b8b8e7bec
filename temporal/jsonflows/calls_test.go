package jsonflows

import (
	"context"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/engine"
)

// A JSON flow with a call is refused when it is attached, with the step
// and the flow it calls, rather than failing its runs.
func TestAttachRefusesCalls(t *testing.T) {
	src := `{"version": 1, "flows": [{"name": "Order", "state": "S", "steps": [
	  {"name": "Bill", "action": {"kind": "call", "flow": "Billing", "request": "Invoice", "response": "Receipt"}}]}]}`
	x := New(nil, Options{})
	_, err := x.Attach(context.Background(), engine.ExecFlow{Name: "Order", Source: []byte(src)})
	if err == nil || !strings.Contains(err.Error(), `step "Bill" calls flow "Billing"`) {
		t.Fatalf("Attach = %v, want a refusal of the call", err)
	}
	ok := `{"version": 1, "flows": [{"name": "Ping", "state": "S", "steps": [{"name": "A", "action": {"kind": "go"}, "irreversible": true}]}]}`
	if _, err := x.Attach(context.Background(), engine.ExecFlow{Name: "Ping", Source: []byte(ok)}); err != nil {
		t.Fatalf("Attach of a flow without calls: %v", err)
	}
}
