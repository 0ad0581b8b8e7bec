package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// pollFlow loops, as a polling flow does, until its count reaches 600,
// then waits for the test: a run of a few thousand events.
const pollFlow = `
flow Poll {
    state PollState
    trigger rpc "Poll.Start"

    step Check {
        rpc probe "Probe.Check" (N) -> N
        irreversible
    }
    step Again {
        choose {
            when N < 600 -> Nap
            otherwise -> Last
        }
    }
    step Nap {
        sleep 1ms
        on ok -> Check
    }
    step Last {
        await go "last" correlate K timeout 1h
        irreversible
    }
}
`

// historyLog records the query of each GET /runs/{id}/history the page
// sends.
type historyLog struct {
	mu      sync.Mutex
	queries []url.Values
}

func (l *historyLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/history") {
			l.mu.Lock()
			l.queries = append(l.queries, r.URL.Query())
			l.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

// take returns the queries recorded since the last take.
func (l *historyLog) take() []url.Values {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.queries
	l.queries = nil
	return q
}

// probeEngine is an engine on a memory store with the flow src loaded
// from a .flow file, whose rpc probe "Probe.Check" answers its number
// plus one.
func probeEngine(t *testing.T, name, src string) (*engine.Engine, *store.Memory) {
	t.Helper()
	caller := runtime.NewMemoryCaller()
	caller.Handle("probe", "Probe.Check", func(_ context.Context, req json.RawMessage) (any, error) {
		var n int
		err := json.Unmarshal(req, &n)
		return n + 1, err
	})
	st := store.NewMemory()
	e, err := engine.New(engine.Options{Store: st, Caller: caller,
		FlowFile: func(name string, src []byte, opts dsl.CheckOptions) (*dsl.File, diag.List) {
			return flowfile.Load(name, src, opts)
		}})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e.LoadFlows(name, []byte(src)); err != nil {
		t.Fatalf("%v\n%v", err, ds)
	}
	return e, st
}

// A run's page with a history of thousands of events reads it a page at a
// time and shows every event; on a live event it asks only for the events
// after the last one shown and appends their rows to the timeline it
// has, whose rows (and the one selected) stay as they were.
func TestBrowserLongHistory(t *testing.T) {
	e, st := probeEngine(t, "poll.flow", pollFlow)
	var hl historyLog
	v := &env{t: t, e: e, st: st, url: serveHandler(t, e, hl.wrap(e.Handler()))}
	id := v.start("Poll", `{"K": "k-1", "N": 0}`)
	for s, _ := e.Status(id); s.Step != "Last" || s.State != runtime.StateWaiting; s, _ = e.Status(id) {
		time.Sleep(10 * time.Millisecond)
	}
	h, err := e.History(id)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) <= 2*engine.MaxHistoryLimit {
		t.Fatalf("%d events: the history fits in %d pages, the test proves little", len(h), 2)
	}
	woken := 0
	for i := range h {
		if h[i].Woke() {
			woken++
		}
	}

	ctx := browser(t)
	rows := `document.querySelectorAll("#timeline tbody tr").length`
	run(t, ctx, "the whole timeline", chromedp.Navigate(v.url+"/ui/#/run/"+id),
		chromedp.WaitReady(chromedp.CSS("#live.on")),
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="waiting"]`)),
		poll(fmt.Sprintf(`%s === %d`, rows, len(h))))
	seqs := get(t, ctx, "the rows' seqs", chromedp.Evaluate[[]int](`Array.from(document.querySelectorAll("#timeline tbody tr")).map(r => Number(r.getAttribute("data-seq")))`))
	for i, s := range seqs {
		if s != i+1 {
			t.Fatalf("row %d shows event %d: the timeline is not the history in order", i, s)
		}
	}
	shown := get(t, ctx, "the woken rows", chromedp.Evaluate[int](`Array.from(document.querySelectorAll("#timeline tbody tr")).filter(r => r.cells[5].innerText === "woken").length`))
	if shown != woken {
		t.Errorf("%d rows read woken; the history has %d wakes", shown, woken)
	}
	// The first load read the history a page at a time, from the start.
	first := hl.take()
	var afters []string
	for _, q := range first {
		afters = append(afters, q.Get("after"))
		if q.Get("limit") != strconv.Itoa(engine.MaxHistoryLimit) || q.Get("state") != "false" {
			t.Errorf("a page of limit %q, state %q; want %d, without states", q.Get("limit"), q.Get("state"), engine.MaxHistoryLimit)
		}
	}
	if len(first) < 3 || afters[0] != "0" || afters[1] != "1000" || afters[2] != "2000" {
		t.Errorf("the first load asked for the pages after %v; want 0, 1000, 2000, ...", afters)
	}

	// A row picked, and a mark on the first row: a timeline built anew
	// would lose both.
	run(t, ctx, "pick event 5", js(`document.querySelector('#timeline tr[data-seq="5"]').click(); document.querySelector('#timeline tr[data-seq="1"]').flowgenKept = true`),
		chromedp.WaitReady(chromedp.CSS(`#timeline tr.selected[data-seq="5"]`)))
	get(t, ctx, "event 5's state", stateShown())
	hl.take() // the read of event 5's state (TestBrowserEventStateOnPick)
	shot(t, ctx, "1-long")

	v.publish("go", "last", `{"correlation_id": "k-1"}`)
	run(t, ctx, "done", chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="done"]`)))
	after, err := e.History(id)
	if err != nil || len(after) <= len(h) {
		t.Fatalf("the run recorded %d events after %d (%v)", len(after), len(h), err)
	}
	run(t, ctx, "the new rows", poll(fmt.Sprintf(`%s === %d`, rows, len(after))))
	last := get(t, ctx, "the last row", textOf(fmt.Sprintf(`#timeline tr[data-seq="%d"]`, len(after))))
	kept := get(t, ctx, "the rows kept", chromedp.Evaluate[bool](`document.querySelector('#timeline tr[data-seq="1"]').flowgenKept === true && document.querySelector('#timeline tr.selected').getAttribute("data-seq") === "5"`))
	if !strings.Contains(last, "done") || !kept {
		t.Errorf("the last row %q; the rows and the selection kept: %v", last, kept)
	}
	// Since the run's end: only the events after those shown.
	for _, q := range hl.take() {
		if a, _ := strconv.Atoi(q.Get("after")); a < len(h) {
			t.Errorf("on a live event the page asked for the events after %d, which it had", a)
		}
	}
	shot(t, ctx, "2-appended")
}
