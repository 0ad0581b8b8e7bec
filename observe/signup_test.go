package observe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/engine/httpcall"
	"github.com/flowgen/flowgen/internal/otlp/otlptest"
	"github.com/flowgen/flowgen/observe"
	"github.com/flowgen/flowgen/observe/tracectx"
	"github.com/flowgen/flowgen/runtime/store"
)

// newSignupService is the customers service of the serve example: it
// creates customers and keeps the traceparent of every request.
func newSignupService() *otlptest.Service { return &otlptest.Service{Answer: `"c-1"`} }

// signupEngine serves the Signup flow of examples/serve on a durable store
// with t's telemetry, behind its tracing middleware.
func signupEngine(t *testing.T, tel *observe.Telemetry, svc http.Handler) (*httptest.Server, func()) {
	t.Helper()
	services := httptest.NewServer(svc)
	st, err := store.Open(t.TempDir(), store.Options{Committed: tel.StoreCommitted})
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.Options{Store: st, Caller: httpcall.New(httpcall.Static{"customers": services.URL}), Telemetry: tel})
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join("..", "examples", "serve", "signup.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e.LoadFlows("signup.json", src); err != nil {
		t.Fatalf("%v\n%v", err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(tel.Middleware(e.Handler(), engine.Untraced))
	return srv, func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Error(err)
		}
		st.Close()
		services.Close()
	}
}

func post(t *testing.T, url, body string, header http.Header) []byte {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %d %s", url, res.StatusCode, b)
	}
	return b
}

// waitState polls the run until it is in state.
func waitState(t *testing.T, base, runID, state string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get(base + "/runs/" + runID)
		if err != nil {
			t.Fatal(err)
		}
		var st struct{ State string }
		_ = json.NewDecoder(res.Body).Decode(&st)
		res.Body.Close()
		if st.State == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s is %s, not %s", runID, st.State, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tree renders spans as an indented tree of names, children in start
// order, from the spans whose parent is not among them.
func tree(spans tracetest.SpanStubs) string {
	byParent := map[trace.SpanID][]tracetest.SpanStub{}
	ids := map[trace.SpanID]bool{}
	for _, s := range spans {
		ids[s.SpanContext.SpanID()] = true
	}
	var roots []tracetest.SpanStub
	for _, s := range spans {
		if p := s.Parent.SpanID(); ids[p] {
			byParent[p] = append(byParent[p], s)
		} else {
			roots = append(roots, s)
		}
	}
	var b strings.Builder
	var walk func(s tracetest.SpanStub, depth int)
	walk = func(s tracetest.SpanStub, depth int) {
		fmt.Fprintf(&b, "%s%s\n", strings.Repeat("  ", depth), s.Name)
		kids := byParent[s.SpanContext.SpanID()]
		slices.SortFunc(kids, func(a, b tracetest.SpanStub) int { return a.StartTime.Compare(b.StartTime) })
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	slices.SortFunc(roots, func(a, b tracetest.SpanStub) int { return a.StartTime.Compare(b.StartTime) })
	for _, r := range roots {
		walk(r, 0)
	}
	return b.String()
}

func attr(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// TestSignupTrace: one signup of the serve example, started through the
// API by a caller with a trace of its own, is one tree in that trace: the
// API request, the run, each step attempt, the wait and the customers
// service call, each with the attributes docs/observability.md lists; the
// service receives the call span's traceparent.
func TestSignupTrace(t *testing.T) {
	tel, exp, tp := traced(t)
	svc := newSignupService()
	srv, stop := signupEngine(t, tel, svc)
	defer stop()

	// The caller's span: the API request continues its trace.
	caller, callerSpan := tp.Tracer("test").Start(context.Background(), "client")
	h := http.Header{}
	tracectx.Inject(caller, h)
	var started struct {
		RunID string `json:"run_id"`
	}
	_ = json.Unmarshal(post(t, srv.URL+"/flows/Signup/runs", `{"Email":"ada@example.com"}`, h), &started)
	waitState(t, srv.URL, started.RunID, "waiting")
	post(t, srv.URL+"/events/payments/payment.succeeded", `{"correlation_id":"ada@example.com","amount":42}`, nil)
	waitState(t, srv.URL, started.RunID, "done")
	callerSpan.End()

	// The run's span ends once its last event is durable, a moment after
	// GET /runs says done.
	var spans tracetest.SpanStubs
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if spans = exp.GetSpans(); slices.ContainsFunc(spans, func(s tracetest.SpanStub) bool { return s.Name == "run Signup" }) {
			break
		}
	}
	want := `client
  POST /flows/{flow}/runs
    run Signup
      step CreateCustomer
        call customers Customer.Create
      wait AwaitPayment
      step AwaitPayment
      step Welcome
        publish mail
`
	got := tree(spans)
	// The caller's tree is exactly that; the other requests (the event,
	// the status polls) are roots of their own.
	if !strings.HasPrefix(got, want) || strings.HasPrefix(got[len(want):], " ") {
		t.Fatalf("trace tree:\n%s\nwant it to start with:\n%s", got, want)
	}
	traceID := callerSpan.SpanContext().TraceID()
	var eventLink string
	for _, s := range spans {
		switch {
		case s.Name == "run Signup":
			if attr(s, "flowgen.run_id") != started.RunID || attr(s, "flowgen.final") != "done" || attr(s, "flowgen.flow") != "Signup" ||
				attr(s, "flowgen.resumed") != "false" || attr(s, "flowgen.suspended") != "false" {
				t.Errorf("run span attributes %v", s.Attributes)
			}
		case s.Name == "step CreateCustomer":
			if attr(s, "flowgen.idempotency_key") != started.RunID+"/CreateCustomer" || attr(s, "flowgen.outcome") != "ok" ||
				attr(s, "flowgen.attempt") != "1" || attr(s, "flowgen.flow") != "Signup" || attr(s, "flowgen.step") != "CreateCustomer" {
				t.Errorf("step span attributes %v", s.Attributes)
			}
		case s.Name == "call customers Customer.Create":
			if s.SpanKind != trace.SpanKindClient {
				t.Errorf("call span kind %v", s.SpanKind)
			}
			if attr(s, "rpc.service") != "customers" || attr(s, "rpc.method") != "Customer.Create" ||
				attr(s, "http.request.method") != "POST" || attr(s, "http.response.status_code") != "200" {
				t.Errorf("call span attributes %v", s.Attributes)
			}
			want := tracectx.Traceparent(s.SpanContext)
			if parents := svc.Traceparents(); len(parents) != 1 || parents[0] != want {
				t.Errorf("the service got traceparent %q, want the call span's %q", parents, want)
			}
		case s.Name == "wait AwaitPayment":
			if attr(s, "flowgen.topic") != "payments" || attr(s, "flowgen.event") != "payment.succeeded" || attr(s, "flowgen.outcome") != "woken" ||
				attr(s, "flowgen.flow") != "Signup" || attr(s, "flowgen.step") != "AwaitPayment" {
				t.Errorf("wait span attributes %v", s.Attributes)
			}
			// The event's request is a trace of its own, which the
			// wait links to.
			i := slices.IndexFunc(spans, func(s tracetest.SpanStub) bool { return s.Name == "POST /events/{topic}/{event}" })
			if i < 0 {
				t.Fatalf("no span of the event's request: %s", tree(spans))
			}
			if len(s.Links) != 1 || s.Links[0].SpanContext.SpanID() != spans[i].SpanContext.SpanID() {
				t.Errorf("wait span links %+v, want the event request's span %s", s.Links, spans[i].SpanContext.SpanID())
			}
			eventLink = tracectx.Traceparent(spans[i].SpanContext)
		case s.Name == "publish mail":
			// OpenTelemetry's conventions for messaging: a producer span
			// that names the topic its event goes to.
			if s.SpanKind != trace.SpanKindProducer || attr(s, "messaging.destination.name") != "mail" || attr(s, "messaging.system") != "flowgen" ||
				attr(s, "messaging.operation.type") != "send" || attr(s, "messaging.operation.name") != "publish" ||
				attr(s, "messaging.message.id") == "" || attr(s, "flowgen.event") != "welcome" {
				t.Errorf("publish span %v attributes %v", s.SpanKind, s.Attributes)
			}
		case s.Name == "POST /flows/{flow}/runs":
			if s.SpanKind != trace.SpanKindServer || attr(s, "http.request.method") != "POST" || attr(s, "http.route") != "/flows/{flow}/runs" ||
				attr(s, "url.path") != "/flows/Signup/runs" || attr(s, "http.response.status_code") != "201" {
				t.Errorf("request span %v attributes %v", s.SpanKind, s.Attributes)
			}
		}
		// Every attribute is of an OpenTelemetry convention or under
		// flowgen's namespace: none is a bare "flow" or "step" that
		// another library's attribute could mean something else by.
		for _, kv := range s.Attributes {
			if k := string(kv.Key); !slices.ContainsFunc([]string{"flowgen.", "http.", "url.", "server.", "client.", "user_agent.", "network.", "rpc.", "error.", "messaging."}, func(ns string) bool { return strings.HasPrefix(k, ns) }) {
				t.Errorf("span %s: attribute %s has no namespace", s.Name, k)
			}
		}
		if strings.HasPrefix(s.Name, "POST /flows") || strings.HasPrefix(s.Name, "run ") || strings.HasPrefix(s.Name, "step ") {
			if s.SpanContext.TraceID() != traceID {
				t.Errorf("span %s is in trace %s, not the caller's %s", s.Name, s.SpanContext.TraceID(), traceID)
			}
		}
	}

	// The run's first event keeps the run span's traceparent.
	res, err := http.Get(srv.URL + "/runs/" + started.RunID + "/history")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if !bytes.Contains(body, []byte(`"trace":"00-`+traceID.String())) {
		t.Errorf("history does not record the run's trace: %s", body)
	}
	// Its wake-up keeps the event's sender.
	if eventLink == "" || !bytes.Contains(body, []byte(`"link":"`+eventLink+`"`)) {
		t.Errorf("history does not record the event's sender %q: %s", eventLink, body)
	}
}

// TestMetricsExposition: after a signup, GET /metrics is valid Prometheus
// text (expfmt parses it) and counts what happened.
func TestMetricsExposition(t *testing.T) {
	_, srv, stop := metricsEngine(t)
	defer stop()
	var started struct {
		RunID string `json:"run_id"`
	}
	_ = json.Unmarshal(post(t, srv.URL+"/flows/Signup/runs", `{"Email":"ada@example.com"}`, nil), &started)
	waitState(t, srv.URL, started.RunID, "waiting")
	// The observer hears of an event once the store has it, so the
	// metrics follow the run's status closely, not at the same instant.
	families := scrapeUntil(t, srv.URL, func(f map[string]*dtoFamily) bool {
		return sample(f, "flowgen_runs_waiting", "flow", "Signup") == 1
	})
	if v := sample(families, "flowgen_runs_waiting", "flow", "Signup"); v != 1 {
		t.Errorf("runs waiting %v, want 1", v)
	}
	post(t, srv.URL+"/events/payments/payment.succeeded", `{"correlation_id":"ada@example.com","amount":42}`, nil)
	waitState(t, srv.URL, started.RunID, "done")

	families = scrapeUntil(t, srv.URL, func(f map[string]*dtoFamily) bool {
		return sample(f, "flowgen_runs_finished_total", "state", "done") == 1
	})
	for name, f := range families {
		t.Logf("%s %s", f.GetType(), name)
	}
	checks := []struct {
		name, key, value string
		want             float64
	}{
		{"flowgen_runs_started_total", "flow", "Signup", 1},
		{"flowgen_runs_finished_total", "state", "done", 1},
		{"flowgen_runs_waiting", "flow", "Signup", 0},
		{"flowgen_step_duration_seconds", "step", "CreateCustomer", 1},
		{"flowgen_step_duration_seconds", "step", "Welcome", 1},
		{"flowgen_broker_lag_seconds", "event", "payment.succeeded", -1}, // -1: present
		{"flowgen_store_sync_duration_seconds", "", "", -1},
		{"flowgen_store_commit_records", "", "", -1},
	}
	for _, c := range checks {
		v := sample(families, c.name, c.key, c.value)
		if c.want < 0 && v < 1 || c.want >= 0 && v != c.want {
			t.Errorf("%s{%s=%q} = %v, want %v", c.name, c.key, c.value, v, c.want)
		}
	}
	for _, name := range []string{"flowgen_retries_total", "flowgen_rollbacks_total", "flowgen_broker_dead_letters_total"} {
		// Nothing happened yet: OTel exports a counter once it has a value.
		if _, ok := families[name]; ok && sample(families, name, "", "") != 0 {
			t.Errorf("%s counts something", name)
		}
	}
}

// metricsEngine is signupEngine with telemetry without tracing.
func metricsEngine(t *testing.T) (*observe.Telemetry, *httptest.Server, func()) {
	t.Helper()
	tel, err := observe.New(observe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, stop := signupEngine(t, tel, newSignupService())
	return tel, srv, stop
}

// scrape GETs /metrics and parses it as the Prometheus text format.
// scrapeUntil scrapes GET /metrics until done says the metrics show what
// the test waits for, or 10 seconds passed: the last scrape.
func scrapeUntil(t *testing.T, base string, done func(map[string]*dtoFamily) bool) map[string]*dtoFamily {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f := scrape(t, base)
		if done(f) || time.Now().After(deadline) {
			return f
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func scrape(t *testing.T, base string) map[string]*dtoFamily {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", res.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("GET /metrics is not the Prometheus text format: %v", err)
	}
	return fams
}

type dtoFamily = dto.MetricFamily

// sample sums the values of name's series whose label key is value (all
// series when key is ""): a counter's or gauge's value, a histogram's
// count. It is -1 when name is not exported.
func sample(fams map[string]*dtoFamily, name, key, value string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
	sum := 0.0
	for _, m := range f.GetMetric() {
		match := key == ""
		for _, l := range m.GetLabel() {
			if l.GetName() == key && l.GetValue() == value {
				match = true
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}
