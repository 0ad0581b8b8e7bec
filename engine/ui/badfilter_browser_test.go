package ui_test

// Lists opened with a filter value the API does not take (a link typed or
// cut short), as the runs list with an unknown state
// (TestBrowserUnknownStatusFilter): the form shows the value the link
// gave, saying it is none the server takes, and the list says the server
// refused the filter (the API answers 400 for it, with its reason), rather
// than a blank field above an empty table, or a list in another order
// than asked.

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A ?since= that is no time: the datetime input cannot show it, so it is
// marked and said beside the input; the list says the filter was refused.
// Filter with the input left empty drops it and lists the runs.
func TestBrowserUnknownSinceFilter(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	v.start("Payment", `{"OrderID": "o-1"}`)
	signIn(t, ctx, v.url+"/ui/#/runs?since=bogus", clientToken, true)
	run(t, ctx, "the refusal", poll(`!document.querySelector("#notice").hidden && !!document.querySelector("#runs-refused")`))
	shot(t, ctx, "1-bogus")
	if n := get(t, ctx, "the notice", textOf("#notice")); !strings.Contains(n, `since "bogus"`) || !strings.Contains(n, "RFC 3339") {
		t.Errorf("the notice says %q, want the API's reason", n)
	}
	given := get(t, ctx, "the field", chromedp.Evaluate[[]string](`(i => [(document.querySelector("#f-since-given") || {}).textContent || "", i.getAttribute("aria-invalid") || "", i.title])(document.querySelector("#f-since"))`))
	if given[0] != "bogus (not a time)" || given[1] != "true" || !strings.Contains(given[2], "bogus") {
		t.Errorf("the Started from field shows %q, want the link's value said beside it and the input marked", given)
	}
	if g := get(t, ctx, "until", chromedp.Evaluate[bool](`!!document.querySelector("#f-until-given") || document.querySelector("#f-until").hasAttribute("aria-invalid")`)); g {
		t.Error("Started before, which the link leaves out, is marked too")
	}
	run(t, ctx, "Filter, the input left empty",
		chromedp.Click(chromedp.CSS("#f-apply")),
		poll(`location.hash === "#/runs"`),
		chromedp.WaitReady(chromedp.CSS(`#runs tbody tr[data-run]`)),
		poll(`document.querySelector("#notice").hidden && !document.querySelector("#f-since-given")`))
	shot(t, ctx, "2-dropped")
}

// A dead letters page with an ?order= the API does not take: the Order
// select shows it, "unknown order", the list says the server refused it
// (GET /deadletters answers 400, saying the orders it takes), rather than
// listing newest first as if the link had asked that; an order picked
// lists them.
func TestBrowserUnknownDeadLetterOrder(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	for i := range 3 {
		v.deadLetter("orders", "placed", fmt.Sprintf("m-%d", i), `{}`, "test")
	}
	signIn(t, ctx, v.url+"/ui/#/deadletters?order=bogus", adminToken, false)
	run(t, ctx, "the refusal", poll(`!document.querySelector("#notice").hidden && !!document.querySelector("#dl-filter-refused")`))
	shot(t, ctx, "1-bogus")
	if n := get(t, ctx, "the notice", textOf("#notice")); !strings.Contains(n, `order "bogus"`) || !strings.Contains(n, "newest or oldest") {
		t.Errorf("the notice says %q, want the API's reason with the orders it takes", n)
	}
	shown := get(t, ctx, "the select", chromedp.Evaluate[[]string](`(s => [s.value, s.selectedOptions[0] ? s.selectedOptions[0].textContent : ""])(document.querySelector("#dl-order"))`))
	if shown[0] != "bogus" || shown[1] != "bogus (unknown order)" {
		t.Errorf("the Order select shows %q, want bogus, an unknown order", shown)
	}
	if n := get(t, ctx, "the rows", chromedp.Evaluate[int](`document.querySelectorAll("#deadletters tbody tr[data-id]").length`)); n != 0 {
		t.Errorf("%d dead letters listed for an order refused", n)
	}
	// Filter keeps what the select shows, as the runs list keeps a state.
	run(t, ctx, "Filter", chromedp.Click(chromedp.CSS("#dl-apply")), poll(`!!document.querySelector("#dl-filter-refused")`))
	if h := get(t, ctx, "the fragment", chromedp.Evaluate[string](`location.hash`)); h != "#/deadletters?order=bogus" {
		t.Errorf("Filter went to %q", h)
	}
	run(t, ctx, "pick oldest first",
		js(`(s => { s.value = "oldest"; s.dispatchEvent(new Event("change")); })(document.querySelector("#dl-order"))`),
		poll(`location.hash === "#/deadletters?order=oldest"`),
		chromedp.WaitReady(chromedp.CSS(`#deadletters tbody tr[data-id="m-0"]`)),
		poll(`document.querySelector("#notice").hidden`))
	if got := get(t, ctx, "the options", chromedp.Evaluate[int](`document.querySelectorAll('#dl-order option[value="bogus"]').length`)); got != 0 {
		t.Errorf("after an order was picked, %d options of bogus remain", got)
	}
	shot(t, ctx, "2-oldest")
}

// The runs list reads a ?since= as GET /runs does (app.js's filterTime,
// the API's moreFilters): a value the API refuses (a date without its
// time, which JavaScript's Date reads) is marked as no time, one it takes
// fills the input with its second in UTC. Filter with a refused value
// left empty sends it no more.
func TestBrowserFilterTimeParsesAsTheAPI(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	signIn(t, ctx, v.url+"/ui/#/runs", clientToken, true)
	for _, s := range []string{
		"2026-01-15", "2026-01-15T09:00:00Z", "2026-01-15T09:00:00.123456789+01:00", "2026-01-15T09:00:00.9999Z",
		"2026-01-15T9:00:00Z", "2026-01-15T09:00:00,5Z", "2026-01-15 09:00:00Z", "2026-01-15t09:00:00z",
		"2026-01-15T09:00Z", "2026-01-15T09:00:00", "2026-02-30T09:00:00Z", "2024-02-29T09:00:00Z",
		"2100-02-29T09:00:00Z", "2000-02-29T23:59:59-23:59", "2026-01-15T24:00:00Z", "2026-01-15T09:00:60Z",
		"2026-01-15T09:00:00+24:00", "2026-01-15T09:00:00+25:00", "2026-01-15T09:00:00+01:60",
		"2026-01-15T09:00:00+01:61", "+002026-01-15T09:00:00Z", "0099-06-01T00:00:00Z", "2026-01-15T09:00:00.Z",
		"2026-01-15T09:00:00+0100", "2026-01-15T09:00:00Z ", "2026-1-15T09:00:00Z", "2026-01-15T09:00:00,Z",
		"2026-01-15T09:00:00-00:00", "2026-13-01T09:00:00Z", "2026-00-10T09:00:00Z", "2026-04-31T09:00:00Z",
		"Thu, 15 Jan 2026 09:00:00 GMT", "2026-01-15T09:00:00.1234567891234Z", "\u0662026-01-15T09:00:00Z",
	} {
		req, _ := http.NewRequest("GET", v.url+"/runs?since="+url.QueryEscape(s), nil)
		req.Header.Set("Authorization", "Bearer "+clientToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusBadRequest {
			t.Fatalf("GET /runs?since=%q: %d", s, res.StatusCode)
		}
		taken := res.StatusCode == http.StatusOK
		run(t, ctx, "open since="+s,
			js(`document.querySelector("#f-since").dataset.stale = "1"`), goTo("#/runs?since="+url.QueryEscape(s)),
			poll(`(i => !!i && !i.dataset.stale)(document.querySelector("#f-since"))`))
		got := get(t, ctx, "the field", chromedp.Evaluate[[]string](`(i => [i.getAttribute("aria-invalid") || "", i.value])(document.querySelector("#f-since"))`))
		want := []string{"true", ""}
		if taken {
			tm, _ := time.Parse(time.RFC3339Nano, s)
			layout := "2006-01-02T15:04:05"
			if tm.Second() == 0 {
				layout = "2006-01-02T15:04" // as the input gives its value
			}
			want = []string{"", tm.UTC().Format(layout)}
		}
		if !slices.Equal(got, want) {
			t.Errorf("since=%q (GET /runs answers %d): the field is marked %q and shows %q, want %q", s, res.StatusCode, got[0], got[1], want)
		}
	}
	run(t, ctx, "a date without its time",
		goTo("#/runs?since=2026-01-15"),
		poll(`!!document.querySelector("#f-since-given") && !!document.querySelector("#runs-refused")`))
	shot(t, ctx, "date-only")
	run(t, ctx, "Filter, the input left empty",
		chromedp.Click(chromedp.CSS("#f-apply")),
		poll(`location.hash === "#/runs" && !document.querySelector("#f-since-given")`))
}
