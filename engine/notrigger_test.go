package engine

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// POST /flows/{flow}/runs of a flow without an rpc trigger is a 409 that
// says how the flow does start: on its events or schedule, or, when it
// has no triggers at all, as the child run of a call (or from Go). It said "it
// starts on its events or schedule" of a flow with none (found defining a
// callee flow on a real serve and starting it to try it).
func TestStartFlowWithoutRPCTrigger(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptest.NewServer(e.Handler())}
	defer c.srv.Close()
	step := `"steps": [{"name": "A", "action": {"kind": "publish", "topic": "t", "event": "e"}, "irreversible": true}]`
	doc := `{"version": 1, "flows": [{"name": "Callee", ` + step + `}, {"name": "Nightly", "triggers": [{"kind": "schedule", "schedule": "@daily"}], ` + step + `}]}`
	if status, out := c.do("PUT", "/flows", doc); status != 200 {
		t.Fatalf("defining the flows: %d %v", status, out)
	}
	for flow, want := range map[string]string{
		"Callee":  `flow "Callee" has no triggers: it runs as the child run of a flow that calls it, or from Go (Engine.StartRun)`,
		"Nightly": `flow "Nightly" has no rpc trigger; it starts on its events or schedule`,
	} {
		status, out := c.do("POST", "/flows/"+flow+"/runs", `{}`)
		if msg, _ := out["error"].(string); status != 409 || !strings.Contains(msg, want) {
			t.Errorf("POST /flows/%s/runs: %d %q, want 409 saying %q", flow, status, msg, want)
		}
	}
}
