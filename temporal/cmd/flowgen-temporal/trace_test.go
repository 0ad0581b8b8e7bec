package main

import (
	"encoding/hex"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/flowgen/flowgen/internal/otlp"
	"github.com/flowgen/flowgen/internal/otlp/otlptest"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// flowgen-temporal serve -otlp-traces sends a run's trace to the collector
// as one tree: the API request (under the caller's traceparent), the
// Temporal SDK's spans of the workflow and its activities under it, and
// each service call under its activity, whose traceparent the service
// receives.
func TestServeSendsTracesOverOTLP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	calls := &otlptest.Service{}
	svc := httptest.NewServer(calls)
	defer svc.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "trip.json"), []byte(otlptest.TripFlow), 0o644); err != nil {
		t.Fatal(err)
	}
	s, col := startTracedServe(t, "trace-test", dir, map[string]string{"svc": svc.URL})

	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	if code := postTraced(t, s.url+"/flows/Trip/runs?run_id=trip-1", `{"In": "x"}`, traceID, callerSpan); code != 201 {
		t.Fatalf("start: %d", code)
	}
	waitState(t, s.url, "trip-1", "done")
	s.stop() // flushes the spans
	if !strings.Contains(s.logs.String(), "tracing=true") {
		t.Errorf("the start line does not say that tracing is on:\n%s", s.logs.String())
	}

	// The polls of GET /runs/{id} have traces of their own: the start's is
	// the caller's.
	all, services := col.Spans()
	var spans []*tracepb.Span
	byID := map[string]*tracepb.Span{}
	for i, sp := range all {
		if services[i] != otlp.ServiceName {
			t.Errorf("span %q of service %q, want %q", sp.Name, services[i], otlp.ServiceName)
		}
		if hex.EncodeToString(sp.TraceId) == traceID {
			spans = append(spans, sp)
			byID[otlptest.ID(sp)] = sp
		}
	}
	server := otlptest.Children(spans, callerSpan)
	if len(server) != 1 || server[0].Kind != tracepb.Span_SPAN_KIND_SERVER || server[0].Name != "POST /flows/{flow}/runs" {
		t.Fatalf("under the caller's span: %v; want the API request", names(server))
	}
	// path is the chain of span names from sp up to the API request, or
	// nil if sp is not under it.
	path := func(sp *tracepb.Span) []string {
		var out []string
		for sp != nil {
			out = append(out, sp.Name)
			if sp == server[0] {
				return out
			}
			sp = byID[hex.EncodeToString(sp.ParentSpanId)]
		}
		return nil
	}
	var workflow, activities bool
	for _, sp := range spans {
		p := strings.Join(path(sp), " < ")
		workflow = workflow || strings.HasPrefix(sp.Name, "RunWorkflow:") && p != ""
		activities = activities || strings.HasPrefix(sp.Name, "RunActivity:") && strings.Contains(p, "RunWorkflow:")
	}
	if !workflow || !activities {
		t.Errorf("no workflow or activity span under the API request; spans: %v", names(spans))
	}
	parents := calls.Traceparents()
	if len(parents) != 2 {
		t.Fatalf("the service got %d calls, want 2", len(parents))
	}
	for _, tp := range parents {
		f := strings.Split(tp, "-")
		if len(f) != 4 || f[1] != traceID {
			t.Fatalf("the service got traceparent %q, want one in trace %s", tp, traceID)
		}
		call := byID[f[2]]
		if p := path(call); call == nil || call.Kind != tracepb.Span_SPAN_KIND_CLIENT || !strings.Contains(strings.Join(p, " < "), "RunActivity:") {
			t.Errorf("the service call's span %s is not a client span under an activity under the request: %v", f[2], p)
		}
	}
}

// startTracedServe starts flowgen-temporal serve on a Temporal server of
// its own, on queue, with the flows of dir and services, sending every
// span to the collector it returns.
func startTracedServe(t *testing.T, queue, dir string, services map[string]string) (*server, *otlptest.Collector) {
	t.Helper()
	ts := testserver.New(t)
	col := &otlptest.Collector{}
	cs := httptest.NewServer(col)
	t.Cleanup(cs.Close) // after serve stops (Cleanup is last in, first out), which flushes the spans
	s := startServe(t, config{temporal: ts.GetFrontendHostPort(), namespace: ts.GetDefaultNamespace(), taskQueue: queue,
		flows: dir, services: services, trace: otlp.Config{Traces: cs.URL + "/v1/traces", Sample: 1}})
	return s, col
}

// postTraced posts body to url as a caller in span callerSpan of trace
// traceID (its traceparent header) and returns the status code.
func postTraced(t *testing.T, url, body, traceID, callerSpan string) int {
	t.Helper()
	code, err := otlptest.Send("POST", url, body, traceID, callerSpan)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func names(spans []*tracepb.Span) []string {
	var out []string
	for _, sp := range spans {
		out = append(out, sp.Name+" "+sp.Kind.String())
	}
	return out
}

// An awaited event posted to flowgen-temporal serve -otlp-traces keeps its
// sender: the run's wake-up event records, as its link, the traceparent of
// the span of the API request that posted the event (a server span under
// the caller's), carried from the request through the event's inbox, which
// keeps it when no run waits yet, and its signal to the run
// (jsonflows.Options.Link, flowtemporal.SignalArg), as flowgen serve
// records it.
func TestServeEventLink(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	hs := httptest.NewServer(&services{})
	defer hs.Close()
	s, col := startTracedServe(t, "link-test", flowsDir(t), map[string]string{"customers": hs.URL})

	cases := []struct {
		run, email string
		early      bool // the event comes before the run waits: its inbox keeps it
		traceID    string
		woke       []string // the links of the run's wake-up events
	}{
		{run: "paid-1", email: "ann", traceID: "0af7651916cd43dd8448eb211c80319c"},
		{run: "paid-2", email: "bob", early: true, traceID: "4bf92f3577b34da6a3ce929d0e0e4736"},
	}
	const callerSpan = "b7ad6b7169203331"
	for i := range cases {
		c := &cases[i]
		startRun := func() {
			if code, out := call(t, "POST", s.url+"/flows/Signup/runs?run_id="+c.run, `{"Email":"`+c.email+`"}`); code != 201 {
				t.Fatalf("start: %d %v", code, out)
			}
		}
		if !c.early {
			startRun()
			waitState(t, s.url, c.run, "waiting")
		}
		if code := postTraced(t, s.url+"/events/payments/payment.succeeded", `{"correlation_id":"`+c.email+`","cents":900}`, c.traceID, callerSpan); code != 202 {
			t.Fatalf("event: %d", code)
		}
		if c.early {
			startRun()
		}
		waitState(t, s.url, c.run, "done")
		code, out := call(t, "GET", s.url+"/runs/"+c.run+"/history", "")
		if code != 200 {
			t.Fatalf("history: %d %v", code, out)
		}
		events, _ := out["events"].([]any)
		for _, e := range events {
			e, _ := e.(map[string]any)
			if e["from"] == "AwaitPayment:waiting" && e["to"] == "AwaitPayment:running" {
				link, _ := e["link"].(string)
				c.woke = append(c.woke, link)
			}
		}
	}
	s.stop() // flushes the spans

	all, _ := col.Spans()
	for _, c := range cases {
		var spans []*tracepb.Span
		for _, sp := range all {
			if hex.EncodeToString(sp.TraceId) == c.traceID {
				spans = append(spans, sp)
			}
		}
		server := otlptest.Children(spans, callerSpan)
		if len(server) != 1 || server[0].Kind != tracepb.Span_SPAN_KIND_SERVER || server[0].Name != "POST /events/{topic}/{event}" {
			t.Fatalf("%s: under the caller's span: %v; want the event's request", c.run, names(server))
		}
		want := "00-" + c.traceID + "-" + otlptest.ID(server[0]) + "-01"
		if len(c.woke) != 1 || c.woke[0] != want {
			t.Errorf("%s: wake-up events' links %q, want one, the event request's span %q", c.run, c.woke, want)
		}
	}
}
