package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// loopHistory is the history of a run of n events that loops on an
// await (a polling loop's shape: each turn enters the wait, then wakes),
// with an attempt sent back to its gate at seq 1500, a parallel branch
// cancelled at seq 2001 and, last, an abort that cuts a step short: each
// a mark GET /runs/{id}/history names in its lists.
func loopHistory(run string, n int) []runtime.Event {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h := make([]runtime.Event, 0, n)
	add := func(e runtime.Event) {
		e.RunID, e.Flow, e.Seq, e.Time = run, "Poll", uint64(len(h)+1), t0.Add(time.Duration(len(h))*time.Millisecond)
		e.State = json.RawMessage(fmt.Sprintf(`{"turn":%d}`, len(h)))
		h = append(h, e)
	}
	add(runtime.Event{From: runtime.MachinePending, To: "Check:running", Step: "Check"})
	for len(h) < n-1 {
		switch seq := len(h) + 1; {
		case seq == 1500:
			add(runtime.Event{Step: "Check", From: "Check:running", To: "Check:waiting", Error: "no live provider"})
		case seq == 2001:
			add(runtime.Event{Step: "Ship", Branch: "Ship", From: "Ship:running", To: "Check:parallel", Outcome: runtime.OutcomeError, Error: runtime.ErrBranchCancelled.Error()})
		case h[len(h)-1].To == "Check:running":
			add(runtime.Event{Step: "Check", From: "Check:running", To: "Check:waiting", Attempt: 1, Outcome: runtime.OutcomeOK})
		default:
			add(runtime.Event{Step: "Check", From: "Check:waiting", To: "Check:running"})
		}
	}
	add(runtime.Event{Step: "Check", From: "Check:running", To: runtime.MachineAborting, Error: "aborted"})
	return h
}

// storeOf is a store on disk that holds history h, closed at the end of
// the test.
func storeOf(t *testing.T, h []runtime.Event) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, ev := range h {
		if err := st.Emit(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// wholeLoads is a store whose Load fails the test: the history's pages
// must be read without reading the whole history.
type wholeLoads struct {
	*store.Store
	t *testing.T
}

func (s wholeLoads) Load(runID string) ([]runtime.Event, error) {
	s.t.Errorf("Load(%q): GET /runs/{id}/history read the whole history", runID)
	return s.Store.Load(runID)
}

type historyPageAnswer struct {
	Events []struct {
		Seq uint64 `json:"seq"`
	} `json:"events"`
	Woken       []uint64 `json:"woken"`
	GateClosed  []uint64 `json:"gate_closed"`
	Cancelled   []uint64 `json:"cancelled"`
	Interrupted uint64   `json:"interrupted"`
	Truncated   bool     `json:"truncated"`
	NextAfter   *uint64  `json:"next_after"`
}

func getHistoryPage(t *testing.T, c apiClient, path string) historyPageAnswer {
	t.Helper()
	status, body := c.do("GET", path, "")
	if status != 200 {
		t.Fatalf("GET %s: %d %v", path, status, body)
	}
	b, _ := json.Marshal(body)
	var a historyPageAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// GET /runs/{id}/history answers a page: without parameters the first
// 1000 events, "truncated" and next_after when more follow; following
// next_after reads every event once, in order, and each page's lists
// (woken, gate_closed, cancelled, interrupted) are those of its own
// events, which together are the whole history's. The pages are read
// from the store without reading the whole history.
func TestHistoryPages(t *testing.T) {
	h := loopHistory("poll-1", 2500)
	st := storeOf(t, h)
	e, err := New(Options{Store: wholeLoads{st, t}})
	if err != nil {
		t.Fatal(err)
	}
	c := apiClient{t, httptest.NewServer(e.Handler())}
	defer c.srv.Close()

	first := getHistoryPage(t, c, "/runs/poll-1/history")
	if len(first.Events) != DefaultHistoryLimit || !first.Truncated || first.NextAfter == nil || *first.NextAfter != 1000 {
		t.Fatalf("first page: %d events, truncated %v, next_after %v; want 1000, true, 1000", len(first.Events), first.Truncated, first.NextAfter)
	}
	whole := historyAnswer("poll-1", h)
	var seqs, woken, gate, cancelled []uint64
	var interrupted uint64
	pages := 0
	for after := uint64(0); ; pages++ {
		a := getHistoryPage(t, c, fmt.Sprintf("/runs/poll-1/history?after=%d&limit=700", after))
		if len(a.Events) == 0 || len(a.Events) > 700 {
			t.Fatalf("page after %d: %d events", after, len(a.Events))
		}
		lo, hi := a.Events[0].Seq, a.Events[len(a.Events)-1].Seq
		for _, list := range [][]uint64{a.Woken, a.GateClosed, a.Cancelled, {a.Interrupted}} {
			for _, s := range list {
				if s != 0 && (s < lo || s > hi) {
					t.Errorf("page %d..%d names seq %d, not one of its events", lo, hi, s)
				}
			}
		}
		for _, ev := range a.Events {
			seqs = append(seqs, ev.Seq)
		}
		woken, gate, cancelled = append(woken, a.Woken...), append(gate, a.GateClosed...), append(cancelled, a.Cancelled...)
		if a.Interrupted != 0 {
			interrupted = a.Interrupted
		}
		if !a.Truncated {
			if a.NextAfter != nil {
				t.Errorf("last page: next_after %d", *a.NextAfter)
			}
			break
		}
		if a.NextAfter == nil || *a.NextAfter != hi {
			t.Fatalf("page %d..%d: next_after %v, want %d", lo, hi, a.NextAfter, hi)
		}
		after = *a.NextAfter
	}
	if pages != 3 || len(seqs) != len(h) || !slices.IsSorted(seqs) || seqs[0] != 1 || seqs[len(seqs)-1] != uint64(len(h)) {
		t.Fatalf("pages read %d events in %d pages; want %d in 4", len(seqs), pages+1, len(h))
	}
	for name, c := range map[string][2]any{
		"woken": {woken, whole["woken"]}, "gate_closed": {gate, whole["gate_closed"]}, "cancelled": {cancelled, whole["cancelled"]}, "interrupted": {interrupted, whole["interrupted"]},
	} {
		if fmt.Sprint(c[0]) != fmt.Sprint(c[1]) {
			t.Errorf("%s over the pages %v; the whole history's %v", name, c[0], c[1])
		}
	}
	if len(gate) != 1 || gate[0] != 1500 || len(cancelled) != 1 || cancelled[0] != 2001 || interrupted != 2500 || len(woken) < 1000 {
		t.Errorf("the marks: gate_closed %v, cancelled %v, interrupted %d, %d woken", gate, cancelled, interrupted, len(woken))
	}

	// Past the end: no events, nothing more (the run has not recorded
	// them yet).
	if a := getHistoryPage(t, c, "/runs/poll-1/history?after=2500"); len(a.Events) != 0 || a.Truncated || a.NextAfter != nil {
		t.Errorf("after the last seq: %+v", a)
	}
	if a := getHistoryPage(t, c, "/runs/poll-1/history?after=99999&limit=1"); len(a.Events) != 0 || a.Truncated {
		t.Errorf("after a seq past the end: %+v", a)
	}
	if a := getHistoryPage(t, c, "/runs/poll-1/history?after=2499&limit=1000"); len(a.Events) != 1 || a.Events[0].Seq != 2500 || a.Interrupted != 2500 || a.Truncated {
		t.Errorf("the last event: %+v", a)
	}
}

// Bad parameters answer 400, as GET /runs and GET /deadletters answer
// theirs; an unknown run 404 whatever the page.
func TestHistoryPageBadParams(t *testing.T) {
	st := store.NewMemory()
	for _, ev := range loopHistory("r", 5) {
		if err := st.Emit(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	e, err := New(Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	c := apiClient{t, httptest.NewServer(e.Handler())}
	defer c.srv.Close()
	for _, q := range []struct{ query, says string }{
		{"limit=0", "want a number from 1 to 1000"},
		{"limit=1001", "want a number from 1 to 1000"},
		{"limit=ten", "want a number from 1 to 1000"},
		{"after=-1", "want the seq of an event"},
		{"after=x", "want the seq of an event"},
		{"after=18446744073709551616", "want the seq of an event"},
		{"after=1&after=2", "given 2 times"},
		{"cursor=abc", "cursor"},
		{"state=no-thanks", "query parameter state=\"no-thanks\": want true or false"},
		{"state=true&state=false", "given 2 times"},
	} {
		status, body := c.do("GET", "/runs/r/history?"+q.query, "")
		if msg, _ := body["error"].(string); status != 400 || !strings.Contains(msg, q.says) {
			t.Errorf("?%s: %d %v; want 400 saying %q", q.query, status, body, q.says)
		}
	}
	if status, body := c.do("GET", "/runs/nope/history?after=3&limit=2", ""); status != 404 {
		t.Errorf("unknown run: %d %v", status, body)
	}
	if a := getHistoryPage(t, c, "/runs/r/history?after=1&limit=2"); len(a.Events) != 2 || a.Events[0].Seq != 2 || !a.Truncated || *a.NextAfter != 3 {
		t.Errorf("?after=1&limit=2: %+v", a)
	}
}

// A page stops before the event that would take its states past
// MaxHistoryPageBytes (its first comes whatever its size), and a run that
// grows between two pages shows its new events on the next one: a client
// following it with the last seq it has reads only those.
func TestHistoryPageBytesAndGrowth(t *testing.T) {
	st := store.NewMemory()
	big := json.RawMessage(`"` + strings.Repeat("x", MaxHistoryPageBytes/3) + `"`) // three do not fit in one page
	h := loopHistory("r", 7)
	for i := range h[:6] {
		h[i].State = big
		if err := st.Emit(context.Background(), h[i]); err != nil {
			t.Fatal(err)
		}
	}
	e, err := New(Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	c := apiClient{t, httptest.NewServer(e.Handler())}
	defer c.srv.Close()
	a := getHistoryPage(t, c, "/runs/r/history")
	if len(a.Events) != 2 || !a.Truncated || *a.NextAfter != 2 {
		t.Fatalf("a page of large states: %d events, truncated %v; want 2, true", len(a.Events), a.Truncated)
	}
	a = getHistoryPage(t, c, "/runs/r/history?after=4")
	if len(a.Events) != 2 || a.Truncated {
		t.Fatalf("after 4: %d events, truncated %v; want 5 and 6, not truncated", len(a.Events), a.Truncated)
	}
	if err := st.Emit(context.Background(), h[6]); err != nil { // the run records its abort meanwhile
		t.Fatal(err)
	}
	a = getHistoryPage(t, c, "/runs/r/history?after=6")
	if len(a.Events) != 1 || a.Events[0].Seq != 7 || a.Interrupted != 7 || a.Truncated {
		t.Fatalf("after 6, once the run grew: %+v; want its new event 7, interrupted", a)
	}
}

// ?state=false answers the events without their states, which then weigh
// nothing against MaxHistoryPageBytes: a page of states too large for one
// page holds them all. What is sent still counts: payloads and errors cut
// the page as states do with them. One event with its state (the web
// view's read of a row it shows: ?after=SEQ-1&limit=1) is answered as
// before, and so are the marks the server reads in the events. The same
// holds on a store, in memory and on an Executor's histories.
func TestHistoryPageWithoutStates(t *testing.T) {
	big := json.RawMessage(`"` + strings.Repeat("x", MaxHistoryPageBytes/3) + `"`) // three do not fit in one page
	h := loopHistory("r", 7)
	for i := range h {
		h[i].State = big
	}
	heavy := slices.Clone(h) // and large payloads and errors, three per page too many
	for i := range heavy {
		if i%2 == 0 {
			heavy[i].Payload = big
		} else {
			heavy[i].Error = string(big)
		}
	}
	disk, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	mem := store.NewMemory()
	for _, ev := range append(slices.Clone(h), rename(heavy, "heavy")...) {
		for _, st := range []runtime.Sink{disk, mem} {
			if err := st.Emit(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, opts := range map[string]Options{"store": {Store: wholeLoads{disk, t}}, "memory": {Store: mem}, "executor": {Executor: &historyExecutor{h: h}}} {
		e, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		c := apiClient{t, httptest.NewServer(e.Handler())}
		raw := func(path string) []map[string]any {
			t.Helper()
			status, body := c.do("GET", path, "")
			if status != 200 {
				t.Fatalf("%s: GET %s: %d %v", name, path, status, body)
			}
			evs, _ := body["events"].([]any)
			out := make([]map[string]any, len(evs))
			for i, ev := range evs {
				out[i], _ = ev.(map[string]any)
			}
			return out
		}
		a := getHistoryPage(t, c, "/runs/r/history?state=false")
		if len(a.Events) != 7 || a.Truncated || a.NextAfter != nil || a.Interrupted != 7 {
			t.Errorf("%s: without states: %d events, truncated %v, interrupted %d; want all 7 in one page, 7 interrupted", name, len(a.Events), a.Truncated, a.Interrupted)
		}
		for _, ev := range raw("/runs/r/history?state=false") {
			if _, ok := ev["state"]; ok || ev["seq"] == nil {
				t.Errorf("%s: without states, event %v holds a state", name, ev["seq"])
			}
		}
		if a := getHistoryPage(t, c, "/runs/r/history?state=true"); len(a.Events) != 2 || !a.Truncated {
			t.Errorf("%s: ?state=true: %d events, truncated %v; want 2 as without the parameter", name, len(a.Events), a.Truncated)
		}
		one := raw("/runs/r/history?after=4&limit=1")
		if len(one) != 1 || one[0]["seq"] != float64(5) || one[0]["state"] != string(big[1:len(big)-1]) {
			t.Errorf("%s: the event of seq 5 with its state: %d events", name, len(one))
		}
		if name != "executor" {
			a := getHistoryPage(t, c, "/runs/heavy/history?state=false")
			if len(a.Events) != 2 || !a.Truncated || *a.NextAfter != 2 {
				t.Errorf("%s: without states, payloads and errors of a third of a page each: %d events, truncated %v; want 2, true", name, len(a.Events), a.Truncated)
			}
		}
		c.srv.Close()
	}
}

// rename is h as the history of run id.
func rename(h []runtime.Event, id string) []runtime.Event {
	out := slices.Clone(h)
	for i := range out {
		out[i].RunID = id
	}
	return out
}

// historyExecutor is an Executor whose runs' histories live elsewhere
// (jsonflows: on Temporal): read whole, then cut by the same rule.
type historyExecutor struct {
	Executor
	h []runtime.Event
}

func (x *historyExecutor) History(_ context.Context, runID string) ([]runtime.Event, error) {
	if runID != x.h[0].RunID {
		return nil, fmt.Errorf("%w: %q", runtime.ErrUnknownRun, runID)
	}
	return x.h, nil
}

// With an Options.Executor (flowgen-temporal serve), GET /runs/{id}/history
// pages the same way.
func TestHistoryPageExecutor(t *testing.T) {
	e, err := New(Options{Executor: &historyExecutor{h: loopHistory("t-1", 1200)}})
	if err != nil {
		t.Fatal(err)
	}
	c := apiClient{t, httptest.NewServer(e.Handler())}
	defer c.srv.Close()
	a := getHistoryPage(t, c, "/runs/t-1/history")
	if len(a.Events) != 1000 || !a.Truncated || *a.NextAfter != 1000 {
		t.Fatalf("first page: %d events, truncated %v", len(a.Events), a.Truncated)
	}
	a = getHistoryPage(t, c, "/runs/t-1/history?after=1000")
	if len(a.Events) != 200 || a.Events[0].Seq != 1001 || a.Truncated || a.Interrupted != 1200 {
		t.Fatalf("second page: %d events from %v, truncated %v, interrupted %d", len(a.Events), a.Events[0], a.Truncated, a.Interrupted)
	}
	if status, _ := c.do("GET", "/runs/nope/history", ""); status != 404 {
		t.Errorf("unknown run: %d", status)
	}
}
