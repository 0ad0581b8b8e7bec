//go:build unix

package cli

// flowgen_runs_waiting across restarts of `flowgen serve` on a durable
// store: a restart resumes the runs that wait (an await, a sleep, a Go step
// waiting for a provider), and the gauge must count them again, once each,
// and drop to 0 when they stop waiting. docs/observability.md promises the
// gauge counts the waiting runs the process holds.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// restartWaitFlows: Pay awaits its payment, Nap sleeps until a time an hour
// away; billFlow's first step (a Go step, no provider yet) waits for a
// provider.
const restartWaitFlows = `{"version": 1, "flows": [
 {"name": "Pay", "state": "PayState", "triggers": [{"kind": "rpc", "endpoint": "Pay.Start"}],
  "steps": [{"name": "AwaitPayment", "action": {"kind": "await", "topic": "payments", "event": "order.paid", "correlate": "OrderID", "timeout": "100h"}, "irreversible": true}]},
 {"name": "Nap", "state": "NapState", "triggers": [{"kind": "rpc", "endpoint": "Nap.Start"}],
  "steps": [{"name": "Snooze", "action": {"kind": "sleep", "until": "WakeAt"}, "irreversible": true}]}
]}`

func TestServeRunsWaitingAfterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serve processes")
	}
	const n = 4
	dir := t.TempDir()
	storeDir, flowsDir := filepath.Join(dir, "store"), filepath.Join(dir, "flows")
	if err := os.MkdirAll(flowsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"waiting.json": restartWaitFlows, "Bill.json": billFlow} {
		if err := os.WriteFile(filepath.Join(flowsDir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"-store", storeDir, "-flows", flowsDir}
	flows := []string{"Pay", "Nap", "Bill"}
	p := startServeProc(t, args...)
	wake := time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)
	var naps []string
	for i := range n {
		starts := map[string]string{
			"Pay":  fmt.Sprintf(`{"OrderID": "o-%d"}`, i),
			"Nap":  fmt.Sprintf(`{"WakeAt": %q}`, wake),
			"Bill": `{}`,
		}
		for _, flow := range flows {
			code, out := call(t, "POST", p.url+"/rpc/"+flow+".Start", starts[flow])
			if code != 201 {
				t.Fatalf("start %s: %d %v", flow, code, out)
			}
			if flow == "Nap" {
				naps = append(naps, out["run_id"].(string))
			}
		}
	}
	// expect waits until every flow's gauge reads want, once the process
	// has resumed what the store held (its log says so per flow).
	expect := func(life string, p *serveProc, want float64, resumed bool) {
		t.Helper()
		for _, flow := range flows {
			if resumed {
				waitUntil(t, life+": "+flow+"'s runs resumed", func() bool {
					return strings.Contains(p.logs.String(), `msg="unfinished runs resumed" flow=`+flow+" ")
				})
			}
			var got float64
			waitUpTo(t, 20*time.Second, fmt.Sprintf("%s: flowgen_runs_waiting{flow=%q} == %v", life, flow, want), func() bool {
				got = runsWaiting(t, p.url, flow)
				return got == want
			})
		}
	}
	expect("first life", p, n, false)

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	<-p.done
	p = startServeProc(t, args...)
	expect("after SIGTERM", p, n, true)

	p.kill9()
	p = startServeProc(t, args...)
	expect("after kill -9", p, n, true)

	for i := range n {
		if code := postJSON(http.DefaultClient, fmt.Sprintf("%s/events/payments/order.paid?id=paid-%d", p.url, i), "", fmt.Sprintf(`{"correlation_id": "o-%d"}`, i)); code != 202 {
			t.Fatalf("event %d: %d", i, code)
		}
	}
	for _, id := range naps {
		if code, out := call(t, "POST", p.url+"/runs/"+id+"/abort", ""); code != 200 && code != 202 {
			t.Fatalf("abort %s: %d %v", id, code, out)
		}
	}
	startProvider(t, "http", p.url, "billing", filepath.Join(dir, "calls"), envProviderOnly+"=steps")
	expect("once the runs go on", p, 0, false)
}

// runsWaiting reads flowgen_runs_waiting{flow} from GET /metrics (0 when
// the series is not there).
func runsWaiting(t *testing.T, url, flow string) float64 {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	f, ok := fams["flowgen_runs_waiting"]
	if !ok {
		return 0
	}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "flow" && l.GetValue() == flow {
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}
