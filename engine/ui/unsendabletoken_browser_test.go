package ui_test

// A token pasted with a character an HTTP header cannot carry (a
// typographic quote, a character of another alphabet) cannot be sent at
// all: fetch refuses it before any request.

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// The sign-in form says so, and the page is not left retrying it with
// the browser's message in the notice; a good token then signs in.
func TestBrowserUnsendableToken(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	run(t, ctx, "open the page", chromedp.Navigate(v.url+"/ui/#/runs"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	run(t, ctx, "sign in with a token ending in \u2019",
		js(`document.querySelector("#token").value = "`+adminToken+`\u2019"`),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
		poll(`document.querySelector("#login-error").textContent !== "" || !document.querySelector("#notice").hidden`))
	said := get(t, ctx, "what the form says", chromedp.Evaluate[string](`document.querySelector("#login-error").textContent`))
	notice := get(t, ctx, "the notice", chromedp.Evaluate[string](`document.querySelector("#notice").hidden ? "" : document.querySelector("#notice").textContent`))
	kept := get(t, ctx, "the token kept", chromedp.Evaluate[string](`sessionStorage.getItem("flowgen.token") || ""`))
	if said == "" || notice != "" || kept != "" {
		t.Errorf("a token that cannot be sent: the form says %q, the notice %q, the tab keeps %q; want the form to say why, no notice, nothing kept", said, notice, kept)
	}
	run(t, ctx, "sign in with the token",
		js(`document.querySelector("#token").value = "`+adminToken+`"`),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#runs")))
	if said := get(t, ctx, "what the form says", chromedp.Evaluate[string](`document.querySelector("#login-error").textContent`)); said != "" {
		t.Errorf("signed in, the form still says %q", said)
	}
}

// Why the form is shown again (the API's reason for a token refused) is
// said to a screen reader too, with the token's input the focus lands
// on: its description.
func TestBrowserSignInReasonDescribed(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	run(t, ctx, "open the page", chromedp.Navigate(v.url+"/ui/#/runs"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	run(t, ctx, "sign in as a provider",
		chromedp.SendKeys(chromedp.CSS("#token"), providerToken),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
		poll(`document.querySelector("#login-error").textContent.includes("provider")`))
	said := get(t, ctx, "the reason", chromedp.Evaluate[string](`document.querySelector("#login-error").textContent`))
	focused := get(t, ctx, "the focus", chromedp.Evaluate[string](`document.activeElement.id`))
	var desc []string
	for _, n := range axNodes(t, ctx) {
		if n.role == "textbox" && n.name == "Token" {
			desc = append(desc, n.description)
		}
	}
	if focused != "token" || len(desc) != 1 || desc[0] != said {
		t.Errorf("the focus on %q; the token's input described as %q, want %q", focused, desc, said)
	}
}
