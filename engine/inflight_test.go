package engine

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime/store"
)

// boundFlows: Busy holds a goroutine in its step until the gate opens;
// Wait parks on an await (no goroutine). Busy starts over HTTP and on the
// event orders/placed.
const boundFlows = `{"version": 1, "flows": [
 {"name": "Busy", "triggers": [{"kind": "rpc", "endpoint": "Busy.Start"}, {"kind": "event", "topic": "orders", "event": "placed"}],
  "steps": [{"name": "Hold", "action": {"kind": "go"}, "irreversible": true}]},
 {"name": "Wait", "state": "WaitState", "triggers": [{"kind": "rpc", "endpoint": "Wait.Start"}],
  "steps": [{"name": "Await", "action": {"kind": "await", "topic": "t", "event": "go", "correlate": "Key", "timeout": "1h"}, "irreversible": true}]}
]}`

// boundEngine is an engine with MaxRunning max whose Busy runs hold until
// gate is closed.
func boundEngine(t *testing.T, max int, gate chan struct{}, broker Broker) (*Engine, *store.Memory) {
	t.Helper()
	st := store.NewMemory()
	return boundEngineWith(t, Options{Store: st, Broker: broker, MaxRunning: max}, gate), st
}

// boundEngineOn is a started engine of boundFlows on st (its inbox: the
// memory store st is, or wraps) with resumeWorkers; its Busy runs never
// block.
func boundEngineOn(t *testing.T, st Store, resumeWorkers int) (*Engine, Store) {
	t.Helper()
	var in InboxStore
	switch s := st.(type) {
	case *store.Memory:
		in = s
	case *gatedStore:
		in = s.Memory
	}
	gate := make(chan struct{})
	close(gate)
	return boundEngineWith(t, Options{Store: st, Inbox: in, ResumeWorkers: resumeWorkers}, gate), st
}

func boundEngineWith(t *testing.T, opts Options, gate chan struct{}) *Engine {
	t.Helper()
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.Registry().Step("Hold", func(ctx context.Context, _ *State) (string, error) {
		select {
		case <-gate:
		case <-ctx.Done():
		}
		return "", nil
	})
	if ds, err := e.LoadFlows("bound.json", []byte(boundFlows)); err != nil {
		t.Fatal(err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Close(ctx)
	})
	return e
}

// postH posts a JSON body and returns the status and the Retry-After header.
func postH(t *testing.T, url, body string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Retry-After")
}

func countRuns(t *testing.T, st *store.Memory, flow string) int {
	t.Helper()
	runs, err := st.List(store.Filter{Flow: flow})
	if err != nil {
		t.Fatal(err)
	}
	return len(runs)
}

// The HTTP doors beyond Options.MaxRunning: a start answers 429 with
// Retry-After and records nothing, and so does an event that would start a
// run; waiting runs do not count; a start repeated with the key of a run
// that exists still answers 200; once runs finish, starts work again.
func TestMaxRunningHTTP(t *testing.T) {
	gate := make(chan struct{})
	e, st := boundEngine(t, 2, gate, nil)
	srv := httptestServer(t, e)

	// Waiting runs hold no goroutine: more of them than the bound start.
	for i := range 5 {
		if status, _ := postH(t, srv.URL+"/rpc/Wait.Start", `{"Key": "k`+itoa(int64(i))+`"}`); status != 201 {
			t.Fatalf("start Wait %d: %d", i, status)
		}
		waitFor(t, "the Wait run parked", func() bool { return e.Stats().Running == 0 })
	}
	for i := range 2 {
		if status, _ := postH(t, srv.URL+"/rpc/Busy.Start", `{}`, "Idempotency-Key", "busy-"+itoa(int64(i))); status != 201 {
			t.Fatalf("start Busy %d: %d", i, status)
		}
	}
	if s := e.Stats(); s.Running != 2 || s.Waiting != 5 || s.MaxRunning != 2 {
		t.Fatalf("stats %+v, want 2 running and 5 waiting", s)
	}
	status, retry := postH(t, srv.URL+"/rpc/Busy.Start", `{}`, "Idempotency-Key", "busy-2")
	if status != http.StatusTooManyRequests || retry != "1" {
		t.Fatalf("a third start: %d Retry-After %q, want 429 and 1", status, retry)
	}
	if status, retry := postH(t, srv.URL+"/events/orders/placed?id=ev-1", `{}`); status != http.StatusTooManyRequests || retry != "1" {
		t.Fatalf("an event starting a run: %d Retry-After %q, want 429 and 1", status, retry)
	}
	if n := countRuns(t, st, "Busy"); n != 2 {
		t.Fatalf("%d Busy runs recorded, want the 2 accepted: a 429 changes nothing", n)
	}
	if _, ok := st.Get(EventRunID("Busy", "orders", "placed", "ev-1")); ok {
		t.Fatal("the refused event started its run")
	}
	if status, _ := postH(t, srv.URL+"/rpc/Busy.Start", `{}`, "Idempotency-Key", "busy-0"); status != 200 {
		t.Fatalf("repeating an accepted start while busy: %d, want 200 existing", status)
	}
	if s := e.Stats(); s.RefusedStarts != 2 {
		t.Fatalf("refused starts %d, want 2", s.RefusedStarts)
	}

	close(gate)
	waitFor(t, "the Busy runs done", func() bool { return e.Stats().Running == 0 })
	if status, _ := postH(t, srv.URL+"/rpc/Busy.Start", `{}`, "Idempotency-Key", "busy-2"); status != 201 {
		t.Fatalf("start after the runs finished: %d", status)
	}
	if status, _ := postH(t, srv.URL+"/events/orders/placed?id=ev-1", `{}`); status != 202 {
		t.Fatalf("event after the runs finished: %d", status)
	}
	waitFor(t, "its run", func() bool { _, ok := st.Get(EventRunID("Busy", "orders", "placed", "ev-1")); return ok })
}

// The broker's door beyond Options.MaxRunning: an event trigger's event
// is not lost; the broker delivers it again and its run starts once a slot
// is free.
func TestMaxRunningEventTriggerRetried(t *testing.T) {
	gate := make(chan struct{})
	broker := NewMemoryBroker()
	e, st := boundEngine(t, 1, gate, broker)
	if _, err := e.StartRun(context.Background(), "Busy", nil, "holder"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		publish(t, broker, "m-"+itoa(int64(i)), "orders", "placed", map[string]any{})
	}
	waitFor(t, "a start refused", func() bool { return e.Stats().RefusedStarts > 0 })
	if n := countRuns(t, st, "Busy"); n != 1 {
		t.Fatalf("%d Busy runs while at the bound, want 1", n)
	}
	close(gate)
	for i := range 3 {
		id := EventRunID("Busy", "orders", "placed", "m-"+itoa(int64(i)))
		waitFor(t, "the event's run done", func() bool { return runStateOf(st, id) == "done" })
	}
	// A run's last event is durable before its life here ends, and its
	// message is acknowledged after its start: both a moment later.
	waitFor(t, "nothing running, nothing held", func() bool {
		s := e.Stats()
		return s.Running == 0 && s.Broker != nil && s.Broker.Held == 0
	})
}

func runStateOf(st Store, id string) string {
	info, ok := st.Get(id)
	if !ok {
		return ""
	}
	return string(info.State)
}

// What flows publish to topics nobody consumes is dropped by the engine's
// in-process broker, and counted in its stats.
func TestEngineStatsCountsDroppedEvents(t *testing.T) {
	fx := newFixture(t)
	fx.broker = nil
	e := fx.start()
	defer fx.stop()
	if ds, err := e.LoadFlows("hello.json", []byte(helloFlow)); err != nil {
		t.Fatal(err, ds)
	}
	for i := range 3 {
		id, err := e.StartRun(context.Background(), "Hello", nil, "")
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "Hello done", func() bool { return runStateOf(fx.st, id) == "done" })
		if s := e.Stats(); s.Broker == nil || s.Broker.Dropped != uint64(i+1) {
			t.Fatalf("stats %+v after %d publications to a topic nobody consumes", s.Broker, i+1)
		}
	}
}

// An event posted again whose runs exist starts nothing, so the bound of
// the runs in flight does not refuse it: it answers as before (202, its
// runs existing), as a start repeated with its key does, where it answered
// 429 and a client retrying it while the server is busy never heard that
// it was applied.
func TestEventRetryAnsweredWhileBusy(t *testing.T) {
	gate := make(chan struct{})
	e, _ := boundEngine(t, 1, gate, nil)
	defer close(gate)
	c := apiClient{t, httptestServer(t, e)}
	if status, out := c.do("POST", "/events/orders/placed?id=ev-1", `{}`); status != 202 {
		t.Fatalf("the event: %d %v", status, out)
	}
	if s := e.Stats(); s.Running != 1 {
		t.Fatalf("stats %+v, want its run in flight, at the bound", s)
	}
	status, out := c.do("POST", "/events/orders/placed?id=ev-1", `{}`)
	runs, _ := out["runs"].([]any)
	if status != 202 || len(runs) != 1 || runs[0].(map[string]any)["existing"] != true {
		t.Fatalf("the event again, at the bound: %d %v, want 202 with its run existing", status, out)
	}
	if status, _ := c.do("POST", "/events/orders/placed?id=ev-2", `{}`); status != http.StatusTooManyRequests {
		t.Fatalf("another event, at the bound: %d, want 429", status)
	}
}
