package ui_test

// Signed out, the page is the sign-in form and nothing else: no
// navigation whose links lead only to 401s, no role, no Sign out, no live
// badge, no notice of the session left.

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// signedOut answers what of the signed-in page is still shown (an empty
// list: nothing), and whether the sign-in form is.
const signedOut = `(() => {
	const shown = (e) => e && e.offsetParent !== null;
	const left = [];
	document.querySelectorAll("header nav a").forEach((a) => { if (shown(a)) left.push("nav " + a.id); });
	["#who", "#signout", "#live", "#notice", "#view"].forEach((s) => {
		const e = document.querySelector(s);
		if (shown(e) && e.textContent.trim() !== "") left.push(s);
	});
	if (!shown(document.querySelector("#login-form"))) left.push("no sign-in form");
	return left;
})()`

// Sign out, from a run's page followed live, as an admin (who has the
// most links).
func TestBrowserSignOutShowsOnlyForm(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Payment", `{"OrderID": "o-1"}`)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, adminToken, true)
	run(t, ctx, "the dead letters' link", chromedp.WaitVisible(chromedp.CSS("#nav-deadletters")))
	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	if left := get(t, ctx, "the signed-out page", chromedp.Evaluate[[]string](signedOut)); len(left) > 0 {
		t.Errorf("signed out, the page still shows: %s", strings.Join(left, ", "))
	}
	shot(t, ctx, "signed-out")

	// A link followed while signed out changes nothing.
	run(t, ctx, "follow a link", goTo("#/flows"))
	if left := get(t, ctx, "the page after a link", chromedp.Evaluate[[]string](signedOut)); len(left) > 0 {
		t.Errorf("signed out, after a link, the page shows: %s", strings.Join(left, ", "))
	}

	// Signed in again, as a client: the links a client has, no more.
	run(t, ctx, "sign in again",
		chromedp.SendKeys(chromedp.CSS("#token"), clientToken),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
		flowShows("Order", "svg"),
		chromedp.WaitVisible(chromedp.CSS("#nav-runs")),
		chromedp.WaitVisible(chromedp.CSS("#signout")),
	)
	if dl := get(t, ctx, "the dead letters' link", chromedp.Evaluate[bool](`document.querySelector("#nav-deadletters").offsetParent !== null`)); dl {
		t.Error("a client signed in after an admin signed out is offered the dead letters")
	}
	shot(t, ctx, "client")
}

// A token the server stops taking mid-session (taken out of its tokens
// file) signs the page out as Sign out does: the form, saying why (the
// API's reason), and nothing of the session left; whether the refusal
// answers a read of the page's or its live stream opening again.
func TestBrowserTokenRevokedShowsOnlyForm(t *testing.T) {
	for _, c := range []struct {
		name   string
		refuse func(v *env, ctx context.Context)
	}{
		{"a read", func(v *env, ctx context.Context) { run(t, ctx, "open the flows", goTo("#/flows")) }},
		// The stream open when the token went ends (as the engine's
		// does at the next event it would send): the page opens it
		// again, and is refused.
		{"the live stream", func(v *env, ctx context.Context) { v.e.EndWatches() }},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "-"), func(t *testing.T) {
			v, revoked := newEnvRefusing(t, http.StatusUnauthorized, "application/json", `{"error": "unknown token"}`)
			ctx := browser(t)
			id := v.start("Payment", `{"OrderID": "o-1"}`)
			signIn(t, ctx, v.url+"/ui/#/runs", adminToken, true)
			run(t, ctx, "the list", rowsAre(id))
			revoked.Store(true)
			c.refuse(v, ctx)
			run(t, ctx, "the form", chromedp.WaitVisible(chromedp.CSS("#login-form")))
			run(t, ctx, "the reason", poll(`document.querySelector("#login-error").textContent !== ""`))
			if got := get(t, ctx, "the reason", textOf("#login-error")); got != "unknown token" {
				t.Errorf("the form says %q, want the API's reason %q", got, "unknown token")
			}
			if left := get(t, ctx, "the signed-out page", chromedp.Evaluate[[]string](signedOut)); len(left) > 0 {
				t.Errorf("with its token refused, the page still shows: %s", strings.Join(left, ", "))
			}
			shot(t, ctx, "refused")
		})
	}
}
