package observe_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/flowgen/flowgen/runtime"
)

// documentedMetric is a row of the metrics table of docs/observability.md.
type documentedMetric struct {
	typ    string
	labels []string
}

// documentedMetrics reads the table of docs/observability.md's Metrics
// section, and the names its example alerts use.
func documentedMetrics(t *testing.T) (map[string]documentedMetric, []string) {
	t.Helper()
	docs, alerts := documentedMetricsAndAlerts(t)
	var used []string
	for _, line := range strings.Split(alerts, "\n") {
		used = append(used, regexp.MustCompile(`flowgen_[a-z_]+`).FindAllString(line, -1)...)
	}
	return docs, used
}

// documentedMetricsAndAlerts reads the table of docs/observability.md's
// Metrics section, and its example alerts without their comment lines.
func documentedMetricsAndAlerts(t *testing.T) (map[string]documentedMetric, string) {
	t.Helper()
	b, err := os.ReadFile("../docs/observability.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	_, metrics, ok := strings.Cut(doc, "\n## Metrics\n")
	if !ok {
		t.Fatal("docs/observability.md has no Metrics section")
	}
	metrics, _, _ = strings.Cut(metrics, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `(flowgen_[a-z_]+)` \\| ([a-z]+) \\|([^|]*)\\|")
	out := map[string]documentedMetric{}
	for _, m := range row.FindAllStringSubmatch(metrics, -1) {
		var labels []string
		for _, l := range strings.Split(m[3], ",") {
			if l = strings.Trim(strings.TrimSpace(l), "`"); l != "" {
				labels = append(labels, l)
			}
		}
		slices.Sort(labels)
		out[m[1]] = documentedMetric{m[2], labels}
	}
	_, alerts, ok := strings.Cut(metrics, "```promql\n")
	if !ok {
		t.Fatal("docs/observability.md's Metrics section has no example alerts")
	}
	alerts, _, _ = strings.Cut(alerts, "```")
	var exprs []string
	for _, line := range strings.Split(alerts, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			exprs = append(exprs, line)
		}
	}
	return out, strings.Join(exprs, "\n")
}

// TestMetricsAsDocumented: after runs that wait, retry, roll back, end
// done and compensation_failed, store commits and broker deliveries and a
// dead letter, GET /metrics exposes exactly the metrics of the table of
// docs/observability.md, with its types and labels; the example alerts
// use exposed names, and select exposed series (checkAlertLabels); and a flow has its runs_finished series at 0 for
// every terminal state once it ran (from its definition in an engine:
// TestDefinedFlowHasZeroSeries), so that increase() sees its first
// compensation_failed run.
func TestMetricsAsDocumented(t *testing.T) {
	tel, srv, stop := metricsEngine(t)
	defer stop()
	post(t, srv.URL+"/flows/Signup/runs?run_id=ada", `{"Email":"ada@example.com"}`, nil)
	waitState(t, srv.URL, "ada", "waiting")
	post(t, srv.URL+"/events/payments/payment.succeeded", `{"correlation_id":"ada@example.com","amount":42}`, nil)
	waitState(t, srv.URL, "ada", "done")
	tel.DeadLettered("accounts", "signup.requested")
	tel.Refused("accounts", "signup.requested")

	// A is retried once, then B fails and A's rollback fails: the run
	// ends compensation_failed.
	tries := 0
	f := runtime.New[resumeState]("Undo", runtime.WithObserver(tel))
	if err := f.Register(
		runtime.NewStep("A", func(context.Context, *resumeState) (runtime.Outcome, error) {
			if tries++; tries == 1 {
				return "", errors.New("busy")
			}
			return "", nil
		}, runtime.WithRetry[resumeState](runtime.RetryPolicy{Attempts: 2, Initial: time.Millisecond}),
			runtime.WithRollback(func(context.Context, *resumeState) error { return runtime.Permanent(errors.New("gone")) })),
		runtime.NewStep("B", func(context.Context, *resumeState) (runtime.Outcome, error) {
			return "", runtime.Permanent(errors.New("card declined"))
		}, runtime.WithIrreversible[resumeState]()),
	); err != nil {
		t.Fatal(err)
	}
	if res, _ := f.Execute(context.Background(), resumeState{}, runtime.WithRunID("u1")); res.Final != runtime.StateCompensationFailed {
		t.Fatalf("run ended %s", res.Final)
	}

	fams := scrape(t, srv.URL)
	docs, alertNames := documentedMetrics(t)
	if len(docs) == 0 || len(alertNames) == 0 {
		t.Fatalf("docs/observability.md: metrics %v, names in the alerts %v", docs, alertNames)
	}
	for name, d := range docs {
		f, ok := fams[name]
		if !ok {
			t.Errorf("%s is documented, not exposed", name)
			continue
		}
		if typ := strings.ToLower(f.GetType().String()); typ != d.typ {
			t.Errorf("%s is a %s, documented as a %s", name, typ, d.typ)
		}
		for _, m := range f.GetMetric() {
			if got := labelNames(m); !slices.Equal(got, d.labels) {
				t.Errorf("%s has labels %v, documented %v", name, got, d.labels)
				break
			}
		}
	}
	for name := range fams {
		if _, ok := docs[name]; !ok && strings.HasPrefix(name, "flowgen_") {
			t.Errorf("%s is exposed, not documented", name)
		}
	}
	for _, name := range alertNames {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if f, ok := fams[base]; !ok || base != name && f.GetType() != dto.MetricType_HISTOGRAM {
			t.Errorf("an example alert uses %s, which is not exposed", name)
		}
	}
	for _, s := range runtime.RunStates {
		if !s.Terminal() {
			continue
		}
		want := 0.0
		if s == runtime.StateDone {
			want = 1
		}
		if v, ok := series(fams, "flowgen_runs_finished_total", "flow", "Signup", "state", string(s)); !ok || v != want {
			t.Errorf("flowgen_runs_finished_total{flow=Signup,state=%s}: %v (exposed: %v), want %v", s, v, ok, want)
		}
	}
	if v, _ := series(fams, "flowgen_runs_finished_total", "flow", "Undo", "state", "compensation_failed"); v != 1 {
		t.Errorf("flowgen_runs_finished_total{flow=Undo,state=compensation_failed} = %v, want 1", v)
	}
	_, alerts := documentedMetricsAndAlerts(t)
	checkAlertLabels(t, alerts, fams)
}

// checkAlertLabels holds the example alerts to the series a scrape
// exposes: a selector's matchers (name{k="v"}) select at least one series
// of the scrape, and the labels an aggregation keeps (sum by (...) over a
// metric) are labels of that metric, le of a histogram's buckets. An alert
// on a label the exporter does not set (or spells otherwise) never fires,
// and nothing says so.
func checkAlertLabels(t *testing.T, alerts string, fams map[string]*dtoFamily) {
	t.Helper()
	family := func(name string) (*dtoFamily, bool) {
		if base, ok := strings.CutSuffix(name, "_bucket"); ok && fams[base].GetType() == dto.MetricType_HISTOGRAM {
			return fams[base], true
		}
		f, ok := fams[name]
		return f, ok
	}
	selectors := regexp.MustCompile(`(flowgen_[a-z_]+)\{([^}]*)\}`).FindAllStringSubmatch(alerts, -1)
	for _, sel := range selectors {
		f, _ := family(sel[1])
		want := map[string]string{}
		for _, m := range regexp.MustCompile(`([a-z_]+)="([^"]*)"`).FindAllStringSubmatch(sel[2], -1) {
			want[m[1]] = m[2]
		}
		if len(want) == 0 {
			t.Errorf("example alert selector %s: no k=\"v\" matcher this test reads", sel[0])
		}
		found := false
		for _, m := range f.GetMetric() {
			n := 0
			for _, l := range m.GetLabel() {
				if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
					n++
				}
			}
			found = found || n == len(want)
		}
		if !found {
			t.Errorf("example alert selector %s selects no series of GET /metrics", sel[0])
		}
	}
	bys := regexp.MustCompile(`by \(([^)]*)\) \((?:rate|increase)\((flowgen_[a-z_]+)`).FindAllStringSubmatch(alerts, -1)
	for _, by := range bys {
		f, ok := family(by[2])
		if !ok || len(f.GetMetric()) == 0 {
			t.Errorf("example alert aggregates %s, which GET /metrics does not expose", by[2])
			continue
		}
		labels := labelNames(f.GetMetric()[0])
		if strings.HasSuffix(by[2], "_bucket") {
			labels = append(labels, "le")
		}
		for _, l := range strings.Split(by[1], ",") {
			if l = strings.TrimSpace(l); !slices.Contains(labels, l) {
				t.Errorf("example alert keeps label %q of %s, which has %v", l, by[2], labels)
			}
		}
	}
	if len(selectors) == 0 || len(bys) == 0 {
		t.Errorf("the example alerts have %d selectors and %d aggregations this test reads: teach it their new form", len(selectors), len(bys))
	}
}

func labelNames(m *dto.Metric) []string {
	var names []string
	for _, l := range m.GetLabel() {
		names = append(names, l.GetName())
	}
	slices.Sort(names)
	return names
}

// series is the value of name's series with exactly the labels k1=v1,
// k2=v2, and whether it is exposed.
func series(fams map[string]*dtoFamily, name, k1, v1, k2, v2 string) (float64, bool) {
	for _, m := range fams[name].GetMetric() {
		want := map[string]string{k1: v1, k2: v2}
		for _, l := range m.GetLabel() {
			if want[l.GetName()] == l.GetValue() {
				delete(want, l.GetName())
			}
		}
		if len(want) == 0 && len(m.GetLabel()) == 2 {
			return m.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

// TestMetricNamesInDocs: a metric another doc names (docs/store.md names
// the store's) is one of the table of docs/observability.md, which
// TestMetricsAsDocumented holds to what GET /metrics exposes, so that an
// operator's alert written from any page scrapes a real series. A name
// followed by a dot is a NATS subject (flowgen_provider.>), not a metric.
func TestMetricNamesInDocs(t *testing.T) {
	docs, _ := documentedMetrics(t)
	files, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`(flowgen_[a-z_]+)\b(?:[^.]|$)`)
	for _, file := range append(files, "../README.md") {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, sub := range name.FindAllStringSubmatch(string(b), -1) {
			m := sub[1]
			base := m
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(m, suffix); ok && docs[b].typ == "histogram" {
					base = b
				}
			}
			if _, ok := docs[base]; !ok {
				t.Errorf("%s names metric %s, which docs/observability.md's table does not have", file, m)
			}
		}
	}
}
