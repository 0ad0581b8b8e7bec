package ui_test

// The timeline's From → To shows the states of the README's Signup whole
// at 1280 px: the page has the room. The run page gave the diagram and
// the timeline two thirds of it, and an Error column of 12em even with no
// error to show, and cut "CreateCustomer:running → AwaitPayment:waiting"
// to "CreateCustome… → AwaitPayme…" beside a state panel mostly empty.

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/runtime"
)

// signupSteps is the README's Signup (examples/serve) as far as the
// timeline shows it: its steps' names, its first step a publication
// rather than a call, so that no service is needed.
const signupSteps = `
flow Signup {
    state SignupState
    trigger rpc "Signup.Start"

    step CreateCustomer {
        publish crm "created" (Email)
        irreversible
    }
    step AwaitPayment {
        await payments "paid" -> Paid correlate Email timeout 1h
        irreversible
    }
}
`

func TestBrowserTimelineFromToWhole(t *testing.T) {
	v := newEnv(t)
	id := v.startDefined("signup.flow", signupSteps, "Signup", `{"Email": "ada@example.com"}`, runtime.StateWaiting)
	fromToWhole(t, v, id, 2, "signup")
}

// fromToWhole checks, in a window 1280 px wide, that the timeline of run
// id, once its event seq is shown, shows every From → To whole and does
// not scroll sideways.
func fromToWhole(t *testing.T, v *env, id string, seq int, shotName string) {
	t.Helper()
	ctx := browser(t)
	run(t, ctx, "a window 1280 px wide", chromedp.EmulateViewport(1280, 800))
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, false)
	run(t, ctx, "the timeline", chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#timeline tr[data-seq="%d"]`, seq))))
	shot(t, ctx, shotName)
	cut := get(t, ctx, "the states cut short", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#timeline td.fromto-col .one-line"))
		.filter(c => c.scrollWidth > c.clientWidth || Array.from(c.children).some(s => s.scrollWidth > s.clientWidth))
		.map(c => c.title + ": " + c.scrollWidth + " px in " + c.clientWidth)`))
	if len(cut) != 0 {
		t.Errorf("From → To cut short at 1280 px: %q", cut)
	}
	box := get(t, ctx, "the timeline's box", chromedp.Evaluate[[]int](`(b => [b.scrollWidth, b.clientWidth])(document.querySelector("#timeline").parentNode)`))
	if box[0] > box[1] {
		t.Errorf("the timeline is %d px wide in a box of %d px: it scrolls sideways", box[0], box[1])
	}
}
