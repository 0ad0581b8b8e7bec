package cli

// Leases live in the server's memory: after a restart of the server (kill
// -9, same address), the provider's next renewal answers 404 and the
// library registers again, without a restart of the provider.

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestServeRestartProviderRegistersAgain(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	srv := startServeProc(t, "-store", store)
	addr := strings.TrimPrefix(srv.url, "http://")
	startProvider(t, "http", srv.url, "billing", filepath.Join(dir, "calls"))
	registered := func(url string) bool {
		code, out := call(t, "GET", url+"/providers", "")
		ps, _ := out["providers"].([]any)
		return code == 200 && len(ps) == 1 && ps[0].(map[string]any)["provider"] == "billing"
	}
	waitUntil(t, "the provider to register", func() bool { return registered(srv.url) })
	srv.kill9()

	srv = startServeProc(t, "-store", store, "-addr", addr) // the last -addr wins
	if srv.url != "http://"+addr {
		t.Fatalf("serve listens on %s, want %s", srv.url, addr)
	}
	waitUntil(t, "the provider to register again", func() bool { return registered(srv.url) })
	// The new process knew no lease: the provider registered with it. Its
	// log reaches the test through a pipe, after the API may have answered.
	waitUntil(t, "serve to log the registration", func() bool {
		return strings.Contains(srv.logs.String(), `msg="provider registered" provider=billing`)
	})
}

// The server and the provider are killed (kill -9) while a Go step of one
// attempt is in flight at the provider: after the restart, no provider
// registered, the attempt goes back to the step's recorded wait for one
// (it used to wait in memory for 9/10 of its timeout and fail the run),
// and a replica that starts later serves it: attempt 1 again, under the
// same idempotency key, and the run is done.
func TestServeRestartStepInFlightWaitsForProvider(t *testing.T) {
	dir := t.TempDir()
	flows, store := filepath.Join(dir, "flows"), filepath.Join(dir, "store")
	if err := os.MkdirAll(flows, 0o755); err != nil {
		t.Fatal(err)
	}
	// Bill with one attempt per step (the default): the attempt in flight
	// at the kill is the step's last.
	const retries = `  "retry": {"attempts": 30, "initial": "50ms", "max": "300ms"},` + "\n"
	if !strings.Contains(billFlow, retries) {
		t.Fatal("billFlow's retry policy changed: update this test")
	}
	if err := os.WriteFile(filepath.Join(flows, "Bill.json"), []byte(strings.Replace(billFlow, retries, "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServeProc(t, "-store", store, "-flows", flows)
	logFile := filepath.Join(dir, "calls")
	p1 := startProvider(t, "http", srv.url, "billing", logFile)
	code, out := call(t, "POST", srv.url+"/rpc/Bill.Start", `{"Slow": true}`)
	if code != 201 {
		t.Fatalf("start: %d %v", code, out)
	}
	id := out["run_id"].(string)
	charges := func() [][]string {
		var cs [][]string
		for _, c := range calls(t, logFile) {
			if c[1] == "Charge" {
				cs = append(cs, c)
			}
		}
		return cs
	}
	waitUntil(t, "Charge in flight at the provider", func() bool { return len(charges()) == 1 })
	srv.kill9()
	_ = p1.Process.Signal(syscall.SIGKILL)
	_ = p1.Wait()

	srv = startServeProc(t, "-store", store, "-flows", flows)
	waitUntil(t, "the resumed Charge to wait, recorded, for a provider", func() bool {
		_, st := call(t, "GET", srv.url+"/runs/"+id, "")
		w, _ := st["wait"].(map[string]any)
		return st["machine"] == "Charge:waiting" && w["topic"] == "flowgen/provider" && w["event"] == "Charge"
	})
	_, h := call(t, "GET", srv.url+"/runs/"+id+"/history", "")
	events, _ := h["events"].([]any)
	back, _ := events[len(events)-1].(map[string]any)
	if back["from"] != "Charge:running" || back["outcome"] != nil || back["attempt"] != 1.0 || !strings.Contains(back["error"].(string), "no live provider") {
		t.Fatalf("the event taking Charge back to its wait: %v", back)
	}
	startProvider(t, "http", srv.url, "billing", logFile, envProviderPrompt+"=1")
	waitUntil(t, "the run to be done", func() bool {
		_, st := call(t, "GET", srv.url+"/runs/"+id, "")
		return st["state"] == "done"
	})
	cs := charges()
	if len(cs) != 2 || cs[0][0] == cs[1][0] || cs[0][2] != cs[1][2] || cs[0][3] != "1" || cs[1][3] != "1" {
		t.Fatalf("Charge calls %v: want attempt 1 by the killed provider and by its replica, under one idempotency key", cs)
	}
}
