package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/server/temporaltest"

	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// These tests run flowgen-temporal serve as real processes against a real
// Temporal server (in the test's process) and kill them with SIGKILL.

// pipelineJSON is three rpc steps; the middle one is slow, so that a kill
// finds runs inside it.
const pipelineJSON = `{"version": 1, "flows": [{"name": "Pipeline", "state": "P", "triggers": [{"kind": "rpc", "endpoint": "Pipeline.Start"}],
  "retry": {"attempts": 5, "initial": "100ms", "max": "200ms"},
  "steps": [
    {"name": "First", "action": {"kind": "rpc", "service": "svc", "endpoint": "Step.First", "request": "In", "response": "A"}},
    {"name": "Slow", "action": {"kind": "rpc", "service": "svc", "endpoint": "Step.Slow", "request": "A", "response": "B"}, "timeout": "3s"},
    {"name": "Third", "action": {"kind": "rpc", "service": "svc", "endpoint": "Step.Third", "request": "B", "response": "C"}}
  ]}]}`

// recorder is the service: it records each call as "<process> <endpoint>
// <Idempotency-Key>"; Step.Slow answers after slow (or when the caller
// goes away).
type recorder struct {
	slow  time.Duration
	mu    sync.Mutex
	calls []call1
}

type call1 struct{ proc, endpoint, key string }

// record reads req, a call "/<process>/<endpoint>", adds it to the calls
// and returns its endpoint.
func (r *recorder) record(req *http.Request) string {
	proc, endpoint, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
	_, _ = io.Copy(io.Discard, req.Body)
	r.mu.Lock()
	r.calls = append(r.calls, call1{proc, endpoint, req.Header.Get("Idempotency-Key")})
	r.mu.Unlock()
	return endpoint
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	endpoint := r.record(req)
	r.mu.Lock()
	slow := r.slow
	r.mu.Unlock()
	if endpoint == "Step.Slow" {
		select {
		case <-time.After(slow):
		case <-req.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `"`+endpoint+`"`)
}

func (r *recorder) count(match func(call1) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if match(c) {
			n++
		}
	}
	return n
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// TestMain removes the directory of the binaries the tests built (binary,
// and the README test's flowgen beside it) when they are done.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// binary builds flowgen-temporal once per test process.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "flowgen-temporal-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "flowgen-temporal")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a flowgen-temporal serve process.
type proc struct {
	cmd  *exec.Cmd
	url  string
	logs *logtest.Buffer
}

func startProc(t *testing.T, ts *temporaltest.TestServer, queue, flows, name, service string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), "serve", "-temporal", ts.GetFrontendHostPort(), "-namespace", ts.GetDefaultNamespace(),
		"-task-queue", queue, "-flows", flows, "-addr", "127.0.0.1:0", "-service", "svc="+service+"/"+name)
	url, logs := startListening(t, cmd, name)
	return &proc{cmd: cmd, url: url, logs: logs}
}

// startListening starts cmd, a flowgen-temporal serve, and returns its URL once it
// listens, and its log; the test's end kills it, and shows the log if the
// test failed.
func startListening(t *testing.T, cmd *exec.Cmd, name string) (string, *logtest.Buffer) {
	t.Helper()
	logs := &logtest.Buffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s:\n%s", name, logs.String())
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				ready <- a
			}
		}
	}()
	select {
	case a := <-ready:
		return "http://" + a, logs
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not start:\n%s", name, logs.String())
		return "", nil
	}
}

func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

func pipelineDir(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pipeline.json"), []byte(pipelineJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Crash: the only worker is killed with SIGKILL while its runs are inside
// a step; another worker, started after, finishes every run, and no step
// that had completed is called again (only the step in flight is).
func TestKillWorkerMidFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server and builds the command")
	}
	ts := testserver.New(t)
	svc := &recorder{slow: 20 * time.Second}
	hs := httptest.NewServer(svc)
	defer hs.Close()
	flows := pipelineDir(t)
	a := startProc(t, ts, "kill", flows, "a", hs.URL)
	const runs = 5
	for i := range runs {
		if code, out := call(t, "POST", fmt.Sprintf("%s/flows/Pipeline/runs?run_id=k%d", a.url, i), `{"In":"x"}`); code != 201 {
			t.Fatalf("start: %d %v", code, out)
		}
	}
	// Every run, not every call: on a loaded machine an attempt of Slow
	// can time out and be retried, and counting calls would then kill
	// the worker before the last run has finished First.
	waitUntil(t, "every run inside Slow", 30*time.Second, func() bool {
		inside := 0
		for i := range runs {
			key := fmt.Sprintf("k%d/", i)
			if svc.count(func(c call1) bool { return c.endpoint == "Step.Slow" && strings.HasPrefix(c.key, key) }) > 0 {
				inside++
			}
		}
		return inside == runs
	})
	a.kill(t)
	svc.mu.Lock()
	svc.slow = 100 * time.Millisecond
	svc.mu.Unlock()
	b := startProc(t, ts, "kill", flows, "b", hs.URL)
	for i := range runs {
		waitState(t, b.url, fmt.Sprintf("k%d", i), "done")
	}
	for i := range runs {
		key := fmt.Sprintf("k%d/", i)
		for _, ep := range []string{"Step.First", "Step.Third"} {
			if n := svc.count(func(c call1) bool { return c.endpoint == ep && strings.HasPrefix(c.key, key) }); n != 1 {
				t.Errorf("run k%d: %s called %d times, want once", i, ep, n)
			}
		}
		if n := svc.count(func(c call1) bool { return c.endpoint == "Step.Slow" && c.proc == "b" && strings.HasPrefix(c.key, key) }); n != 1 {
			t.Errorf("run k%d: Step.Slow called %d times by the second worker, want once", i, n)
		}
	}
	if n := svc.count(func(c call1) bool { return c.proc == "b" && c.endpoint == "Step.First" }); n != 0 {
		t.Errorf("the second worker called a completed step %d times", n)
	}
}

// Two workers: two serve processes share the runs started through either;
// one is killed with SIGKILL mid-load, and every run still ends done.
func TestTwoWorkersKillOne(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server and builds the command")
	}
	ts := testserver.New(t)
	svc := &recorder{slow: 300 * time.Millisecond}
	hs := httptest.NewServer(svc)
	defer hs.Close()
	flows := pipelineDir(t)
	a := startProc(t, ts, "two", flows, "a", hs.URL)
	b := startProc(t, ts, "two", flows, "b", hs.URL)
	const runs = 20
	for i := range runs {
		p := a
		if i%2 == 1 {
			p = b
		}
		if code, out := call(t, "POST", fmt.Sprintf("%s/flows/Pipeline/runs?run_id=t%d", p.url, i), `{"In":"x"}`); code != 201 {
			t.Fatalf("start: %d %v", code, out)
		}
	}
	waitUntil(t, "both workers calling", 30*time.Second, func() bool {
		return svc.count(func(c call1) bool { return c.proc == "a" }) > 0 && svc.count(func(c call1) bool { return c.proc == "b" }) > 0
	})
	b.kill(t)
	for i := range runs {
		waitState(t, a.url, fmt.Sprintf("t%d", i), "done")
	}
	for i := range runs {
		key := fmt.Sprintf("t%d/", i)
		if n := svc.count(func(c call1) bool { return c.endpoint == "Step.Third" && strings.HasPrefix(c.key, key) }); n < 1 {
			t.Errorf("run t%d never reached Third", i)
		}
	}
}
