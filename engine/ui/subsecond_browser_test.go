package ui_test

// The runs list's start-time filters come in a link to the nearest
// second or finer; the form's inputs show seconds. Filter, with them
// unchanged, must keep the link's time, not move it to its second.

import (
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestBrowserFilterKeepsSubsecondSince(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	// Two runs in one second, a moment apart: a since between them, cut
	// to its second, would take in the first.
	for time.Now().Nanosecond() > 200e6 {
		time.Sleep(10 * time.Millisecond)
	}
	first := v.start("Payment", `{"OrderID": "o-1"}`)
	time.Sleep(400 * time.Millisecond)
	second := v.start("Payment", `{"OrderID": "o-2"}`)
	a, _ := v.st.Get(first)
	b, _ := v.st.Get(second)
	if a.Started.Truncate(time.Second) != b.Started.Truncate(time.Second) {
		t.Skipf("the runs started in two seconds (%s, %s): the machine is too busy", a.Started, b.Started)
	}
	since := a.Started.Add(b.Started.Sub(a.Started) / 2).UTC().Format(time.RFC3339Nano)
	signIn(t, ctx, v.url+"/ui/#/runs?since="+url.QueryEscape(since), clientToken, true)
	run(t, ctx, "the run started since", rowsAre(second))
	// Filter routes: the view is drawn anew, its table empty until GET
	// /runs answers. The table before is marked, to tell the new one from it.
	run(t, ctx, "Filter again", js(`document.querySelector("#runs").dataset.stale = "1"`), chromedp.Click(chromedp.CSS("#f-apply")),
		poll(`(t => !!t && !t.dataset.stale && t.tBodies[0].rows.length > 0)(document.querySelector("#runs"))`))
	rows := get(t, ctx, "rows", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#runs tbody tr[data-run]")).map(r => r.dataset.run)`))
	hash := get(t, ctx, "the link", chromedp.Evaluate[string](`location.hash`))
	if len(rows) != 1 || rows[0] != second {
		t.Errorf("Filter with the form unchanged (now %q) lists %q, want only %s, started since %s", hash, rows, second, since)
	}
}

// A datetime-local input reads a time at a whole minute without its
// seconds ("2026-01-15T10:00"): a link's time there, finer than the
// second, is kept too, not moved to its minute by Filter.
func TestBrowserFilterKeepsSubsecondSinceAtMinute(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	signIn(t, ctx, v.url+"/ui/#/runs", clientToken, true)
	for _, given := range []string{"2026-01-15T10:00:00.5Z", "2026-01-15T10:00:00.25+02:00"} {
		run(t, ctx, "Filter again", goTo("#/runs?since="+url.QueryEscape(given)),
			chromedp.WaitReady(chromedp.CSS("#runs tbody tr")), chromedp.Click(chromedp.CSS("#f-apply")),
			chromedp.WaitReady(chromedp.CSS("#runs tbody tr")))
		hash := get(t, ctx, "the link", chromedp.Evaluate[string](`location.hash`))
		if want := "#/runs?since=" + url.QueryEscape(given); hash != want {
			t.Errorf("Filter with the form unchanged made the link %q, want %q", hash, want)
		}
	}
}
