package jsonflows

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/server/common/dynamicconfig"

	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// An inbox whose events are large continues as new when the server
// suggests it (its history's size), not only every inboxSignalsPerRun
// signals: each event it hands over costs its history the event's payload
// twice (the signal that brought it, the signal to the run), so with
// payloads near POST /events' bound of 1 MiB, the 50 MB past which
// Temporal terminates a workflow come after a few dozen events, long
// before a thousand signals. Before, the inbox was terminated there, with
// the events it held, which POST /events had answered 202 for: no run
// took them, the next runs taking later ones (run r7 took event 9). The
// server here terminates at 640 KB and suggests continuing as new from
// 128 KB, with events of 40 KB.
func TestInboxContinuesAsNewBeforeTheHistorySizeLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	o := newOnTemporalWith(t, "inbox-size-test", 0, testserver.Dynamic(dynamicconfig.StaticClient{
		dynamicconfig.HistorySizeLimitError.Key():           []dynamicconfig.ConstrainedValue{{Value: 640 << 10}},
		dynamicconfig.HistorySizeLimitWarn.Key():            []dynamicconfig.ConstrainedValue{{Value: 320 << 10}},
		dynamicconfig.HistorySizeSuggestContinueAsNew.Key(): []dynamicconfig.ConstrainedValue{{Value: 128 << 10}},
	}))
	// An await with no correlation: one inbox takes every event.
	o.must(t, "PUT", "/flows", `{"version": 1, "flows": [{"name": "Hold", "state": "S", "triggers": [{"kind": "rpc", "endpoint": "Hold.Start"}], "steps": [
  {"name": "Pay", "action": {"kind": "await", "topic": "payments", "event": "paid", "response": "Payment", "timeout": "1h"}, "on": [{"on": "timeout", "target": "fail"}]}]}]}`, 200)
	w := o.worker(t)
	defer w.Stop()
	pad := strings.Repeat("x", 40<<10)
	post := func(i int) {
		o.must(t, "POST", fmt.Sprintf("/events/payments/paid?id=p%d", i), fmt.Sprintf(`{"n": %d, "pad": %q}`, i, pad), 202)
	}
	// The inbox holds three events for the runs to come throughout, each
	// run taking the oldest (the event's n is the run's), and about 1 MB
	// pass through it.
	const held, runs = 3, 12
	for i := range held {
		post(i)
	}
	ctx := context.Background()
	for i := range runs {
		run := fmt.Sprint("r", i)
		o.must(t, "POST", "/flows/Hold/runs?run_id="+run, `{}`, 201)
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := o.c.GetWorkflow(wctx, run, "").Get(wctx, nil)
		cancel()
		if err != nil {
			t.Fatalf("run %s, whose event POST /events took: %v", run, err)
		}
		h, err := o.x.History(ctx, run)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf(`"n":%d,`, i); !strings.Contains(string(h[len(h)-1].State), want) {
			t.Fatalf("run %s took the event %.40s..., want the oldest the inbox held, %s", run, h[len(h)-1].State, want)
		}
		post(held + i)
	}
}
