package ui_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/runtime/store"
)

// billFlows: Bill's Go step Reserve only a remote provider serves; its
// every attempt waits for one (runtime.Await.EachAttempt).
const billFlows = `{"version": 1, "flows": [
 {"name": "Bill", "steps": [
  {"name": "Reserve", "action": {"kind": "go"}, "retry": {"attempts": 3, "initial": "10ms"}, "deadline": "1h", "irreversible": true}]}
]}`

// A run waiting for a provider, followed live: the waiting step lit, its
// deadline; a provider comes, and its first call fails as it leaves, so
// the retry waits again: the page says that the wait is a retry's, with
// the attempt, and marks the retry in the timeline; a provider comes
// again and the run is done. No reload.
func TestBrowserProviderRetryWaits(t *testing.T) {
	var e *engine.Engine
	var mu sync.Mutex
	calls := 0
	prov := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if first { // the provider goes away, its call failing
			if err := e.WithdrawProvider("billing", ""); err != nil {
				t.Error(err)
			}
			_, _ = w.Write([]byte(`{"error": {"class": "retryable", "message": "shutting down"}}`))
			return
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer prov.Close()
	var err error
	e, err = engine.New(engine.Options{Store: store.NewMemory(), Providers: &engine.ProviderOptions{}})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e.LoadFlows("bill.json", []byte(billFlows)); err != nil {
		t.Fatalf("%v\n%v", err, ds)
	}
	url := serve(t, e)
	ctx := browser(t)
	id, err := e.StartRun(context.Background(), "Bill", json.RawMessage(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.Status(ctx, id)
	if err != nil || st.Wait == nil || st.Wait.Deadline.IsZero() {
		t.Fatalf("status %+v %v: want a wait with a deadline", st, err)
	}
	deadline := "deadline " + st.Wait.Deadline.UTC().Format("2006-01-02 15:04:05.000")
	run(t, ctx, "waiting", chromedp.Navigate(url+"/ui/#/run/"+id),
		chromedp.WaitReady(chromedp.CSS("#live.on")),
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="waiting"]`)),
		chromedp.WaitReady(chromedp.CSS(current("Reserve"))),
	)
	if got := get(t, ctx, "the deadline", textOf("#wait-deadline")); !strings.HasPrefix(got, deadline) {
		t.Errorf("the deadline reads %q, want %q", got, deadline)
	}
	if retry := get(t, ctx, "no retry yet", chromedp.Evaluate[bool](`document.querySelector("#wait-retry") !== null`)); retry {
		t.Error("the first attempt's wait reads as a retry's")
	}
	shot(t, ctx, "1-waiting")

	reg := provider.Registration{Handlers: []provider.Handler{{Name: "Reserve", URL: prov.URL + "/reserve"}}}
	if _, err := e.RegisterProvider("billing", reg); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "the retry waits",
		chromedp.WaitVisible(chromedp.CSS("#wait-retry")),
		chromedp.WaitReady(chromedp.CSS(current("Reserve"))),
		chromedp.WaitReady(chromedp.CSS(`#timeline tr.ev-retry`)),
	)
	if got := get(t, ctx, "the retry", textOf("#wait-retry")); got != "before attempt 2, a retry: attempt 1 failed" {
		t.Errorf("the retry's wait reads %q", got)
	}
	if got := get(t, ctx, "the deadline", textOf("#wait-deadline")); !strings.HasPrefix(got, deadline) {
		t.Errorf("the retry's deadline reads %q, want the step's, %q", got, deadline)
	}
	row := get(t, ctx, "the retry's row", textOf(`#timeline tr.ev-retry`))
	if !strings.Contains(row, "Reserve:running → Reserve:waiting") || !strings.Contains(row, "retry") || !strings.Contains(row, "shutting down") {
		t.Errorf("the retry's row: %q", row)
	}
	shot(t, ctx, "2-retry-waits")

	if _, err := e.RegisterProvider("billing", reg); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "done",
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="done"]`)),
		chromedp.WaitReady(chromedp.CSS(`#run-diagram .fg-terminal.fg-done[data-terminal="done"]`)),
	)
	shot(t, ctx, "3-done")
}
