package cli

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/flowgen/flowgen/internal/listen"
	"github.com/flowgen/flowgen/internal/otlp"
	"github.com/flowgen/flowgen/internal/otlp/otlptest"
)

// flowgen serve -otlp-traces sends each run's trace to the collector: the
// API request (under the caller's traceparent), the run, its steps, and
// each service call, as one tree, with service.name flowgen; the spans of
// the last run are flushed when the server stops. With -trace-sample 0 a
// run that arrives without a sampled trace records none, while a caller's
// sampled trace is still followed.
func TestServeSendsTracesOverOTLP(t *testing.T) {
	col := &otlptest.Collector{}
	cs := httptest.NewServer(col)
	defer cs.Close()
	calls := &otlptest.Service{}
	svc := httptest.NewServer(calls)
	defer svc.Close()

	dir := t.TempDir()
	url, logs, stop := serveWith(t, serveConfig{
		store: filepath.Join(dir, "store"), flows: filepath.Join(dir, "flows"),
		net:      listen.Config{Addr: "127.0.0.1:0"},
		services: map[string]string{"svc": svc.URL},
		trace:    otlp.Config{Traces: cs.URL + "/v1/traces", Sample: 0},
	})
	if code, out := call(t, "PUT", url+"/flows", otlptest.TripFlow); code != 200 {
		t.Fatalf("PUT /flows: %d %v", code, out)
	}
	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	start := func(traceparent string) string {
		req, _ := http.NewRequest("POST", url+"/flows/Trip/runs", strings.NewReader(`{"In": "x"}`))
		req.Header.Set("Content-Type", "application/json")
		if traceparent != "" {
			req.Header.Set("Traceparent", traceparent)
		}
		rsp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer rsp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(rsp.Body).Decode(&out); err != nil || rsp.StatusCode != 201 {
			t.Fatalf("start: %d %v %v", rsp.StatusCode, out, err)
		}
		id := out["run_id"].(string)
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, st := call(t, "GET", url+"/runs/"+id, ""); st["state"] == "done" {
				return id
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %s did not end done", id)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	start("00-" + traceID + "-" + callerSpan + "-01")
	unsampled := start("")
	stop() // flushes the spans
	if !strings.Contains(logs.String(), "tracing=true") {
		t.Errorf("the start line does not say that tracing is on:\n%s", logs.String())
	}

	spans, services := col.Spans()
	for i, sp := range spans {
		if got := hex.EncodeToString(sp.TraceId); got != traceID {
			t.Errorf("span %q in trace %s: with -trace-sample 0 only the caller's sampled trace is recorded", sp.Name, got)
		}
		if services[i] != otlp.ServiceName {
			t.Errorf("span %q of service %q, want %q", sp.Name, services[i], otlp.ServiceName)
		}
		for _, kv := range sp.Attributes {
			if kv.GetValue().GetStringValue() == unsampled {
				t.Errorf("span %q of the unsampled run %s was exported", sp.Name, unsampled)
			}
		}
	}
	children := func(parent string) []*tracepb.Span { return otlptest.Children(spans, parent) }
	one := func(list []*tracepb.Span, what string, kind tracepb.Span_SpanKind, prefix string) *tracepb.Span {
		t.Helper()
		if len(list) != 1 || list[0].Kind != kind || !strings.HasPrefix(list[0].Name, prefix) {
			var names []string
			for _, sp := range list {
				names = append(names, sp.Name+" "+sp.Kind.String())
			}
			t.Fatalf("%s: got %v, want one %s span named %s...; all spans: %d", what, names, kind, prefix, len(spans))
		}
		return list[0]
	}
	server := one(children(callerSpan), "under the caller's span", tracepb.Span_SPAN_KIND_SERVER, "POST /flows/{flow}/runs")
	run := one(children(otlptest.ID(server)), "under the API request", tracepb.Span_SPAN_KIND_INTERNAL, "run Trip")
	steps := children(otlptest.ID(run))
	if len(steps) != 2 {
		t.Fatalf("run span has %d children, want the 2 steps", len(steps))
	}
	var callIDs []string
	for _, step := range steps {
		if !strings.HasPrefix(step.Name, "step ") {
			t.Errorf("child of the run: %q", step.Name)
		}
		c := one(children(otlptest.ID(step)), step.Name, tracepb.Span_SPAN_KIND_CLIENT, "")
		callIDs = append(callIDs, otlptest.ID(c))
	}
	parents := calls.Traceparents()
	for _, id := range callIDs {
		want := "00-" + traceID + "-" + id + "-01"
		found := false
		for _, p := range parents {
			found = found || p == want
		}
		if !found {
			t.Errorf("the service never got traceparent %s (got %v)", want, parents)
		}
	}
}

// A -trace-sample outside 0 to 1, NaN included (strconv parses it, and
// it compares false with everything: it used to pass the check), or an
// -otlp-traces that is no http(s) URL, is a usage error.
func TestOTLPFlagsChecked(t *testing.T) {
	for _, args := range [][]string{
		{"-trace-sample", "1.5"},
		{"-trace-sample", "-0.1"},
		{"-trace-sample", "NaN"},
		{"-trace-sample", "Inf"},
		{"-otlp-traces", "127.0.0.1:4318"},
	} {
		var out, errb strings.Builder
		// -provider-allow *.x, refused after the trace flags are checked,
		// stops a serve that took them rather than let it serve.
		code := Main(append(append([]string{"serve", "-store", t.TempDir(), "-addr", "127.0.0.1:0"}, args...), "-provider-allow", "*.x"), nil, &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), args[0]) {
			t.Errorf("serve %v: exit %d, %q; want exit 2 naming the flag", args, code, errb.String())
		}
	}
}

// Tracing turned on by the environment is held to -otlp-traces' rule: a
// traces endpoint that is no http(s) URL is a usage error naming the
// variable, where the exporter used to take it and fail at each export
// (or, for what does not parse, post to its default endpoint instead).
// The traces variable is the one in effect when both are set; the flag
// overrides both.
func TestOTLPEnvironmentChecked(t *testing.T) {
	for _, c := range []struct{ traces, all, flag, want string }{
		{traces: "localhost:4318", want: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{traces: "ftp://collector/v1/traces", want: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{traces: "%%garbage", want: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{traces: "http://", all: "http://127.0.0.1:4318", want: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{all: "127.0.0.1:4318", want: "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{traces: "http://127.0.0.1:4318/v1/traces", all: "bad", want: "-provider-allow"},
		{traces: "bad", flag: "http://127.0.0.1:4318/v1/traces", want: "-provider-allow"},
	} {
		t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", c.traces)
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", c.all)
		args := []string{"serve", "-store", t.TempDir(), "-addr", "127.0.0.1:0"}
		if c.flag != "" {
			args = append(args, "-otlp-traces", c.flag)
		}
		var out, errb strings.Builder
		// -provider-allow *.x, refused after the trace flags are checked,
		// stops a serve that took them rather than let it serve.
		code := Main(append(args, "-provider-allow", "*.x"), nil, &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("serve with %+v: exit %d, %q; want exit 2 naming %s", c, code, errb.String(), c.want)
		}
		if c.want != "-provider-allow" && !strings.Contains(errb.String(), "http or https URL") {
			t.Errorf("serve with %+v: %q does not say what is wrong", c, errb.String())
		}
	}
}

// A collector that takes exports and never answers costs a stopping
// server at most the flush bound, not the shutdown timeout or the
// exporter's retries; the runs do not wait for it at all.
func TestServeStopsWithCollectorHung(t *testing.T) {
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer hung.Close()
	defer close(release)
	addr := hung.URL
	dir := t.TempDir()
	url, _, stop := serveWith(t, serveConfig{
		store: filepath.Join(dir, "store"), flows: filepath.Join(dir, "flows"),
		net:   listen.Config{Addr: "127.0.0.1:0"},
		trace: otlp.Config{Traces: addr + "/v1/traces", Sample: 1},
	})
	if code, out := call(t, "PUT", url+"/flows", serveFlow); code != 200 {
		t.Fatalf("PUT /flows: %d %v", code, out)
	}
	if code, out := call(t, "POST", url+"/rpc/Greet.Start", `{"Name": "ada"}`); code != 201 {
		t.Fatalf("start with the collector down: %d %v", code, out)
	}
	start := time.Now()
	stop()
	if took := time.Since(start); took > otlp.FlushTimeout+listen.ShutdownTimeout/3 {
		t.Errorf("serve took %v to stop with the collector hung; the flush is bounded by %v", took, otlp.FlushTimeout)
	}
}

// The stand-in service POST /echo, which the README's walk-through
// gives its rpc steps (-service customers=http://localhost:8080/echo),
// traces the requests it serves as the API's routes do: a server span
// under the caller's (a step's call span, from the traceparent httpcall
// sends), named after its route, so that a trace of a run shows the
// service's side of each call. It used to be served outside the
// middleware, and a call span had no child.
func TestServeTracesEcho(t *testing.T) {
	col := &otlptest.Collector{}
	cs := httptest.NewServer(col)
	defer cs.Close()
	dir := t.TempDir()
	url, _, stop := serveWith(t, serveConfig{
		store: filepath.Join(dir, "store"),
		net:   listen.Config{Addr: "127.0.0.1:0"},
		trace: otlp.Config{Traces: cs.URL + "/v1/traces", Sample: 1},
	})
	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	for _, method := range []string{"POST", "GET"} {
		if _, err := otlptest.Send(method, url+"/echo/Customer.Create", `{"Email":"ann@example.com"}`, traceID, callerSpan); err != nil {
			t.Fatal(err)
		}
	}
	stop() // flushes the spans
	spans, _ := col.Spans()
	want := map[string]int64{"POST /echo/{endpoint}": 200, "GET /echo/{endpoint}": 405}
	for _, sp := range otlptest.Children(spans, callerSpan) {
		status, ok := want[sp.Name]
		if !ok || sp.Kind != tracepb.Span_SPAN_KIND_SERVER {
			t.Errorf("span %q (%s) under the caller's", sp.Name, sp.Kind)
			continue
		}
		delete(want, sp.Name)
		attrs := map[string]string{}
		for _, kv := range sp.Attributes {
			attrs[kv.Key] = kv.Value.String()
		}
		if !strings.Contains(attrs["http.route"], `"/echo/{endpoint}"`) || !strings.Contains(attrs["http.response.status_code"], strconv.FormatInt(status, 10)) {
			t.Errorf("span %q: attributes %v, want http.route /echo/{endpoint} and status %d", sp.Name, attrs, status)
		}
	}
	for name := range want {
		t.Errorf("no server span %q under the caller's span (%d spans in all)", name, len(spans))
	}
}
