package engine

import (
	"testing"

	"github.com/flowgen/flowgen/engine/httpcall"
	"github.com/flowgen/flowgen/runtime/store"
)

// A flow that calls a service the engine's Caller has no address for is
// loaded, with a warning at its rpc line: the service may be configured
// later, and every run would fail at that step until then.
func TestUnknownServiceWarns(t *testing.T) {
	e, err := New(Options{Store: store.NewMemory(), Caller: httpcall.New(httpcall.Static{"customers": "http://127.0.0.1:1"})})
	if err != nil {
		t.Fatal(err)
	}
	doc := `{"version": 1, "flows": [{"name": "F", "steps": [
	  {"name": "A", "action": {"kind": "rpc", "service": "customers", "endpoint": "C.Create"}, "irreversible": true},
	  {"name": "B", "action": {"kind": "rpc", "service": "nosuch", "endpoint": "X.Y"}, "irreversible": true}]}]}`
	ds, err := e.LoadFlows("f.json", []byte(doc))
	if err != nil {
		t.Fatalf("load: %v %v", err, ds)
	}
	if len(ds) != 1 || ds[0].Code != "unknown-service" || ds[0].Severity.String() != "warning" {
		t.Fatalf("diagnostics %v, want one unknown-service warning", ds)
	}
	if got := ds[0].String(); got != `f.json:$.flows[0].steps[1].action: warning: flow "F" calls service "nosuch", which the engine's Caller has no address for: its runs will fail at that step until it has one` {
		t.Errorf("warning %q", got)
	}
}
