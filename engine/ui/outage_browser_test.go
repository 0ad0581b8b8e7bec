package ui_test

// A server that answers nothing for a while (restarting behind a proxy,
// which says 502): a view opened meanwhile says why it is empty, and once
// the server is back and the view reads again, the notice goes and what
// the outage kept from the view (the flows of the runs list's filter) is
// read.

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestBrowserRecoversFromOutage(t *testing.T) {
	v, down := newEnvRefusing(t, http.StatusBadGateway, "text/plain", "the server is restarting")
	ctx := browser(t)
	id := v.start("Payment", `{"OrderID": "o-1"}`)
	v.await(id, "waiting")
	signIn(t, ctx, v.url+"/ui/#/flows", clientToken, false)
	run(t, ctx, "the flows", flowShows("Payment", "svg"))
	for _, c := range []struct{ name, hash, ready string }{
		{"runs", "#/runs", `#runs tr[data-run]`},
		{"run", "#/run/" + id, `#run-head[data-state="waiting"]`},
	} {
		down.Store(true)
		run(t, ctx, "open "+c.name+" during the outage", goTo(c.hash),
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

// A page opened, or signed in, while the server is down (GET /session
// fails) says why, and starts by itself once the server is back, as the
// live stream reconnects, rather than stay blank until a reload.
func TestBrowserStartsAfterOutage(t *testing.T) {
	v, down := newEnvRefusing(t, http.StatusBadGateway, "text/plain", "the server is restarting")
	ctx := browser(t)
	id := v.start("Payment", `{"OrderID": "o-1"}`)
	run(t, ctx, "open the page", chromedp.Navigate(v.url+"/ui/#/runs"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	down.Store(true)
	run(t, ctx, "sign in during the outage",
		chromedp.SendKeys(chromedp.CSS("#token"), clientToken),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
		poll(`!document.querySelector("#notice").hidden`))
	shot(t, ctx, "1-down")
	down.Store(false)
	run(t, ctx, "the runs, once the server is back", rowsAre(id), chromedp.WaitReady(chromedp.CSS("#live.on")))
	if n := get(t, ctx, "the notice", textOf("#notice")); n != "" {
		t.Errorf("the server back, the page still says %q", n)
	}
	shot(t, ctx, "2-back")
}

// newEnvRefusing is newEnv whose API (all but the page's files) answers
// every request with code, a body of type ctype, while the flag it
// answers is set: a server restarting behind a proxy, or one that no
// longer takes the page's token.
func newEnvRefusing(t *testing.T, code int, ctype, body string) (*env, *atomic.Bool) {
	t.Helper()
	var refuse atomic.Bool
	v := newEnvWith(t, true, 0, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if refuse.Load() && !strings.HasPrefix(r.URL.Path, "/ui") {
				w.Header().Set("Content-Type", ctype)
				w.WriteHeader(code)
				_, _ = w.Write([]byte(body))
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	return v, &refuse
}
