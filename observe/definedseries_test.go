package observe_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/observe"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

const (
	loadedFlow = `{"version": 1, "flows": [
 {"name": "Loaded", "steps": [{"name": "Work", "action": {"kind": "go"}, "irreversible": true}]}]}`
	putFlow = `{"version": 1, "flows": [
 {"name": "Put", "steps": [{"name": "Work", "action": {"kind": "go"}, "irreversible": true}]}]}`
)

// A flow has its series of runs started and finished at 0 from its
// definition, whichever way it came (LoadFlows, RegisterFlow of a Go flow,
// PUT /flows on a started engine), before any run: an alert
// increase(flowgen_runs_finished_total{state="failed"}[5m]) > 0 sees the
// first failure after a restart. Before, the series came at the flow's
// first run in the process, already counting it.
func TestDefinedFlowHasZeroSeries(t *testing.T) {
	tel, err := observe.New(observe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.Options{Store: store.NewMemory(), Broker: engine.NewMemoryBroker(), Telemetry: tel})
	if err != nil {
		t.Fatal(err)
	}
	e.Registry().Step("Work", func(context.Context, *engine.State) (string, error) { return "", nil })
	if ds, err := e.LoadFlows("loaded.json", []byte(loadedFlow)); err != nil {
		t.Fatalf("%v\n%v", err, ds)
	}
	type goState struct{}
	f := runtime.New[goState]("Coded", e.RuntimeOptions()...)
	if err := f.Register(runtime.NewStep[goState]("Work", func(context.Context, *goState) (runtime.Outcome, error) {
		return runtime.OutcomeOK, nil
	})); err != nil {
		t.Fatal(err)
	}
	if err := engine.RegisterFlow(e, f); err != nil {
		t.Fatal(err)
	}
	startEngine(t, e)
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	req, _ := http.NewRequest("PUT", srv.URL+"/flows", strings.NewReader(putFlow))
	req.Header.Set("Content-Type", "application/json")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("PUT /flows: %d %s", res.StatusCode, b)
	}

	fams := scrape(t, srv.URL)
	for _, flow := range []string{"Loaded", "Coded", "Put"} {
		if v, ok := seriesValue(fams, "flowgen_runs_started_total", map[string]string{"flow": flow}); !ok || v != 0 {
			t.Errorf("flowgen_runs_started_total{flow=%q} = %v (exposed: %v) before any run, want 0", flow, v, ok)
		}
		for _, s := range runtime.RunStates {
			if !s.Terminal() {
				continue
			}
			if v, ok := seriesValue(fams, "flowgen_runs_finished_total", map[string]string{"flow": flow, "state": string(s)}); !ok || v != 0 {
				t.Errorf("flowgen_runs_finished_total{flow=%q,state=%q} = %v (exposed: %v) before any run, want 0", flow, s, v, ok)
			}
		}
	}
}

// startEngine starts e, which the test's cleanup closes.
func startEngine(t *testing.T, e *engine.Engine) {
	t.Helper()
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Error(err)
		}
	})
}
