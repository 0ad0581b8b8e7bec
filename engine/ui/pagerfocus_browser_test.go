package ui_test

// Paging by keyboard (Enter on Next, on Previous): the button pressed
// that the new page disables (Next on the last page, Previous on the
// first) hands the focus to the other, rather than drop it to the page's
// body, from where a keyboard user would Tab through the whole page to
// come back. The runs list and the dead letters alike.

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/runtime"
)

func TestBrowserPagerKeepsFocus(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	var ids []string
	for i := range 26 { // more than a page (25)
		ids = append(ids, v.start("Payment", fmt.Sprintf(`{"OrderID": "o-%d"}`, i)))
		v.deadLetter("orders", "placed", fmt.Sprintf("m-%02d", i), `{}`, "test")
	}
	for _, id := range ids {
		v.await(id, runtime.StateWaiting)
	}
	signIn(t, ctx, v.url+"/ui/#/runs", adminToken, true)
	for _, c := range []struct{ name, hash, rows, next, prev string }{
		{"runs", "#/runs", "#runs tbody tr[data-run]", "next", "prev"},
		{"deadletters", "#/deadletters", "#deadletters tbody tr[data-id]", "dl-next", "dl-prev"},
	} {
		rows := func(n int) chromedp.Action[chromedp.Void] {
			return poll(fmt.Sprintf(`document.querySelectorAll(%q).length === %d`, c.rows, n))
		}
		run(t, ctx, c.name, goTo(c.hash), rows(25), poll(`!document.querySelector("#`+c.next+`").disabled`))
		run(t, ctx, c.name+": Enter on Next", js(`document.querySelector("#`+c.next+`").focus()`), chromedp.KeyEvent("\r"), rows(1))
		if got := get(t, ctx, "the focus", chromedp.Evaluate[string](focusIn)); got != c.prev {
			t.Errorf("%s: on the last page, the focus is on %s, want %s", c.name, got, c.prev)
		}
		shot(t, ctx, c.name+"-last")
		run(t, ctx, c.name+": Enter on Previous", chromedp.KeyEvent("\r"), rows(25))
		if got := get(t, ctx, "the focus", chromedp.Evaluate[string](focusIn)); got != c.next {
			t.Errorf("%s: back on the first page, the focus is on %s, want %s", c.name, got, c.next)
		}
	}
}
