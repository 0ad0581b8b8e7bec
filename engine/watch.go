package engine

// Live events: GET /watch streams the events the engine's runs record, as
// server-sent events, to the web view (engine/ui) and to any client, the
// aborts the engine accepts, which a run records only once its step in
// flight returns, and the flows defined or defined anew (PUT /flows, the
// flows directory read, Register from Go: Engine.inEffect), which the
// pages that draw them redraw. The runs' sink is the store wrapped by recorder, which
// hands each event the store accepted to the watchers; a run never waits
// for a watcher.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// The bounds of GET /watch (Options.MaxWatchers, Options.WatchBuffer,
// Options.WatchBytes).
const (
	// DefaultMaxWatchers is how many GET /watch streams may be open at
	// once; one more answers 503 with WatchRetryAfter.
	DefaultMaxWatchers = 64
	// WatchRetryAfter is what a GET /watch refused for the bound answers
	// in the Retry-After header, in seconds: the web view waits that long
	// before it tries again.
	WatchRetryAfter = 5
	// WatchShare is the part of Options.MaxWatchers that one caller may
	// hold: a caller the Authorizer names (Identity.ID: a token of
	// TokenAuth) opens at most max(1, MaxWatchers/WatchShare) streams at
	// once; one more answers 503 with WatchRetryAfter. Streams hold their
	// connections for as long as they are open, so one token (a script, a
	// page reloaded in a loop) could otherwise take every one, and every
	// other user's web view would have none. Callers without an identity
	// (an open API, an Authorizer that names no one) cannot be told apart
	// and share the whole bound.
	WatchShare = 4
	// DefaultWatchBuffer is how many events may wait to be sent to one
	// watcher. A watcher that falls that far behind gets an "overflow"
	// event and its stream ends: it reads the runs again, then
	// reconnects.
	DefaultWatchBuffer = 256
	// DefaultWatchBytes is how many bytes of events (their JSON, as the
	// stream sends it) may wait to be sent to one watcher: with their
	// states (a stream's default), 256 events of a run whose state is
	// megabytes would hold gigabytes for one slow client. A watcher that
	// falls that far behind gets an "overflow" event, as for
	// DefaultWatchBuffer. An event larger alone is queued when nothing
	// else is, so that a stream carries any state a run may hold; a
	// watcher holds at most the bound, or that one event, and the one it
	// is writing.
	DefaultWatchBytes = 32 << 20
	// watchHeartbeat is how often an idle stream gets a comment line, so
	// that proxies keep it open and a gone client is noticed.
	watchHeartbeat = 15 * time.Second
	// watchWriteTimeout bounds each write to a watcher.
	watchWriteTimeout = 10 * time.Second
)

// errTooManyWatchers answers a GET /watch beyond Options.MaxWatchers.
var errTooManyWatchers = errors.New("too many open GET /watch streams; try again later")

// errCallerWatchers answers a GET /watch of a caller that holds its share
// (WatchShare) of the streams already.
func errCallerWatchers(share int) error {
	return fmt.Errorf("these credentials hold %d open GET /watch streams already, their share of the server's; close one, or try again later", share)
}

// errNoWatch answers GET /watch on an engine whose runs execute on an
// Options.Executor: their events are recorded where they execute (on
// Temporal, by whichever serve process works on each run), never by this
// engine, so a stream here would stay open and silent while the runs
// change. GET /session leaves the route out (unserved), and the web view
// reads what it shows again instead.
var errNoWatch = errors.New("live events are not available here: the runs execute on the engine's Options.Executor, which records their events; read GET /runs and GET /runs/{id} again instead")

// watchHub hands recorded events to the open GET /watch streams.
type watchHub struct {
	n        atomic.Int32 // open watchers: Emit pays one load when none
	max      int
	share    int // streams one caller may hold (WatchShare)
	buffer   int
	bytes    int64 // the JSON of the events queued for one watcher (WatchBytes)
	log      *slog.Logger
	mu       sync.Mutex
	watchers map[*watcher]struct{}
	byCaller map[string]int // open streams of each caller (add)
	done     chan struct{}  // closed by EndWatches: every stream ends
	ended    sync.Once
}

// watcher is one open stream: the events it wants, and its queue.
type watcher struct {
	run, flow string        // "" matches every run, every flow
	kind      string        // "" every kind; watchRuns or watchFlows only those
	children  bool          // with run: its descendants' events too (runtime.DescendsFrom)
	states    bool          // the events with their states (?state=, default true)
	caller    string        // Identity.ID of whoever opened it (add), "" if none
	overflow  chan struct{} // closed when the queue was full, in events or bytes
	once      sync.Once

	// The queue grows with what is queued, never to its bound up front:
	// WatchBuffer is a count an operator may set high, and a channel of
	// that capacity took its whole size for each stream, idle or not.
	mu     sync.Mutex
	q      []watched     // oldest first, at most the hub's buffer
	queued int64         // bytes of the data of the events in q
	ready  chan struct{} // holds a token while q is not empty
}

// watched is what a watcher is sent, encoded as the stream sends it
// (encoded once for every watcher, and counted against WatchBytes as it
// is held): an event a run recorded ("run"), an abort of a run the
// engine accepted ("abort": Abort; the run records it once its step in
// flight returns, which GET /runs/{id} says as abort_requested), or a
// flow defined or defined anew ("flow").
type watched struct {
	name string // the SSE event: "run", "abort" or "flow"
	id   string // the id line of a run's event (sseID), else ""
	data []byte // its JSON
}

// The kinds a GET /watch?kind= stream may be limited to: the runs (their
// events and the aborts accepted), or the flows' definitions.
const (
	watchRuns  = "run"
	watchFlows = "flow"
)

// errWatchChildren answers a GET /watch?children= of neither true nor false.
var errWatchChildren = errors.New(`children must be "true" (a run's stream carries its child runs' events too) or "false"`)

// watchCarriesNothing is why a GET /watch of these filters could carry no
// event, nil if it can: children=true adds a run's child runs to the stream
// of that run (run=), and a stream of one run carries no flow definitions,
// which kind=flow keeps alone.
func watchCarriesNothing(oneRun bool, kind string, children bool) error {
	switch {
	case children && !oneRun:
		return errors.New(`children=true follows the child runs of one run: give its run= too`)
	case oneRun && kind == watchFlows:
		return fmt.Errorf("a stream of one run (run=) carries no flow definitions, which kind=%s keeps alone: it would carry nothing", watchFlows)
	}
	return nil
}

// errWatchKind answers a GET /watch?kind= of no kind of watchRuns, watchFlows.
var errWatchKind = fmt.Errorf("kind must be %q (the runs' events and aborts) or %q (the flows defined)", watchRuns, watchFlows)

func newWatchHub(most, buffer, bytes int, log *slog.Logger) *watchHub {
	if most <= 0 {
		most = DefaultMaxWatchers
	}
	if buffer <= 0 {
		buffer = DefaultWatchBuffer
	}
	if bytes <= 0 {
		bytes = DefaultWatchBytes
	}
	return &watchHub{max: most, share: max(1, most/WatchShare), buffer: buffer, bytes: int64(bytes), log: log, watchers: map[*watcher]struct{}{}, byCaller: map[string]int{}, done: make(chan struct{})}
}

// EndWatches ends every GET /watch stream, and the streams opened later at
// once. An http.Server's Shutdown waits for its handlers to return, and a
// stream returns when its client goes: call EndWatches first, or from
// http.Server.RegisterOnShutdown (flowgen serve does). Close calls it.
func (e *Engine) EndWatches() { e.watch.ended.Do(func() { close(e.watch.done) }) }

// add opens a watcher for caller (an Identity.ID, "" if none), its
// events with their states or without (states), or
// refuses it when MaxWatchers are open (errTooManyWatchers) or caller
// holds its share of them already (errCallerWatchers). A watcher of no
// caller is counted against MaxWatchers only.
func (h *watchHub) add(run, flow, kind string, children, states bool, caller string) (*watcher, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.watchers) >= h.max {
		return nil, errTooManyWatchers
	}
	if caller != "" && h.byCaller[caller] >= h.share {
		return nil, errCallerWatchers(h.share)
	}
	w := &watcher{run: run, flow: flow, kind: kind, children: children, states: states, caller: caller, ready: make(chan struct{}, 1), overflow: make(chan struct{})}
	h.watchers[w] = struct{}{}
	if caller != "" {
		h.byCaller[caller]++
	}
	h.n.Store(int32(len(h.watchers)))
	return w, nil
}

func (h *watchHub) remove(w *watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.watchers, w)
	if w.caller != "" {
		if h.byCaller[w.caller]--; h.byCaller[w.caller] == 0 {
			delete(h.byCaller, w.caller)
		}
		w.caller = ""
	}
	h.n.Store(int32(len(h.watchers)))
}

// publish offers a recorded event to the watchers that want it.
func (h *watchHub) publish(e runtime.Event) { h.offer(e.RunID, e.Flow, &e, nil) }

// publishAbort offers an accepted abort of a run to the watchers that want it.
func (h *watchHub) publishAbort(r runtime.RunRef) {
	b, _ := json.Marshal(r) // two strings: cannot fail
	h.offer(r.RunID, r.Flow, nil, &watched{name: "abort", data: b})
}

// publishFlow offers a flow defined, or defined anew, to the watchers that
// want it: those of every run (no run filter), of every flow or of that
// one, that watch the flows.
func (h *watchHub) publishFlow(flow string) {
	b, _ := json.Marshal(map[string]string{"flow": flow}) // a string: cannot fail
	h.offer("", flow, nil, &watched{name: "flow", data: b})
}

// offer hands an event a run recorded (ev), or x, about run of flow (run
// "": about the flow itself), to every watcher that wants it, without
// blocking: a watcher whose queue is full, in events (WatchBuffer) or in
// bytes (WatchBytes), is told to stop (overflow). ev is encoded once with
// its state and once without, each only if a watcher wants it so: a
// watcher without states queues the event without its state, so that
// its queue holds none of those bytes. The encoding is done outside the
// hub's lock, which every run's Emit takes.
func (h *watchHub) offer(run, flow string, ev *runtime.Event, x *watched) {
	if h.n.Load() == 0 {
		return
	}
	kind := watchRuns
	if run == "" {
		kind = watchFlows
	}
	h.mu.Lock()
	var to []*watcher
	var states, bare bool
	for w := range h.watchers {
		if w.run != "" && w.run != run && !(w.children && runtime.DescendsFrom(run, w.run)) ||
			w.flow != "" && w.flow != flow || w.kind != "" && w.kind != kind {
			continue
		}
		to = append(to, w)
		states, bare = states || w.states, bare || !w.states
	}
	h.mu.Unlock()
	if len(to) == 0 {
		return
	}
	var whole, stateless *watched
	if x != nil {
		whole, stateless = x, x
	} else {
		if states {
			whole = h.encode(*ev)
		}
		if bare {
			e := *ev
			e.State = nil
			stateless = h.encode(e)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, w := range to {
		y := whole
		if !w.states {
			y = stateless
		}
		if y != nil {
			h.queue(w, y)
		}
	}
}

// encode is a run's event as a watcher is sent it, nil (logged) if it
// cannot be encoded.
func (h *watchHub) encode(ev runtime.Event) *watched {
	b, err := json.Marshal(ev)
	if err != nil {
		h.log.Error("GET /watch: encoding an event", "run", ev.RunID, "seq", ev.Seq, "error", err)
		return nil
	}
	return &watched{name: watchRuns, id: sseID(ev), data: b}
}

// queue puts y in w's queue or, when the queue is full in events or in
// bytes (past the first event: one larger than WatchBytes alone is
// queued when nothing else is), tells w to stop. A watcher told to stop
// queues nothing more.
func (h *watchHub) queue(w *watcher, y *watched) {
	select {
	case <-w.overflow:
		return
	default:
	}
	n := int64(len(y.data))
	w.mu.Lock()
	full := len(w.q) >= h.buffer || len(w.q) > 0 && w.queued+n > h.bytes
	if !full {
		w.q = append(w.q, *y)
		w.queued += n
	}
	w.mu.Unlock()
	if full {
		w.once.Do(func() { close(w.overflow) })
		return
	}
	w.signal()
}

// signal leaves a token in w.ready, unless one is there.
func (w *watcher) signal() {
	select {
	case w.ready <- struct{}{}:
	default:
	}
}

// pop takes the oldest event of w's queue, if any, and leaves a token in
// w.ready while more remain.
func (w *watcher) pop() (watched, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.q) == 0 {
		return watched{}, false
	}
	x := w.q[0]
	w.q[0] = watched{} // its bytes are the client's now, not the queue's
	w.q = w.q[1:]
	w.queued -= int64(len(x.data))
	if len(w.q) == 0 {
		w.q = nil // what a burst grew goes with it
	} else {
		w.signal()
	}
	return x, true
}

// recorder is the sink of the engine's runs: the store, and then, for each
// event the store accepted, the watchers. The store may keep the event
// (runtime.Sink), and so may the watchers: the runtime never reuses an
// event's bytes.
type recorder struct {
	Store
	hub *watchHub
}

func (r recorder) Emit(ctx context.Context, e runtime.Event) error {
	if err := r.Store.Emit(ctx, e); err != nil {
		return err
	}
	r.hub.publish(e)
	return nil
}

// The runs' sink keeps the store's abort requests: the runtime records a
// run's abort there before acting on it, and resumes a run whose abort is
// pending aborted.
var (
	_ runtime.AbortRecorder = recorder{}
	_ runtime.AbortRecorder = recorderLoader{}
)

// recorderLoader is a recorder over a store that reads histories back
// (runtime.HistoryLoader), which the runtime's Status uses.
type recorderLoader struct {
	recorder
	runtime.HistoryLoader
}

// sink returns the runs' sink: the store, feeding GET /watch.
func (e *Engine) sink() runtime.Sink {
	r := recorder{Store: e.store, hub: e.watch}
	if l, ok := e.store.(runtime.HistoryLoader); ok {
		return recorderLoader{r, l}
	}
	return r
}

// httpWatch serves GET /watch?run=ID&flow=NAME&kind=K&children=B&state=S:
// the events recorded from then on (of that run, and with children=true
// of its child runs at any depth, of that flow's runs, or of all), as
// server-sent events. Each is "event: run", "id: RUN/SEQ" (sseID), and the
// runtime.Event as JSON in "data:", without its state with state=false
// (as GET /runs/{id}/history?state=false: a client that reads only which
// run moved, as the web view does, is not sent every run's state, up to
// megabytes, at every step); an abort accepted is "event: abort" and
// {"flow", "run_id"} (runtime.RunRef); a flow defined or defined anew is
// "event: flow" and {"flow"} (not for a stream of one run: it is about no
// run). kind=run streams only the first two, kind=flow only the last;
// filters no event can meet answer 400 (watchCarriesNothing). The
// stream needs the role of GET /flows, which reads the definitions, as of
// GET /runs. A client that falls DefaultWatchBuffer events, or
// DefaultWatchBytes of their JSON, behind gets "event: overflow" and the
// stream ends. What was recorded before the
// stream opened is read with GET /runs/{id}, GET /runs and GET /flows.
//
// The guard answers 404 instead on an engine with an Executor (unserved).
func (e *Engine) httpWatch(w http.ResponseWriter, r *http.Request) {
	// Like GET /runs/{id} and GET /runs?flow=, any value is a filter: a
	// run ID from before the ID limits is still watched.
	q := r.URL.Query()
	kind := q.Get("kind")
	if q.Has("kind") && kind != watchRuns && kind != watchFlows {
		writeError(w, http.StatusBadRequest, errWatchKind, nil)
		return
	}
	children := false
	if q.Has("children") {
		var err error
		if children, err = strconv.ParseBool(q.Get("children")); err != nil || q.Get("children") != strconv.FormatBool(children) {
			writeError(w, http.StatusBadRequest, errWatchChildren, nil)
			return
		}
	}
	states, ok := boolQuery(w, q, "state", true)
	if !ok {
		return
	}
	// Filters that no event meets would hold one of the bounded streams
	// open, silent, for as long as the client waits.
	if err := watchCarriesNothing(q.Has("run"), kind, children); err != nil {
		writeError(w, http.StatusBadRequest, err, nil)
		return
	}
	// Before the stream's first question (below): a change of the
	// credentials after the guard's is either seen by it or wakes the loop.
	reloaded := e.reloaded()
	wt, err := e.watch.add(q.Get("run"), q.Get("flow"), kind, children, states, identityOf(r).ID)
	if err != nil {
		w.Header().Set("Retry-After", strconv.Itoa(WatchRetryAfter))
		writeError(w, http.StatusServiceUnavailable, err, nil)
		return
	}
	defer e.watch.remove(wt)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // a proxy must not hold the stream back
	w.WriteHeader(http.StatusOK)
	send := func(s string) bool {
		// The server's WriteTimeout would end the stream: each write gets
		// its own deadline instead (ignored where unsupported).
		_ = rc.SetWriteDeadline(time.Now().Add(watchWriteTimeout))
		if _, err := fmt.Fprint(w, s); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// retry: how long a browser's EventSource waits before reconnecting.
	if !send("retry: 2000\n: watching\n\n") {
		return
	}
	// The credentials that opened the stream are asked again before each
	// write, and at each change of the Authorizer's credentials
	// (ReloadNotifier): a token revoked meanwhile (the token file
	// reloaded) ends the stream at once, as it would refuse a new request.
	allowed := func() bool {
		if e.reauthorize(r) == nil {
			return true
		}
		send("event: unauthorized\ndata: {}\n\n")
		return false
	}
	if !allowed() {
		return
	}
	tick := time.NewTicker(watchHeartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-e.watch.done:
			return
		case <-wt.overflow:
			send("event: overflow\ndata: {}\n\n")
			return
		case <-reloaded:
			reloaded = e.reloaded() // before the question, as above
			if !allowed() {
				return
			}
		case <-tick.C:
			if !allowed() || !send(": heartbeat\n\n") {
				return
			}
		case <-wt.ready:
			x, ok := wt.pop()
			if !ok {
				continue
			}
			if !allowed() {
				return
			}
			if !send(fmt.Sprintf("event: %s\n%sdata: %s\n\n", x.name, x.id, x.data)) {
				return
			}
		}
	}
}

// sseID is the id line of an event: "id: RUN/SEQ". A run ID from before
// the ID limits (names.go) may hold a line break, which would end the
// line and let what follows pass for fields, and events, of their own to
// every watcher: such an event goes without its id line (its data names
// the run and the seq all the same).
func sseID(ev runtime.Event) string {
	if strings.ContainsAny(ev.RunID, "\r\n") {
		return ""
	}
	return fmt.Sprintf("id: %s/%d\n", ev.RunID, ev.Seq)
}
