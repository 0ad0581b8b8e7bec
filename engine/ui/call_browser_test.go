package ui_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// A call step is drawn as a subroutine (its side bars) and leads to the
// diagram of the flow it runs: in the web view, its details link to
// #/flows/CHILD, which shows that flow alone; in the page of `flowgen
// graph -format html`, to the child flow's diagram further down.
func TestBrowserCallLinksChildFlow(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	give := `svg .fg-step.fg-call[data-step="Give"][data-call="Refund"]` // in Parent's card
	signIn(t, ctx, v.url+"/ui/#/flows", clientToken, false)
	run(t, ctx, "the call step",
		flowShows("Parent", give+` .fg-call-bars`),
		chromedp.Click(chromedp.CSS(`section[data-flow="Parent"] `+give+` rect`)),
		chromedp.WaitVisible(chromedp.CSS(`section[data-flow="Parent"] a.call-link`)),
	)
	if href := get(t, ctx, "the link", chromedp.Evaluate[string](`document.querySelector('section[data-flow="Parent"] a.call-link').getAttribute("href")`)); href != "#/flows/Refund" {
		t.Errorf("the call links to %q, want #/flows/Refund", href)
	}
	// A step that calls nothing has no such link.
	if n := get(t, ctx, "other steps", chromedp.Evaluate[int](`document.querySelectorAll('.fg-step.fg-call:not([data-call])').length + document.querySelectorAll('.fg-node[data-call=""]').length`)); n != 0 {
		t.Errorf("%d boxes marked as calls without a flow", n)
	}
	shot(t, ctx, "1-call-selected")
	run(t, ctx, "follow the link",
		chromedp.Click(chromedp.CSS(`section[data-flow="Parent"] a.call-link`)),
		// The page of all flows had Refund's diagram too: wait for the new view's.
		poll(`document.querySelector("#view h1").textContent === "Flow Refund" && document.querySelector('section[data-flow="Refund"] svg .fg-step[data-step="Confirmed"]') !== null`),
	)
	cards := get(t, ctx, "the flows shown", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("section.flow-card")).map(s => s.getAttribute("data-flow"))`))
	if strings.Join(cards, " ") != "Refund" {
		t.Errorf("#/flows/Refund shows %q", cards)
	}
	shot(t, ctx, "2-child-flow")
	run(t, ctx, "back to all flows", chromedp.Click(chromedp.CSS("#all-flows")), flowShows("Parent", give))
	run(t, ctx, "a flow not registered", goTo("#/flows/Nope"), poll(`document.querySelector("#flows .empty") !== null`))
	if got := get(t, ctx, "the message", textOf("#flows .empty")); got != "No flow Nope is registered." {
		t.Errorf("#/flows/Nope says %q", got)
	}

	// The page of `flowgen graph -format html`, all the flows in one SVG.
	url := graphPage(t, shopFile(t), "")
	top := `document.querySelector('.fg-flow[data-flow="Refund"]').getBoundingClientRect().top`
	run(t, ctx, "the HTML page", chromedp.Navigate(url),
		chromedp.Click(chromedp.CSS(`.fg-flow[data-flow="Parent"] .fg-call[data-step="Give"] rect`)),
		chromedp.WaitVisible(chromedp.CSS(`#details a.call-link`)),
	)
	if got := get(t, ctx, "the details", textOf("#details p")); got != "Runs flow Refund as a child run." {
		t.Errorf("the details say %q", got)
	}
	// The details stay beside the box clicked, far down the page.
	if in := get(t, ctx, "the link's place", chromedp.Evaluate[bool](`(r => r.top >= 0 && r.bottom <= innerHeight)(document.querySelector("#details a.call-link").getBoundingClientRect())`)); !in {
		t.Error("the details are out of view once a box far down the page is clicked")
	}
	// Clicking Give scrolled the page to Parent, below Refund.
	if y := get(t, ctx, "Refund's place", chromedp.Evaluate[float64](top)); y > -100 && y < 100 {
		t.Fatalf("Refund's diagram is already at the top (%.0f px): the link would prove nothing", y)
	}
	run(t, ctx, "follow the link", chromedp.Click(chromedp.CSS(`#details a.call-link`)), poll(`Math.abs(`+top+`) < 2`))
	shot(t, ctx, "3-html-page")
}
