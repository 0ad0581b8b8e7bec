package ui_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/runtime/store"
)

// A run whose Go step was in flight at its provider when the server
// stopped: after the restart the attempt finds no live provider and goes
// back to its wait (runtime.GateClosed), which fails nothing. The page
// says that attempt 1 runs again (not that an "attempt 0" failed), the
// timeline reads "gate closed" for that event, and no error is red.
func TestBrowserGateClosedIsNoFailure(t *testing.T) {
	inFlight, release := make(chan struct{}, 1), make(chan struct{})
	prov := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		inFlight <- struct{}{}
		<-release
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer prov.Close()
	dir := t.TempDir()
	st1, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e1, err := engine.New(engine.Options{Store: st1, Providers: &engine.ProviderOptions{}})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e1.LoadFlows("bill.json", []byte(billFlows)); err != nil {
		t.Fatalf("%v\n%v", err, ds)
	}
	reg := provider.Registration{Handlers: []provider.Handler{{Name: "Reserve", URL: prov.URL + "/reserve"}}}
	if _, err := e1.RegisterProvider("billing", reg); err != nil {
		t.Fatal(err)
	}
	id, err := e1.StartRun(context.Background(), "Bill", json.RawMessage(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	<-inFlight
	// The server stops as a crash would: nothing after the call's start
	// is recorded.
	if err := st1.Close(); err != nil {
		t.Fatal(err)
	}
	close(release)
	ctx0, cancel := context.WithCancel(context.Background())
	cancel()
	_ = e1.Close(ctx0)

	st2, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	e2, err := engine.New(engine.Options{Store: st2, Providers: &engine.ProviderOptions{}})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e2.LoadFlows("bill.json", []byte(billFlows)); err != nil {
		t.Fatalf("%v\n%v", err, ds)
	}
	url := serve(t, e2)
	ctx := browser(t)
	run(t, ctx, "back at its gate", chromedp.Navigate(url+"/ui/#/run/"+id),
		chromedp.WaitReady(chromedp.CSS("#live.on")),
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="waiting"]`)),
		chromedp.WaitVisible(chromedp.CSS("#run-retry")),
	)
	note := get(t, ctx, "the note", textOf("#run-retry"))
	if !strings.HasPrefix(note, "attempt 1 went back to its wait, spending no attempt: engine: no live provider") {
		t.Errorf("the note reads %q", note)
	}
	if red := get(t, ctx, "no error", chromedp.Evaluate[bool](`document.querySelector("#run-head .error, #run-error") !== null`)); red {
		t.Error("a run whose attempt went back to its gate shows an error in red")
	}
	if retry := get(t, ctx, "no retry", chromedp.Evaluate[bool](`document.querySelector("#wait-retry") !== null`)); retry {
		t.Error("the wait reads as a retry's")
	}
	rows := get(t, ctx, "the timeline", textOf("#timeline"))
	if !strings.Contains(rows, "Reserve:running → Reserve:waiting") || !strings.Contains(rows, "gate closed") {
		t.Errorf("the timeline: %q", rows)
	}
	shot(t, ctx, "gate-closed")
}
