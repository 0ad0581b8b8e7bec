// Package providernode_test runs provider.js, a remote provider written in
// JavaScript from docs/engine.md alone, against a real `flowgen serve`:
// both are processes on loopback, the provider registered with a token of
// the provider role, as a deployment runs them.
package providernode_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowgen/flowgen/internal/leasetest"
	"github.com/flowgen/flowgen/internal/tooltest"
)

// TestNodeProvider: a run completes through the node provider; a disputed
// run is compensated, its rollback's answered state the run's; a permanent
// error is not retried and a retryable one is; a call without the call
// token gets 401; SIGTERM withdraws the replica; a provider killed with its
// Reconcile in flight is replaced by another replica, which the engine
// calls under the same idempotency key; and after a restart of the engine,
// which forgets its leases, the provider registers again on its renewal's
// 404 and serves the next run.
func TestNodeProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("builds flowgen and runs node")
	}
	lookNode(t)
	dir := t.TempDir()
	tokens := map[string]string{"admin": secret(), "client": secret(), "provider": secret()}
	var tf strings.Builder
	for role, tok := range tokens {
		fmt.Fprintf(&tf, "%s %s\n", role, tok)
	}
	tokensFile := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokensFile, []byte(tf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildFlowgen(t)
	srv := startServe(t, bin, dir, tokensFile, "127.0.0.1:0")
	engine := srv.url
	api := func(method, path, role, body string) (int, map[string]any) {
		t.Helper()
		return call(t, method, engine+path, tokens[role], body)
	}
	billing, err := os.ReadFile(filepath.Join("..", "provider", "billing.json"))
	if err != nil {
		t.Fatal(err)
	}
	if code, out := api("PUT", "/flows", "admin", string(billing)); code != 200 {
		t.Fatalf("PUT /flows: %d %v", code, out)
	}
	callLog := filepath.Join(dir, "calls")
	start := func(input string) string {
		t.Helper()
		code, out := api("POST", "/rpc/Billing.Start", "client", input)
		if code != 201 {
			t.Fatalf("start %s: %d %v", input, code, out)
		}
		return out["run_id"].(string)
	}
	// finished waits for the run to end and returns its status.
	finished := func(id string) map[string]any {
		t.Helper()
		var st map[string]any
		waitFor(t, "run "+id+" to end", func() bool {
			_, st = api("GET", "/runs/"+id, "client", "")
			switch st["state"] {
			case "done", "failed", "compensated", "aborted", "compensation_failed":
				return true
			}
			return false
		})
		return st
	}

	p1 := startNode(t, engine, tokens["provider"], callLog, "r1")

	t.Run("completes", func(t *testing.T) {
		id := start(`{"Amount": 12.5}`)
		st := finished(id)
		var snap map[string]any
		_ = json.Unmarshal(mustJSON(st["snapshot"]), &snap)
		if st["state"] != "done" || snap["Reconciled"] != true {
			t.Errorf("run: state %v, snapshot %v; want done with Reconciled true", st["state"], snap)
		}
	})

	t.Run("disputed rolls back", func(t *testing.T) {
		// Reconciled is set from the start so that Unreconcile's answer,
		// the state without it, shows in the run: a rollback's answered
		// state is the run's too.
		id := start(`{"Amount": 5000, "Reconciled": true}`)
		st := finished(id)
		var snap map[string]any
		_ = json.Unmarshal(mustJSON(st["snapshot"]), &snap)
		if _, still := snap["Reconciled"]; st["state"] != "compensated" || still {
			t.Errorf("disputed run ended %v (%v) with state %v, want compensated, Reconciled deleted by Unreconcile", st["state"], st["error"], snap)
		}
		got := handlersOf(t, callLog, id)
		want := []string{"Billing.Reconcile " + id + "/Reconcile", "Billing.Unreconcile " + id + "/Reconcile/rollback"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("calls of the disputed run: %q, want %q", got, want)
		}
	})

	t.Run("permanent error is not retried", func(t *testing.T) {
		id := start(`{"Amount": "twelve"}`)
		st := finished(id)
		if st["state"] != "failed" || !strings.Contains(fmt.Sprint(st["error"]), "Amount is not a number") {
			t.Errorf("run: state %v, error %v; want failed with the provider's message", st["state"], st["error"])
		}
		if got := handlersOf(t, callLog, id); len(got) != 1 {
			t.Errorf("a permanent error was retried: %q", got)
		}
	})

	t.Run("retryable error is retried", func(t *testing.T) {
		id := start(`{"Amount": 12.5, "LedgerDown": 2}`)
		if st := finished(id); st["state"] != "done" {
			t.Errorf("run ended %v (%v), want done on the third attempt", st["state"], st["error"])
		}
		var attempts []string
		for _, c := range calls(t, callLog) {
			if c.key == id+"/Reconcile" {
				attempts = append(attempts, c.attempt)
			}
		}
		if strings.Join(attempts, ",") != "1,2,3" {
			t.Errorf("attempts of Reconcile: %v, want 1,2,3", attempts)
		}
	})

	t.Run("call token", func(t *testing.T) {
		before := len(calls(t, callLog))
		url := p1.url + "/call/Billing.Reconcile"
		body := `{"version": 1, "run_id": "x", "flow": "Billing", "step": "Reconcile", "handler": "Billing.Reconcile",
		  "idempotency_key": "x/Reconcile", "attempt": 1, "state": {"Amount": 1}}`
		for what, auth := range map[string]string{
			"no Authorization":          "",
			"the provider role's token": "Bearer " + tokens["provider"],
			"another token":             "Bearer " + secret(),
		} {
			req, _ := http.NewRequest("POST", url, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 401 {
				t.Errorf("a call with %s: %d, want 401", what, res.StatusCode)
			}
		}
		if after := len(calls(t, callLog)); after != before {
			t.Errorf("a refused call ran: %d calls logged, want %d", after, before)
		}
	})

	// SIGTERM: the replica withdraws, so no provider serves Reconcile.
	_ = p1.cmd.Process.Signal(syscall.SIGTERM)
	if err := p1.wait(); err != nil {
		t.Errorf("provider after SIGTERM: %v\n%s", err, p1.out(t))
	}
	if !strings.Contains(p1.out(t), "withdrew billing replica r1") {
		t.Errorf("provider did not withdraw:\n%s", p1.out(t))
	}
	if _, h := api("GET", "/flows/Billing/handlers", "client", ""); strings.Contains(string(mustJSON(h)), `"provided":true`) {
		t.Errorf("handlers still provided after the only replica withdrew: %s", mustJSON(h))
	}

	// kill -9 with Reconcile in flight: another replica takes over. This
	// and the restart below are not subtests: r3, which this part starts,
	// serves on after it.
	p2 := startNode(t, engine, tokens["provider"], callLog, "r2", "--hang")
	id := start(`{"Amount": 7}`)
	key := id + "/Reconcile"
	waitFor(t, "Reconcile in flight at r2", func() bool {
		for _, c := range calls(t, callLog) {
			if c.key == key && c.replica == "r2" {
				return true
			}
		}
		return false
	})
	// The second replica registers before the first dies: the engine's
	// next attempt has a live replica to go to at once. Its lease of 3s
	// is renewed every second, for the restart below.
	p3 := startNode(t, engine, tokens["provider"], callLog, "r3", "--ttl", "3s")
	_ = p2.cmd.Process.Signal(syscall.SIGKILL)
	_ = p2.wait()
	st := finished(id)
	var snap map[string]any
	_ = json.Unmarshal(mustJSON(st["snapshot"]), &snap)
	if st["state"] != "done" || snap["Reconciled"] != true {
		t.Errorf("after kill -9: run state %v (%v), snapshot %v; want done with Reconciled true", st["state"], st["error"], snap)
	}
	byReplica := map[string]int{}
	for _, c := range calls(t, callLog) {
		if strings.HasPrefix(c.key, id+"/") {
			if c.key != key {
				t.Errorf("after kill -9: call under key %q, want every call under %q", c.key, key)
			}
			byReplica[c.replica]++
		}
	}
	if byReplica["r2"] == 0 || byReplica["r3"] == 0 {
		t.Errorf("after kill -9: calls by replica %v, want the killed r2 and then r3", byReplica)
	}

	// The engine restarts: its leases are in memory only, so r3's next
	// renewal answers 404, r3 registers again, and a run started after
	// the restart is served.
	srv.stop(t)
	if again := startServe(t, bin, dir, tokensFile, strings.TrimPrefix(engine, "http://")); again.url != engine {
		t.Fatalf("serve restarted on %s, want %s", again.url, engine)
	}
	waitFor(t, "r3 to register again after the engine's restart", func() bool {
		return strings.Count(p3.out(t), "registered billing replica r3") == 2
	})
	id = start(`{"Amount": 3}`)
	if st := finished(id); st["state"] != "done" {
		t.Errorf("run after the engine's restart ended %v (%v), want done", st["state"], st["error"])
	}
}

// buildFlowgen builds the flowgen command into a temporary directory.
func buildFlowgen(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "flowgen")
	build := exec.Command("go", "build", "-o", bin, "./cmd/flowgen")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/flowgen: %v\n%s", err, out)
	}
	return bin
}

// serveProc is a running `flowgen serve`.
type serveProc struct {
	cmd *exec.Cmd
	url string
}

// stop ends serve as an operator does (SIGTERM) and waits for it.
func (p *serveProc) stop(t *testing.T) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("serve after SIGTERM: %v", err)
	}
}

// startServe runs `flowgen serve` on addr (loopback) with the tokens
// file, its store and flows in dir, and waits for it to listen.
func startServe(t *testing.T, bin, dir, tokensFile, addr string) *serveProc {
	t.Helper()
	// Its log goes to a file: the test reads the address it listens on
	// there, and shows the log when it fails.
	logFile, err := os.CreateTemp(dir, "serve-*.log")
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "serve", "-addr", addr, "-tokens", tokensFile,
		"-store", filepath.Join(dir, "store"), "-flows", filepath.Join(dir, "flows"))
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("serve's log:\n%s", readFile(t, logFile.Name()))
		}
	})
	p := &serveProc{cmd: cmd}
	waitFor(t, "serve to listen", func() bool {
		for _, l := range strings.Split(readFile(t, logFile.Name()), "\n") {
			if strings.Contains(l, `msg="flowgen serve"`) {
				for _, f := range strings.Fields(l) {
					if a, ok := strings.CutPrefix(f, "addr="); ok {
						p.url = "http://" + a
					}
				}
			}
		}
		return p.url != ""
	})
	return p
}

// nodeProc is a running provider.js.
type nodeProc struct {
	cmd     *exec.Cmd
	url     string // where it listens
	outFile string // its stdout and stderr
	exited  chan error
}

func (p *nodeProc) wait() error { return <-p.exited }

func (p *nodeProc) out(t *testing.T) string { return readFile(t, p.outFile) }

// startNode runs provider.js as replica of the provider "billing" and
// waits until it has registered.
func startNode(t *testing.T, engine, token, callLog, replica string, args ...string) *nodeProc {
	t.Helper()
	cmd := exec.Command("node", append([]string{"provider.js", "--engine", engine, "--replica", replica, "--call-log", callLog}, args...)...)
	cmd.Env = append(os.Environ(), "FLOWGEN_PROVIDER_TOKEN="+token)
	p := &nodeProc{cmd: cmd, outFile: filepath.Join(filepath.Dir(callLog), replica+".out"), exited: make(chan error, 1)}
	out, err := os.Create(p.outFile)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("provider %s's output:\n%s", replica, p.out(t))
		}
	})
	waitFor(t, "provider "+replica+" to register", func() bool {
		return strings.Contains(p.out(t), "registered billing replica "+replica)
	})
	for _, l := range strings.Split(p.out(t), "\n") {
		if u, ok := strings.CutPrefix(l, "provider-node: listening on "); ok {
			p.url = u
		}
	}
	return p
}

// A logged call: provider.js's --call-log line "pid replica handler key attempt".
type loggedCall struct{ pid, replica, handler, key, attempt string }

func calls(t *testing.T, callLog string) []loggedCall {
	t.Helper()
	var out []loggedCall
	for _, l := range strings.Split(readFile(t, callLog), "\n") {
		if f := strings.Fields(l); len(f) == 5 {
			out = append(out, loggedCall{f[0], f[1], f[2], f[3], f[4]})
		}
	}
	return out
}

// handlersOf lists "handler key" of each call for run id, in order.
func handlersOf(t *testing.T, callLog, id string) []string {
	var out []string
	for _, c := range calls(t, callLog) {
		if strings.HasPrefix(c.key, id+"/") {
			out = append(out, c.handler+" "+c.key)
		}
	}
	return out
}

func call(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return res.StatusCode, out
}

// waitFor polls cond with a generous deadline: a condition, not a time,
// is what the test asserts.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func secret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// readFile reads a file a process writes; one not there yet is empty.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// A token that no header can carry (two provider tokens of a token file on
// two lines, as awk reads the file) is refused at start, saying why:
// before, every registration failed on it, retried forever.
func TestNodeProviderTokenNotPrintable(t *testing.T) {
	lookNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // bounds a hang, not a timed assertion
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "provider.js", "--engine", "http://127.0.0.1:1")
	cmd.Env = append(os.Environ(), "FLOWGEN_PROVIDER_TOKEN="+secret()+"\n"+secret())
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "not printable ASCII (a line break: two provider tokens in the file?)") {
		t.Fatalf("%v, want exit 1 saying why the token is refused:\n%s", err, out)
	}
}

// A registration or renewal answered 408 (a load balancer's timeout in
// front of the engine) is for now, as docs/engine.md says of
// engine/provider's leases: the provider asks again, as it does after a
// 429 or a 5xx. Before, it took a 408 for a final refusal and exited.
func TestNodeProviderRetriesAfter408(t *testing.T) {
	eng := leasetest.RefusingFirst(t, http.StatusRequestTimeout)
	eng.CheckRenewsAfterRefusal(t, leaseProvider(t, eng))
}

// A SIGTERM while the provider still asks to register (an engine that
// answers 503 for now) stops it with status 0, as at any other time: it
// exited 1, taking its own stop for a failed registration.
func TestNodeProviderStopsWhileRegistering(t *testing.T) {
	eng := leasetest.RefusingRegistrations(t, http.StatusServiceUnavailable)
	eng.CheckStopsWhileRegistering(t, leaseProvider(t, eng))
}

// A SIGTERM while the provider waits to ask to register again (its
// registration was refused for now) withdraws it and asks no more: it
// asked once more after its withdrawal when its wait ended before it
// exited, and was granted a lease that led the engine's calls to a
// replica that was gone.
func TestNodeProviderRegistersNoMoreOnceStopping(t *testing.T) {
	eng := leasetest.RefusingRegistrationsAtOnce(t, http.StatusServiceUnavailable)
	eng.CheckNoRegistrationAfterWithdrawal(t, leaseProvider(t, eng), "not registered yet")
}

// leaseProvider is the provider's command against the stand-in eng, with
// a TTL short enough to renew soon; it skips t without node.
func leaseProvider(t *testing.T, eng *leasetest.Engine) *exec.Cmd {
	t.Helper()
	lookNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // bounds a hang, not a timed assertion
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, "node", "provider.js", "--engine", eng.URL, "--ttl", "1s")
	cmd.Env = append(os.Environ(), "FLOWGEN_PROVIDER_TOKEN="+secret())
	return cmd
}

// lookNode skips t without node on PATH, or fails it with
// FLOWGEN_REQUIRE_NODE set, as .ci/run sets it.
func lookNode(t *testing.T) {
	t.Helper()
	tooltest.Look(t, "FLOWGEN_REQUIRE_NODE", "Debian: apt-get install nodejs", "node")
}
