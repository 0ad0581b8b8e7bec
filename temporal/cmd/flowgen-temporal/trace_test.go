package main

import (
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.temporal.io/server/temporaltest"

	"github.com/flowgen/flowgen/internal/otlp"
	"github.com/flowgen/flowgen/internal/otlp/otlptest"
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
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	col := &otlptest.Collector{}
	cs := httptest.NewServer(col)
	defer cs.Close()
	calls := &otlptest.Service{}
	svc := httptest.NewServer(calls)
	defer svc.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "trip.json"), []byte(otlptest.TripFlow), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, config{temporal: ts.GetFrontendHostPort(), namespace: ts.GetDefaultNamespace(), taskQueue: "trace-test",
		flows: dir, services: map[string]string{"svc": svc.URL}, trace: otlp.Config{Traces: cs.URL + "/v1/traces", Sample: 1}})

	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest("POST", s.url+"/flows/Trip/runs?run_id=trip-1", strings.NewReader(`{"In": "x"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Traceparent", "00-"+traceID+"-"+callerSpan+"-01")
	rsp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rsp.Body.Close()
	if rsp.StatusCode != 201 {
		t.Fatalf("start: %d", rsp.StatusCode)
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

func names(spans []*tracepb.Span) []string {
	var out []string
	for _, sp := range spans {
		out = append(out, sp.Name+" "+sp.Kind.String())
	}
	return out
}
