package cli

// examples/provider-python, a remote provider written in Python from
// docs/engine.md alone, against a real `flowgen serve` with tokens: it
// registers with a provider token, renews its lease, serves the Parcel
// flow's Go steps and Go rollback, and the calls it logs show the
// idempotency keys, the attempts and the order the protocol promises.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowgen/flowgen/internal/leasetest"
	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/internal/tooltest"
)

const (
	pyProviderDir   = "../../examples/provider-python"
	pyProviderToken = "provider-token-0123456789"
)

// pyCall is one line of the Python provider's -log.
type pyCall struct {
	Handler  string `json:"handler"`
	Rollback bool   `json:"rollback"`
	Step     string `json:"step"`
	Key      string `json:"key"`
	Attempt  int    `json:"attempt"`
	Result   string `json:"result"`
}

func (c pyCall) String() string {
	return fmt.Sprintf("%s %s #%d %s", c.Handler, c.Key, c.Attempt, c.Result)
}

func TestServePythonProvider(t *testing.T) {
	python := lookPython(t)
	dir := t.TempDir()
	flows := filepath.Join(dir, "flows")
	if err := os.MkdirAll(flows, 0o755); err != nil {
		t.Fatal(err)
	}
	flow, err := os.ReadFile(filepath.Join(pyProviderDir, "parcel.json"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(flows, "Parcel.json"), string(flow))
	tokens := writeFile(t, filepath.Join(dir, "tokens"),
		"admin "+serveAdmin+"\nclient "+serveClient+"\nprovider "+pyProviderToken+"\n")
	srv := startServeProc(t, "-store", filepath.Join(dir, "store"), "-flows", flows, "-tokens", tokens)

	as := func(token, method, url, body string) (int, map[string]any) {
		t.Helper()
		code, _, b := request(t, http.DefaultClient, method, url, token, "application/json", body)
		var out map[string]any
		_ = json.Unmarshal([]byte(b), &out)
		return code, out
	}

	// The provider: TTL 1s, the shortest lease, so that it lives through
	// the test only by its renewals.
	logFile := filepath.Join(dir, "calls")
	cmd := exec.Command(python, "-B", filepath.Join(pyProviderDir, "provider.py"), // -B: no bytecode written into the tree
		"-engine", srv.url, "-name", "parcel", "-replica", "py-1", "-ttl", "1", "-log", logFile)
	cmd.Env = append(os.Environ(), "FLOWGEN_PROVIDER_TOKEN="+pyProviderToken)
	stderr := &logtest.Buffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var exited sync.WaitGroup
	exited.Add(1)
	var exitErr error
	go func() { defer exited.Done(); exitErr = cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		exited.Wait()
		if t.Failed() {
			t.Logf("the provider's stderr:\n%s", stderr.String())
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if !ok {
		t.Fatalf("the provider did not say where it listens: %q %v\n%s", line, err, stderr.String())
	}

	// A call that does not bear the registration's call token is refused
	// before its body is read, and before its handler is looked up: a
	// caller without the token cannot tell which handlers there are.
	for _, token := range []string{"", serveAdmin} {
		for _, path := range []string{"/step/Charge", "/step/NoSuchHandler"} {
			if code, _, _ := request(t, http.DefaultClient, "POST", base+path, token, "application/json", `{}`); code != 401 {
				t.Errorf("a call of %s with token %q: %d, want 401", path, token, code)
			}
		}
	}

	// Four runs at once: each of the provider's answers.
	starts := map[string]string{
		"done":     `{"Card": "flaky", "LoseReply": true}`, // Reserve's reply lost, then replayed; Charge retried
		"declined": `{"Card": "declined"}`,                 // a named outcome routed to fail: Release runs
		"stolen":   `{"Card": "stolen"}`,                   // a permanent error: no retry, Release runs
		"slow":     `{"Card": "slow"}`,                     // the first attempt outlives its deadline
	}
	ids := map[string]string{}
	for name, body := range starts {
		code, out := as(serveClient, "POST", srv.url+"/rpc/Parcel.Start", body)
		if code != 201 {
			t.Fatalf("start %s: %d %v", name, code, out)
		}
		ids[name] = out["run_id"].(string)
	}
	want := map[string]string{"done": "done", "declined": "compensated", "stolen": "compensated", "slow": "done"}
	snapshots := map[string]map[string]any{}
	for name, id := range ids {
		waitUntil(t, "run "+name+" to end "+want[name], func() bool {
			_, st := as(serveClient, "GET", srv.url+"/runs/"+id, "")
			if s, _ := st["state"].(string); s == want[name] {
				snapshots[name], _ = st["snapshot"].(map[string]any)
				return true
			}
			return false
		})
	}

	// The calls, run by run, in the order the provider logged them.
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	byRun := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var c pyCall
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		run, _, _ := strings.Cut(c.Key, "/")
		byRun[run] = append(byRun[run], c.String())
	}
	wantCalls := map[string][]string{
		// The engine retries a 503 under the same key; the provider
		// answers the work it did, not a second reservation. Charge's
		// retryable error is retried.
		"done": {"Parcel.Reserve {id}/Reserve #1 reply-lost", "Parcel.Reserve {id}/Reserve #2 replay",
			"Charge {id}/Charge #1 retryable", "Charge {id}/Charge #2 ok"},
		// The named outcome completes Charge (irreversible); Reserve is
		// undone under its rollback key.
		"declined": {"Parcel.Reserve {id}/Reserve #1 ok", "Charge {id}/Charge #1 outcome declined",
			"Release {id}/Reserve/rollback #1 ok"},
		"stolen": {"Parcel.Reserve {id}/Reserve #1 ok", "Charge {id}/Charge #1 permanent",
			"Release {id}/Reserve/rollback #1 ok"},
		"slow": {"Parcel.Reserve {id}/Reserve #1 ok", "Charge {id}/Charge #1 deadline", "Charge {id}/Charge #2 ok"},
	}
	for name, id := range ids {
		w := strings.ReplaceAll(strings.Join(wantCalls[name], "\n"), "{id}", id)
		if got := strings.Join(byRun[id], "\n"); got != w {
			t.Errorf("run %s: the provider's calls\n%s\nwant\n%s", name, got, w)
		}
	}
	// The replayed answer carried the state of the work done: the run has
	// its reservation. The rollbacks' answers set the state too.
	if r, _ := snapshots["done"]["Reservation"].(string); r == "" || snapshots["done"]["Charged"] != true {
		t.Errorf("done run's state %v: want its reservation and the charge", snapshots["done"])
	}
	for _, name := range []string{"declined", "stolen"} {
		if snapshots[name]["Released"] != true {
			t.Errorf("%s run's state %v: want Released from the rollback's answer", name, snapshots[name])
		}
	}

	// The lease lives on its renewals: its expiry moves on.
	expires := func() string {
		_, out := as(serveAdmin, "GET", srv.url+"/providers", "")
		ps, _ := out["providers"].([]any)
		for _, p := range ps {
			if p, _ := p.(map[string]any); p["provider"] == "parcel" {
				return fmt.Sprint(p["expires"])
			}
		}
		return ""
	}
	first := expires()
	if first == "" {
		t.Fatal("no live lease of parcel")
	}
	waitUntil(t, "a renewal of the lease", func() bool { e := expires(); return e != "" && e != first })

	// SIGTERM: the provider withdraws its replica and exits 0.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { exited.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the provider did not exit on SIGTERM")
	}
	if exitErr != nil {
		t.Errorf("the provider exited: %v", exitErr)
	}
	if e := expires(); e != "" {
		t.Errorf("the lease is still live after the provider withdrew (expires %s)", e)
	}
}

// A token that no header can carry (two provider tokens of a token file on
// two lines, as awk reads the file) is a usage error at start, saying why:
// before, the lease thread died on it with a traceback and the process
// served on with no lease, until killed.
func TestPythonProviderTokenNotPrintable(t *testing.T) {
	python := lookPython(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // bounds a hang, not a timed assertion
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-B", filepath.Join(pyProviderDir, "provider.py"), "-engine", "http://127.0.0.1:1", "-linger", "0")
	cmd.Env = append(os.Environ(), "FLOWGEN_PROVIDER_TOKEN="+pyProviderToken+"\n"+pyProviderToken+"-2")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || strings.Contains(string(out), "Traceback") ||
		!strings.Contains(string(out), "not printable ASCII (a line break: two provider tokens in the file?)") {
		t.Fatalf("%v, want exit 2 saying why the token is refused:\n%s", err, out)
	}
}

// lookPython returns the path of python3, or skips the test without one
// (fails it with FLOWGEN_REQUIRE_PYTHON set, as .ci/run sets it).
func lookPython(t *testing.T) string {
	t.Helper()
	return tooltest.Look(t, "FLOWGEN_REQUIRE_PYTHON", "Debian: apt-get install python3", "python3")
}

// A registration or renewal answered 408 (a load balancer's timeout in
// front of the engine) is for now, as docs/engine.md says of
// engine/provider's leases: the provider asks again, as it does after a
// 429 or a 5xx. Before, it took a 408 for a final refusal and stopped.
func TestPythonProviderRetriesAfter408(t *testing.T) {
	eng := leasetest.RefusingFirst(t, http.StatusRequestTimeout)
	eng.CheckRenewsAfterRefusal(t, pyLeaseProvider(t, eng))
}

// A SIGTERM while the provider still asks to register (an engine that
// answers 503 for now) stops it with status 0, as the Node example's
// test asks of it too.
func TestPythonProviderStopsWhileRegistering(t *testing.T) {
	eng := leasetest.RefusingRegistrations(t, http.StatusServiceUnavailable)
	eng.CheckStopsWhileRegistering(t, pyLeaseProvider(t, eng))
}

// pyLeaseProvider is the provider's command against the stand-in eng,
// with a TTL short enough to renew soon; it skips t without python3.
func pyLeaseProvider(t *testing.T, eng *leasetest.Engine) *exec.Cmd {
	t.Helper()
	python := lookPython(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // bounds a hang, not a timed assertion
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, python, "-B", filepath.Join(pyProviderDir, "provider.py"), "-engine", eng.URL, "-ttl", "1", "-linger", "0")
	cmd.Env = append(os.Environ(), "FLOWGEN_PROVIDER_TOKEN="+pyProviderToken)
	return cmd
}

// A connection that sends nothing (anyone who reaches the provider's port
// can open one) neither keeps the provider from stopping nor holds its
// thread for ever: at SIGTERM it withdraws and exits, waiting only for
// the calls in flight. Before, server_close joined every connection's
// thread, and one blocked reading a request line that never came kept
// the process up until its client closed it.
func TestPythonProviderStopsWithASilentConnection(t *testing.T) {
	python := lookPython(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // bounds a hang, not a timed assertion
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-B", filepath.Join(pyProviderDir, "provider.py"), "-engine", "http://127.0.0.1:1", "-linger", "0")
	cmd.Env = append(os.Environ(), "FLOWGEN_PROVIDER_TOKEN="+pyProviderToken)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "listening http://")
	if !ok {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("the provider did not say where it listens: %q\n%s", line, stderr.String())
	}
	conn, err := net.Dial("tcp", base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The provider has taken the connection once it answers another
	// caller: its server accepts in order.
	if code, _, _ := request(t, http.DefaultClient, "POST", "http://"+base+"/step/Charge", "", "application/json", `{}`); code != 401 {
		t.Fatalf("a call without the call token: %d, want 401", code)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil || ctx.Err() != nil {
		t.Fatalf("after SIGTERM, with a connection open that sent nothing: %v (%v), want exit 0:\n%s", err, ctx.Err(), stderr.String())
	}
}

// The provider holds at most -max-conns connections at once (a thread
// each): at the bound it says so and accepts no more until one closes,
// then serves the connection that waited. Before, it started a thread for
// every connection anyone opened.
func TestPythonProviderBoundsConnections(t *testing.T) {
	python := lookPython(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // bounds a hang, not a timed assertion
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-B", filepath.Join(pyProviderDir, "provider.py"), "-engine", "http://127.0.0.1:1", "-linger", "0", "-max-conns", "2")
	cmd.Env = append(os.Environ(), "FLOWGEN_PROVIDER_TOKEN="+pyProviderToken)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	full := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "2 connections open, the bound (-max-conns): new ones wait until one closes") {
				close(full)
				break
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "listening http://")
	if !ok {
		t.Fatalf("the provider did not say where it listens: %q", line)
	}
	var silent []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", base)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	answered := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+base+"/step/Charge", "application/json", strings.NewReader(`{}`))
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	select {
	case <-full:
	case code := <-answered:
		t.Fatalf("a third connection was answered (%d) while two were held, with -max-conns 2", code)
	case <-ctx.Done():
		t.Fatal("the provider did not say it is at its bound")
	}
	select {
	case code := <-answered:
		t.Fatalf("a third connection was answered (%d) while two were held, with -max-conns 2", code)
	default:
	}
	// The third waits in the listen backlog, not accepted: the provider
	// holds two. It accepted it, then waited for a slot to serve it.
	if n, ok := acceptedOn(t, base); ok && n != 2 {
		t.Errorf("the provider holds %d connections at its bound, with -max-conns 2", n)
	}
	_ = silent[0].Close()
	if code := <-answered; code != 401 {
		t.Fatalf("the call that waited for a connection: %d, want 401 (no call token)", code)
	}
}

// acceptedOn counts the TCP connections to the listener at addr (host:port)
// that a process accepted, as Linux's /proc/net/tcp lists them: those
// established there with an inode, a socket a process holds (one still in
// the listen backlog has none). ok is false where there is no
// /proc/net/tcp.
func acceptedOn(t *testing.T, addr string) (n int, ok bool) {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return 0, false
	}
	_, port, _ := net.SplitHostPort(addr)
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	local := fmt.Sprintf(":%04X", p)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		f := strings.Fields(line)
		if len(f) > 9 && strings.HasSuffix(f[1], local) && f[3] == "01" && f[9] != "0" {
			n++
		}
	}
	return n, true
}
