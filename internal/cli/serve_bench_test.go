package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var benchWaiting = flag.Int("waiting", 20000, "runs BenchmarkServeWaitingRuns parks")

const waitingFlows = `{"version": 1, "flows": [
 {"name": "Pay", "state": "PayState", "triggers": [{"kind": "rpc", "endpoint": "Pay.Start"}],
  "steps": [{"name": "AwaitPayment", "action": {"kind": "await", "topic": "payments", "event": "order.paid", "response": "Payment", "correlate": "OrderID", "timeout": "100h"}, "irreversible": true}]}
]}`

// rssKB is the resident set size of process pid, in KiB.
func rssKB(b *testing.B, pid int) int {
	b.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Skip("no /proc: ", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// firstAnswer starts serve with args and returns it and the time from
// starting the process to the first answer of GET /runs?limit=1.
func firstAnswer(b *testing.B, client *http.Client, args ...string) (*serveProc, time.Duration) {
	b.Helper()
	start := time.Now()
	p := startServeProc(b, args...)
	res, err := client.Get(p.url + "/runs?limit=1")
	if err != nil {
		b.Fatal(err)
	}
	res.Body.Close()
	took := time.Since(start)
	if res.StatusCode != 200 {
		b.Fatalf("GET /runs: %d", res.StatusCode)
	}
	return p, took
}

// BenchmarkServeWaitingRuns measures a real `flowgen serve` process (this
// test binary as the flowgen command) with -waiting runs (default 20,000)
// parked on an await: its RSS, against the same server with no run; then,
// killed with SIGKILL and started again, the time from starting the
// process to the first answer, against the same on an empty store, and the
// time it took to resume them all in the background (from its log). Run
// it once: -benchtime 1x.
func BenchmarkServeWaitingRuns(b *testing.B) {
	n := *benchWaiting
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for range b.N {
		dir := b.TempDir()
		flowsDir := filepath.Join(dir, "flows")
		if err := os.MkdirAll(flowsDir, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(flowsDir, "pay.json"), []byte(waitingFlows), 0o644); err != nil {
			b.Fatal(err)
		}
		// Baseline: an empty store.
		empty, emptyFirst := firstAnswer(b, client, "-store", filepath.Join(dir, "empty"), "-flows", flowsDir)
		time.Sleep(200 * time.Millisecond)
		emptyRSS := rssKB(b, empty.cmd.Process.Pid)
		empty.kill9()

		args := []string{"-store", filepath.Join(dir, "store"), "-flows", flowsDir}
		p := startServeProc(b, args...)
		var next atomic.Int64
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() {
				for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
					if s := postJSON(client, fmt.Sprintf("%s/rpc/Pay.Start?run_id=pay-%d", p.url, i), "", fmt.Sprintf(`{"OrderID": "p-%d"}`, i)); s != 201 {
						b.Errorf("start pay-%d: %d", i, s)
						return
					}
				}
			})
		}
		wg.Wait()
		if b.Failed() {
			b.FailNow()
		}
		for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
			res, err := client.Get(p.url + "/runs?limit=1&status=running")
			if err != nil {
				b.Fatal(err)
			}
			var out struct {
				Runs []any `json:"runs"`
			}
			_ = jsonDecode(res, &out)
			if len(out.Runs) == 0 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("runs still running after 5 minutes")
			}
		}
		time.Sleep(200 * time.Millisecond)
		waitingRSS := rssKB(b, p.cmd.Process.Pid)
		p.kill9()

		p, first := firstAnswer(b, client, args...)
		var resumed time.Duration
		for deadline := time.Now().Add(5 * time.Minute); resumed == 0; time.Sleep(20 * time.Millisecond) {
			for _, line := range strings.Split(p.logs.String(), "\n") {
				if !strings.Contains(line, `msg="unfinished runs resumed"`) {
					continue
				}
				for _, f := range strings.Fields(line) {
					if v, ok := strings.CutPrefix(f, "took="); ok {
						resumed, _ = time.ParseDuration(v)
					}
				}
			}
			if time.Now().After(deadline) {
				b.Fatal("no resume in the log after 5 minutes")
			}
		}
		afterRSS := rssKB(b, p.cmd.Process.Pid)
		p.kill9()

		b.ReportMetric(float64(emptyRSS)/1024, "rss-empty-MiB")
		b.ReportMetric(float64(waitingRSS)/1024, "rss-waiting-MiB")
		b.ReportMetric(float64(afterRSS)/1024, "rss-resumed-MiB")
		b.ReportMetric(float64(waitingRSS-emptyRSS)*1024/float64(n), "B/waiting-run")
		b.ReportMetric(float64(first.Milliseconds()), "first-answer-ms")
		b.ReportMetric(float64(emptyFirst.Milliseconds()), "first-answer-empty-ms")
		b.ReportMetric(float64(first)/float64(emptyFirst), "first/empty")
		b.ReportMetric(float64(resumed.Milliseconds()), "resume-all-ms")
		b.ReportMetric(0, "ns/op")
	}
}

func jsonDecode(res *http.Response, v any) error {
	defer res.Body.Close()
	return json.NewDecoder(res.Body).Decode(v)
}
