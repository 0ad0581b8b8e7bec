package engine

import (
	"fmt"
	"strings"
	"testing"
)

// PUT /flows answers at most MaxAnswerDiagnostics diagnostics, and says how
// many more there were: a document of many faults (a megabyte of steps
// without their Go handlers) gets a bounded answer, not one diagnostic per
// fault.
func TestPutFlowsCapsDiagnostics(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptestServer(t, e)}
	const n = MaxAnswerDiagnostics + 37
	steps := make([]string, n)
	for i := range steps {
		steps[i] = fmt.Sprintf(`{"name": "Unhandled%d", "action": {"kind": "go"}, "irreversible": true}`, i)
	}
	doc := `{"version": 1, "flows": [{"name": "Many", "triggers": [{"kind": "rpc", "endpoint": "Many.Start"}], "steps": [` + strings.Join(steps, ",") + `]}]}`
	status, out := c.do("PUT", "/flows", doc)
	if status != 400 {
		t.Fatalf("PUT a flow of %d unhandled steps: %d %v", n, status, out)
	}
	ds, _ := out["diagnostics"].([]any)
	omitted, _ := out["diagnostics_omitted"].(float64)
	if len(ds) != MaxAnswerDiagnostics || int(omitted) < 37 {
		t.Fatalf("%d diagnostics answered, %v omitted; want %d and the rest counted", len(ds), out["diagnostics_omitted"], MaxAnswerDiagnostics)
	}
	// A short list says nothing of omitted ones.
	status, out = c.do("PUT", "/flows", helloFlow)
	if _, ok := out["diagnostics_omitted"]; status != 200 || ok {
		t.Fatalf("PUT Hello: %d %v", status, out)
	}
}
