package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/runtime/store"
)

// poisonPayload is a poison message's payload: markup in a string, and
// numbers a JavaScript number cannot hold (parsed, 1e400 would print as
// null).
const poisonPayload = `{"note":` + "\"" + `<img src=x onerror=\"window.__xss=1\">` + "\"" + `,"amount":123456789012345678901234567890,"n":1e400,"items":[]}`

// deadLetter records a dead letter in v's store, as the inbox does.
func (v *env) deadLetter(topic, event, id, payload, reason string) {
	v.t.Helper()
	at := time.Now()
	m := store.Message{Topic: topic, Event: event, ID: id, Payload: json.RawMessage(payload), Received: at}
	if err := v.st.DeadLetter(context.Background(), m, reason, at); err != nil {
		v.t.Fatal(err)
	}
}

// The dead letters page, for an admin: linked from the navigation, each
// dead letter with its topic, event, ID, reason and payload, all as text
// (markup stays text; a payload is shown as it arrived, its numbers not
// rounded; one that is not JSON says so, one the engine refused that is
// JSON says that), newest first (the one an
// operator looks for), a page of 25 at a time with Next and Previous, read
// again on Refresh; switched to oldest first by the Order select (kept in
// the fragment, and with a filter), filtered by topic. A client, whom the
// API refuses them, has no link, and the page reads none.
func TestBrowserDeadLetters(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	v.deadLetter(markup, "ev"+markup, "poison-1", poisonPayload, "cannot start flow Order: "+markup)
	v.deadLetter("orders", "placed", "poison-2", "<b>not json</b> "+markup, "payload is not JSON")
	for i := range 24 {
		v.deadLetter("orders", "placed", fmt.Sprintf("m-%02d", i), `{}`, "test")
	}
	// topID is the ID of the top row (undefined for none: the page draws
	// its table before the rows come).
	const topID = `(document.querySelector("#deadletters tbody tr[data-id]") || {dataset: {}}).dataset.id`
	ids := func(what string) []string {
		t.Helper()
		return get(t, ctx, what, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#deadletters tbody tr[data-id]")).map(function (tr) { return tr.dataset.id; })`))
	}

	// Newest first by default: the last that arrived on top, the first
	// (poison-1) alone on the second page.
	signIn(t, ctx, v.url+"/ui/#/runs", adminToken, true)
	run(t, ctx, "the link", chromedp.WaitVisible(chromedp.CSS("#nav-deadletters")),
		chromedp.Click(chromedp.CSS("#nav-deadletters")),
		chromedp.WaitReady(chromedp.CSS(`#deadletters tr[data-id="poison-2"]`)),
		chromedp.WaitReady(chromedp.CSS("#nav-deadletters.active")))
	if live := get(t, ctx, "no live badge", chromedp.Evaluate[bool](`!document.querySelector("#live").hidden`)); live {
		t.Error("the page shows a live badge, but follows nothing")
	}
	if order := get(t, ctx, "the order", chromedp.Evaluate[string](`document.querySelector("#dl-order").value`)); order != "newest" {
		t.Errorf("the order reads %q, want newest by default", order)
	}
	if got := ids("the first page"); len(got) != 25 || got[0] != "m-23" || got[1] != "m-22" || got[24] != "poison-2" {
		t.Errorf("the first page lists %v, want 25, newest first: m-23, m-22, ..., poison-2", got)
	}
	if got := get(t, ctx, "not JSON", textOf(`#deadletters tr[data-id="poison-2"] td.dl-payload`)); got != "not JSON:\n<b>not json</b> "+markup {
		t.Errorf("a payload that is not JSON reads %q", got)
	}
	inert(t, ctx, "the dead letters")
	shot(t, ctx, "1-first-page")

	run(t, ctx, "the next page", chromedp.Click(chromedp.CSS("#dl-next")),
		chromedp.WaitReady(chromedp.CSS(`#deadletters tr[data-id="poison-1"]`)),
		poll(`document.querySelectorAll("#deadletters tbody tr[data-id]").length === 1 && document.querySelector("#dl-next").disabled`))
	first := get(t, ctx, "the poison", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#deadletters tr[data-id="poison-1"] td')).map(function (td) { return td.innerText; })`))
	var want any
	if err := json.Unmarshal([]byte(poisonPayload), &want); err == nil {
		t.Fatal("the poison payload decodes in Go: the test wants one a double cannot hold")
	}
	if len(first) != 7 || first[2] != markup || first[3] != "ev"+markup || first[4] != "poison-1" || first[5] != "cannot start flow Order: "+markup {
		t.Errorf("the poison's row: %q", first)
	}
	wantPayload := "{\n  \"note\": \"<img src=x onerror=\\\"window.__xss=1\\\">\",\n  \"amount\": 123456789012345678901234567890,\n  \"n\": 1e400,\n  \"items\": []\n}"
	// The API lists it as payload_text (a number beyond a float64 is not
	// JSON the engine takes in), which is JSON all the same: laid out,
	// its text unchanged, and not said to be "not JSON".
	wantPayload = "JSON the engine does not take in:\n" + wantPayload
	if len(first) == 7 && first[6] != wantPayload {
		t.Errorf("the poison's payload reads\n%s\nwant it as it arrived\n%s", first[6], wantPayload)
	}
	inert(t, ctx, "the poison")
	shot(t, ctx, "2-next-page")

	// Newest first, a letter that arrives goes on top of the first page.
	v.deadLetter("orders", "placed", "late", `{"late": true}`, "test")
	run(t, ctx, "the previous page", chromedp.Click(chromedp.CSS("#dl-prev")),
		poll(topID+` === "late"`))
	v.deadLetter("orders", "placed", "later", `{"late": true}`, "test")
	run(t, ctx, "refresh", chromedp.Click(chromedp.CSS("#dl-refresh")),
		poll(topID+` === "later"`))

	// Oldest first: in the order they arrived, from poison-1; the
	// letters that arrived last on the second page.
	run(t, ctx, "oldest first",
		js(`var s = document.querySelector("#dl-order"); s.value = "oldest"; s.dispatchEvent(new Event("change"));`),
		poll(`location.hash === "#/deadletters?order=oldest" && `+topID+` === "poison-1"`))
	if got := ids("oldest first"); len(got) != 25 || got[0] != "poison-1" || got[1] != "poison-2" || got[2] != "m-00" || got[24] != "m-22" {
		t.Errorf("oldest first, the first page lists %v, want 25: poison-1, poison-2, m-00, ..., m-22", got)
	}
	shot(t, ctx, "3-oldest-first")
	run(t, ctx, "oldest first, the next page", chromedp.Click(chromedp.CSS("#dl-next")),
		poll(`document.querySelectorAll("#deadletters tbody tr[data-id]").length === 3`))
	if got := ids("oldest first, the next page"); strings.Join(got, " ") != "m-23 late later" {
		t.Errorf("oldest first, the second page lists %v, want [m-23 late later]", got)
	}

	run(t, ctx, "filtered by topic",
		chromedp.SendKeys(chromedp.CSS("#dl-topic"), markup),
		chromedp.Click(chromedp.CSS("#dl-apply")),
		poll(`location.hash.indexOf("#/deadletters?topic=") === 0 && location.hash.indexOf("order=oldest") > 0 && document.querySelectorAll("#deadletters tbody tr[data-id]").length === 1`),
		chromedp.WaitReady(chromedp.CSS(`#deadletters tr[data-id="poison-1"]`)))
	if order := get(t, ctx, "the order kept", chromedp.Evaluate[string](`document.querySelector("#dl-order").value`)); order != "oldest" {
		t.Errorf("after filtering, the order reads %q, want oldest", order)
	}
	inert(t, ctx, "the filtered dead letters")
	shot(t, ctx, "4-filtered")

	// A client: the API refuses it the dead letters, so the page neither
	// links them nor asks for them.
	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	signIn(t, ctx, v.url+"/ui/#/deadletters", clientToken, false)
	run(t, ctx, "refused", chromedp.WaitVisible(chromedp.CSS("#view-refused")))
	if shown := get(t, ctx, "nothing for a client", chromedp.Evaluate[bool](`!document.querySelector("#nav-deadletters").hidden || document.querySelector("#deadletters") !== null`)); shown {
		t.Error("a client is shown the dead letters' link or table")
	}
	if text := get(t, ctx, "the page", chromedp.Evaluate[string](`document.body.innerText`)); strings.Contains(text, "poison") {
		t.Errorf("a client's page shows a dead letter: %q", text)
	}
	shot(t, ctx, "5-client")
}

// A dead letter's payload_text (engine.ShowPayload: a payload that is not
// JSON the engine takes in) reads "not JSON" only when it is not JSON: a
// payload refused for a number beyond a float64 or for its depth is JSON,
// laid out as such; one whose bytes were not UTF-8 shows U+FFFD for them.
// A payload nested a hundred thousand levels deep is shown as it came, not
// indented into gigabytes (which hung the page).
func TestBrowserDeadLetterPayloadText(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	v.deadLetter("orders", "placed", "big", `{"amount": 1e999}`, "the payload: the number 1e999 is out of the range of a float64")
	v.deadLetter("orders", "placed", "latin1", "{\"n\":\"\xff\"}", "the payload is not UTF-8")
	v.deadLetter("orders", "placed", "deep", deep, "the payload: JSON nested more than 1000 levels deep")
	signIn(t, ctx, v.url+"/ui/#/deadletters", adminToken, false)
	run(t, ctx, "the list", chromedp.WaitReady(chromedp.CSS(`#deadletters tr[data-id="big"]`)))
	for id, want := range map[string]string{
		"big":    "JSON the engine does not take in:\n{\n  \"amount\": 1e999\n}",
		"latin1": "JSON the engine does not take in:\n{\n  \"n\": \"\ufffd\"\n}",
		"deep":   "JSON the engine does not take in:\n" + deep,
	} {
		if got := get(t, ctx, id, textOf(`#deadletters tr[data-id="`+id+`"] td.dl-payload`)); got != want {
			if len(got) > 200 {
				got = got[:200] + "..."
			}
			t.Errorf("the payload of %s reads %q", id, got)
		}
	}
	shot(t, ctx, "payload-text")
}

// Back to the dead letters, from another view opened on their second
// page, comes back to that page, as it does to the runs list's
// (TestBrowserBackKeepsPage); Filter lists from the first.
func TestBrowserDeadLettersBackKeepsPage(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	for i := range 26 {
		v.deadLetter("orders", "placed", fmt.Sprintf("m-%02d", i), `{}`, "test")
	}
	signIn(t, ctx, v.url+"/ui/#/deadletters", adminToken, false)
	run(t, ctx, "the second page", chromedp.WaitReady(chromedp.CSS(`#deadletters tr[data-id="m-25"]`)),
		chromedp.Click(chromedp.CSS("#dl-next")),
		chromedp.WaitReady(chromedp.CSS(`#deadletters tr[data-id="m-00"]`)))
	run(t, ctx, "the runs, then Back", chromedp.Click(chromedp.CSS("#nav-runs")), chromedp.WaitReady(chromedp.CSS("#runs")),
		chromedp.NavigateBack(), chromedp.WaitReady(chromedp.CSS("#dl-page")),
		poll(`document.querySelector("#deadletters tbody tr[data-id]") !== null`))
	if got := get(t, ctx, "the page", textOf("#dl-page")); got != "page 2" {
		t.Errorf("Back to the dead letters shows %q, want page 2", got)
	}
	run(t, ctx, "Filter", chromedp.Click(chromedp.CSS("#dl-apply")),
		chromedp.WaitReady(chromedp.CSS(`#deadletters tr[data-id="m-25"]`)))
	if got := get(t, ctx, "the page", textOf("#dl-page")); got != "page 1" {
		t.Errorf("Filter shows %q, want page 1", got)
	}
}
