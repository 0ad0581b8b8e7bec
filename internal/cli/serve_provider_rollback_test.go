package cli

// A Go rollback whose provider is down: the rollback waits for one in its
// rollback state, recorded (the wait on ProviderRollbackTopic, on the event
// that started the attempt), with no attempt failing meanwhile; the server
// is killed (kill -9), and after the restart the run waits again in its
// rollback and completes the compensation once a provider of the
// rollbacks registers.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServeRollbackWaitsForProviderAcrossCrash(t *testing.T) {
	dir := t.TempDir()
	flows, store := filepath.Join(dir, "flows"), filepath.Join(dir, "store")
	if err := os.MkdirAll(flows, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(flows, "Bill.json"), []byte(billFlow), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServeProc(t, "-store", store, "-flows", flows)
	logFile := filepath.Join(dir, "calls")
	startProvider(t, "http", srv.url, "billing-steps", logFile, envProviderOnly+"=steps")

	code, out := call(t, "POST", srv.url+"/rpc/Bill.Start", `{"Decline": true}`)
	if code != 201 {
		t.Fatalf("start: %d %v", code, out)
	}
	id := out["run_id"].(string)
	// waits reports whether the run waits in Charge's rollback for a
	// provider of Refund, and that no attempt of it failed meanwhile.
	waits := func(url string) bool {
		_, st := call(t, "GET", url+"/runs/"+id, "")
		w, _ := st["wait"].(map[string]any)
		if st["state"] != "rolling_back" || st["machine"] != "Charge:rollback" || w["topic"] != "flowgen/provider-rollback" || w["event"] != "Refund" {
			return false
		}
		_, h := call(t, "GET", url+"/runs/"+id+"/history", "")
		events, _ := h["events"].([]any)
		for _, e := range events {
			if ev, _ := e.(map[string]any); ev["from"] == "Charge:rollback" {
				t.Fatalf("an attempt of the rollback ended while it waits for a provider: %v", ev)
			}
		}
		return true
	}
	waitUntil(t, "the rollback to wait for a provider", func() bool { return waits(srv.url) })
	srv.kill9()

	srv = startServeProc(t, "-store", store, "-flows", flows)
	waitUntil(t, "the resumed rollback to wait for a provider again", func() bool { return waits(srv.url) })
	startProvider(t, "http", srv.url, "billing-rollbacks", logFile, envProviderOnly+"=rollbacks")
	waitUntil(t, "the run to be compensated", func() bool {
		_, st := call(t, "GET", srv.url+"/runs/"+id, "")
		return st["state"] == "compensated"
	})
	var order []string
	for _, c := range calls(t, logFile) {
		order = append(order, c[1])
		if c[1] == "Refund" && c[2] != id+"/Charge/rollback" {
			t.Errorf("Refund's idempotency key %q", c[2])
		}
	}
	if got := strings.Join(order, " "); got != "Bill.Reserve Charge Check Refund Release" {
		t.Errorf("calls %q: want the steps, then each rollback once, in reverse order", got)
	}
}
