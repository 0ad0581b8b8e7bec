package observe_test

import (
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/observe"
)

// TestProcessMetrics: with Options.ProcessMetrics, GET /metrics carries
// the Go runtime's and the process's metrics beside flowgen's, the series
// an operator watches goroutines, memory and file descriptors with;
// without it, none of them, so that a program exporting its own does not
// get them twice.
func TestProcessMetrics(t *testing.T) {
	for _, on := range []bool{false, true} {
		tel, err := observe.New(observe.Options{ProcessMetrics: on})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(tel.Metrics())
		fams := scrape(t, srv.URL)
		srv.Close()
		want := []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "go_gc_duration_seconds"}
		if runtime.GOOS == "linux" {
			// The process collector reads /proc: elsewhere it has less.
			want = append(want, "process_open_fds", "process_max_fds", "process_resident_memory_bytes")
		}
		for _, name := range want {
			if _, ok := fams[name]; ok != on {
				t.Errorf("ProcessMetrics %v: %s exposed %v", on, name, ok)
			}
		}
		if !on {
			for name := range fams {
				if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
					t.Errorf("ProcessMetrics false: %s exposed", name)
				}
			}
		}
		if sample(fams, "go_goroutines", "", "") == 0 {
			t.Error("go_goroutines is 0")
		}
	}
}
