package cli

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestServeMetrics: flowgen serve answers GET /metrics in the Prometheus
// text format (the observe package's tests check what it counts), with
// the Go runtime's and the process's own metrics (observe.Options.ProcessMetrics).
func TestServeMetrics(t *testing.T) {
	addr, stop := startServe(t, t.TempDir(), "")
	defer stop()
	res, err := http.Get(addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", res.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("not the Prometheus text format: %v\n%s", err, body)
	}
	for _, name := range []string{"go_goroutines", "process_open_fds", "process_resident_memory_bytes"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("GET /metrics has no %s", name)
		}
	}
}
