package observe_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/observe"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// boundFlows: Busy holds its step until released, started over HTTP and
// by the event orders/placed; Tick runs every minute.
const boundFlows = `{"version": 1, "flows": [
 {"name": "Busy", "triggers": [{"kind": "rpc", "endpoint": "Busy.Start"}, {"kind": "event", "topic": "orders", "event": "placed"}],
  "steps": [{"name": "Hold", "action": {"kind": "go"}, "irreversible": true}]}]}`

const tickFlows = `{"version": 1, "flows": [
 {"name": "Tick", "triggers": [{"kind": "schedule", "schedule": "@every 1m"}],
  "steps": [{"name": "Work", "action": {"kind": "go"}, "irreversible": true}]}]}`

// A service at its bound of runs in flight (-max-running) says so on GET
// /metrics: flowgen_runs_in_flight against flowgen_runs_in_flight_limit,
// and flowgen_starts_refused_total counts each start refused, by source:
// a client's (a start, POST /events: 429), an event trigger's event from
// the broker (delivered again later), a schedule's tick (tried again).
// Each series is there at 0 from the start, so that an alert sees the
// first refusal. Before, only Engine.Stats().RefusedStarts counted them.
func TestStartsRefusedCounted(t *testing.T) {
	tel, err := observe.New(observe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	release := sync.OnceFunc(func() { close(gate) })
	defer release()
	clock := runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC))
	broker := engine.NewMemoryBroker()
	e, err := engine.New(engine.Options{Store: store.NewMemory(), Broker: broker, Clock: clock, MaxRunning: 1, Telemetry: tel})
	if err != nil {
		t.Fatal(err)
	}
	e.Registry().Step("Hold", func(ctx context.Context, _ *engine.State) (string, error) {
		select {
		case <-gate:
		case <-ctx.Done():
		}
		return "", nil
	})
	e.Registry().Step("Work", func(context.Context, *engine.State) (string, error) { return "", nil })
	if ds, err := e.LoadFlows("bound.json", []byte(boundFlows)); err != nil {
		t.Fatalf("%v\n%v", err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		release() // before the close, which waits for the holder
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()

	fams := scrape(t, srv.URL)
	for _, source := range []string{"request", "event", "schedule"} {
		if v, ok := refusedOf(fams, source); !ok || v != 0 {
			t.Errorf("flowgen_starts_refused_total{source=%s} = %v (exposed: %v) before any refusal, want 0", source, v, ok)
		}
	}
	if v := sample(fams, "flowgen_runs_in_flight_limit", "", ""); v != 1 {
		t.Errorf("flowgen_runs_in_flight_limit = %v, want 1 (MaxRunning)", v)
	}

	if _, err := e.StartRun(context.Background(), "Busy", nil, "holder"); err != nil {
		t.Fatal(err)
	}
	scrapeUntil(t, srv.URL, func(f map[string]*dtoFamily) bool { return sample(f, "flowgen_runs_in_flight", "", "") == 1 })
	if ds, err := e.LoadFlows("tick.json", []byte(tickFlows)); err != nil {
		t.Fatalf("%v\n%v", err, ds)
	}

	// A tick at the bound: refused, tried again.
	clock.BlockUntil(1)
	clock.Advance(30 * time.Second) // 00:01:00
	scrapeUntil(t, srv.URL, func(f map[string]*dtoFamily) bool { v, _ := refusedOf(f, "schedule"); return v >= 1 })
	// A client's start and an event posted that would start a run: 429.
	for _, path := range []string{"/rpc/Busy.Start", "/events/orders/placed?id=ev-1"} {
		res, err := http.Post(srv.URL+path, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("POST %s at the bound: %d, want 429", path, res.StatusCode)
		}
	}
	// An event from the broker: its trigger's start refused, the event
	// delivered again later.
	if err := broker.Publish(context.Background(), engine.Message{ID: "m-1", Topic: "orders", Event: "placed", Payload: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	fams = scrapeUntil(t, srv.URL, func(f map[string]*dtoFamily) bool { v, _ := refusedOf(f, "event"); return v >= 1 })

	if v, _ := refusedOf(fams, "request"); v != 2 {
		t.Errorf("flowgen_starts_refused_total{source=request} = %v, want 2 (the start and the event posted)", v)
	}
	for _, source := range []string{"event", "schedule"} {
		if v, _ := refusedOf(fams, source); v < 1 {
			t.Errorf("flowgen_starts_refused_total{source=%s} = %v, want at least 1", source, v)
		}
	}
	if v := sample(fams, "flowgen_runs_in_flight", "", ""); v != 1 {
		t.Errorf("flowgen_runs_in_flight = %v at the bound, want 1", v)
	}
	// One count: the metric reads the engine's (its Stats count them too).
	total := sample(fams, "flowgen_starts_refused_total", "", "")
	if s := e.Stats(); float64(s.RefusedStarts) < total {
		t.Errorf("Engine.Stats().RefusedStarts %d after GET /metrics counted %v", s.RefusedStarts, total)
	}
}

// refusedOf is flowgen_starts_refused_total{source}, and whether it is
// exposed.
func refusedOf(fams map[string]*dtoFamily, source string) (float64, bool) {
	for _, m := range fams["flowgen_starts_refused_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "source" && l.GetValue() == source {
				return m.GetCounter().GetValue(), true
			}
		}
	}
	return 0, false
}
