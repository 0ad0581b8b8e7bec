package ui_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// growingExecutor stands for an executor whose runs record their events
// elsewhere (jsonflows: on Temporal): Runs lists the runs started so far,
// and the engine hears of none of their events.
type growingExecutor struct {
	engine.Executor
	mu   sync.Mutex
	runs []store.RunInfo
}

func (*growingExecutor) Attach(context.Context, engine.ExecFlow) (func(), error) {
	return func() {}, nil
}

func (x *growingExecutor) Runs(context.Context, store.Filter) ([]store.RunInfo, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]store.RunInfo(nil), x.runs...), nil
}

func (x *growingExecutor) add(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	t := time.Date(2026, 1, 1, 0, len(x.runs), 0, 0, time.UTC)
	x.runs = append([]store.RunInfo{{RunID: id, Flow: "F", State: runtime.StateDone, Machine: "done", Started: t, Updated: t}}, x.runs...)
}

// On a server without live events (GET /session lists no GET /watch:
// flowgen-temporal serve) the runs list does not claim to be live over a
// page that never moves: its badge reads "polling", and a run started
// after the page opened shows up without a reload.
func TestBrowserPollsWithoutWatch(t *testing.T) {
	x := &growingExecutor{}
	x.add("r-1")
	e, err := engine.New(engine.Options{Executor: x, Caller: runtime.NewMemoryCaller()})
	if err != nil {
		t.Fatal(err)
	}
	doc := `{"version": 1, "flows": [{"name": "F", "steps": [{"name": "A", "action": {"kind": "rpc", "service": "s", "endpoint": "S.A"}, "irreversible": true}]}]}`
	if ds, err := e.LoadFlows("f.json", []byte(doc)); err != nil {
		t.Fatalf("%v\n%v", err, ds)
	}
	url := serve(t, e)
	ctx := browser(t)
	run(t, ctx, "the list", chromedp.Navigate(url+"/ui/#/runs"), rowsAre("r-1"),
		poll(`document.querySelector("#live").textContent === "polling" && !document.querySelector("#live").hidden`))
	x.add("r-2")
	run(t, ctx, "a run started since", rowsAre("r-2", "r-1"))
	shot(t, ctx, "1-polled")
}
