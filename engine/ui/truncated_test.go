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

// The store's retention removes finished runs (store.Options.Retain). A
// runs list on a later page continues after the last run of the page
// before it (GET /runs's cursor): once that run is gone, the server
// refuses the cursor (400, "list again from the start").
//
// A list on its second page whose cursor's run the retention removed
// lists again from the first page, with the runs there are, rather than
// say that the server refused its filter.
func TestBrowserListPageGoneToRetention(t *testing.T) {
	var later atomic.Bool // the store's clock, two hours on: every finished run is past its retention
	st, err := store.Open(t.TempDir(), store.Options{Retain: time.Hour, CompactEvery: -1, Now: func() time.Time {
		if later.Load() {
			return time.Now().Add(2 * time.Hour)
		}
		return time.Now()
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	v := newEnvOn(t, st, false, 0, nil)
	var old []string
	for range 30 {
		id := v.start("Brittle", `{"Item": "vase"}`)
		v.await(id, runtime.StateCompensationFailed)
		old = append(old, id)
	}
	ctx := browser(t)
	run(t, ctx, "the second page", chromedp.Navigate(v.url+"/ui/#/runs?flow=Brittle"),
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`tr[data-run=%q]`, old[29]))),
		chromedp.Click(chromedp.CSS("#next")),
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`tr[data-run=%q]`, old[0]))))
	later.Store(true)
	if stats, err := st.CompactAll(context.Background()); err != nil || stats.RunsRemoved != len(old) {
		t.Fatalf("compaction: %+v %v, want the %d runs removed", stats, err, len(old))
	}
	later.Store(false)
	// A run started now moves the list, which reads its page again.
	id := v.start("Brittle", `{"Item": "cup"}`)
	v.await(id, runtime.StateCompensationFailed)
	run(t, ctx, "the first page, with the new run", chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`tr[data-run=%q]`, id))))
	if refused := get(t, ctx, "the list", chromedp.Evaluate[bool](`document.querySelector("#runs-refused") !== null`)); refused {
		t.Error("the list says the server refused its filter")
	}
}
