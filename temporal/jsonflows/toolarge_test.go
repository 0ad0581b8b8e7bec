package jsonflows

import (
	"net/http"
	"strings"
	"testing"
)

// A request the engine's bound lets through (-max-body raised to 8 MiB)
// but whose state or event the cluster refuses for its size (its blob
// size limit, 2 MB by default) answers 413 saying so, as the engine
// answers an event larger than its inbox takes, and changes nothing: no
// retry would pass. Before, it answered 500, "failed inside the server
// (its log says why)".
func TestPayloadPastTheClustersLimitAnswers413(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	o := newOnTemporalWith(t, "too-large-test", 8<<20)
	o.must(t, "PUT", "/flows", `{"version": 1, "flows": [{"name": "Hold", "state": "S", "triggers": [{"kind": "rpc", "endpoint": "Hold.Start"}], "steps": [
  {"name": "Pay", "action": {"kind": "await", "topic": "payments", "event": "paid", "response": "Payment", "timeout": "1h"}, "on": [{"on": "timeout", "target": "fail"}]}]}]}`, 200)
	big := `{"pad": "` + strings.Repeat("x", 3<<20) + `"}`
	for _, path := range []string{"/flows/Hold/runs?run_id=big", "/events/payments/paid?id=e1"} {
		status, _, answer := request(t, "POST", o.url+path, big)
		if status != http.StatusRequestEntityTooLarge || !strings.Contains(answer, "payload limit") {
			t.Errorf("POST %s of 3 MiB: %d %s; want 413 naming the cluster's payload limit", path, status, answer)
		}
	}
	if status, _, answer := request(t, "GET", o.url+"/runs/big", ""); status != http.StatusNotFound {
		t.Errorf("GET /runs/big after its refused start: %d %s; want 404", status, answer)
	}
}
