package ui_test

// Each view names itself in the window's title, so that tabs (a run
// opened in a new tab with Ctrl-click, say) and the history's entries
// tell apart what they show, rather than all read "flowgen".

import (
	"testing"

	"github.com/chromedp/chromedp"
)

func TestBrowserTitles(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Payment", `{"OrderID": "o-1"}`)
	run(t, ctx, "open the page", chromedp.Navigate(v.url+"/ui/#/runs"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	title := func() string { return get(t, ctx, "the title", chromedp.Evaluate[string](`document.title`)) }
	if got := title(); got != "Sign in · flowgen" {
		t.Errorf("the sign-in form's title is %q", got)
	}
	signIn(t, ctx, v.url+"/ui/#/runs", adminToken, true)
	for _, c := range []struct{ hash, ready, want string }{
		{"#/runs", `#runs tr[data-run]`, "Runs · flowgen"},
		{"#/runs?flow=Payment", `#runs tr[data-run]`, "Runs of Payment · flowgen"},
		{"#/run/" + id, `#run-head[data-state]`, "Run " + id + " · flowgen"},
		{"#/flows", `section[data-flow] svg`, "Flows · flowgen"},
		{"#/flows/Payment", `section[data-flow] svg`, "Flow Payment · flowgen"},
		{"#/deadletters", `#deadletters`, "Dead letters · flowgen"},
	} {
		run(t, ctx, "open "+c.hash, goTo(c.hash), chromedp.WaitReady(chromedp.CSS(c.ready)))
		if got := title(); got != c.want {
			t.Errorf("%s: the title is %q, want %q", c.hash, got, c.want)
		}
	}
	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	if got := title(); got != "Sign in · flowgen" {
		t.Errorf("signed out, the title is %q", got)
	}
}
