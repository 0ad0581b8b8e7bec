package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// sseEvent is one server-sent event read from a GET /watch stream.
type sseEvent struct{ event, id, data string }

// openWatch opens GET /watch?query and returns its events as they come.
func openWatch(t *testing.T, url, token, query string) (<-chan sseEvent, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/watch?"+query, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return nil, res
	}
	t.Cleanup(func() { res.Body.Close() })
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	ch := make(chan sseEvent, 100)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.event != "" || ev.data != "" {
					ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	return ch, res
}

func nextSSE(t *testing.T, ch <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(20 * time.Second):
		t.Fatal("no event from GET /watch")
	}
	return sseEvent{}
}

// GET /watch streams each event a run records, in order, with the
// run's ID and sequence as the SSE id; a filter on another run sees none.
func TestWatchStreamsRecordedEvents(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	srv := httptestServer(t, e)
	all, _ := openWatch(t, srv.URL, "", "flow=Signup")
	other, _ := openWatch(t, srv.URL, "", "run=nobody")
	id, err := e.StartRun(context.Background(), "Signup", json.RawMessage(`{"Customer":{"Email":"ann"}}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitParked(t, e, id)
	h, _ := e.History(context.Background(), id)
	for i := range h {
		ev := nextSSE(t, all)
		var got runtime.Event
		if err := json.Unmarshal([]byte(ev.data), &got); err != nil {
			t.Fatalf("data %q: %v", ev.data, err)
		}
		if ev.event != "run" || ev.id != id+"/"+itoa(int64(i+1)) || got.RunID != id || got.Seq != uint64(i+1) || got.To != h[i].To {
			t.Errorf("event %d: %+v %+v, want %+v", i, ev, got, h[i])
		}
		if i == 0 && len(got.State) == 0 {
			t.Error("the event carries no state snapshot")
		}
	}
	select {
	case ev := <-other:
		t.Errorf("a watcher of another run got %+v", ev)
	case <-time.After(50 * time.Millisecond):
	}
}

// A run ID from before the ID limits may hold line breaks: its events are
// streamed whole, without an id line, and what follows a break is no
// field or event of its own.
func TestWatchRunIDWithLineBreaks(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	srv := httptestServer(t, e)
	ch, _ := openWatch(t, srv.URL, "", "")
	legacy := "old\r\n\nevent: overflow\ndata: {}\n\nid: forged"
	e.watch.publish(runtime.Event{RunID: legacy, Seq: 3, Flow: "Signup"})
	e.watch.publish(runtime.Event{RunID: "next", Seq: 1, Flow: "Signup"})
	for _, want := range []struct{ run, id string }{{legacy, ""}, {"next", "next/1"}} {
		ev := nextSSE(t, ch)
		var got runtime.Event
		if err := json.Unmarshal([]byte(ev.data), &got); err != nil || ev.event != "run" || ev.id != want.id || got.RunID != want.run {
			t.Errorf("got %+v (run %q, %v), want the event of run %q with id %q", ev, got.RunID, err, want.run, want.id)
		}
	}
}

// The bounds: MaxWatchers streams at once (503 beyond, and a slot frees
// when a stream closes); a watcher that falls WatchBuffer events behind is
// told to stop, and never holds a run up.
func TestWatchBounds(t *testing.T) {
	fx := newFixture(t)
	e, err := New(Options{Store: fx.st, MaxWatchers: 2, WatchBuffer: 2})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptestServer(t, e)
	_, r1 := openWatch(t, srv.URL, "", "")
	_, r2 := openWatch(t, srv.URL, "", "")
	if _, res := openWatch(t, srv.URL, "", ""); res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != strconv.Itoa(WatchRetryAfter) {
		t.Fatalf("third stream: %d, Retry-After %q, want 503 with Retry-After %d", res.StatusCode, res.Header.Get("Retry-After"), WatchRetryAfter)
	}
	r1.Body.Close()
	waitFor(t, "a slot to free", func() bool { return e.watch.n.Load() < 2 })
	if ch, res := openWatch(t, srv.URL, "", ""); ch == nil {
		t.Fatalf("after one closed: %d", res.StatusCode)
	}
	_ = r2

	h := newWatchHub(1, 2, 0, slog.New(slog.DiscardHandler))
	w, _ := h.add("", "", "", false, true, "")
	if _, err := h.add("", "", "", false, true, ""); err == nil {
		t.Error("the hub took a watcher beyond its bound")
	}
	for i := range 5 { // publish never blocks, whoever reads
		h.publish(runtime.Event{RunID: "r", Seq: uint64(i + 1)})
	}
	select {
	case <-w.overflow:
	default:
		t.Fatal("a watcher 3 events behind with a buffer of 2 was not told")
	}
	if w.len() != 2 {
		t.Errorf("%d events queued, want the buffer's 2", w.len())
	}
}

// A stream's queue is bounded in bytes (WatchBytes: the JSON of its
// events, their states included) as well as in events (WatchBuffer): a
// slow stream with states (an API client's default) of a run whose state
// is 300 KiB is told to stop after 1 MiB of them, not after 256 events,
// which held gigabytes for one client at megabytes of state. A stream
// without states (the web view's) queues none of those bytes and goes
// on; an event larger than the bound alone is queued when nothing else
// is, so that a stream carries any state, and nothing after it fits.
func TestWatchBytesBound(t *testing.T) {
	const bound = 1 << 20
	e, err := New(Options{Store: newFixture(t).st, WatchBytes: bound})
	if err != nil {
		t.Fatal(err)
	}
	h := e.watch
	whole, _ := h.add("", "", "", false, true, "")
	bare, _ := h.add("", "", "", false, false, "")
	state := json.RawMessage(`{"blob":"` + strings.Repeat("x", 300<<10) + `"}`)
	for i := range 10 {
		h.publish(runtime.Event{RunID: "r", Seq: uint64(i + 1), Flow: "F", State: state})
	}
	select {
	case <-whole.overflow:
	default:
		t.Fatalf("a stream with %d events of %d bytes of state queued (%d bytes) was not told to stop; its bound is %d bytes", whole.len(), len(state), whole.bytes(), bound)
	}
	if n, q := whole.len(), whole.bytes(); n != 3 || q > bound {
		t.Errorf("the stream with states holds %d events, %d bytes; want the 3 that fit in %d bytes", n, q, bound)
	}
	select {
	case <-bare.overflow:
		t.Error("a stream without states was told to stop")
	default:
	}
	if n := bare.len(); n != 10 {
		t.Errorf("the stream without states holds %d events, want all 10", n)
	}

	big, _ := h.add("", "", "", false, true, "")
	h.publish(runtime.Event{RunID: "r", Seq: 11, Flow: "F", State: json.RawMessage(`"` + strings.Repeat("y", 2*bound) + `"`)})
	select {
	case <-big.overflow:
		t.Fatal("an event larger than the bound was refused to an empty queue")
	default:
	}
	if big.len() != 1 {
		t.Fatalf("%d events queued, want the large one", big.len())
	}
	h.publish(runtime.Event{RunID: "r", Seq: 12, Flow: "F"})
	select {
	case <-big.overflow:
	default:
		t.Error("an event behind one larger than the bound was queued")
	}
}

// One caller's streams: a token holds at most its share of MaxWatchers
// (WatchShare), so that one client cannot take every stream and leave the
// other users' web views none; its next one answers 503 with Retry-After,
// another token's stream still opens, and a stream closed frees its
// place for its caller. Callers the Authorizer names no one (an open API)
// share the whole bound.
func TestWatchShareOfOneCaller(t *testing.T) {
	fx := newFixture(t)
	auth := newTokenAuth(t, "admin "+adminToken+"\nclient "+clientToken+"\n")
	e, err := New(Options{Store: fx.st, Authorizer: auth, MaxWatchers: 2 * WatchShare})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptestServer(t, e)
	var first *http.Response
	for i := range 2 {
		ch, res := openWatch(t, srv.URL, clientToken, "")
		if ch == nil {
			t.Fatalf("the client's stream %d: %d", i+1, res.StatusCode)
		}
		if first == nil {
			first = res
		}
	}
	_, res := openWatch(t, srv.URL, clientToken, "")
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != strconv.Itoa(WatchRetryAfter) {
		t.Fatalf("the client's third stream: %d, Retry-After %q; want 503 with Retry-After %d: its share is 2", res.StatusCode, res.Header.Get("Retry-After"), WatchRetryAfter)
	}
	if ch, res := openWatch(t, srv.URL, adminToken, ""); ch == nil {
		t.Fatalf("another token's stream: %d; want it opened", res.StatusCode)
	}
	first.Body.Close()
	waitFor(t, "the client's place to free", func() bool { return e.watch.n.Load() == 2 })
	if ch, res := openWatch(t, srv.URL, clientToken, ""); ch == nil {
		t.Fatalf("the client's stream after one closed: %d", res.StatusCode)
	}

	open, err := New(Options{Store: newFixture(t).st, MaxWatchers: 2 * WatchShare})
	if err != nil {
		t.Fatal(err)
	}
	osrv := httptestServer(t, open)
	for i := range 2 * WatchShare {
		if ch, res := openWatch(t, osrv.URL, "", ""); ch == nil {
			t.Fatalf("open API, stream %d: %d; want every place for callers without identity", i+1, res.StatusCode)
		}
	}
}

// A full watcher gets "event: overflow" and its stream ends.
func TestWatchOverflowEndsStream(t *testing.T) {
	fx := newFixture(t)
	e, err := New(Options{Store: fx.st, WatchBuffer: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptestServer(t, e)
	ch, _ := openWatch(t, srv.URL, "", "")
	waitFor(t, "the watcher", func() bool { return e.watch.n.Load() == 1 })
	e.watch.mu.Lock() // hold the writer: the queue fills
	var w *watcher
	for w = range e.watch.watchers {
	}
	e.watch.queue(w, &watched{name: watchRuns, id: "id: x/1\n", data: []byte(`{"run_id":"x","seq":1}`)})
	e.watch.mu.Unlock()
	// The writer may have taken it already: publish until it overflows.
	for i := 2; ; i++ {
		e.watch.publish(runtime.Event{RunID: "x", Seq: uint64(i)})
		select {
		case <-w.overflow:
		default:
			continue
		}
		break
	}
	for ev := range ch {
		if ev.event == "overflow" {
			return
		}
	}
	t.Fatal("the stream ended without an overflow event")
}

// EndWatches (and Close) end the open streams, so that a server's
// Shutdown does not wait for them.
func TestEndWatches(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	srv := httptestServer(t, e)
	ch, _ := openWatch(t, srv.URL, "", "")
	waitFor(t, "the watcher", func() bool { return e.watch.n.Load() == 1 })
	fx.stop()
	select {
	case _, ok := <-ch:
		for ok {
			_, ok = <-ch
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream outlived Close")
	}
}

// GET /session tells the caller's role, the routes it may use (as the
// access table says), and the run states.
func TestSession(t *testing.T) {
	for _, c := range []struct {
		auth  bool
		token string
		role  Role
	}{{false, "", RoleAdmin}, {true, clientToken, RoleClient}, {true, adminToken, RoleAdmin}, {true, viewerToken, RoleViewer}} {
		fx := newFixture(t)
		fx.tel = &stubTelemetry{} // serves every route of the table
		if c.auth {
			fx.auth = newTokenAuth(t, "admin "+adminToken+"\nclient "+clientToken+"\nviewer "+viewerToken+"\n")
		}
		e := fx.start()
		srv := httptestServer(t, e)
		status, _, body := send(t, srv, "GET", "/session", c.token, "", "")
		var got struct {
			Role   Role     `json:"role"`
			Auth   bool     `json:"auth"`
			Routes []string `json:"routes"`
			States []struct {
				Name       runtime.RunState `json:"name"`
				Terminal   bool             `json:"terminal"`
				TakesAbort bool             `json:"takes_abort"`
			} `json:"states"`
		}
		_ = json.Unmarshal([]byte(body), &got)
		if status != 200 || got.Role != c.role || got.Auth != c.auth || len(got.States) != len(runtime.RunStates) {
			t.Errorf("auth %v token %q: %d %s", c.auth, c.token, status, body)
		}
		for _, s := range got.States {
			if s.Terminal != s.Name.Terminal() || s.TakesAbort != s.Name.TakesAbort() {
				t.Errorf("%s: terminal %v, takes_abort %v", s.Name, s.Terminal, s.TakesAbort)
			}
		}
		var want []string
		for _, rt := range Routes() {
			if c.role.Allows(rt.Need) {
				want = append(want, rt.Pattern)
			}
		}
		slices.Sort(want)
		if !slices.Equal(got.Routes, want) {
			t.Errorf("auth %v token %q: routes %v, want %v", c.auth, c.token, got.Routes, want)
		}
		fx.stop()
	}
}

// The web view offers Abort by the route table, through GET /session:
// with the table changed to let a client abort, a client's session lists
// the abort route.
func TestSessionFollowsTheTable(t *testing.T) {
	withRouteNeed(t, "POST /runs/{id}/abort", RoleClient)
	fx := newFixture(t)
	fx.auth = newTokenAuth(t, "admin "+adminToken+"\nclient "+clientToken+"\n")
	e := fx.start()
	defer fx.stop()
	_, _, body := send(t, httptestServer(t, e), "GET", "/session", clientToken, "", "")
	var got struct {
		Role   Role     `json:"role"`
		Routes []string `json:"routes"`
	}
	_ = json.Unmarshal([]byte(body), &got)
	if got.Role != RoleClient || !slices.Contains(got.Routes, "POST /runs/{id}/abort") {
		t.Errorf("a client may abort, the session says %s", body)
	}
}

// GET /runs filters by start time and by correlation value, and lists
// newest first with order=newest.
func TestListFiltersTimeAndCorrelation(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	srv := httptestServer(t, e)
	var ids []string
	for _, email := range []string{"ann", "bob"} {
		id, err := e.StartRun(context.Background(), "Signup", json.RawMessage(`{"Customer":{"Email":"`+email+`"}}`), "")
		if err != nil {
			t.Fatal(err)
		}
		waitParked(t, e, id)
		ids = append(ids, id)
	}
	first, _ := fx.st.Get(ids[0])
	second, _ := fx.st.Get(ids[1])
	st, _ := e.Status(context.Background(), ids[1])
	list := func(q string) []string {
		t.Helper()
		status, _, body := send(t, srv, "GET", "/runs?"+q, "", "", "")
		if status != 200 {
			t.Fatalf("%s: %d %s", q, status, body)
		}
		var out struct {
			Runs []struct {
				RunID       string `json:"run_id"`
				Correlation string `json:"correlation"`
			} `json:"runs"`
		}
		_ = json.Unmarshal([]byte(body), &out)
		var got []string
		for _, r := range out.Runs {
			got = append(got, r.RunID)
		}
		return got
	}
	at := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	if got := list("correlation=" + st.Wait.Correlation); len(got) != 1 || got[0] != ids[1] {
		t.Errorf("correlation %q: %v", st.Wait.Correlation, got)
	}
	if got := list("since=" + at(second.Started)); len(got) != 1 || got[0] != ids[1] {
		t.Errorf("since the second: %v", got)
	}
	if got := list("until=" + at(second.Started)); len(got) != 1 || got[0] != ids[0] {
		t.Errorf("until the second: %v", got)
	}
	if got := list("since=" + at(first.Started) + "&until=" + at(second.Started.Add(time.Nanosecond))); len(got) != 2 {
		t.Errorf("both: %v", got)
	}
	if status, _, body := send(t, srv, "GET", "/runs?since=yesterday", "", "", ""); status != 400 || !strings.Contains(body, "RFC 3339") {
		t.Errorf("bad since: %d %s", status, body)
	}
	if got := list("order=newest"); !slices.Equal(got, []string{ids[1], ids[0]}) {
		t.Errorf("newest first: %v", got)
	}
	if got := list("order=newest&limit=1&cursor=" + runsCursor.encode(ids[1])); !slices.Equal(got, ids[:1]) {
		t.Errorf("newest first, after the second: %v", got)
	}
	if got := list("order=oldest"); !slices.Equal(got, ids) {
		t.Errorf("oldest first: %v", got)
	}
	if status, _, body := send(t, srv, "GET", "/runs?order=random", "", "", ""); status != 400 || !strings.Contains(body, "want newest or oldest") {
		t.Errorf("bad order: %d %s", status, body)
	}
}

// The diagrams: a flow's, and a run's with its path lit from its history.
func TestDiagrams(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	srv := httptestServer(t, e)
	status, h, body := send(t, srv, "GET", "/flows/Signup/diagram", "", "", "")
	if status != 200 || h.Get("Content-Type") != "image/svg+xml" || !strings.Contains(body, `data-step="AwaitPayment"`) {
		t.Fatalf("flow diagram: %d %s %.200s", status, h.Get("Content-Type"), body)
	}
	// Opened alone, a document whose text flows' authors chose: it runs nothing.
	if csp, sniff := h.Get("Content-Security-Policy"), h.Get("X-Content-Type-Options"); !strings.HasPrefix(csp, "default-src 'none';") || strings.Contains(csp, "script") || sniff != "nosniff" {
		t.Errorf("flow diagram: Content-Security-Policy %q, X-Content-Type-Options %q", csp, sniff)
	}
	if status, _, _ := send(t, srv, "GET", "/flows/Nope/diagram", "", "", ""); status != 404 {
		t.Errorf("unknown flow: %d", status)
	}
	// A flow registered without its model (RegisterFlow) has none to draw: 404, saying so.
	if err := RegisterFlow(e, newGenOrder(e, fx.effects, 0)); err != nil {
		t.Fatal(err)
	}
	if status, _, body := send(t, srv, "GET", "/flows/GenOrder/diagram", "", "", ""); status != 404 || !strings.Contains(body, "runtime definition only") {
		t.Errorf("generated flow: %d %s", status, body)
	}
	id, err := e.StartRun(context.Background(), "Signup", json.RawMessage(`{"Customer":{"Email":"ann"}}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitParked(t, e, id)
	_, _, body = send(t, srv, "GET", "/runs/"+id+"/diagram", "", "", "")
	for _, want := range []string{`fg-step fg-visited" data-node="Signup_CreateCustomer"`, `fg-step fg-visited fg-current" data-node="Signup_AwaitPayment"`, `class="fg-node fg-step" data-node="Signup_Activate"`, `class="fg-node fg-aborting" data-node="Signup_aborting"`} {
		if !strings.Contains(body, want) {
			t.Errorf("waiting run's diagram lacks %s", want)
		}
	}
	if err := e.Abort(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the abort", func() bool { return runState(fx, id).Terminal() })
	_, _, body = send(t, srv, "GET", "/runs/"+id+"/diagram", "", "", "")
	for _, want := range []string{`fg-undo fg-visited" data-node="Signup_undo_CreateCustomer"`, `fg-aborting fg-visited" data-node="Signup_aborting"`, `fg-terminal fg-done" data-node="Signup_aborted"`} {
		if !strings.Contains(body, want) {
			t.Errorf("aborted run's diagram lacks %s", want)
		}
	}
	if regexp.MustCompile(`class="[^"]*fg-current`).MatchString(body) {
		t.Error("a finished run has a current step")
	}
	// Aborted while it waited: no step failed, none was cut short.
	if m := regexp.MustCompile(`class="[^"]*(fg-failed|fg-interrupted)[^"]*" data-node="[^"]*"`).FindString(body); m != "" {
		t.Errorf("a run aborted while it waited lights %s", m)
	}
}

// The web view's files are public; everything they read is not.
func TestUIFilesArePublic(t *testing.T) {
	fx := newFixture(t)
	fx.auth = newTokenAuth(t, "admin "+adminToken+"\n")
	e := fx.start()
	defer fx.stop()
	srv := httptestServer(t, e)
	for _, p := range []string{"/ui/", "/ui/app.js", "/ui/app.css", "/ui/diagram.js", "/ui/diagram.css"} {
		status, h, body := send(t, srv, "GET", p, "", "", "")
		if status != 200 || h.Get("Content-Security-Policy") == "" || len(body) == 0 {
			t.Errorf("%s: %d, CSP %q", p, status, h.Get("Content-Security-Policy"))
		}
	}
	if status, h, _ := send(t, srv, "GET", "/ui", "", "", ""); status != 200 || h.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("/ui (redirected): %d %s", status, h.Get("Content-Type"))
	}
	if status, _, _ := send(t, srv, "GET", "/ui/nothing.js", "", "", ""); status != 404 {
		t.Errorf("unknown file: %d", status)
	}
	for _, p := range []string{"/session", "/watch", "/flows/Signup/diagram"} {
		if status, _, _ := send(t, srv, "GET", p, "", "", ""); status != 401 {
			t.Errorf("%s without a token: %d", p, status)
		}
	}
}

// Many runs at once, several watchers: each watcher gets every event of
// every run, each run's in order, and no run waits for them (-race).
func TestWatchConcurrentRuns(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	srv := httptestServer(t, e)
	var streams []<-chan sseEvent
	for range 3 {
		ch, _ := openWatch(t, srv.URL, "", "flow=Signup")
		streams = append(streams, ch)
	}
	waitFor(t, "the watchers", func() bool { return e.watch.n.Load() == 3 })
	const runs = 40
	ids := make(chan string, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := e.StartRun(context.Background(), "Signup", json.RawMessage(`{"Customer":{"Email":"u`+itoa(int64(i))+`"}}`), "")
			if err != nil {
				t.Error(err)
				return
			}
			ids <- id
		}()
	}
	wg.Wait()
	close(ids)
	want := map[string]int{} // run -> events recorded once parked
	for id := range ids {
		waitParked(t, e, id)
		h, _ := e.History(context.Background(), id)
		want[id] = len(h)
	}
	total := 0
	for _, n := range want {
		total += n
	}
	for i, ch := range streams {
		last := map[string]uint64{}
		for range total {
			ev := nextSSE(t, ch)
			var got runtime.Event
			if err := json.Unmarshal([]byte(ev.data), &got); err != nil {
				t.Fatal(err)
			}
			if got.Seq != last[got.RunID]+1 {
				t.Fatalf("watcher %d: run %s seq %d after %d", i, got.RunID, got.Seq, last[got.RunID])
			}
			last[got.RunID] = got.Seq
		}
		for id, n := range want {
			if last[id] != uint64(n) {
				t.Errorf("watcher %d: run %s: %d events, want %d", i, id, last[id], n)
			}
		}
	}
}

// genOrderFlow is GenOrder as flowgen generates it: its runtime definition
// (Runtimer) and its JSON form (Modeled).
type genOrderFlow struct{ f *runtime.Flow[genOrder] }

func (g genOrderFlow) Runtime() *runtime.Flow[genOrder] { return g.f }

func (genOrderFlow) FlowJSON() []byte {
	return []byte(`{"version":1,"flows":[{"name":"GenOrder","state":"genOrder","steps":[
		{"name":"AwaitPayment","action":{"kind":"await","topic":"payments","event":"order.paid","response":"Payment","correlate":"OrderID","timeout":"1h"},"irreversible":true,"on":[{"on":"timeout","target":"Expire"}]},
		{"name":"Ship","action":{"kind":"go"},"irreversible":true,"on":[{"on":"ok","target":"done"}]},
		{"name":"Expire","action":{"kind":"go"},"irreversible":true}]}]}`)
}

// A generated flow registered with Register is drawn from its JSON form,
// its runs' diagrams too, while it runs as generated code (not a JSON flow).
func TestDiagramOfGeneratedFlow(t *testing.T) {
	e, err := New(Options{Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	if err := Register(e, genOrderFlow{newGenOrder(e, &ledger{}, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	srv := httptestServer(t, e)
	status, _, body := send(t, srv, "GET", "/flows/GenOrder/diagram", "", "", "")
	if status != 200 || !strings.Contains(body, `data-step="Ship"`) || !strings.Contains(body, `data-step="Expire"`) {
		t.Fatalf("generated flow's diagram: %d %.300s", status, body)
	}
	if fl := e.Flows(); len(fl) != 1 || fl[0].JSON {
		t.Errorf("flows %+v: want GenOrder, not a JSON flow", fl)
	}
	id := startOrder(t, e, "o-1")
	waitParked(t, e, id)
	_, _, body = send(t, srv, "GET", "/runs/"+id+"/diagram", "", "", "")
	if !strings.Contains(body, `fg-current" data-node="GenOrder_AwaitPayment"`) {
		t.Errorf("waiting run's diagram does not light AwaitPayment: %.400s", body)
	}
}

// A stream opened with a token that is revoked meanwhile (the token file
// reloaded) ends at its next event, told so, as a new request with the
// token is refused.
func TestWatchEndsWhenTokenRevoked(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/tokens"
	if err := os.WriteFile(path, []byte("client c-token-0123456789abcdef\nadmin a-token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	auth, err := NewTokenAuth(path)
	if err != nil {
		t.Fatal(err)
	}
	e, stream := watchSignups(t, auth, "c-token-0123456789abcdef")
	if err := os.WriteFile(path, []byte("admin a-token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := auth.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.StartRun(context.Background(), "Signup", json.RawMessage(`{"Customer":{"Email":"ann"}}`), ""); err != nil {
		t.Fatal(err)
	}
	if ev := nextSSE(t, stream); ev.event != "unauthorized" {
		t.Fatalf("after the token's revocation the stream sent %+v", ev)
	}
	for ev := range stream {
		t.Errorf("the stream went on: %+v", ev)
	}
}

// A stream opened with a token that is revoked meanwhile ends at the
// reload itself, told so, with no event or heartbeat to wait for: a revoked
// credential stops reading at once. A reload that keeps the token leaves
// the stream open.
func TestWatchEndsAtTheReloadThatRevokes(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/tokens"
	both := []byte("client c-token-0123456789abcdef\nadmin a-token-0123456789abcdef\n")
	if err := os.WriteFile(path, both, 0o600); err != nil {
		t.Fatal(err)
	}
	auth, err := NewTokenAuth(path)
	if err != nil {
		t.Fatal(err)
	}
	_, stream := watchSignups(t, auth, "c-token-0123456789abcdef")
	if err := auth.Reload(); err != nil { // the token stays
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("admin a-token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := auth.Reload(); err != nil {
		t.Fatal(err)
	}
	select {
	case ev, ok := <-stream:
		if !ok || ev.event != "unauthorized" {
			t.Fatalf("after the token's revocation the stream sent %+v (open %v)", ev, ok)
		}
	case <-time.After(5 * time.Second): // the heartbeat is 15 s away
		t.Fatal("the stream of a revoked token is still open 5 s after the reload")
	}
	for ev := range stream {
		t.Errorf("the stream went on: %+v", ev)
	}
}

// A stream asks the Authorizer again, before each write, with the role the
// route table gives GET /watch, not a role of its own: with the table
// changed to need admin, every question about the stream is for admin.
func TestWatchAsksTheTablesRole(t *testing.T) {
	withRouteNeed(t, "GET /watch", RoleAdmin)

	var mu sync.Mutex
	var asked []Role
	auth := AuthorizerFunc(func(r *http.Request, need Role) error {
		if r.Pattern == "GET /watch" {
			mu.Lock()
			asked = append(asked, need)
			mu.Unlock()
		}
		return nil
	})
	e, stream := watchSignups(t, auth, "any")
	if _, err := e.StartRun(context.Background(), "Signup", json.RawMessage(`{"Customer":{"Email":"ann"}}`), ""); err != nil {
		t.Fatal(err)
	}
	if ev := nextSSE(t, stream); ev.event != "run" {
		t.Fatalf("the stream sent %+v", ev)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) < 2 { // the guard's, then the first write's
		t.Fatalf("the Authorizer was asked %v about the stream", asked)
	}
	for _, need := range asked {
		if need != RoleAdmin {
			t.Errorf("the stream asked for %s; the route table says %s", need, RoleAdmin)
		}
	}
}

// watchSignups starts an engine with auth and opens GET /watch on its
// Signup runs with token.
func watchSignups(t *testing.T, auth Authorizer, token string) (*Engine, <-chan sseEvent) {
	t.Helper()
	fx := newFixture(t)
	fx.auth = auth
	e := fx.start()
	srv := httptestServer(t, e)
	t.Cleanup(fx.stop) // before the server closes: it ends the stream
	stream, res := openWatch(t, srv.URL, token, "flow=Signup")
	if stream == nil {
		t.Fatalf("GET /watch: %d", res.StatusCode)
	}
	return e, stream
}

// withRouteNeed changes the access table for the test: pattern needs need.
// Call it before starting the engine; the table is restored once the
// test's servers have stopped (the cleanups registered after run first).
func withRouteNeed(t *testing.T, pattern string, need Role) {
	saved, savedNeeds := routes, routeNeeds
	t.Cleanup(func() { routes, routeNeeds = saved, savedNeeds })
	routes = slices.Clone(routes)
	for i := range routes {
		if routes[i].Pattern == pattern {
			routes[i].Need = need
		}
	}
	routeNeeds = needsByPattern(routes)
}

// An abort the engine accepts reaches the run's watchers at once, as
// "event: abort" with the run: a run records it only once its step in
// flight returns, and the pages that show the run say it is pending
// (abort_requested) meanwhile. Watchers of another run do not get it.
func TestWatchStreamsAcceptedAbort(t *testing.T) {
	fx := newFixture(t)
	e, c := parkedSignup(t, fx)
	defer fx.stop()
	defer c.srv.Close()
	defer e.EndWatches() // the streams end before the server closes
	mine, _ := openWatch(t, c.srv.URL, "", "run=s-1")
	other, _ := openWatch(t, c.srv.URL, "", "run=nobody")
	if status, out := c.do("POST", "/runs/s-1/abort", ""); status != 202 {
		t.Fatalf("abort: %d %v", status, out)
	}
	for {
		ev := nextSSE(t, mine)
		if ev.event != "abort" {
			continue // the run's own events, as it rolls back
		}
		var got runtime.RunRef
		if err := json.Unmarshal([]byte(ev.data), &got); err != nil || got != (runtime.RunRef{Flow: "Signup", RunID: "s-1"}) || ev.id != "" {
			t.Errorf("the abort event: %+v (%v)", ev, err)
		}
		break
	}
	select {
	case ev := <-other:
		t.Errorf("a watcher of another run got %+v", ev)
	case <-time.After(50 * time.Millisecond):
	}
}

// A flow defined, or defined anew, reaches the watchers of the flows at
// once, as "event: flow" with its name, so that the pages that draw the
// flows redraw: the watchers of every run, of that flow, and of the flows
// only (kind=flow); not those of one run, of another flow, or of the runs
// only (kind=run). A definition that changes nothing says nothing.
func TestWatchStreamsFlowDefinitions(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptestServer(t, e)}
	defer e.EndWatches()
	want := map[string]<-chan sseEvent{}
	for _, q := range []string{"", "flow=Hello", "kind=flow", "flow=Hello&kind=flow"} {
		want[q], _ = openWatch(t, c.srv.URL, "", q)
	}
	quiet := map[string]<-chan sseEvent{}
	for _, q := range []string{"run=Hello", "flow=Signup", "kind=run"} {
		quiet[q], _ = openWatch(t, c.srv.URL, "", q)
	}
	if _, res := openWatch(t, c.srv.URL, "", "kind=flows"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("kind=flows: %d, want 400", res.StatusCode)
	}
	waitFor(t, "the watchers", func() bool { return e.watch.n.Load() == 7 })
	redefined := strings.Replace(helloFlow, `"hello"`, `"hi"`, 1)
	for _, doc := range []string{helloFlow, helloFlow, redefined} {
		if status, out := c.do("PUT", "/flows", doc); status != 200 {
			t.Fatalf("PUT Hello: %d %v", status, out)
		}
	}
	for q, ch := range want {
		for range 2 { // defined, then defined anew; the same again said nothing
			if ev := nextSSE(t, ch); ev.event != "flow" || ev.data != `{"flow":"Hello"}` || ev.id != "" {
				t.Errorf("watch?%s: %+v, want event: flow, {\"flow\":\"Hello\"}", q, ev)
			}
		}
	}
	for q, ch := range quiet {
		select {
		case ev := <-ch:
			t.Errorf("watch?%s got %+v", q, ev)
		case <-time.After(50 * time.Millisecond):
		}
	}
	for q, ch := range want {
		select {
		case ev := <-ch:
			t.Errorf("watch?%s got a third event %+v", q, ev)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// A flow registered from Go on an engine already started (Register,
// RegisterFlow) is announced to the watchers of the flows as one defined
// through PUT /flows is: "event: flow" with its name, once in effect. One
// refused (its name taken) says nothing.
func TestWatchStreamsFlowsRegisteredFromGo(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	srv := httptestServer(t, e)
	defer e.EndWatches()
	flows, _ := openWatch(t, srv.URL, "", "kind=flow")
	waitFor(t, "the watcher", func() bool { return e.watch.n.Load() == 1 })
	if err := Register(e, newGenHello(t, e, helloTriggers[0])); err != nil {
		t.Fatal(err)
	}
	if ev := nextSSE(t, flows); ev.event != "flow" || ev.data != `{"flow":"Hello"}` {
		t.Errorf("after Register: %+v, want event: flow, {\"flow\":\"Hello\"}", ev)
	}
	if err := Register(e, newGenHello(t, e)); err == nil {
		t.Fatal("Hello registered twice")
	}
	select {
	case ev := <-flows:
		t.Errorf("a registration refused was announced: %+v", ev)
	case <-time.After(50 * time.Millisecond):
	}
}

// A run's stream with children=true carries the events of its child runs,
// at any depth, and of no other run; without it, of the run alone. Another
// value of children answers 400.
func TestWatchChildren(t *testing.T) {
	h := newWatchHub(4, 16, 0, slog.New(slog.DiscardHandler))
	tree, _ := h.add("o-1", "", "", true, true, "")
	alone, _ := h.add("o-1", "", "", false, true, "")
	ids := []string{"o-1", "o-1@Bill", "o-1@Bill@Pay:rollback", "o-10@Bill", "o-2", "o-1@Bill:2"}
	for i, id := range ids {
		h.publish(runtime.Event{RunID: id, Seq: uint64(i + 1)})
	}
	got := func(w *watcher) (runs []string) {
		for x, ok := w.pop(); ok; x, ok = w.pop() {
			var ev runtime.Event
			if err := json.Unmarshal(x.data, &ev); err != nil {
				t.Fatal(err)
			}
			runs = append(runs, ev.RunID)
		}
		return runs
	}
	if g, want := got(tree), []string{"o-1", "o-1@Bill", "o-1@Bill@Pay:rollback", "o-1@Bill:2"}; !slices.Equal(g, want) {
		t.Errorf("children=true got %q, want %q", g, want)
	}
	if g, want := got(alone), []string{"o-1"}; !slices.Equal(g, want) {
		t.Errorf("children=false got %q, want %q", g, want)
	}

	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	srv := httptestServer(t, e)
	defer e.EndWatches()
	for _, q := range []string{"run=o-1&children=yes", "run=o-1&children=1", "run=o-1&children="} {
		if _, res := openWatch(t, srv.URL, "", q); res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, res.StatusCode)
		}
	}
	for _, q := range []string{"run=o-1&children=true", "run=o-1&children=false"} {
		if ch, res := openWatch(t, srv.URL, "", q); ch == nil {
			t.Errorf("%s: %d, want 200", q, res.StatusCode)
		}
	}
}

// A GET /watch whose filters can never meet answers 400 rather than hold
// one of the server's bounded streams open and silent: children=true
// without run= (it adds a run's child runs to that run's stream), and
// kind=flow with run= (a stream of one run carries no flow events).
func TestWatchRefusesStreamsThatCarryNothing(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	srv := httptestServer(t, e)
	defer e.EndWatches()
	for _, q := range []string{"children=true", "flow=Hello&children=true", "run=r1&kind=flow", "run=r1&kind=flow&children=true"} {
		if _, res := openWatch(t, srv.URL, "", q); res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, res.StatusCode)
		}
	}
	for _, q := range []string{"run=r1&children=true", "run=r1&children=false", "children=false", "run=r1&kind=run", "flow=Hello&kind=flow"} {
		if _, res := openWatch(t, srv.URL, "", q); res.StatusCode != http.StatusOK {
			t.Errorf("%s: %d, want 200", q, res.StatusCode)
		}
	}
}

// GET /watch?state=false streams each event without its state, as GET
// /runs/{id}/history?state=false pages it, while a stream of the same run
// without it carries the state; a state that is neither true nor false
// answers 400.
func TestWatchWithoutStates(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	srv := httptestServer(t, e)
	defer e.EndWatches()
	if _, res := openWatch(t, srv.URL, "", "state=no"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("state=no: %d, want 400", res.StatusCode)
	}
	bare, _ := openWatch(t, srv.URL, "", "flow=Signup&state=false")
	whole, _ := openWatch(t, srv.URL, "", "flow=Signup")
	id, err := e.StartRun(context.Background(), "Signup", json.RawMessage(`{"Customer":{"Email":"ann"}}`), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ch     <-chan sseEvent
		states bool
	}{{bare, false}, {whole, true}} {
		var got runtime.Event
		if err := json.Unmarshal([]byte(nextSSE(t, c.ch).data), &got); err != nil {
			t.Fatal(err)
		}
		if got.RunID != id || got.Seq != 1 || (len(got.State) > 0) != c.states {
			t.Errorf("states %v: got run %q seq %d with a state of %d bytes", c.states, got.RunID, got.Seq, len(got.State))
		}
	}
}

// A flow too large to draw (graph.MaxLayoutVertices: a JSON flow of 400
// steps whose timeouts jump to the last, each edge crossing every rank
// between, some 55 KB) answers 422 saying so, at once: drawn, such a
// layout took minutes of CPU and gigabytes on a route any client may ask
// for. (Steps that fail straight to the end were the shape before their
// edges ran on a rail: graph.TestLayoutLinearInSteps.)
func TestDiagramTooLarge(t *testing.T) {
	steps := make([]string, 400)
	for i := range steps {
		steps[i] = fmt.Sprintf(`{"name": "S%d", "irreversible": true, "action": {"kind": "await", "topic": "t", "event": "e", "timeout": "1h"}, "on": [{"on": "timeout", "target": "S%d"}]}`, i, len(steps)-1)
	}
	steps[len(steps)-1] = fmt.Sprintf(`{"name": "S%d", "irreversible": true, "action": {"kind": "await", "topic": "t", "event": "e", "timeout": "1h"}}`, len(steps)-1)
	e, err := New(Options{Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e.LoadFlows("big.json", []byte(`{"version": 1, "flows": [{"name": "Big", "steps": [`+strings.Join(steps, ",")+`]}]}`)); err != nil {
		t.Fatal(err, ds)
	}
	srv := httptestServer(t, e)
	if status, _, body := send(t, srv, "GET", "/flows/Big/diagram", "", "", ""); status != http.StatusUnprocessableEntity || !strings.Contains(body, "too large to draw") {
		t.Errorf("a flow too large to draw: %d %.300s", status, body)
	}
}
