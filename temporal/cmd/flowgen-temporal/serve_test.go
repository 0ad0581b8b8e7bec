package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// services is a fake of the services the example flow calls: it records
// each call (endpoint and body) and answers Customer.Create with an ID.
type services struct {
	mu    sync.Mutex
	calls []string
}

func (s *services) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ep := strings.TrimPrefix(r.URL.Path, "/")
	s.mu.Lock()
	s.calls = append(s.calls, ep+" "+string(bytes.TrimSpace(body)))
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if ep == "Customer.Create" {
		_, _ = io.WriteString(w, `"cus_`+strings.Trim(string(body), `"`)+`"`)
		return
	}
	_, _ = io.WriteString(w, "null")
}

func (s *services) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// server is one flowgen-temporal serve, in the process.
type server struct {
	url  string
	stop func()
	logs *logtest.Buffer
}

func startServe(t *testing.T, cfg config) *server {
	t.Helper()
	if cfg.flows == "" {
		// run refuses serve without -flows (TestServeRequiresFlows).
		t.Fatal("startServe without a flows directory: give the test one")
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &logtest.Buffer{}
	cfg.stderr = logs
	if cfg.net.Addr == "" {
		cfg.net.Addr = "127.0.0.1:0"
	}
	if cfg.maxBody == 0 {
		cfg.maxBody = 1 << 20
	}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, func(a string) { ready <- a }) }()
	select {
	case a := <-ready:
		scheme := "http://"
		if cfg.net.TLSCert != "" {
			scheme = "https://"
		}
		s := &server{url: scheme + a, logs: logs}
		var once sync.Once
		s.stop = func() {
			once.Do(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serve: %v", err)
				}
			})
		}
		t.Cleanup(s.stop)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("serve %s:\n%s", s.url, logs.String())
			}
		})
		return s
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v\n%s", err, logs.String())
	}
	return nil
}

func call(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

// waitState polls GET /runs/{id} until the run reads state.
func waitState(t *testing.T, base, id, state string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var st map[string]any
	for time.Now().Before(deadline) {
		var code int
		code, st = call(t, "GET", base+"/runs/"+id, "")
		if code == 200 && st["state"] == state {
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("run %s: want %s, last status %v", id, state, st)
	return nil
}

func flowsDir(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("../../../examples/serve/signup.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "signup.json"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The example JSON flow served by two serve processes on one real Temporal
// server: a start through one is idempotent and visible through the other,
// an awaited event posted to either reaches the run by its correlation
// (before the run waits, too), an event trigger starts a run once, an
// abort rolls back, and GET /runs lists from Temporal.
func TestServeTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t)
	svc := &services{}
	hs := httptest.NewServer(svc)
	defer hs.Close()
	cfg := config{temporal: ts.GetFrontendHostPort(), namespace: ts.GetDefaultNamespace(), taskQueue: "serve-test",
		flows: flowsDir(t), services: map[string]string{"customers": hs.URL}}
	a, b := startServe(t, cfg), startServe(t, cfg)

	// r0 waits till the end: the oldest run, yet the last to close.
	if code, out := call(t, "POST", a.url+"/flows/Signup/runs?run_id=r0", `{"Email":"eve"}`); code != 201 {
		t.Fatalf("start: %d %v", code, out)
	}
	waitState(t, a.url, "r0", "waiting")
	if code, out := call(t, "POST", a.url+"/flows/Signup/runs?run_id=r1", `{"Email":"ann"}`); code != 201 || out["run_id"] != "r1" {
		t.Fatalf("start: %d %v", code, out)
	}
	if code, out := call(t, "POST", b.url+"/flows/Signup/runs?run_id=r1", `{"Email":"ann"}`); code != 200 || out["existing"] != true {
		t.Fatalf("start again: %d %v", code, out)
	}
	if code, out := call(t, "POST", b.url+"/flows/Signup/runs?run_id=r1", `{"Email":"bob"}`); code != 422 {
		t.Fatalf("start again with another state: %d %v", code, out)
	}
	st := waitState(t, b.url, "r1", "waiting")
	if w, _ := st["wait"].(map[string]any); w["correlation"] != "ann" {
		t.Fatalf("wait %v", st["wait"])
	}
	// An event for another customer is not taken; ann's is, once.
	for _, ev := range []string{`{"correlation_id":"zed","cents":1}`, `{"correlation_id":"ann","cents":900}`} {
		if code, out := call(t, "POST", b.url+"/events/payments/payment.succeeded", ev); code != 202 || out["inbox"] != true {
			t.Fatalf("event: %d %v", code, out)
		}
	}
	st = waitState(t, a.url, "r1", "done")
	if !strings.Contains(string(mustJSON(st["snapshot"])), `"cents":900`) {
		t.Errorf("final state %v", st["snapshot"])
	}

	// An event that comes before its run waits is kept for it.
	if code, _ := call(t, "POST", a.url+"/events/payments/payment.succeeded?id=early", `{"correlation_id":"cat","cents":5}`); code != 202 {
		t.Fatal(code)
	}
	// The event trigger starts a run once per message ID.
	var runID string
	for range 2 {
		code, out := call(t, "POST", b.url+"/events/accounts/signup.requested?id=m-cat", `{"Email":"cat"}`)
		runs, _ := out["runs"].([]any)
		if code != 202 || len(runs) != 1 {
			t.Fatalf("trigger: %d %v", code, out)
		}
		runID = runs[0].(map[string]any)["run_id"].(string)
	}
	waitState(t, a.url, runID, "done")

	// An abort of a waiting run rolls back its completed steps.
	if code, _ := call(t, "POST", a.url+"/flows/Signup/runs?run_id=r3", `{"Email":"dan"}`); code != 201 {
		t.Fatal(code)
	}
	waitState(t, a.url, "r3", "waiting")
	if code, out := call(t, "POST", b.url+"/runs/r3/abort", ""); code != 202 {
		t.Fatalf("abort: %d %v", code, out)
	}
	waitState(t, a.url, "r3", "aborted")
	if code, _ := call(t, "POST", b.url+"/runs/r3/abort", ""); code != 409 {
		t.Errorf("abort of an aborted run: %d", code)
	}
	if code, _ := call(t, "GET", b.url+"/runs/nope", ""); code != 404 {
		t.Errorf("unknown run: %d", code)
	}

	want := []string{
		`Customer.Create "eve"`,
		`Customer.Create "ann"`,
		`Customer.Create "cat"`,
		`Customer.Create "dan"`,
		`Customer.Delete "cus_dan"`,
	}
	if got := svc.list(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// GET /runs reads Temporal's visibility (eventually consistent).
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, out := call(t, "GET", b.url+"/runs?flow=Signup&status=done", "")
		runs, _ := out["runs"].([]any)
		if len(runs) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /runs?status=done: %v", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	listFilters(t, b.url, runID)
}

// listFilters checks GET /runs's filters and order on Temporal, as the
// engine's store applies them (store.Filter.Match), with the runs of
// TestServeTwoProcesses: r0 (waiting, correlation eve), then r1 (done,
// ann), triggered (done, cat) and r3 (aborted, dan), started in this
// order but closed r1, triggered, r3, with r0 still running.
func listFilters(t *testing.T, base, triggered string) {
	t.Helper()
	oldest := []string{"r0", "r1", triggered, "r3"}
	newest := []string{"r3", triggered, "r1", "r0"}
	// Visibility is eventually consistent: wait for the last run's end.
	waitRuns(t, base, "flow=Signup&status=aborted", "r3")
	runs := waitRuns(t, base, "flow=Signup", oldest...)
	started := map[string]string{}
	for _, r := range runs {
		id, _ := r["run_id"].(string)
		started[id], _ = r["started"].(string)
	}
	waitRuns(t, base, "flow=Signup&order=newest", newest...)
	waitRuns(t, base, "flow=Signup&correlation=ann", "r1")
	waitRuns(t, base, "flow=Signup&correlation=eve", "r0")
	waitRuns(t, base, "flow=Signup&since="+url.QueryEscape(started["r1"]), "r1", triggered, "r3")
	waitRuns(t, base, "flow=Signup&until="+url.QueryEscape(started["r1"]), "r0")
	waitRuns(t, base, "flow=Signup&since="+url.QueryEscape(started["r1"])+"&until="+url.QueryEscape(started["r3"])+"&order=newest", triggered, "r1")
	// Pages of two, each order.
	for _, c := range []struct {
		order string
		want  []string
	}{{"oldest", oldest}, {"newest", newest}} {
		var got []string
		q := "flow=Signup&limit=2&order=" + c.order
		for range 3 {
			code, out := call(t, "GET", base+"/runs?"+q, "")
			if code != 200 {
				t.Fatalf("GET /runs?%s: %d %v", q, code, out)
			}
			got = append(got, runIDs(out)...)
			next, _ := out["next_cursor"].(string)
			if next == "" {
				break
			}
			q = "flow=Signup&limit=2&order=" + c.order + "&cursor=" + url.QueryEscape(next)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("order=%s, pages of 2: %v, want %v", c.order, got, c.want)
		}
	}
}

// waitRuns polls GET /runs?query until it lists the runs want, in this
// order, and returns the runs it last listed.
func waitRuns(t *testing.T, base, query string, want ...string) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, out := call(t, "GET", base+"/runs?"+query, "")
		ok := code == 200 && slices.Equal(runIDs(out), want)
		if !ok && time.Now().After(deadline) {
			t.Errorf("GET /runs?%s: %d, runs %v, want %v (%v)", query, code, runIDs(out), want, out)
		}
		if ok || time.Now().After(deadline) {
			l, _ := out["runs"].([]any)
			runs := make([]map[string]any, len(l))
			for i, r := range l {
				runs[i], _ = r.(map[string]any)
			}
			return runs
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func runIDs(out map[string]any) []string {
	runs, _ := out["runs"].([]any)
	ids := make([]string, 0, len(runs))
	for _, r := range runs {
		id, _ := r.(map[string]any)["run_id"].(string)
		ids = append(ids, id)
	}
	return ids
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// A schedule trigger is a Temporal Schedule, created by the first serve
// process and found by the others; its ticks start runs of the flow, as
// the engine's do: each tick its run, while the last ones still sleep, and
// each run's state has its tick's time, scheduled_at, on the @every grid.
func TestServeSchedule(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t)
	dir := t.TempDir()
	const tick = `{"version": 1, "flows": [{"name": "Tick", "state": "TickState", "triggers": [{"kind": "schedule", "schedule": "@every 1s"}],
  "steps": [{"name": "Nap", "action": {"kind": "sleep", "duration": "6s"}},
            {"name": "Announce", "action": {"kind": "publish", "topic": "clock", "event": "tick", "request": "scheduled_at"}, "irreversible": true}]}]}`
	if err := os.WriteFile(filepath.Join(dir, "tick.json"), []byte(tick), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config{temporal: ts.GetFrontendHostPort(), namespace: ts.GetDefaultNamespace(), taskQueue: "schedule-test", flows: dir}
	a := startServe(t, cfg)
	startServe(t, cfg) // finds the schedule the first one made
	deadline := time.Now().Add(20 * time.Second)
	for {
		// Three runs in their 6 s sleep at once: Temporal's default
		// overlap policy would skip the ticks while one runs. A run
		// that sleeps waits, as on the engine.
		_, out := call(t, "GET", a.url+"/runs?flow=Tick&status=waiting", "")
		if runs, _ := out["runs"].([]any); len(runs) >= 3 {
			id, _ := runs[0].(map[string]any)["run_id"].(string)
			_, st := call(t, "GET", a.url+"/runs/"+id, "")
			snap, _ := st["snapshot"].(map[string]any)
			s, _ := snap["scheduled_at"].(string)
			at, err := time.Parse(time.RFC3339Nano, s)
			if err != nil || at.IsZero() || !at.Equal(at.Truncate(time.Second)) {
				t.Fatalf("run %s: scheduled_at %v (%v), want its tick's time on the 1s grid; status %v", id, snap["scheduled_at"], err, st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no overlapping scheduled runs: %v", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
