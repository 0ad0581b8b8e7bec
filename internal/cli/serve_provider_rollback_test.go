package cli

// A Go rollback whose provider is down: the rollback's attempts fail with
// "no live provider" (each after waiting for one within its timeout),
// recorded as retries of the rollback; the server is killed (kill -9)
// meanwhile, and after the restart the run resumes in its rollback and
// completes the compensation once a provider of the rollbacks registers.

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
	// noProvider counts the recorded retries of Charge's rollback that
	// found no provider.
	noProvider := func(url string) int {
		_, h := call(t, "GET", url+"/runs/"+id+"/history", "")
		events, _ := h["events"].([]any)
		n := 0
		for _, e := range events {
			ev, _ := e.(map[string]any)
			msg, _ := ev["error"].(string)
			if ev["from"] == "Charge:rollback" && ev["to"] == "Charge:rollback" && ev["outcome"] == "retry" &&
				strings.Contains(msg, `no live provider for Go rollback "Refund" of flow "Bill"`) {
				n++
			}
		}
		return n
	}
	waitUntil(t, "a rollback attempt to find no provider", func() bool { return noProvider(srv.url) >= 1 })
	_, st := call(t, "GET", srv.url+"/runs/"+id, "")
	if st["state"] != "rolling_back" || st["machine"] != "Charge:rollback" {
		t.Errorf("status while the rollback waits: %v", st)
	}
	before := noProvider(srv.url)
	srv.kill9()

	srv = startServeProc(t, "-store", store, "-flows", flows)
	waitUntil(t, "the resumed rollback to find no provider again", func() bool { return noProvider(srv.url) > before })
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
