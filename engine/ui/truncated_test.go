package ui_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// cutShortExecutor stands for an executor past its scan bound (jsonflows
// on Temporal reads at most 10,000 workflows a list): Runs finds runs and
// says the list is cut short while cut is set. Nothing else is called by
// the runs page.
type cutShortExecutor struct {
	engine.Executor
	cut atomic.Bool
}

func (*cutShortExecutor) Attach(context.Context, engine.ExecFlow) (func(), error) {
	return func() {}, nil
}

func (x *cutShortExecutor) Runs(_ context.Context, f store.Filter) ([]store.RunInfo, error) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	runs := []store.RunInfo{{RunID: "r-2", Flow: "F", State: runtime.StateDone, Machine: "done", Started: t0.Add(time.Minute), Updated: t0.Add(time.Hour)},
		{RunID: "r-1", Flow: "F", State: runtime.StateDone, Machine: "done", Started: t0, Updated: t0.Add(time.Hour)}}
	if x.cut.Load() {
		return runs, fmt.Errorf("%w: read 10000", engine.ErrListTruncated)
	}
	return runs, nil
}

// The runs list says when the service cut it short, so that a reader does
// not take it for all the runs, and says nothing when the list is whole.
func TestBrowserListCutShort(t *testing.T) {
	x := &cutShortExecutor{}
	x.cut.Store(true)
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
	run(t, ctx, "the cut-short list", chromedp.Navigate(url+"/ui/#/runs"), rowsAre("r-2", "r-1"),
		chromedp.WaitVisible(chromedp.CSS("#truncated")))
	shot(t, ctx, "1-cut-short")
	x.cut.Store(false)
	run(t, ctx, "a whole list", chromedp.Reload(), rowsAre("r-2", "r-1"),
		poll(`document.querySelector("#truncated") !== null && document.querySelector("#truncated").hidden`))
	shot(t, ctx, "2-whole")
}
