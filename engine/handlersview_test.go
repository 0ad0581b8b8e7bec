package engine

import (
	"encoding/json"
	"testing"
)

// A provider that registered no outcomes for a Go step that declares some
// does not serve it, and GET /flows/{flow}/handlers says so with
// "outcomes_mismatch": [] (the provider's set, empty). It was dropped as
// an empty slice, so the view showed that provider as serving the step
// while "provided" said no one did; and of two replicas of one lease, one
// at the flow's outcomes and one with none, the view kept only the first.
func TestHandlersViewMismatchOfNoOutcomes(t *testing.T) {
	_, e, srv := remoteFixture(t, ProviderOptions{})
	// Registered before the flow: once it is loaded, replica a's
	// registration is refused (409).
	for _, r := range []struct{ replica, outcomes string }{{"a", `[]`}, {"b", `["flagged"]`}} {
		body := `{"handlers": [{"name": "Inspect", "outcomes": ` + r.outcomes + `, "url": "http://127.0.0.1:9/` + r.replica + `"}]}`
		if status, out := putProvider(t, srv, "billing?replica="+r.replica, body); status != 200 {
			t.Fatalf("register replica %s: %d %s", r.replica, status, out)
		}
	}
	const audit = `{"version": 1, "flows": [{"name": "Audit", "triggers": [{"kind": "rpc", "endpoint": "Audit.Start"}],
	  "steps": [{"name": "Inspect", "action": {"kind": "go"}, "outcomes": ["flagged"], "irreversible": true,
	    "on": [{"on": "flagged", "target": "fail"}]}]}]}`
	if ds, err := e.LoadFlows("audit.json", []byte(audit)); err != nil {
		t.Fatalf("load: %v\n%v", err, ds)
	}
	status, _, out := send(t, srv, "GET", "/flows/Audit/handlers", "", "", "")
	if status != 200 {
		t.Fatalf("GET /flows/Audit/handlers: %d %s", status, out)
	}
	var v struct {
		Handlers []struct {
			Name      string
			Providers []map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var mismatched, serving int
	for _, h := range v.Handlers {
		if h.Name != "Inspect" {
			continue
		}
		for _, p := range h.Providers {
			switch m, ok := p["outcomes_mismatch"]; {
			case !ok:
				serving++
			case string(m) == `[]`:
				mismatched++
			default:
				t.Errorf("outcomes_mismatch %s, want [] (the provider registered none)", m)
			}
		}
	}
	if mismatched != 1 || serving != 1 {
		t.Errorf("Inspect's providers: %d with outcomes_mismatch [], %d serving, want 1 and 1:\n%s", mismatched, serving, out)
	}
}
