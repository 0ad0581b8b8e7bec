package ui_test

// A refusal that answers a request sent before the page was signed out
// (a slow read of the view then shown) says nothing of the session signed
// in since: it was the token given before's. Answered as any other, a 401
// would sign out the user who just signed in, and a 403 would read the
// session and say that a read of theirs was refused.

import (
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestBrowserLateRefusalAfterSignInAgain(t *testing.T) {
	var held atomic.Bool
	arrived, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	v := newEnvWith(t, true, 0, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The first read of a run's diagram is held, as a slow
			// proxy would hold it, then served as the engine answers it.
			if strings.HasPrefix(r.URL.Path, "/runs/") && strings.HasSuffix(r.URL.Path, "/diagram") && held.CompareAndSwap(false, true) {
				close(arrived)
				<-release
				h.ServeHTTP(w, r)
				close(done)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	ctx := browser(t)
	id := v.start("Order", `{"Item": "lamp"}`)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, true)
	<-arrived

	// Signed out, and in again with another token, while the client's
	// read of the diagram is under way.
	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	run(t, ctx, "sign in as admin",
		chromedp.SendKeys(chromedp.CSS("#token"), adminToken),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
		chromedp.WaitReady(chromedp.CSS(current("Reserve"))),
		chromedp.WaitReady(chromedp.CSS("#live.on")))

	// The client's token taken out of the tokens file: the held read is
	// answered 401.
	if err := os.WriteFile(v.tokens, []byte("admin "+adminToken+"\nprovider "+providerToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := v.auth.Reload(); err != nil {
		t.Fatal(err)
	}
	close(release)
	<-done

	// The run moves on: the admin's page follows it, signed in still.
	v.gates.release("Stock.Reserve")
	run(t, ctx, "Charge lit, or signed out", poll(`!!document.querySelector(`+"`"+current("Charge")+"`"+`) || !document.querySelector("#login").hidden`))
	shot(t, ctx, "after")
	if out := get(t, ctx, "signed in", chromedp.Evaluate[bool](`!document.querySelector("#login").hidden || document.querySelector("#who").textContent !== "signed in: admin"`)); out {
		t.Errorf("the refusal of the client's read, sent before signing out, signed out the admin who signed in since (the form says %q)",
			get(t, ctx, "the form", textOf("#login-error")))
	}
	if n := get(t, ctx, "the notice", textOf("#notice")); n != "" {
		t.Errorf("the notice says %q after a refusal of the token signed out", n)
	}
}
