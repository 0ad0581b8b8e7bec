package cli

// Remote providers with real processes on loopback: `flowgen serve` runs a
// JSON flow whose Go steps and Go rollbacks are served by a separate
// provider process (this test binary re-executed as a provider built on
// engine/provider, providerMain), over HTTP and over NATS.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/engine/provider/natsprovider"
	"github.com/flowgen/flowgen/internal/natstest"
)

const (
	envProviderMain = "FLOWGEN_TEST_PROVIDER"      // set: the test binary is a provider
	envProviderOnly = "FLOWGEN_TEST_PROVIDER_ONLY" // steps, rollbacks, or all
	// envProviderPrompt set: Charge answers at once, Slow or not
	// (serve_provider_restart_test.go: the replica that serves the attempt
	// in flight at the kill, which is attempt 1 again).
	envProviderPrompt = "FLOWGEN_TEST_PROVIDER_PROMPT"
)

// providerMain serves the Bill flow's handlers: FLOWGEN_TEST_PROVIDER is
// "http" or a NATS URL; args are the engine's URL, the provider's name and
// a file where each call appends "pid handler key attempt unixnano".
func providerMain(args []string) int {
	engineURL, name, logFile := args[0], args[1], args[2]
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	note := func(c *provider.Call) {
		f, err := os.OpenFile(logFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintf(f, "%d %s %s %d %d\n", os.Getpid(), c.Handler, c.IdempotencyKey, c.Attempt, time.Now().UnixNano())
			f.Close()
		}
	}
	p := provider.New(provider.Options{Name: name, Engine: engineURL, TTL: 3 * time.Second})
	// FLOWGEN_TEST_PROVIDER_ONLY=steps or rollbacks serves only those
	// (serve_provider_rollback_test.go).
	only := os.Getenv(envProviderOnly)
	if only != "rollbacks" {
		p.Step("Bill.Reserve", func(ctx context.Context, c *provider.Call) (string, error) {
			note(c)
			return "", c.Set("Reserved", true)
		})
		p.Step("Charge", func(ctx context.Context, c *provider.Call) (string, error) {
			note(c)
			var slow bool
			_ = c.Get("Slow", &slow)
			if slow && c.Attempt == 1 && os.Getenv(envProviderPrompt) == "" { // in flight when the test kills this process
				select {
				case <-time.After(time.Minute):
				case <-ctx.Done():
					return "", ctx.Err()
				}
			}
			return "", c.Set("Charged", true)
		})
		p.Step("Check", func(ctx context.Context, c *provider.Call) (string, error) {
			note(c)
			var decline bool
			_ = c.Get("Decline", &decline)
			if decline {
				return "declined", nil
			}
			return "", nil
		}, "declined")
	}
	if only != "steps" {
		p.Rollback("Release", func(ctx context.Context, c *provider.Call) error { note(c); return nil })
		p.Rollback("Refund", func(ctx context.Context, c *provider.Call) error { note(c); return nil })
	}
	var err error
	if mode := os.Getenv(envProviderMain); mode == "http" {
		err = p.ListenAndServe(ctx, "127.0.0.1:0", "")
	} else {
		nc, cerr := nats.Connect(mode)
		if cerr != nil {
			fmt.Fprintln(os.Stderr, cerr)
			return 1
		}
		defer nc.Close()
		err = natsprovider.Serve(ctx, p, name, nc)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

const billFlow = `{"version": 1, "flows": [{
  "name": "Bill", "state": "BillState",
  "triggers": [{"kind": "rpc", "endpoint": "Bill.Start"}],
  "retry": {"attempts": 30, "initial": "50ms", "max": "300ms"},
  "timeout": "3s",
  "steps": [
    {"name": "Reserve", "action": {"kind": "go"}, "rollback": {"name": "Release"}},
    {"name": "Charge", "action": {"kind": "go"}, "rollback": {"name": "Refund"}},
    {"name": "Check", "action": {"kind": "go"}, "outcomes": ["declined"], "irreversible": true,
     "on": [{"on": "declined", "target": "fail"}]}
  ]}]}`

// startProvider runs the provider process (env: more of its environment).
func startProvider(t *testing.T, mode, engineURL, name, logFile string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], engineURL, name, logFile)
	cmd.Env = append(append(os.Environ(), envProviderMain+"="+mode), env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// calls reads the provider log: the lines of handler, in order.
func calls(t *testing.T, logFile string) [][]string {
	b, err := os.ReadFile(logFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out [][]string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "" {
			out = append(out, strings.Fields(l))
		}
	}
	return out
}

func TestServeRemoteProviderHTTP(t *testing.T) { testRemoteProvider(t, "http", nil) }

func TestServeRemoteProviderNATS(t *testing.T) {
	url := natstest.JetStreamURL(t)
	testRemoteProvider(t, url, []string{"-nats", url})
}

// testRemoteProvider: a run started before any provider waits in a
// recorded state; the provider starts and the run goes on; the provider
// is killed with its Charge in flight, another replica starts, and the run
// completes with Charge called again under the same idempotency key (over
// NATS the request in flight is lost with the provider: the attempt's
// timeout, 3s, ends it, and the retry reaches the replica). A
// declined run rolls back through the provider in reverse order.
func testRemoteProvider(t *testing.T, mode string, serveArgs []string) {
	dir := t.TempDir()
	flows := filepath.Join(dir, "flows")
	if err := os.MkdirAll(flows, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(flows, "Bill.json"), []byte(billFlow), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServeProc(t, append([]string{"-store", filepath.Join(dir, "store"), "-flows", flows}, serveArgs...)...)
	if !strings.Contains(srv.logs.String(), `no provider serves Go step \"Charge\" of flow \"Bill\" yet`) {
		t.Errorf("serve did not warn that no provider serves the Go steps yet:\n%s", srv.logs.String())
	}
	logFile := filepath.Join(dir, "calls")

	code, out := call(t, "POST", srv.url+"/rpc/Bill.Start", `{"Slow": true}`)
	if code != 201 {
		t.Fatalf("start: %d %v", code, out)
	}
	runID := out["run_id"].(string)
	status := func(id string) map[string]any {
		_, st := call(t, "GET", srv.url+"/runs/"+id, "")
		return st
	}
	waitUntil(t, "the run to wait for a provider", func() bool {
		w, _ := status(runID)["wait"].(map[string]any)
		return w != nil && w["topic"] == "flowgen/provider" && w["event"] == "Reserve"
	})

	p1 := startProvider(t, mode, srv.url, "billing", logFile)
	waitUntil(t, "Charge in flight at the first provider", func() bool {
		for _, c := range calls(t, logFile) {
			if c[1] == "Charge" {
				return true
			}
		}
		return false
	})
	_, hs := call(t, "GET", srv.url+"/flows/Bill/handlers", "")
	if b, _ := json.Marshal(hs); !strings.Contains(string(b), `"provider":"billing"`) || strings.Contains(string(b), `"provided":false`) {
		t.Errorf("GET /flows/Bill/handlers: %s", b)
	}
	_ = p1.Process.Signal(syscall.SIGKILL)
	_ = p1.Wait()
	startProvider(t, mode, srv.url, "billing", logFile)
	waitUntil(t, "the run to complete", func() bool { return status(runID)["state"] == "done" })

	var charges [][]string
	for _, c := range calls(t, logFile) {
		if c[1] == "Charge" {
			charges = append(charges, c)
		}
	}
	if len(charges) < 2 || charges[0][0] == charges[len(charges)-1][0] || charges[0][2] != charges[len(charges)-1][2] {
		_, h := call(t, "GET", srv.url+"/runs/"+runID+"/history", "")
		t.Fatalf("Charge calls %v: want a call by the killed provider and one by its replica, with one idempotency key; history %v", charges, h)
	}

	// A declined run rolls back Charge, then Reserve, through the provider.
	if err := os.WriteFile(logFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = call(t, "POST", srv.url+"/rpc/Bill.Start", `{"Decline": true}`)
	if code != 201 {
		t.Fatalf("start: %d %v", code, out)
	}
	declined := out["run_id"].(string)
	waitUntil(t, "the declined run to be compensated", func() bool { return status(declined)["state"] == "compensated" })
	var order []string
	for _, c := range calls(t, logFile) {
		order = append(order, c[1])
	}
	if got := strings.Join(order, " "); got != "Bill.Reserve Charge Check Refund Release" {
		t.Fatalf("calls %q, want the steps then the rollbacks in reverse order", got)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
