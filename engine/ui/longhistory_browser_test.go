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
// time and shows the latest timelineRows of them, the earlier ones a
// click away (Earlier): a table of every event, the 25,000 of the longest
// history, took the browser seconds to draw each change. On a live event
// it asks only for the events after the last one read and appends their
// rows to the timeline it has, whose rows (and the one selected) stay as
// they were, the first rows going as the window moves on.
// timelineRows is the rows a run's timeline shows at a time.
const timelineRows = 1000

func TestBrowserLongHistory(t *testing.T) {
	e, st := probeEngine(t, "poll.flow", pollFlow)
	var hl historyLog
	v := &env{t: t, e: e, st: st, url: serveHandler(t, e, hl.wrap(e.Handler()))}
	id := v.start("Poll", `{"K": "k-1", "N": 0}`)
	for s, _ := e.Status(context.Background(), id); s.Step != "Last" || s.State != runtime.StateWaiting; s, _ = e.Status(context.Background(), id) {
		time.Sleep(10 * time.Millisecond)
	}
	h, err := e.History(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) <= 2*engine.MaxHistoryLimit {
		t.Fatalf("%d events: the history fits in %d pages, the test proves little", len(h), 2)
	}
	from := len(h) - timelineRows + 1 // the first event shown
	woken := 0
	for i := range h {
		if h[i].Woke() && int(h[i].Seq) >= from {
			woken++
		}
	}

	ctx := browser(t)
	rows := `document.querySelectorAll("#timeline tbody tr").length`
	run(t, ctx, "the whole timeline", chromedp.Navigate(v.url+"/ui/#/run/"+id),
		chromedp.WaitReady(chromedp.CSS("#live.on")),
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="waiting"]`)),
		poll(fmt.Sprintf(`(document.querySelector("#tl-info") || {}).textContent === "events %d\u2013%d of %d"`, from, len(h), len(h))))
	seqs := get(t, ctx, "the rows' seqs", chromedp.Evaluate[[]int](`Array.from(document.querySelectorAll("#timeline tbody tr")).map(r => Number(r.getAttribute("data-seq")))`))
	if len(seqs) != timelineRows {
		t.Fatalf("the timeline shows %d rows, want the latest %d of %d events", len(seqs), timelineRows, len(h))
	}
	for i, s := range seqs {
		if s != from+i {
			t.Fatalf("row %d shows event %d: the timeline is not the latest events in order", i, s)
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

	// Earlier shows the events before, from the first; Latest the latest
	// again.
	run(t, ctx, "Earlier", chromedp.Click(chromedp.CSS("#tl-earlier")),
		poll(fmt.Sprintf(`(document.querySelector("#tl-info") || {}).textContent === "events %d\u2013%d of %d"`, max(1, from-timelineRows), max(1, from-timelineRows)+timelineRows-1, len(h))),
		poll(fmt.Sprintf(`document.querySelector("#timeline tbody tr").getAttribute("data-seq") === "%d"`, max(1, from-timelineRows))))
	run(t, ctx, "Latest", chromedp.Click(chromedp.CSS("#tl-latest")),
		poll(fmt.Sprintf(`(document.querySelector("#tl-info") || {}).textContent === "events %d\u2013%d of %d"`, from, len(h), len(h))))
	if n := get(t, ctx, "rows", chromedp.Evaluate[int](rows)); n != timelineRows {
		t.Errorf("after Earlier and Latest, %d rows", n)
	}

	// A row picked, and a mark on a row: a timeline built anew would lose
	// both.
	pick, mark := from+5, from+100
	run(t, ctx, "pick a row", js(fmt.Sprintf(`document.querySelector('#timeline tr[data-seq="%d"]').click(); document.querySelector('#timeline tr[data-seq="%d"]').flowgenKept = true`, pick, mark)),
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#timeline tr.selected[data-seq="%d"]`, pick))))
	get(t, ctx, "the picked event's state", stateShown())
	hl.take() // the read of its state (TestBrowserEventStateOnPick)
	shot(t, ctx, "1-long")

	v.publish("go", "last", `{"correlation_id": "k-1"}`)
	run(t, ctx, "done", chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="done"]`)))
	after, err := e.History(ctx, id)
	if err != nil || len(after) <= len(h) {
		t.Fatalf("the run recorded %d events after %d (%v)", len(after), len(h), err)
	}
	run(t, ctx, "the new rows", poll(fmt.Sprintf(`document.querySelector('#timeline tr[data-seq="%d"]') !== null`, len(after))))
	last := get(t, ctx, "the last row", textOf(fmt.Sprintf(`#timeline tr[data-seq="%d"]`, len(after))))
	kept := get(t, ctx, "the rows kept", chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector('#timeline tr[data-seq="%d"]').flowgenKept === true && document.querySelector('#timeline tr.selected').getAttribute("data-seq") === "%d"`, mark, pick)))
	if !strings.Contains(last, "done") || !kept {
		t.Errorf("the last row %q; the rows and the selection kept: %v", last, kept)
	}
	moved := len(after) - timelineRows + 1
	if n, top := get(t, ctx, "rows", chromedp.Evaluate[int](rows)), get(t, ctx, "the first row", chromedp.Evaluate[string](`document.querySelector("#timeline tbody tr").getAttribute("data-seq")`)); n != timelineRows || top != fmt.Sprint(moved) {
		t.Errorf("after the live events, %d rows from event %s; want %d from %d", n, top, timelineRows, moved)
	}
	// Since the run's end: only the events after those shown.
	for _, q := range hl.take() {
		if a, _ := strconv.Atoi(q.Get("after")); a < len(h) {
			t.Errorf("on a live event the page asked for the events after %d, which it had", a)
		}
	}
	shot(t, ctx, "2-appended")
}

// A run at the history's bound (runtime.DefaultMaxHistory, 25,000 events:
// a history written to the store here, as a run that retries for ever
// would write it): its page shows the latest timelineRows events, not a
// table of 25,000 rows, and a row picked shows its state.
func TestBrowserHistoryAtBound(t *testing.T) {
	v := newEnvAuth(t, false)
	sink, ok := v.st.(interface {
		Emit(context.Context, runtime.Event) error
	})
	if !ok {
		t.Skip("the store takes no events")
	}
	const id, n = "bound-1", runtime.DefaultMaxHistory
	at := time.Now().Add(-time.Hour)
	wait := &runtime.Wait{Topic: "payments", Event: "paid", Correlated: true, Correlation: "o-1", Deadline: time.Now().Add(time.Hour)}
	for i := 1; i <= n; i++ {
		e := runtime.Event{RunID: id, Seq: uint64(i), Time: at.Add(time.Duration(i) * time.Millisecond), Flow: "Payment", Step: "AwaitPaid",
			From: "AwaitPaid:waiting", To: "AwaitPaid:waiting", State: json.RawMessage(fmt.Sprintf(`{"OrderID": "o-1", "N": %d}`, i)),
			Attempt: 1, Outcome: runtime.OutcomeRetry, Error: fmt.Sprintf("attempt %d: the service said no", i), Wait: wait}
		if i == 1 {
			e.From, e.Outcome, e.Error = "pending", "", ""
		}
		if err := sink.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	ctx := browser(t)
	from := n - timelineRows + 1
	run(t, ctx, "the run", chromedp.Navigate(v.url+"/ui/#/run/"+id),
		poll(fmt.Sprintf(`(document.querySelector("#tl-info") || {}).textContent === "events %d\u2013%d of %d"`, from, n, n)))
	if rows := get(t, ctx, "the rows", chromedp.Evaluate[int](`document.querySelectorAll("#timeline tbody tr").length`)); rows != timelineRows {
		t.Errorf("the timeline of %d events has %d rows, want %d", n, rows, timelineRows)
	}
	run(t, ctx, "pick the last row", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#timeline tr[data-seq="%d"]`, n))),
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#timeline tr.selected[data-seq="%d"]`, n))))
	if got := get(t, ctx, "its state", stateShown()); !strings.Contains(got, fmt.Sprintf(`"N": %d`, n)) {
		t.Errorf("event %d's state shows %q", n, got)
	}
}
