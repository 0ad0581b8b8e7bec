package engine

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/internal/logtest"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/runtime"
)

// routeFlows: Pay routes its error to Fallback. Flow Local's Pay is served
// in process, flow Remote's by a provider.
const routeFlows = `{"version": 1, "flows": [
  {"name": "Local", "state": "S", "steps": [
    {"name": "Pay", "action": {"kind": "go"}, "outcomes": ["declined"], "irreversible": true,
     "on": [{"on": "error", "target": "Fallback"}, {"on": "declined", "target": "fail"}]},
    {"name": "Done", "action": {"kind": "go"}, "irreversible": true, "on": [{"on": "ok", "target": "done"}]},
    {"name": "Fallback", "action": {"kind": "go"}, "irreversible": true}
  ]},
  {"name": "Remote", "state": "S", "steps": [
    {"name": "Pay", "action": {"kind": "go"}, "outcomes": ["declined"], "irreversible": true,
     "on": [{"on": "error", "target": "Fallback"}, {"on": "declined", "target": "fail"}]},
    {"name": "Done", "action": {"kind": "go"}, "irreversible": true, "on": [{"on": "ok", "target": "done"}]},
    {"name": "Fallback", "action": {"kind": "go"}, "irreversible": true}
  ]}
]}`

// A Go step that ends with an outcome its flow does not route, or with
// one of the runtime's own, fails the step at once (runtime.ReturnedOutcome,
// the route): it is not an error that "on error" routes, whether the step
// runs in process or on a provider. Before, a provider's such answer was
// a permanent error, and the run went on to Fallback.
func TestUnroutedOutcomeFailsTheStepLocalAndRemote(t *testing.T) {
	tr := stubTransport{reqs: make(chan provider.Request, 64), answer: func(subject string, req provider.Request) []byte {
		var st struct{ Out string }
		_ = json.Unmarshal(req.State, &st)
		return []byte(`{"outcome": "` + st.Out + `"}`)
	}}
	_, e, srv := remoteFixture(t, ProviderOptions{NATS: tr})
	r := e.Registry()
	for _, name := range []string{"Local.Done", "Local.Fallback", "Remote.Done", "Remote.Fallback"} {
		r.Step(name, func(ctx context.Context, s *State) (runtime.Outcome, error) { return "", nil })
	}
	r.Step("Local.Pay", func(ctx context.Context, s *State) (runtime.Outcome, error) {
		return runtime.Outcome(s.String("Out")), nil
	})
	if ds, err := e.LoadFlows("route.json", []byte(routeFlows)); err != nil {
		t.Fatalf("load: %v\n%v", err, ds)
	}
	if status, out := putProvider(t, srv, "pay", `{"handlers": [
		{"name": "Remote.Pay", "outcomes": ["declined"], "subject": "flowgen_provider.pay.step.Pay"}]}`); status != 200 {
		t.Fatalf("register: %d %s", status, out)
	}
	for _, flow := range []string{"Local", "Remote"} {
		for _, out := range []string{"lost", "error", "timeout", "retry"} {
			id, err := e.StartRun(context.Background(), flow, json.RawMessage(`{"Out": "`+out+`"}`), "")
			if err != nil {
				t.Fatal(err)
			}
			var st RunStatus
			waitFor(t, flow+" "+out+" run to end", func() bool {
				st, _ = e.Status(context.Background(), id)
				return st.State.Terminal()
			})
			if st.State != runtime.StateFailed || st.Step != "Pay" || !strings.Contains(st.Err, `runtime: unknown outcome "`+out+`"`) {
				t.Errorf("%s, outcome %q: %s at %s (%q), want failed at Pay with the unknown outcome", flow, out, st.State, st.Step, st.Err)
			}
			h, _ := e.History(context.Background(), id)
			for _, ev := range h {
				if ev.To == "Fallback:running" {
					t.Errorf("%s, outcome %q: routed to Fallback as an error", flow, out)
				}
			}
		}
	}
}

// An outcome a provider answers that its step does not declare fails the
// step with the runtime's error, which names the outcome and not who
// answered it: the server's log names the provider, the handler and the
// run, so that of several providers of a handler the operator finds the
// one at fault. A declared outcome, and ok, log nothing.
func TestProviderUndeclaredOutcomeLogged(t *testing.T) {
	tr := stubTransport{reqs: make(chan provider.Request, 64), answer: func(subject string, req provider.Request) []byte {
		var st struct{ Out string }
		_ = json.Unmarshal(req.State, &st)
		return []byte(`{"outcome": "` + st.Out + `"}`)
	}}
	e, logs := remotePayFixture(t, tr)
	ids := map[string]string{}
	for _, out := range []string{"", "ok", "declined", "lost"} {
		id, err := e.StartRun(context.Background(), "Remote", json.RawMessage(`{"Out": "`+out+`"}`), "")
		if err != nil {
			t.Fatal(err)
		}
		ids[out] = id
		waitFor(t, "the run to end", func() bool { st, _ := e.Status(context.Background(), id); return st.State.Terminal() })
	}
	got := logs.String()
	want := `msg="provider answered an outcome its step does not declare: the step fails" provider=pay handler=Remote.Pay run_id=` + ids["lost"] + ` outcome=lost`
	if !strings.Contains(got, want) {
		t.Errorf("log:\n%s\nwant a line with %s", got, want)
	}
	if n := strings.Count(got, "does not declare"); n != 1 {
		t.Errorf("%d lines about an undeclared outcome, want 1 (ok and declined are declared):\n%s", n, got)
	}
}

// remotePaySubject is where remotePayFixture's provider serves Remote.Pay.
const remotePaySubject = "flowgen_provider.pay.step.Pay"

// remotePayFixture is an engine with routeFlows loaded, logging to logs,
// whose flow Remote's Pay is served over tr by provider "pay" and its
// other steps in process.
func remotePayFixture(t *testing.T, tr stubTransport) (*Engine, *logtest.Buffer) {
	fx := newFixture(t)
	fx.remote = &ProviderOptions{NATS: tr}
	logs := new(logtest.Buffer)
	fx.log = slog.New(slog.NewTextHandler(logs, nil))
	e := fx.start()
	t.Cleanup(fx.stop)
	for _, name := range []string{"Remote.Done", "Remote.Fallback"} {
		e.Registry().Step(name, func(ctx context.Context, s *State) (runtime.Outcome, error) { return "", nil })
	}
	if ds, err := e.LoadFlows("route.json", []byte(routeFlows)); err != nil {
		t.Fatalf("load: %v\n%v", err, ds)
	}
	if _, err := e.RegisterProvider("pay", provider.Registration{Handlers: []provider.Handler{
		{Name: "Remote.Pay", Outcomes: []string{"declined"}, Subject: remotePaySubject}}}); err != nil {
		t.Fatal(err)
	}
	return e, logs
}

// A rollback's outcome is ignored (docs/engine.md#the-protocol), whatever
// it is: a provider that answers every call alike, a rollback with a
// sentence of an outcome, did its work, and the run is compensated.
// Before, an outcome that is not a name (a space, more than 128 bytes)
// failed the rollback for good and ended the run compensation_failed.
func TestProviderRollbackOutcomeIgnored(t *testing.T) {
	for _, out := range []string{"released, thanks", strings.Repeat("x", 200)} {
		prov := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			var req provider.Request
			_ = json.Unmarshal(b, &req)
			switch {
			case req.Rollback:
				_ = json.NewEncoder(w).Encode(map[string]any{"outcome": out, "state": map[string]any{"Released": true}})
			case req.Handler == "Check":
				_, _ = w.Write([]byte(`{"outcome": "declined"}`))
			default:
				_, _ = w.Write([]byte(`{}`))
			}
		}))
		_, e, srv := remoteFixture(t, ProviderOptions{})
		if status, msg := putProvider(t, srv, "billing", `{"handlers": [{"name": "Reserve", "url": "`+prov.URL+`"},
			{"name": "Check", "outcomes": ["declined"], "url": "`+prov.URL+`"},
			{"name": "Release", "rollback": true, "url": "`+prov.URL+`"}]}`); status != 200 {
			t.Fatalf("register: %d %s", status, msg)
		}
		st := runToEnd(t, e, "Bill")
		prov.Close()
		if st.State != runtime.StateCompensated {
			h, _ := e.History(context.Background(), st.RunID)
			t.Errorf("rollback answering outcome %.20q...: run %s, want compensated; history %+v", out, st.State, h)
		}
	}
}
