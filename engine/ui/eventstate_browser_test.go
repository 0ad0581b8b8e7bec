package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
)

// countFlow counts to three, a step at a time: the state after each event
// differs from the others'.
const countFlow = `
flow Count {
    state CountState
    trigger rpc "Count.Start"

    step One {
        rpc probe "Probe.Check" (N) -> N
        irreversible
    }
    step Two {
        rpc probe "Probe.Check" (N) -> N
        irreversible
    }
    step Three {
        rpc probe "Probe.Check" (N) -> N
        irreversible
    }
}
`

// stateReads holds, or fails, the page's reads of one event's state
// (GET /runs/{id}/history?after=SEQ-1&limit=1) that the test asks it to.
type stateReads struct {
	mu   sync.Mutex
	hold map[string]chan struct{} // by after: held until closed
	fail map[string]bool          // by after: answered 503
}

func (s *stateReads) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if strings.HasSuffix(r.URL.Path, "/history") && q.Get("limit") == "1" {
			s.mu.Lock()
			hold, fail := s.hold[q.Get("after")], s.fail[q.Get("after")]
			s.mu.Unlock()
			if hold != nil {
				<-hold
			}
			if fail {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprint(w, `{"error": "the store is unavailable"}`)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// answered wraps the page's fetch so that window.flowgenAnswered lists
// the URL of each answer whose JSON (or its text) the page has been given. The page
// handles an answer in promise reactions (microtasks) that run to their
// end before the browser runs anything else, such as the test's next
// evaluation: once a URL is listed, the page has done with its answer.
const answered = `(() => {
	const f = window.fetch;
	window.flowgenAnswered = [];
	window.fetch = function (u, init) {
		return f.call(this, u, init).then(res => {
			const json = res.json.bind(res), text = res.text.bind(res);
			res.json = () => json().then(v => { window.flowgenAnswered.push(String(u)); return v; });
			res.text = () => text().then(v => { window.flowgenAnswered.push(String(u)); return v; });
			return res;
		});
	};
})()`

// A run's page reads its timeline without states (?state=false) and the
// state after an event when its row is picked: that one event, with its
// state, "loading…" meanwhile, and the error when the read fails. A
// quick second pick shows the second row's state even when the first
// row's answer comes after it.
func TestBrowserEventStateOnPick(t *testing.T) {
	e, st := probeEngine(t, "count.flow", countFlow)
	var hl historyLog
	reads := &stateReads{hold: map[string]chan struct{}{}, fail: map[string]bool{}}
	v := &env{t: t, e: e, st: st, url: serveHandler(t, e, hl.wrap(reads.wrap(e.Handler())))}
	id := v.start("Count", `{"N": 0}`)
	v.await(id, runtime.StateDone)
	h, err := e.History(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	// The state after each event: N counts the steps done.
	stateOf := func(seq int) string {
		var s struct{ N int }
		if err := json.Unmarshal(h[seq-1].State, &s); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf(`"N": %d`, s.N)
	}
	if len(h) < 4 || stateOf(3) == stateOf(4) || stateOf(2) == stateOf(3) {
		t.Fatalf("a history of %d events whose states do not tell events 2, 3 and 4 apart", len(h))
	}

	ctx := browser(t)
	rows := `document.querySelectorAll("#timeline tbody tr").length`
	run(t, ctx, "the timeline", chromedp.Navigate(v.url+"/ui/#/run/"+id),
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="done"]`)),
		poll(fmt.Sprintf(`%s === %d`, rows, len(h))))
	// picks are the reads of one event (limit=1) since the last call; the
	// others are the timeline's (the page reads it again when its watch
	// opens), which must leave the states out.
	timelineReads := 0
	picks := func() (one []url.Values) {
		for _, q := range hl.take() {
			if q.Get("limit") == "1" {
				one = append(one, q)
				continue
			}
			timelineReads++
			if q.Get("state") != "false" || q.Get("limit") != fmt.Sprint(engine.MaxHistoryLimit) {
				t.Errorf("the timeline read the history with %v; want state=false, a page of %d", q, engine.MaxHistoryLimit)
			}
		}
		return one
	}
	if one := picks(); len(one) != 0 || timelineReads == 0 {
		t.Errorf("the page's first load read %d events alone and the timeline %d times", len(one), timelineReads)
	}
	if latest := get(t, ctx, "the latest state", stateShown()); !strings.Contains(latest, stateOf(len(h))) {
		t.Errorf("before any pick, the state shown is %q; want the latest, with %s", latest, stateOf(len(h)))
	}

	title := func() string {
		return get(t, ctx, "the state's title", chromedp.Evaluate[string](`document.querySelector("#run-state").previousElementSibling.textContent`))
	}
	pick := func(seq int) {
		t.Helper()
		run(t, ctx, fmt.Sprintf("pick event %d", seq), js(fmt.Sprintf(`document.querySelector('#timeline tr[data-seq="%d"]').click()`, seq)),
			chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#timeline tr.selected[data-seq="%d"]`, seq))))
	}

	// A pick reads that one event, with its state.
	pick(2)
	if got := get(t, ctx, "the state after event 2", stateShown()); !strings.Contains(got, stateOf(2)) || !strings.HasPrefix(title(), "State after event 2 ") {
		t.Errorf("event 2 picked: %q shows %q; want %s", title(), got, stateOf(2))
	}
	if qs := picks(); len(qs) != 1 || qs[0].Get("after") != "1" || qs[0].Get("limit") != "1" || qs[0].Get("state") == "false" {
		t.Errorf("picking event 2 read the history with %v; want one read of after=1&limit=1, with its state", qs)
	}

	// The first of two quick picks answered after the second: the second
	// row's state stays.
	run(t, ctx, "watch the answers", js(answered))
	hold := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(hold) }) }
	t.Cleanup(release) // before the server closes, should the test stop early
	reads.mu.Lock()
	reads.hold["2"] = hold
	reads.mu.Unlock()
	pick(3)
	if got := get(t, ctx, "the state while it is read", textOf("#run-state")); !strings.Contains(got, "loading") || !strings.HasPrefix(title(), "State after event 3 ") {
		t.Errorf("while the state after event 3 is read: %q shows %q; want loading", title(), got)
	}
	pick(4)
	if got := get(t, ctx, "the state after event 4", stateShown()); !strings.Contains(got, stateOf(4)) {
		t.Errorf("event 4 picked after event 3: shows %q; want %s", got, stateOf(4))
	}
	release()
	run(t, ctx, "the late answer", poll(`window.flowgenAnswered.some(u => u.includes("after=2&limit=1"))`))
	if got := get(t, ctx, "the state after the late answer", textOf("#run-state")); !strings.Contains(got, stateOf(4)) || !strings.HasPrefix(title(), "State after event 4 ") {
		t.Errorf("after event 3's late answer: %q shows %q; want event 4's state, %s", title(), got, stateOf(4))
	}
	shot(t, ctx, "1-picked")

	// A read that fails says so, in place of the state.
	reads.mu.Lock()
	reads.fail["0"] = true
	reads.mu.Unlock()
	pick(1)
	if got := get(t, ctx, "the failed read", stateShown()); !strings.Contains(got, "Could not read the state after event 1") || !strings.Contains(got, "the store is unavailable") {
		t.Errorf("a failed read of event 1's state shows %q", got)
	}
	shot(t, ctx, "2-failed")
	// Picked again, the row is unpicked: the latest state, from the status.
	pick0 := js(`document.querySelector('#timeline tr[data-seq="1"]').click()`)
	run(t, ctx, "unpick", pick0, chromedp.WaitReady(chromedp.CSS(`#timeline tbody:not(:has(tr.selected))`)))
	if got := get(t, ctx, "the latest state again", stateShown()); !strings.Contains(got, stateOf(len(h))) || title() != "State (latest)" {
		t.Errorf("no row picked: %q shows %q", title(), got)
	}
	if one := picks(); len(one) != 3 {
		t.Errorf("picking events 3, 4 and 1 then none read %d events alone: %v", len(one), one)
	}
}
