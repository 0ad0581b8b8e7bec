package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// SIGKILL of a serve process inside a parallel block and inside a child
// run (a call): the two constructs whose work a worker that takes over
// must not repeat, beyond the attempt in flight.

// blockJSON is First, then a parallel block whose branch Fast answers at
// once and whose branch Slow answers only when the test releases it, then
// Last. First and Fast have rollbacks. Slow's timeout is longer than
// flowtemporal.HeartbeatTimeout, so its attempt heartbeats and a dead
// worker's attempt is retried on another after the heartbeat timeout.
const blockJSON = `{"version": 1, "flows": [{"name": "Block", "state": "B", "triggers": [{"kind": "rpc", "endpoint": "Block.Start"}],
  "retry": {"attempts": 5, "initial": "100ms", "max": "200ms"},
  "steps": [
    {"name": "First", "action": {"kind": "rpc", "service": "svc", "endpoint": "Step.First", "request": "In", "response": "A"},
     "rollback": {"action": {"kind": "rpc", "service": "svc", "endpoint": "Step.FirstUndo", "request": "A"}}},
    {"name": "Both", "parallel": {"branches": [
      {"name": "Fast", "action": {"kind": "rpc", "service": "svc", "endpoint": "Step.Fast", "request": "A", "response": "F"},
       "rollback": {"action": {"kind": "rpc", "service": "svc", "endpoint": "Step.FastUndo", "request": "F"}}},
      {"name": "Slow", "action": {"kind": "rpc", "service": "svc", "endpoint": "Step.Slow", "request": "A", "response": "S"}, "timeout": "60s", "irreversible": true}
    ]}},
    {"name": "Last", "action": {"kind": "rpc", "service": "svc", "endpoint": "Step.Last", "request": "S", "response": "L"}, "irreversible": true}
  ]}]}`

// callJSON is Parent, whose step Child calls Billing; Billing's Slow
// answers only when the test releases it. Before and Charge have
// rollbacks.
const callJSON = `{"version": 1, "flows": [{"name": "Parent", "state": "P", "triggers": [{"kind": "rpc", "endpoint": "Parent.Start"}],
  "retry": {"attempts": 5, "initial": "100ms", "max": "200ms"},
  "steps": [
    {"name": "Before", "action": {"kind": "rpc", "service": "svc", "endpoint": "Step.Before", "request": "In", "response": "A"},
     "rollback": {"action": {"kind": "rpc", "service": "svc", "endpoint": "Step.BeforeUndo", "request": "A"}}},
    {"name": "Child", "action": {"kind": "call", "flow": "Billing", "request": "Invoice", "response": "Receipt"}, "irreversible": true},
    {"name": "After", "action": {"kind": "rpc", "service": "svc", "endpoint": "Step.After", "request": "A", "response": "Z"}, "irreversible": true}
  ]}, {"name": "Billing", "state": "Invoice",
  "retry": {"attempts": 5, "initial": "100ms", "max": "200ms"},
  "steps": [
    {"name": "Charge", "action": {"kind": "rpc", "service": "svc", "endpoint": "Step.Charge", "request": "Amount", "response": "ChargeID"},
     "rollback": {"action": {"kind": "rpc", "service": "svc", "endpoint": "Step.ChargeUndo", "request": "ChargeID"}}},
    {"name": "Slow", "action": {"kind": "rpc", "service": "svc", "endpoint": "Step.Slow", "request": "ChargeID", "response": "Done"}, "timeout": "60s", "irreversible": true}
  ]}]}`

// gate is the service of the crash tests: a recorder whose endpoint hold
// answers only once release is closed (or when the caller goes away), then
// with status (0: 200 and a response), and whose endpoints in refuse
// answer their status at once.
type gate struct {
	recorder
	hold    string
	refuse  map[string]int
	release chan struct{}
	status  atomic.Int32
}

func newGate(hold string) *gate { return &gate{hold: hold, release: make(chan struct{})} }

func (g *gate) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	endpoint := g.record(req)
	st := g.refuse[endpoint]
	if endpoint == g.hold {
		select {
		case <-g.release:
		case <-req.Context().Done():
			return
		}
		st = int(g.status.Load())
	}
	if st != 0 {
		http.Error(w, "refused for good", st)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `"`+endpoint+`"`)
}

// list is the calls so far, in the order they came.
func (g *gate) list() []call1 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]call1(nil), g.calls...)
}

func writeFlows(t *testing.T, name, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// events is a run's history through GET /runs/{id}/history (nil if it
// cannot be read now).
func events(t *testing.T, base, id string) []map[string]any {
	t.Helper()
	code, out := call(t, "GET", base+"/runs/"+id+"/history", "")
	if code != 200 {
		return nil
	}
	raw, _ := out["events"].([]any)
	evs := make([]map[string]any, 0, len(raw))
	for _, e := range raw {
		if m, ok := e.(map[string]any); ok {
			evs = append(evs, m)
		}
	}
	return evs
}

// branchEnded reports whether the run's history records branch ended ok
// in block.
func branchEnded(t *testing.T, base, id, block, branch string) bool {
	t.Helper()
	for _, e := range events(t, base, id) {
		if e["branch"] == branch && e["to"] == block+":parallel" && e["outcome"] == "ok" {
			return true
		}
	}
	return false
}

// slowKeys checks that a and b both called Step.Slow for the run of key
// prefix, always with the same key: the attempt in flight when a was
// killed is retried by b with its idempotency key.
func slowKeys(t *testing.T, g *gate, run, prefix string) {
	t.Helper()
	keys := map[string][]string{}
	for _, c := range g.list() {
		if c.endpoint == "Step.Slow" && strings.HasPrefix(c.key, prefix) {
			keys[c.proc] = append(keys[c.proc], c.key)
		}
	}
	if len(keys["a"]) == 0 || len(keys["b"]) == 0 {
		t.Errorf("run %s: Step.Slow called %d times by a and %d by b, want both", run, len(keys["a"]), len(keys["b"]))
		return
	}
	for _, k := range append(keys["a"][1:], keys["b"]...) {
		if k != keys["a"][0] {
			t.Errorf("run %s: Step.Slow called with keys %v by a and %v by b, want one key", run, keys["a"], keys["b"])
			return
		}
	}
}

// inEveryRun reports whether proc has called endpoint in every run whose
// keys start with one of prefixes.
func inEveryRun(g *gate, proc, endpoint string, prefixes []string) bool {
	for _, p := range prefixes {
		if g.count(func(c call1) bool { return c.proc == proc && c.endpoint == endpoint && strings.HasPrefix(c.key, p) }) == 0 {
			return false
		}
	}
	return true
}

// branchEnds counts the events of the run's history that end branch.
func branchEnds(t *testing.T, base, id, block, branch string) int {
	t.Helper()
	n := 0
	for _, e := range events(t, base, id) {
		if e["branch"] == branch && e["from"] == branch+":running" && e["to"] == block+":parallel" {
			n++
		}
	}
	return n
}

func prefixes(format string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(format, i)
	}
	return out
}

// heldKill is a SIGKILL while every run is held in one endpoint of the
// gate: runs of flow (run IDs id(i), initial states body(i)) start on
// process a, which is killed once each run's call with key prefix keys[i]
// is held (and ready, if set, holds); process b is started and the calls
// are released once b makes them again. It returns b.
type heldKill struct {
	queue, file, doc, flow string
	svc                    *gate
	runs                   int
	id, body               func(i int) string
	keys                   []string
	ready                  func(a *proc) bool
}

func (k heldKill) run(t *testing.T) *proc {
	t.Helper()
	ts := testserver.New(t)
	hs := httptestServer(t, k.svc)
	flows := writeFlows(t, k.file, k.doc)
	a := startProc(t, ts, k.queue, flows, "a", hs)
	started := time.Now()
	for i := range k.runs {
		if code, out := call(t, "POST", fmt.Sprintf("%s/flows/%s/runs?run_id=%s", a.url, k.flow, k.id(i)), k.body(i)); code != 201 {
			t.Fatalf("start: %d %v", code, out)
		}
	}
	waitUntil(t, "every run inside "+k.svc.hold, 60*time.Second, func() bool { return inEveryRun(k.svc, "a", k.svc.hold, k.keys) })
	if k.ready != nil {
		waitUntil(t, "every run ready for the kill", 60*time.Second, func() bool { return k.ready(a) })
	}
	t.Logf("every run inside %s %v after the first start", k.svc.hold, time.Since(started).Round(time.Millisecond))
	a.kill(t)
	killed := time.Now()
	b := startProc(t, ts, k.queue, flows, "b", hs)
	// Temporal retries a's attempts on b once their heartbeats stop.
	waitUntil(t, "b inside "+k.svc.hold+" in every run", 90*time.Second, func() bool { return inEveryRun(k.svc, "b", k.svc.hold, k.keys) })
	t.Logf("b took every run's %s %v after the kill", k.svc.hold, time.Since(killed).Round(time.Millisecond))
	close(k.svc.release)
	return b
}

// killInBlock starts runs of Block on a, kills a while every run is in
// Slow and Fast has completed, starts b, and releases Slow once b calls it
// (answering status, 0: ok). It returns the service and b.
func killInBlock(t *testing.T, queue string, runs int, status int) (*gate, *proc) {
	t.Helper()
	svc := newGate("Step.Slow")
	svc.status.Store(int32(status))
	b := heldKill{queue: queue, file: "block.json", doc: blockJSON, flow: "Block", svc: svc, runs: runs,
		id:   func(i int) string { return fmt.Sprintf("p%d", i) },
		body: func(int) string { return `{"In":"x"}` },
		keys: prefixes("p%d/", runs),
		ready: func(a *proc) bool {
			for i := range runs {
				if !branchEnded(t, a.url, fmt.Sprintf("p%d", i), "Both", "Fast") {
					return false
				}
			}
			return true
		}}.run(t)
	return svc, b
}

func httptestServer(t *testing.T, h http.Handler) string {
	t.Helper()
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs.URL
}

// Crash inside a parallel block: the worker is killed while the branch
// Slow runs and the branch Fast has completed; the worker that takes over
// runs Slow again with the same idempotency key, calls neither First nor
// Fast again (Temporal's history keeps completed activities), and every
// run ends done.
func TestKillWorkerInParallelBlock(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server and builds the command")
	}
	const runs = 4
	svc, b := killInBlock(t, "kill-block", runs, 0)
	released := time.Now()
	for i := range runs {
		waitState(t, b.url, fmt.Sprintf("p%d", i), "done")
	}
	t.Logf("every run done %v after Slow was released", time.Since(released).Round(time.Millisecond))
	for i := range runs {
		run := fmt.Sprintf("p%d", i)
		prefix := run + "/"
		for _, ep := range []string{"Step.First", "Step.Fast", "Step.Last"} {
			if n := svc.count(func(c call1) bool { return c.endpoint == ep && strings.HasPrefix(c.key, prefix) }); n != 1 {
				t.Errorf("run %s: %s called %d times, want once", run, ep, n)
			}
		}
		slowKeys(t, svc, run, prefix)
		for _, br := range []string{"Fast", "Slow"} {
			if n := branchEnds(t, b.url, run, "Both", br); n != 1 {
				t.Errorf("run %s: the history ends branch %s %d times, want once", run, br, n)
			}
		}
		for _, ep := range []string{"Step.FirstUndo", "Step.FastUndo"} {
			if n := svc.count(func(c call1) bool { return c.endpoint == ep && strings.HasPrefix(c.key, prefix) }); n != 0 {
				t.Errorf("run %s: %s called %d times in a run that ended done", run, ep, n)
			}
		}
	}
}

// Crash inside a parallel block, then the branch in flight fails for good
// (a 422 is a permanent error): the run is compensated on the worker that
// took over, Fast's rollback then First's (newest completion first), each
// once, and nothing that completed is called again.
func TestKillWorkerInParallelBlockThenFail(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server and builds the command")
	}
	const runs = 4
	svc, b := killInBlock(t, "kill-block-fail", runs, http.StatusUnprocessableEntity)
	for i := range runs {
		st := waitState(t, b.url, fmt.Sprintf("p%d", i), "compensated")
		if e, _ := st["error"].(string); !strings.Contains(e, "branch Slow") || !strings.Contains(e, "422") {
			t.Errorf("run p%d: error %q, want branch Slow's 422", i, e)
		}
	}
	calls := svc.list()
	for i := range runs {
		run := fmt.Sprintf("p%d", i)
		prefix := run + "/"
		want := map[string]int{"Step.First": 1, "Step.Fast": 1, "Step.Last": 0, "Step.FastUndo": 1, "Step.FirstUndo": 1}
		for ep, n := range want {
			if got := svc.count(func(c call1) bool { return c.endpoint == ep && strings.HasPrefix(c.key, prefix) }); got != n {
				t.Errorf("run %s: %s called %d times, want %d", run, ep, got, n)
			}
		}
		slowKeys(t, svc, run, prefix)
		for _, br := range []string{"Fast", "Slow"} {
			if n := branchEnds(t, b.url, run, "Both", br); n != 1 {
				t.Errorf("run %s: the history ends branch %s %d times, want once", run, br, n)
			}
		}
		var undo []string
		for _, c := range calls {
			if strings.HasPrefix(c.key, prefix) && strings.HasSuffix(c.endpoint, "Undo") {
				if c.proc != "b" {
					t.Errorf("run %s: %s called by %s, want the worker that took over", run, c.endpoint, c.proc)
				}
				if want := prefix + strings.TrimSuffix(strings.TrimPrefix(c.endpoint, "Step."), "Undo") + "/rollback"; c.key != want {
					t.Errorf("run %s: %s called with key %q, want %q", run, c.endpoint, c.key, want)
				}
				undo = append(undo, c.endpoint)
			}
		}
		if got := strings.Join(undo, " "); got != "Step.FastUndo Step.FirstUndo" {
			t.Errorf("run %s: rollbacks %q, want Step.FastUndo then Step.FirstUndo", run, got)
		}
	}
}

// killInChild starts runs of Parent on a, kills a while every run's child
// (Billing, called by step Child) is in Slow, starts b, and releases Slow
// once b calls it (answering status, 0: ok). It returns the service and b.
func killInChild(t *testing.T, queue string, runs int, status int) (*gate, *proc) {
	t.Helper()
	svc := newGate("Step.Slow")
	svc.status.Store(int32(status))
	b := heldKill{queue: queue, file: "call.json", doc: callJSON, flow: "Parent", svc: svc, runs: runs,
		id:   func(i int) string { return fmt.Sprintf("c%d", i) },
		body: func(i int) string { return fmt.Sprintf(`{"In":"x","Invoice":{"Amount":%d}}`, 10+i) },
		keys: prefixes("c%d@Child/", runs)}.run(t)
	return svc, b
}

// linked checks through b's API that child run child (of flow Billing)
// names run (of flow Parent) as its parent, and run it as its only child,
// and returns the child's status.
func linked(t *testing.T, b *proc, run, child string) map[string]any {
	t.Helper()
	code, st := call(t, "GET", b.url+"/runs/"+child, "")
	if code != 200 {
		t.Errorf("child %s: GET %d %v", child, code, st)
		return st
	}
	if p, _ := st["parent"].(map[string]any); p["flow"] != "Parent" || p["run_id"] != run {
		t.Errorf("child %s: parent %v, want Parent %s", child, st["parent"], run)
	}
	if st["flow"] != "Billing" {
		t.Errorf("child %s: flow %v, want Billing", child, st["flow"])
	}
	_, pst := call(t, "GET", b.url+"/runs/"+run, "")
	kids, _ := pst["children"].([]any)
	if len(kids) != 1 {
		t.Errorf("run %s: children %v, want %s", run, pst["children"], child)
		return st
	}
	if k, _ := kids[0].(map[string]any); k["flow"] != "Billing" || k["run_id"] != child {
		t.Errorf("run %s: child %v, want Billing %s", run, kids[0], child)
	}
	return st
}

// Crash inside a child run: the worker is killed while each run's child
// (Billing, called by Parent's step Child) is in Slow; the worker that
// takes over runs Slow again with the same key, calls neither Before nor
// Charge again, and finishes the child and the parent, both readable
// through its API with their link.
func TestKillWorkerInChildRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server and builds the command")
	}
	const runs = 4
	svc, b := killInChild(t, "kill-call", runs, 0)
	released := time.Now()
	for i := range runs {
		waitState(t, b.url, fmt.Sprintf("c%d", i), "done")
	}
	t.Logf("every run done %v after Slow was released", time.Since(released).Round(time.Millisecond))
	for i := range runs {
		run := fmt.Sprintf("c%d", i)
		child := run + "@Child"
		for _, c := range []struct {
			ep, prefix string
			want       int
		}{{"Step.Before", run + "/", 1}, {"Step.After", run + "/", 1}, {"Step.Charge", child + "/", 1}, {"Step.BeforeUndo", run + "/", 0}, {"Step.ChargeUndo", child + "/", 0}} {
			if n := svc.count(func(x call1) bool { return x.endpoint == c.ep && strings.HasPrefix(x.key, c.prefix) }); n != c.want {
				t.Errorf("run %s: %s called %d times, want %d", run, c.ep, n, c.want)
			}
		}
		slowKeys(t, svc, child, child+"/")
		if st := linked(t, b, run, child); st["state"] != "done" {
			t.Errorf("child %s: %v, want done", child, st["state"])
		}
	}
}

// Crash inside a child run, then the child's step in flight fails for
// good: the child compensates itself (Charge's rollback) on the worker that
// took over, then the parent fails its call and compensates (Before's
// rollback), each rollback once, child first; After never runs.
func TestKillWorkerInChildRunThenFail(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server and builds the command")
	}
	const runs = 4
	svc, b := killInChild(t, "kill-call-fail", runs, http.StatusUnprocessableEntity)
	for i := range runs {
		st := waitState(t, b.url, fmt.Sprintf("c%d", i), "compensated")
		if st["step"] != "Child" {
			t.Errorf("run c%d: failed at step %v, want Child", i, st["step"])
		}
	}
	calls := svc.list()
	for i := range runs {
		run := fmt.Sprintf("c%d", i)
		child := run + "@Child"
		for _, c := range []struct {
			ep, prefix string
			want       int
		}{{"Step.Before", run + "/", 1}, {"Step.After", run + "/", 0}, {"Step.Charge", child + "/", 1}, {"Step.BeforeUndo", run + "/", 1}, {"Step.ChargeUndo", child + "/", 1}} {
			if n := svc.count(func(x call1) bool { return x.endpoint == c.ep && strings.HasPrefix(x.key, c.prefix) }); n != c.want {
				t.Errorf("run %s: %s called %d times, want %d", run, c.ep, n, c.want)
			}
		}
		slowKeys(t, svc, child, child+"/")
		var undo []string
		for _, c := range calls {
			if strings.HasSuffix(c.endpoint, "Undo") && (strings.HasPrefix(c.key, run+"/") || strings.HasPrefix(c.key, child+"/")) {
				if c.proc != "b" {
					t.Errorf("run %s: %s called by %s, want the worker that took over", run, c.endpoint, c.proc)
				}
				undo = append(undo, c.endpoint)
			}
		}
		if got := strings.Join(undo, " "); got != "Step.ChargeUndo Step.BeforeUndo" {
			t.Errorf("run %s: rollbacks %q, want Step.ChargeUndo then Step.BeforeUndo", run, got)
		}
		if st := linked(t, b, run, child); st["state"] != "compensated" {
			t.Errorf("child %s: %v, want compensated", child, st["state"])
		}
	}
}
