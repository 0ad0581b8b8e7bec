package ui_test

// The page reads GET /session (the caller's role and routes) once, when
// it starts: a token whose role changes while the page is open (the
// tokens file written anew and reloaded) must not go on being offered
// what its new role may not do.

import (
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/runtime"
)

// An admin made a client mid-session clicks Abort: the API refuses it
// with 403, and the page reads the session again, offers Abort no more,
// drops the dead letters' link, and says why.
func TestBrowserRoleChangedMidSession(t *testing.T) {
	v := newEnv(t)
	ctx, id := armedAbort(t, v, true)
	run(t, ctx, "the dead letters' link", chromedp.WaitVisible(chromedp.CSS("#nav-deadletters")))
	v.lowerAdmin()
	run(t, ctx, "confirm the abort", chromedp.Click(chromedp.CSS("#abort")))
	run(t, ctx, "the reason", poll(`document.querySelector("#notice").textContent.includes("client")`))
	run(t, ctx, "no Abort", poll(`!document.querySelector("#abort")`), chromedp.WaitNotVisible(chromedp.CSS("#nav-deadletters")))
	shot(t, ctx, "refused")
	if got := get(t, ctx, "the role", textOf("#who")); got != "signed in: client" {
		t.Errorf("the page says %q, want the role read again: %q", got, "signed in: client")
	}
	if got := get(t, ctx, "the notice", textOf("#notice")); !strings.Contains(got, "may not abort the run") {
		t.Errorf("the notice says %q: not why Abort is gone", got)
	}
	// The refusal changed nothing: the run goes on.
	if s := v.state(id); s != runtime.StateRunning {
		t.Errorf("the run is %s, want running", s)
	}
	// A redraw (the run moving on) offers no Abort either.
	v.gates.release("Stock.Reserve")
	run(t, ctx, "Charge lit", chromedp.WaitReady(chromedp.CSS(current("Charge"))))
	if n := get(t, ctx, "the buttons", chromedp.Evaluate[int](`document.querySelectorAll("#abort").length`)); n != 0 {
		t.Errorf("after a redraw the page offers Abort again")
	}
}

// lowerAdmin gives the admin's token the client's role.
func (v *env) lowerAdmin() { v.roles("client", "client") }

// roles gives the admin's token the role admin and the client's token the
// role client, as an operator does by writing the tokens file anew and
// reloading it.
func (v *env) roles(admin, client string) {
	v.t.Helper()
	if err := os.WriteFile(v.tokens, []byte(admin+" "+adminToken+"\n"+client+" "+clientToken+"\nprovider "+providerToken+"\n"), 0o600); err != nil {
		v.t.Fatal(err)
	}
	if err := v.auth.Reload(); err != nil {
		v.t.Fatal(err)
	}
}

// An admin made a client mid-session refreshes the dead letters: the
// API refuses them with 403, and the page reads the session again, says
// the role may not read them, and drops their link.
func TestBrowserRoleChangedReadingDeadLetters(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	signIn(t, ctx, v.url+"/ui/#/deadletters", adminToken, false)
	run(t, ctx, "the dead letters", chromedp.WaitReady(chromedp.CSS("#deadletters")), chromedp.WaitVisible(chromedp.CSS("#nav-deadletters")))
	v.lowerAdmin()
	run(t, ctx, "refresh", chromedp.Click(chromedp.CSS("#dl-refresh")))
	run(t, ctx, "refused", chromedp.WaitReady(chromedp.CSS("#view-refused")), chromedp.WaitNotVisible(chromedp.CSS("#nav-deadletters")))
	shot(t, ctx, "refused")
	if got := get(t, ctx, "the notice", textOf("#notice")); !strings.Contains(got, "Your role is now client, which may not read the dead letters") {
		t.Errorf("the notice says %q: not why the dead letters are gone", got)
	}
}
