package observe_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/engine/provider/natsprovider"
	"github.com/flowgen/flowgen/internal/natstest"
	"github.com/flowgen/flowgen/observe/tracectx"
	"github.com/flowgen/flowgen/runtime/store"
)

// twoProviders is a flow whose Go steps are served by remote providers:
// Web over HTTP (retried once), Bus over NATS.
const twoProviders = `{"version": 1, "flows": [{
  "name": "Two", "state": "TwoState",
  "retry": {"attempts": 2, "initial": "1ms"},
  "steps": [
    {"name": "Web", "action": {"kind": "go"}},
    {"name": "Bus", "action": {"kind": "go"}}
  ]}]}`

// TestProviderCallsCarryTheTrace: a call to a remote provider, over HTTP
// and over NATS, carries the W3C trace context of its step attempt's span,
// and the provider library hands it to the handler: each attempt's
// handler runs under that attempt's step span (a retried step: under
// each attempt's own), so that the provider's own spans join the run's
// trace.
func TestProviderCallsCarryTheTrace(t *testing.T) {
	tel, exp, _ := traced(t)
	nc := natstest.Connect(t, natstest.URL(t))
	e, err := engine.New(engine.Options{Store: store.NewMemory(), Telemetry: tel,
		Providers: &engine.ProviderOptions{NATS: natsprovider.NewTransport(nc)}})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e.LoadFlows("two.json", []byte(twoProviders)); err != nil {
		t.Fatalf("%v\n%v", err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(tel.Middleware(e.Handler(), engine.Untraced))
	ctx, cancel := context.WithCancel(context.Background())
	var served sync.WaitGroup
	defer func() {
		cancel()
		served.Wait()
		srv.Close()
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		if err := e.Close(cctx); err != nil {
			t.Error(err)
		}
	}()

	var mu sync.Mutex
	parents := map[string][]trace.SpanContext{} // step -> the span context each call's handler got
	handler := func(step string, fail bool) provider.StepFunc {
		return func(ctx context.Context, c *provider.Call) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			parents[step] = append(parents[step], trace.SpanContextFromContext(ctx))
			if fail && c.Attempt == 1 {
				return "", errors.New("busy")
			}
			return "", nil
		}
	}
	web := provider.New(provider.Options{Name: "web", Engine: srv.URL, Extract: tracectx.Extract})
	web.Step("Two.Web", handler("Web", true))
	bus := provider.New(provider.Options{Name: "bus", Engine: srv.URL, Extract: tracectx.Extract})
	bus.Step("Two.Bus", handler("Bus", false))
	served.Add(2)
	go func() { defer served.Done(); _ = web.ListenAndServe(ctx, "127.0.0.1:0", "") }()
	go func() { defer served.Done(); _ = natsprovider.Serve(ctx, bus, "bus", nc) }()

	id, err := e.StartRun(context.Background(), "Two", json.RawMessage(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		st, err := e.Status(ctx, id)
		if err == nil && st.State.Terminal() {
			if st.State != "done" {
				t.Fatalf("run ended %s: %s", st.State, st.Err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s did not end", id)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, step := range []string{"Web", "Bus"} {
		spans := spansNamed(exp, "step "+step)
		got := parents[step]
		if len(spans) != len(got) || len(got) == 0 {
			t.Fatalf("step %s: %d step spans, %d calls", step, len(spans), len(got))
		}
		for i, s := range spans {
			if got[i].TraceID() != s.SpanContext.TraceID() || got[i].SpanID() != s.SpanContext.SpanID() {
				t.Errorf("step %s, call %d: the handler's parent is %v, want its attempt's span %v", step, i+1, got[i], s.SpanContext)
			}
		}
	}
	if n := len(parents["Web"]); n != 2 {
		t.Errorf("Web was called %d times, want 2 (retried once)", n)
	}
}
