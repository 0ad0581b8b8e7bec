package ui_test

// A browser opens at most six connections to one server over HTTP/1.1,
// which flowgen serve speaks without -tls-cert, and a page's GET /watch
// stream holds one of them for as long as it is open. Runs opened in tabs
// of their own (a Ctrl-click on each in the list) would take them all:
// every request of the next tab, and of those six, would wait for ever.
// A tab hidden behind another lets its stream go, and takes it again,
// reading what it shows, when it comes to the front.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

func TestBrowserHiddenTabsLetTheirStreamsGo(t *testing.T) {
	v := newEnvAuth(t, false)
	ctx := browser(t)
	run(t, ctx, "the first tab, live", chromedp.Navigate(v.url+"/ui/#/runs"), chromedp.WaitReady(chromedp.CSS("#live.on")))
	// Seven more tabs in the same window, each brought to the front in
	// turn, which hides the one before.
	for i := 1; i <= 7; i++ {
		tab, cancel := chromedp.NewContext(ctx, chromedp.WithNewWindow(false))
		t.Cleanup(cancel)
		if err := chromedp.Do(tab); err != nil {
			t.Fatal(err)
		}
		// Bounded below the test's step timeout: a tab whose page cannot
		// load waits for a connection that never frees.
		sctx, stop := context.WithTimeout(tab, 20*time.Second)
		err := chromedp.Do(sctx, toFront, chromedp.Navigate(v.url+"/ui/#/runs"), chromedp.WaitReady(chromedp.CSS("#live.on")))
		stop()
		if err != nil {
			t.Fatalf("tab %d, with %d tabs behind it: the page is not live: %v", i, i, err)
		}
	}
	// The first tab, in front again, is live again and shows what
	// happened while it was hidden.
	id := v.start("Payment", `{"OrderID": "o-1"}`)
	run(t, ctx, "the first tab in front, live", toFront, chromedp.WaitReady(chromedp.CSS("#live.on")),
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`tr[data-run=%q]`, id))))
}

// toFront makes the tab the active one of its window, which hides the
// others of the window.
var toFront = chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
	_, err := chromedp.Call(ctx, page.BringToFront, cdp.Empty{})
	return err
})
