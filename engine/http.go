package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/internal/graph"
	"github.com/flowgen/flowgen/internal/snippet"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// MaxBody is the default cap of request bodies of the HTTP API
// (Options.MaxBody): a larger body answers 413.
const MaxBody = 1 << 20

// Handler returns the engine's HTTP/JSON API:
//
//	POST /flows/{flow}/runs        start a run of a flow with an rpc trigger; body: the state
//	POST /rpc/{endpoint}           start the flow whose rpc trigger is endpoint; body: the state
//	GET  /runs/{id}                a run's status, with the first page of its child runs
//	                               (children_next_cursor)
//	GET  /runs/{id}/children?order=O&limit=N&cursor=C
//	                               a run's child runs (order: as for runs), a page at a
//	                               time (next_cursor)
//	GET  /runs/{id}/history?after=SEQ&limit=N
//	                               a run's events after seq SEQ, a page at a time
//	                               (next_after)
//	GET  /runs?flow=F&status=S&since=T&until=T&correlation=V&order=O&limit=N&cursor=C
//	                               list runs (status: a run state, or "active"; since,
//	                               until: RFC 3339 start times; order: oldest, or newest
//	                               first), a page at a time (next_cursor)
//	POST /runs/{id}/abort          abort a run
//	PUT  /flows  (or POST)         register JSON flows (a `flowgen json` document)
//	GET  /flows, GET /flows/{flow} list flows, a JSON flow's definition
//	POST /events/{topic}/{event}   publish an event, durable before the 202; body: the payload
//	GET  /deadletters?topic=T&event=E&order=O&limit=N&cursor=C
//	                               the inbox's dead letters (order: as for runs), a page at
//	                               a time (next_cursor)
//
// Starting a run answers 201 {"run_id": ...} once its first event is
// durable; ?run_id=ID (or an Idempotency-Key header) chooses the ID, and
// repeating the request answers 200 with the same ID and starts nothing
// (422 with another body, 409 for a run of another flow).
// Errors answer {"error": "...", "diagnostics": [...]} with a 4xx status
// for what the client can fix; nothing changes on a 4xx.
//
// Every route needs a role (Routes): with Options.Authorizer set, a request
// without valid credentials answers 401 and one whose role is not enough
// 403; without it the API is open, and the program that serves it decides
// who can reach it. A POST or PUT whose Content-Type is not
// application/json answers 415 (RequireJSON), and a query string that does
// not parse, or names a parameter the route does not take (Route.Params)
// or one twice, 400. A path that is not clean (//runs) answers 404
// (Canonical).
func (e *Engine) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range routes { // access.go: the routes and their roles
		mux.Handle(rt.Pattern, e.guard(rt))
	}
	api := Canonical(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r) // sets the path values
			return
		}
		// The mux's own 404 and 405 answers are plain text: answer JSON.
		rec := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		msg := errNoEndpoint(r)
		if rec.status == http.StatusMethodNotAllowed {
			msg = fmt.Errorf("method %s not allowed on %s (allowed: %s)", shownMethod(r), shownPath(r), rec.header.Get("Allow"))
		}
		writeError(w, cmpOr(rec.status, http.StatusNotFound), msg, nil)
	}))
	return NoSniff(api)
}

// NoSniff makes each answer of h only what its Content-Type says
// (X-Content-Type-Options: nosniff): a browser never takes one, whose text
// (states, payloads, errors, an echoed body) callers choose, for a page or
// a script. Handler's answers have it; so should those of any route a
// program serves beside them.
func NoSniff(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setNoSniff(w.Header())
		h.ServeHTTP(w, r)
	})
}

// setNoSniff sets NoSniff's header.
func setNoSniff(h http.Header) { h.Set("X-Content-Type-Options", "nosniff") }

// Canonical answers a request whose path is not clean ("//runs",
// "/runs/../runs", "/./flows": what net/http's ServeMux would clean) with
// the API's JSON 404, and passes the others to h. A ServeMux answers such
// a path with a redirect to the clean one: HTML where the API answers
// JSON, and a 307 that a client follows by sending its POST again
// elsewhere. The API has one path per endpoint and changes nothing on a
// path it does not serve. Handler applies it; a program that serves the
// Handler under a ServeMux of its own wraps that mux too (flowgen serve
// does).
func Canonical(h http.Handler) http.Handler {
	// Which paths need cleaning is the ServeMux's rule: ask one that
	// serves every clean path.
	probe := http.NewServeMux()
	probe.Handle("/", clean{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ph, _ := probe.Handler(r)
		if _, ok := ph.(clean); ok {
			h.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{header: http.Header{}}
		ph.ServeHTTP(rec, r) // the redirect: its Location is the clean path
		loc := rec.header.Get("Location")
		if loc == "" {
			// No redirect: a path the mux serves nowhere (a CONNECT's,
			// which names a host), not one it would clean.
			writeError(w, http.StatusNotFound, errNoEndpoint(r), nil)
			return
		}
		writeError(w, http.StatusNotFound, fmt.Errorf("%w: the API does not clean paths; did you mean %s?", errNoEndpoint(r), snippet.Cut(cleanLocation(loc), shownBytes)), nil)
	})
}

// errNoEndpoint is the error of a request that no route serves.
func errNoEndpoint(r *http.Request) error {
	return fmt.Errorf("no such endpoint: %s %s", shownMethod(r), shownPath(r))
}

// cleanLocation is the path a ServeMux's redirect to the clean path names,
// as a client sends it. The mux cleans the escaped path, then escapes it
// again: a path of %3C (a '<') is redirected to %253C, a literal "%3C",
// which is another path. Its query, if any, is left as it is.
func cleanLocation(loc string) string {
	path, query, hasQuery := strings.Cut(loc, "?")
	if p, err := url.PathUnescape(path); err == nil {
		path = p
	}
	if hasQuery {
		return path + "?" + query
	}
	return path
}

// clean is the probe's handler of clean paths; it is never called.
type clean struct{}

func (clean) ServeHTTP(http.ResponseWriter, *http.Request) {}

// statusRecorder keeps the status and headers of the mux's error answers.
type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(status int)      { r.status = status }

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// MaxAnswerDiagnostics is how many diagnostics an answer (PUT /flows)
// holds at most: a document of many faults (a megabyte of steps) would
// otherwise be answered with a diagnostic for each. The errors are kept
// before the warnings (diag.List.Cap), and "diagnostics_omitted" says how
// many more there were.
const MaxAnswerDiagnostics = 100

type apiError struct {
	Error       string            `json:"error"`
	Diagnostics []diag.Diagnostic `json:"diagnostics,omitempty"`
	// Omitted is how many diagnostics beyond MaxAnswerDiagnostics the
	// answer leaves out.
	Omitted int `json:"diagnostics_omitted,omitempty"`
}

// writeJSON answers v as JSON, not sniffed (NoSniff's header): the engine's
// middlewares that a program wraps around routes of its own (Canonical,
// LoopbackOnly, RefuseCrossSite, RequireJSON) answer outside Handler's
// NoSniff, and their errors quote what the request sent (its path, its
// Host).
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	setNoSniff(w.Header())
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error, ds diag.List) {
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfter))
	}
	ds, omitted := capDiagnostics(ds)
	writeJSON(w, status, apiError{Error: err.Error(), Diagnostics: ds, Omitted: omitted})
}

// capDiagnostics returns the diagnostics an answer holds, at most
// MaxAnswerDiagnostics of ds, and how many more there were.
func capDiagnostics(ds diag.List) (diag.List, int) { return ds.Cap(MaxAnswerDiagnostics) }

// writeErr answers err with status. A 500 is the server's failure, not
// the request's, and its error is the server's own (a store's names its
// files): the log has it whole, with the request, and the answer says
// only that the server failed. So is an Executor's service that did not
// answer (ErrUnavailable, a 503, whose error names its address), and the
// answer says when to try again.
func (e *Engine) writeErr(w http.ResponseWriter, r *http.Request, status int, err error) {
	switch {
	case status == http.StatusInternalServerError:
		e.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		err = fmt.Errorf("%s %s failed inside the server (its log says why)", shownMethod(r), shownPath(r))
	case errors.Is(err, ErrUnavailable):
		e.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		w.Header().Set("Retry-After", strconv.Itoa(UnavailableRetryAfter))
		err = fmt.Errorf("%s %s: %w (the server's log says why); try again later", shownMethod(r), shownPath(r), ErrUnavailable)
	case errors.Is(err, errStarting):
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfter))
	}
	writeError(w, status, err, nil)
}

// writeRunErr answers err of a request for run id (GET /runs/{id}, its
// history and diagram, POST /runs/{id}/abort) as writeErr does; an
// unknown run's error is errUnknownRun's, whatever said it (the store,
// an Executor), so that the answer quotes no more of the ID than
// quoteRunID.
func (e *Engine) writeRunErr(w http.ResponseWriter, r *http.Request, id string, err error) {
	if errors.Is(err, runtime.ErrUnknownRun) {
		err = errUnknownRun(id)
	}
	e.writeErr(w, r, statusOf(err), err)
}

// shownBytes bounds how much of a request's own text (its path, a query
// parameter's name or value, a header's value) an error answer echoes: a
// request line and headers are as long as -max-header-bytes lets them be
// (64 KiB by default). Every path of a route whose names are within
// MaxNameLen shows whole (/events/{topic}/{event}: 265 bytes). A run ID
// is quoteRunID's.
const shownBytes = 300

// shownPath is r's path for an error answer: whole up to shownBytes,
// else its start and "..." (snippet.Cut).
func shownPath(r *http.Request) string { return snippet.Cut(r.URL.Path, shownBytes) }

// shownMethod is r's method for an error answer, cut as shownPath: a
// method is any token of the request line, as long as it.
func shownMethod(r *http.Request) string { return snippet.Cut(r.Method, shownBytes) }

// quoteParam is a request's text for an error answer, quoted: whole up
// to shownBytes, else its start and "..." (snippet.Quote).
func quoteParam(v string) string { return snippet.Quote(v, shownBytes) }

// statusOf maps the engine's errors to HTTP statuses.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrUnknownFlow), errors.Is(err, runtime.ErrUnknownRun), errors.Is(err, ErrNoConsumer):
		return http.StatusNotFound
	case errors.Is(err, ErrBadState), errors.Is(err, ErrInvalid), errors.Is(err, ErrBadName):
		return http.StatusBadRequest
	case errors.Is(err, ErrNoTrigger), errors.Is(err, runtime.ErrFinished), errors.Is(err, ErrConflict), errors.Is(err, ErrFlowExists),
		errors.Is(err, ErrRunIDTaken), errors.Is(err, errDriven), errors.Is(err, errFlowUndefined):
		return http.StatusConflict
	case errors.Is(err, ErrIdempotencyMismatch), errors.Is(err, graph.ErrTooLarge):
		return http.StatusUnprocessableEntity
	case errors.Is(err, ErrClosed), errors.Is(err, ErrUnavailable), errors.Is(err, errStarting):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrBusy), errors.Is(err, ErrInboxFull):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

// maxBody is the cap of request bodies: Options.MaxBody, or MaxBody.
func (e *Engine) maxBody() int64 {
	if e.opts.MaxBody > 0 {
		return e.opts.MaxBody
	}
	return MaxBody
}

// readBody reads a JSON body of at most maxBody bytes; empty is allowed.
func (e *Engine) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	limit := e.maxBody()
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mb *http.MaxBytesError
		switch {
		case errors.As(err, &mb):
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("request body larger than %d bytes", limit), nil)
		case errors.Is(err, os.ErrDeadlineExceeded):
			// The server's ReadTimeout, not a fault of the request: the
			// socket's "read tcp A->B: i/o timeout" told the client to
			// change a request it need only send faster, or again.
			writeError(w, http.StatusRequestTimeout, errors.New("the request body did not all arrive before the server's read timeout (flowgen serve -read-timeout, http.Server.ReadTimeout): nothing was done, send it again"), nil)
		default:
			writeError(w, http.StatusBadRequest, fmt.Errorf("reading request body: %v", err), nil)
		}
		return nil, false
	}
	return b, true
}

// noBody answers 400, and false, when a request to a route that takes no
// body (an abort, a provider's renewal or leave) carries one: a client
// sending {"reason": ...} with its abort must hear that nothing reads it,
// not have it dropped. An empty body, {} and null are no body, as a client
// library that always sends JSON writes one.
func (e *Engine) noBody(w http.ResponseWriter, r *http.Request) bool {
	b, ok := e.readBody(w, r)
	if !ok {
		return false
	}
	switch string(bytes.TrimSpace(b)) {
	case "", "{}", "null":
		return true
	}
	route := r.Pattern // "POST /runs/{id}/abort": the route, not the caller's path
	if route == "" {
		route = r.Method + " " + shownPath(r)
	}
	writeError(w, http.StatusBadRequest, fmt.Errorf("%s takes no request body (send none, {} or null)", route), nil)
	return false
}

// pathName returns the path value key, a name of what it is, or answers
// 400 if it is not within the engine's limits (checkName).
func pathName(w http.ResponseWriter, r *http.Request, key, what string) (string, bool) {
	v := r.PathValue(key)
	if err := checkName(what, v); err != nil {
		writeError(w, http.StatusBadRequest, err, nil)
		return "", false
	}
	return v, true
}

func (e *Engine) httpStartFlow(w http.ResponseWriter, r *http.Request) {
	name, ok := pathName(w, r, "flow", "flow name")
	if !ok {
		return
	}
	fe, err := e.lookup(name)
	if errors.Is(err, ErrUnknownFlow) {
		e.mu.Lock()
		flows := slices.Collect(maps.Keys(e.flows))
		e.mu.Unlock()
		err = fmt.Errorf("%w%s", err, didYouMean(name, flows))
	}
	if err != nil {
		e.writeErr(w, r, statusOf(err), err)
		return
	}
	if !fe.hasRPC() {
		how := "has no rpc trigger; it starts on its events or schedule"
		if len(fe.triggers) == 0 {
			how = "has no triggers: it runs as the child run of a flow that calls it, or from Go (Engine.StartRun)"
		}
		writeError(w, http.StatusConflict, fmt.Errorf("%w: flow %q %s", ErrNoTrigger, fe.name, how), nil)
		return
	}
	e.httpStart(w, r, fe)
}

func (fe *flowEntry) hasRPC() bool {
	for _, t := range fe.triggers {
		if t.Kind == "rpc" {
			return true
		}
	}
	return false
}

func (e *Engine) httpStartRPC(w http.ResponseWriter, r *http.Request) {
	ep, ok := pathName(w, r, "endpoint", "rpc endpoint")
	if !ok {
		return
	}
	e.mu.Lock()
	fe := e.rpc[ep]
	var endpoints []string
	if fe == nil {
		endpoints = slices.Collect(maps.Keys(e.rpc))
	}
	e.mu.Unlock()
	if fe == nil {
		writeError(w, http.StatusNotFound, fmt.Errorf("%w: no flow has rpc trigger %q%s", ErrUnknownFlow, ep, didYouMean(ep, endpoints)), nil)
		return
	}
	e.httpStart(w, r, fe)
}

// didYouMean is the end of the error of a flow or rpc endpoint that a
// request names and the engine does not have (diag.Suggestion). The names are
// sorted here, outside the engine's lock, so that a tie has one answer.
func didYouMean(name string, names []string) string {
	slices.Sort(names)
	return diag.Suggestion(name, names)
}

func (e *Engine) httpStart(w http.ResponseWriter, r *http.Request, fe *flowEntry) {
	body, ok := e.readBody(w, r)
	if !ok {
		return
	}
	state, err := clientState(fe, body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err, nil)
		return
	}
	// An empty ?run_id= or Idempotency-Key is refused rather than read as
	// none: a client retrying with it (an unset variable) would start a
	// new run each time (the guard refuses a repeated ?run_id=,
	// checkQuery).
	q := r.URL.Query()
	_, named := q["run_id"]
	id := q.Get("run_id")
	key, keyed, bad := headerGiven(r, "Idempotency-Key")
	if bad == nil && named {
		bad = CheckRunID(id)
	}
	if bad == nil && keyed {
		bad = checkKey("Idempotency-Key", key)
	}
	if bad == nil && named && keyed {
		// Each names the run; honouring one would leave the other
		// unchecked, and a key sent again with another run_id would start
		// a second run. POST /events refuses the same.
		bad = fmt.Errorf("?run_id=%q and the Idempotency-Key %q both name the run: give one of them", id, key)
	}
	if bad != nil {
		writeError(w, http.StatusBadRequest, bad, nil)
		return
	}
	if keyed {
		id = KeyRunID(fe.name, key)
	}
	runID, err := e.startRun(r.Context(), fe, state, id, true, admitRequest)
	if errors.Is(err, ErrIdempotencyMismatch) && key != "" {
		err = fmt.Errorf("%w: Idempotency-Key %q started run %q with another body", ErrIdempotencyMismatch, key, runID)
	}
	switch {
	case errors.Is(err, ErrRunExists):
		writeJSON(w, http.StatusOK, map[string]any{"run_id": runID, "flow": fe.name, "existing": true})
	case err != nil:
		e.writeErr(w, r, statusOf(err), err)
	default:
		writeJSON(w, http.StatusCreated, map[string]any{"run_id": runID, "flow": fe.name})
	}
}

// headerGiven returns the request's header name and whether the request
// has it at all: an empty one is given, and wrong, not left out. One given
// twice is an error, as a query parameter given twice is (checkQuery):
// honouring either would leave the other unchecked, and a proxy or a retry
// may read the other one.
func headerGiven(r *http.Request, name string) (string, bool, error) {
	vs, ok := r.Header[http.CanonicalHeaderKey(name)]
	if len(vs) > 1 {
		return "", true, fmt.Errorf("the %s header is given %d times: give it once", name, len(vs))
	}
	return r.Header.Get(name), ok, nil
}

// The page of GET /runs/{id}/history: ?limit= events from 1 to
// MaxHistoryLimit, by default as many, and past a page's first event at
// most MaxHistoryPageBytes of states, payloads and errors
// (store.EventBytes; with ?state=false, of payloads and errors: the
// states are not sent). A run's history holds up to 25,000 events
// (runtime.DefaultMaxHistory) and each event a state of up to a
// megabyte: a page bounds what one answer reads, holds and sends. A
// request without parameters answers the first page, which is a whole
// history for all but the longest runs (or those with the largest
// states), so that a client that does not page reads those as before,
// and is told ("truncated") when it does not have all.
const (
	DefaultHistoryLimit = 1000
	MaxHistoryLimit     = 1000
	MaxHistoryPageBytes = 4 << 20
)

// historyPager is a Store that reads a page of a history without reading
// the rest (store.Store, store.Memory).
type historyPager interface {
	LoadPage(runID string, after uint64, limit, maxBytes int, states bool) ([]runtime.Event, bool, error)
}

// EachHistoryPage calls fn with each page of runID's history in p, in
// order, as GET /runs/{id}/history pages it (MaxHistoryLimit events and,
// past a page's first, MaxHistoryPageBytes), its events with their states
// if states: what a reader holds at once is a page, however long the run.
func EachHistoryPage(p historyPager, runID string, states bool, fn func([]runtime.Event) error) error {
	for after := uint64(0); ; {
		page, more, err := p.LoadPage(runID, after, MaxHistoryLimit, MaxHistoryPageBytes, states)
		if err != nil {
			return err
		}
		if err := fn(page); err != nil {
			return err
		}
		if !more || len(page) == 0 {
			return nil
		}
		after = page[len(page)-1].Seq
	}
}

// historyPage is the page of runID's history after seq after (0: from
// the start), at most limit events and MaxHistoryPageBytes, its events
// with their states unless states is false, and whether more events
// follow it now. An Executor reads the page where the history lives
// (HistoryPager), or has it read whole (Executor.History), then cut by
// the same rule.
func (e *Engine) historyPage(ctx context.Context, runID string, after uint64, limit int, states bool) ([]runtime.Event, bool, error) {
	if p, ok := e.store.(historyPager); ok && e.opts.Executor == nil {
		return p.LoadPage(runID, after, limit, MaxHistoryPageBytes, states)
	}
	ctx, done := e.readCtx(ctx)
	defer done()
	if x, ok := e.opts.Executor.(HistoryPager); ok {
		return x.HistoryPage(ctx, runID, after, limit, MaxHistoryPageBytes, states)
	}
	h, err := e.history(ctx, runID)
	if err != nil {
		return nil, false, err
	}
	return store.Page(h, after, limit, MaxHistoryPageBytes, states)
}

func (e *Engine) httpHistory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := limitParam(w, q, DefaultHistoryLimit, MaxHistoryLimit)
	if !ok {
		return
	}
	var after uint64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("after %s: want the seq of an event, a number from 0", quoteParam(v)), nil)
			return
		}
		after = n
	}
	// ?state=false: the events without the run's state after each, for a
	// client that shows a timeline and reads one event's state when asked
	// (the web view): a long run's states are most of its history's bytes.
	states, ok := boolQuery(w, q, "state", true)
	if !ok {
		return
	}
	id := r.PathValue("id")
	h, more, err := e.historyPage(r.Context(), id, after, limit, states)
	if err != nil {
		e.writeRunErr(w, r, id, err)
		return
	}
	out := historyAnswer(id, h)
	if more {
		out["truncated"] = true
		out["next_after"] = h[len(h)-1].Seq
	}
	writeJSON(w, http.StatusOK, out)
}

// historyAnswer is GET /runs/{id}/history's answer: the events (a page of
// the history), and what the runtime's rules read in them that an event's JSON does not say, so
// that a client (the web view's timeline) need not copy the rules: the
// events that end a wait (runtime.Event.Woke: "woken" is their outcome
// for a reader), those that take an attempt back to its gate
// (Event.BackAtGate: "gate closed"; the attempt failed nothing), those
// that end a parallel branch because another branch failed
// (Event.Cancelled: "cancelled", whatever the attempt's own outcome,
// error or timeout, says), the abort that cut a step short
// (Event.Interrupted) and the events that end the branches of a parallel
// block that abort cut short (Event.InterruptedBranch: "interrupted",
// as that step), and the event that took the run's abort, whatever it cut
// short (tookAbort: "abort"; its error, runtime.ErrAborted's, is no
// failure). Each rule reads one event alone, so that the lists
// of a page are those of its events, whatever the pages before it hold.
func historyAnswer(runID string, h []runtime.Event) map[string]any {
	woken, back, cancelled, branches := []uint64{}, []uint64{}, []uint64{}, []uint64{}
	out := map[string]any{"run_id": runID, "events": h}
	for i := range h {
		if h[i].Woke() {
			woken = append(woken, h[i].Seq)
		}
		if h[i].BackAtGate() {
			back = append(back, h[i].Seq)
		}
		if h[i].Cancelled() {
			cancelled = append(cancelled, h[i].Seq)
		}
		if h[i].Interrupted() {
			out["interrupted"] = h[i].Seq
		}
		if tookAbort(&h[i]) {
			out["abort"] = h[i].Seq
		}
		if h[i].InterruptedBranch() {
			branches = append(branches, h[i].Seq)
		}
	}
	out["woken"], out["gate_closed"], out["cancelled"], out["interrupted_branches"] = woken, back, cancelled, branches
	return out
}

// tookAbort reports whether e is the event by which a run took its abort:
// it enters aborting from what the run was doing (a step, a wait, a
// parallel block, pending), not from a rollback, whose attempts go back to
// aborting once the run rolls back. Event.Interrupted is the same event
// when the abort cut a step short; an abort while the run waited (the
// README's walk-through aborts a run waiting for its payment) cut none,
// and its error is no failure all the same.
func tookAbort(e *runtime.Event) bool {
	if e.To != runtime.MachineAborting {
		return false
	}
	_, phase, _ := runtime.ParseMachineState(e.From)
	return phase != runtime.PhaseRollback
}

func (e *Engine) httpList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.Filter{Flow: q.Get("flow")}
	switch s := q.Get("status"); {
	case s == "":
	case s == "active":
		f.NonTerminal = true
	default:
		ok := false
		for _, st := range runtime.RunStates {
			ok = ok || string(st) == s
		}
		if !ok {
			names := make([]string, len(runtime.RunStates))
			for i, st := range runtime.RunStates {
				names[i] = string(st)
			}
			writeError(w, http.StatusBadRequest, fmt.Errorf("unknown status %s; want one of %s, or active", quoteParam(s), strings.Join(names, ", ")), nil)
			return
		}
		f.State = runtime.RunState(s)
	}
	if err := moreFilters(q, &f); err != nil { // webview.go: since, until, correlation
		writeError(w, http.StatusBadRequest, err, nil)
		return
	}
	// pageParams reads ?order= again: moreFilters read it first, so that
	// a refused order is answered before since, until and limit are, as
	// GET /runs always has; here it cannot be refused.
	limit, _, after, ok := pageParams(w, q, runsCursor)
	if !ok {
		return
	}
	if after != nil {
		f.After = after[0]
	}
	runs, next, err := RunsPage(func(f store.Filter) ([]store.RunInfo, error) { return e.Runs(r.Context(), f) }, f, limit)
	truncated := errors.Is(err, ErrListTruncated)
	if truncated {
		err = nil
	}
	if errors.Is(err, ErrRunsCursorGone) {
		writeError(w, http.StatusBadRequest, fmt.Errorf("cursor %s %w", quoteParam(q.Get("cursor")), err), nil)
		return
	}
	if err != nil {
		e.writeErr(w, r, statusOf(err), err)
		return
	}
	out := map[string]any{}
	if truncated {
		out["truncated"] = true
	}
	if next != "" {
		out["next_cursor"] = runsCursor.encode(next)
	}
	var aborts AbortRequests // nil for an Executor's runs: none known
	if e.opts.Executor == nil {
		aborts = e.store
	}
	listed := make([]ListedRun, len(runs))
	for i, r := range runs {
		listed[i] = ListRun(aborts, r)
	}
	out["runs"] = listed
	writeJSON(w, http.StatusOK, out)
}

// The page size of GET /runs, GET /runs/{id}/children and GET
// /deadletters: ?limit= from 1 to MaxListLimit, default DefaultListLimit
// (and the children GET /runs/{id} lists).
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// boolQuery reads the boolean query parameter name (def when absent) and
// reports whether it was one: a value that is not answers 400.
func boolQuery(w http.ResponseWriter, q url.Values, name string, def bool) (bool, bool) {
	v := q.Get(name)
	if v == "" {
		return def, true
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("query parameter %s=%s: want true or false", name, quoteParam(v)), nil)
		return false, false
	}
	return b, true
}

// listLimit is the page size ?limit= asks for, or answers 400 for one out
// of bounds.
func listLimit(w http.ResponseWriter, q url.Values) (int, bool) {
	return limitParam(w, q, DefaultListLimit, MaxListLimit)
}

// pageParams reads the query of a list that pages with a cursor of kind
// k (GET /runs, GET /runs/{id}/children, GET /deadletters): its page size (?limit=,
// listLimit), whether newest first (?order=, listOrder) and the parts of
// ?cursor= (nil without one), or answers 400 for any of them out of
// bounds.
func pageParams(w http.ResponseWriter, q url.Values, k cursorKind) (limit int, newest bool, after []string, ok bool) {
	if limit, ok = listLimit(w, q); !ok {
		return 0, false, nil, false
	}
	newest, err := listOrder(q) // webview.go, as GET /runs reads it
	if err != nil {
		writeError(w, http.StatusBadRequest, err, nil)
		return 0, false, nil, false
	}
	after, ok = cursorParam(w, q, k)
	return limit, newest, after, ok
}

// limitParam is the page size ?limit= asks for, from 1 to most, def
// without one, or answers 400 for one out of bounds.
func limitParam(w http.ResponseWriter, q url.Values, def, most int) (int, bool) {
	v := q.Get("limit")
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		writeError(w, http.StatusBadRequest, fmt.Errorf("limit %s: want a number from 1 to %d", quoteParam(v), most), nil)
		return 0, false
	}
	return n, true
}

func (e *Engine) httpAbort(w http.ResponseWriter, r *http.Request) {
	if !e.noBody(w, r) {
		return
	}
	id := r.PathValue("id")
	if err := e.Abort(r.Context(), id); err != nil {
		e.writeRunErr(w, r, id, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"run_id": id, "aborting": true})
}

func (e *Engine) httpPutFlows(w http.ResponseWriter, r *http.Request) {
	body, ok := e.readBody(w, r)
	if !ok {
		return
	}
	name := r.URL.Query().Get("name")
	if name == "" {
		name = "request.json"
	} else if err := checkName("document name", name); err != nil {
		// Every diagnostic of the answer names it: beyond the limits of
		// a name, a long one would be echoed as many times.
		writeError(w, http.StatusBadRequest, err, nil)
		return
	}
	if !strings.HasSuffix(name, ".json") && !strings.HasSuffix(name, ".flow") {
		name += ".json"
	}
	names, ds, err := e.loadFlows(name, body)
	if err != nil && r.URL.Query().Get("name") == "" && e.readsFlowSource(body) {
		// A .flow file sent as it is, without the name that says so: the
		// JSON parser's hint (flowgen json) is one way, the name another.
		for i, d := range ds {
			if d.Code == "json" && strings.HasPrefix(d.Message, "invalid JSON") {
				ds[i].Hint = "a .flow source is read when ?name= names it so: PUT /flows?name=signup.flow; or send its JSON form, which `flowgen json` prints"
			}
		}
	}
	errs := ds.Sorted()
	if errs == nil {
		errs = diag.List{}
	}
	if err != nil {
		status := statusOf(err)
		if errors.Is(err, ErrUnavailable) {
			e.writeErr(w, r, status, err) // 503, as any request the executor could not serve
			return
		}
		if status == http.StatusInternalServerError {
			if ds.HasErrors() {
				status = http.StatusBadRequest
			} else {
				// Saving them or starting their triggers failed, and was
				// undone: the details (paths, addresses) are for the
				// server's log.
				e.log.Error("PUT /flows", "error", err)
				err = errors.New("the flows could not be loaded; nothing changed (see the server's log)")
			}
		}
		writeError(w, status, err, errs)
		return
	}
	if e.opts.FlowsDir == "" {
		// 2xx means durable: the one 200 that is not says so, first.
		errs = append(diag.List{memoryOnly(name)}, errs...)
	}
	errs, omitted := capDiagnostics(errs)
	out := map[string]any{"flows": names, "diagnostics": errs}
	if omitted > 0 {
		out["diagnostics_omitted"] = omitted
	}
	writeJSON(w, http.StatusOK, out)
}

// memoryOnly is the warning of a PUT /flows answered 200 by an engine
// without a flows directory: the document's flows are registered but saved
// nowhere.
func memoryOnly(name string) diag.Diagnostic {
	return diag.Warnf(diag.Range{Start: diag.Pos{File: name}}, "memory-only",
		"the flows are registered in memory only: this engine has no flows directory (Options.FlowsDir), so a restart forgets them").
		WithHint("set Options.FlowsDir to save what PUT /flows defines, or define the flows again after each start (docs/engine.md#without--flows)")
}

func (e *Engine) httpFlows(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"flows": e.Flows()})
}

func (e *Engine) httpGetFlow(w http.ResponseWriter, r *http.Request) {
	name, ok := pathName(w, r, "flow", "flow name")
	if !ok {
		return
	}
	if withHandlers, ok := handlersQuery(w, r); !ok {
		return
	} else if withHandlers { // remotehttp.go
		e.writeFlowWithHandlers(w, r, name)
		return
	}
	src, err := e.FlowJSON(name)
	if err != nil {
		e.writeErr(w, r, statusOf(err), err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(src)
}

func (e *Engine) httpPublish(w http.ResponseWriter, r *http.Request) {
	body, ok := e.readBody(w, r)
	if !ok {
		return
	}
	payload := bytes.TrimSpace(body)
	if len(payload) == 0 {
		payload = []byte("null")
	} else if err := provider.CheckJSON(body); err != nil {
		// Where, as a start says it of its state: in the body as sent, its
		// lines and columns not moved by the trim.
		writeError(w, http.StatusBadRequest, fmt.Errorf("the event's payload: %w", err), nil)
		return
	}
	key, keyed, bad := headerGiven(r, "Idempotency-Key")
	if bad != nil {
		writeError(w, http.StatusBadRequest, bad, nil)
		return
	}
	q := r.URL.Query()
	_, named := q["id"]
	id := q.Get("id")
	// Each is checked under the name the client sent it by, as a start's
	// key is. An empty one is refused rather than read as none, as a
	// start's is: a client retrying with it would publish a new event each
	// time.
	if keyed {
		bad = checkKey("Idempotency-Key", key)
	}
	if bad == nil && named {
		bad = checkKey("the id parameter", id)
	}
	if bad != nil {
		writeError(w, http.StatusBadRequest, bad, nil)
		return
	}
	m := Message{ID: key, Topic: r.PathValue("topic"), Event: r.PathValue("event"), Payload: payload}
	if m.ID == "" {
		m.ID = id
	} else if id != "" && id != m.ID {
		// Either could be the one the client retries with.
		writeError(w, http.StatusBadRequest, fmt.Errorf("the Idempotency-Key %s and ?id=%s name the event differently: give one of them", quoteParam(m.ID), quoteParam(id)), nil)
		return
	}
	out, err := e.PublishEvent(r.Context(), m)
	switch {
	case errors.Is(err, ErrPublish) && !errors.Is(err, ErrTooLarge): // one the broker can never carry is a 413
		writeError(w, http.StatusBadGateway, err, nil)
	case err != nil:
		e.writeErr(w, r, statusOf(err), err)
	default:
		writeJSON(w, http.StatusAccepted, out)
	}
}

func (e *Engine) httpDeadLetters(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, newest, k, ok := pageParams(w, q, deadLetterCursor)
	if !ok {
		return
	}
	var after store.MessageKey
	if k != nil {
		after = messageAfter(k)
	}
	dls, more, err := e.deadLetterPage(q.Get("topic"), q.Get("event"), newest, after, limit)
	if errors.Is(err, store.ErrUnknownMessage) && after != (store.MessageKey{}) {
		writeError(w, http.StatusBadRequest, fmt.Errorf("cursor %s names a dead letter the inbox no longer keeps: list again from the start", quoteParam(q.Get("cursor"))), nil)
		return
	}
	if err != nil {
		e.writeErr(w, r, statusOf(err), err)
		return
	}
	out := map[string]any{}
	if more {
		last := dls[len(dls)-1]
		out["truncated"] = true
		out["next_cursor"] = MessageCursor(store.MessageKey{Topic: last.Topic, Event: last.Event, ID: last.ID})
	}
	out["dead_letters"] = dls
	writeJSON(w, http.StatusOK, out)
}

// readsFlowSource reports whether body starts as a .flow file does (a
// comment or a flow declaration, where a JSON document starts with "{")
// and Options.FlowFile reads it as one: not JSONOnly's refusal (code
// json), as flowgen-temporal serve answers.
func (e *Engine) readsFlowSource(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n\ufeff")
	if e.opts.FlowFile == nil || !bytes.HasPrefix(b, []byte("//")) && !bytes.HasPrefix(b, []byte("flow")) {
		return false
	}
	_, ds := e.opts.FlowFile("request.flow", body, dsl.CheckOptions{})
	return !slices.ContainsFunc(ds, func(d diag.Diagnostic) bool { return d.Code == "json" })
}
