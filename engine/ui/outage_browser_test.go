package ui_test

// A server that answers nothing for a while (restarting behind a proxy,
// which says 502): a view opened meanwhile says why it is empty, and once
// the server is back and the view reads again, the notice goes and what
// the outage kept from the view (the flows of the runs list's filter) is
// read.

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestBrowserRecoversFromOutage(t *testing.T) {
	var down atomic.Bool
	v := newEnvWith(t, true, 0, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if down.Load() && !strings.HasPrefix(r.URL.Path, "/ui") {
				http.Error(w, "the server is restarting", http.StatusBadGateway)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := browser(t)
	id := v.start("Payment", `{"OrderID": "o-1"}`)
	v.await(id, "waiting")
	signIn(t, ctx, v.url+"/ui/#/flows", clientToken, false)
	run(t, ctx, "the flows", chromedp.WaitReady(chromedp.CSS(`section[data-flow="Payment"] svg`)))
	for _, c := range []struct{ name, hash, ready string }{
		{"runs", "#/runs", `#runs tr[data-run]`},
		{"run", "#/run/" + id, `#run-head[data-state="waiting"]`},
	} {
		down.Store(true)
		run(t, ctx, "open "+c.name+" during the outage", js(`location.hash = `+strconv.Quote(c.hash)),
			poll(`!document.querySelector("#notice").hidden`))
		down.Store(false)
		run(t, ctx, c.name+" read again", chromedp.WaitReady(chromedp.CSS("#live.on")), chromedp.WaitReady(chromedp.CSS(c.ready)))
		if n := get(t, ctx, "the notice", textOf("#notice")); n != "" {
			t.Errorf("%s: the server back and the view read, the page still says %q", c.name, n)
		}
		if c.name == "runs" {
			run(t, ctx, "the flows to filter by", chromedp.WaitReady(chromedp.CSS(`#f-flow option[value="Payment"]`)))
		}
		shot(t, ctx, c.name)
	}
}
