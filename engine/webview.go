package engine

// What the web view (package engine/ui, at /ui) needs of the API besides
// the runs and flows: who the caller is, the diagrams (drawn by
// internal/graph, a run's path lit from its history), the filters of
// GET /runs by time and correlation, and GET /watch (watch.go).

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/engine/ui"
	"github.com/flowgen/flowgen/internal/graph"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// serveUI serves the web view's files (RolePublic: they hold no data).
func (e *Engine) serveUI(w http.ResponseWriter, r *http.Request) { ui.Handler().ServeHTTP(w, r) }

// sessionRoute is the route of the web view's session: the first request
// of a page, which signed out it sends without a token to learn whether
// the server asks for one.
const sessionRoute = "GET /session"

// httpSession answers GET /session: the caller's role (sessionRole;
// "admin" when the API is open), whether the API asks for credentials, the patterns of the
// routes it may use (from the access table, of those this engine serves:
// unserved), and the run states
// (runtime.RunStates, each with whether it is terminal and whether an abort
// changes anything then: runtime.RunState.TakesAbort), so that a client
// such as the web view needs no copy of them: it offers Abort when the
// caller may use POST /runs/{id}/abort, not when its role is the one that
// route needs today.
func (e *Engine) httpSession(w http.ResponseWriter, r *http.Request) {
	role := e.sessionRole(r)
	allowed := map[Role]bool{}
	var patterns []string
	for pattern, need := range routeNeeds {
		if e.unserved(pattern) != nil {
			continue // a 404 here: GET /watch's absence makes the page read again instead
		}
		ok, asked := allowed[need]
		if !asked {
			ok = e.authorize(r, need) == nil
			allowed[need] = ok
		}
		if ok {
			patterns = append(patterns, pattern)
		}
	}
	slices.Sort(patterns)
	type state struct {
		Name       runtime.RunState `json:"name"`
		Terminal   bool             `json:"terminal"`
		TakesAbort bool             `json:"takes_abort"`
	}
	states := make([]state, len(runtime.RunStates))
	for i, s := range runtime.RunStates {
		states[i] = state{s, s.Terminal(), s.TakesAbort()}
	}
	writeJSON(w, http.StatusOK, map[string]any{"role": role, "auth": e.opts.Authorizer != nil, "routes": patterns, "states": states})
}

// sessionRole is the role GET /session says the caller has: the first of
// admin and client whose routes the Authorizer lets it use, else viewer,
// the role of GET /session itself, which the guard let it through with.
// Asked of the Authorizer, not read from an Identity, so that one of the
// embedder's, which tells no role, is answered too.
func (e *Engine) sessionRole(r *http.Request) Role {
	for _, role := range []Role{RoleAdmin, RoleClient} {
		if e.authorize(r, role) == nil {
			return role
		}
	}
	return routeNeeds[sessionRoute]
}

// moreFilters reads the filters of GET /runs that the web view adds:
// since and until (runs started at or after since, before until; RFC 3339
// as time.Parse reads it with time.RFC3339Nano, which also takes an hour
// of one digit, a comma before the fraction and a zone of up to 24:60:
// the web view's filterTime, in static/app.js, reads a link's since and
// until by the same rule, and TestBrowserFilterTimeParsesAsTheAPI keeps
// them agreeing), correlation (store.RunInfo.Correlation), and order
// (listOrder), so that a new run is on the first page, where a list that
// follows the runs shows it.
func moreFilters(q url.Values, f *store.Filter) error {
	newest, err := listOrder(q)
	if err != nil {
		return err
	}
	f.Newest = newest
	for _, t := range []struct {
		key string
		dst *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(t.key); v != "" {
			tm, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return fmt.Errorf("%s %s: want an RFC 3339 time, such as 2026-01-15T09:00:00Z", t.key, quoteParam(v))
			}
			*t.dst = tm
		}
	}
	f.Correlation = q.Get("correlation")
	return nil
}

// listOrder reads ?order= of a list that pages with a cursor (GET /runs,
// GET /runs/{id}/children, GET /deadletters): "newest" first (true), or
// "oldest", the default.
func listOrder(q url.Values) (newest bool, err error) { return ListOrder(q.Get("order")) }

// ListOrder reads the order of a list of the API (?order=, `flowgen runs
// -order`): "newest" first (true), or "oldest" ("" too), the default.
func ListOrder(o string) (newest bool, err error) {
	switch o {
	case "", "oldest":
		return false, nil
	case "newest":
		return true, nil
	default:
		return false, fmt.Errorf("order %s: want newest or oldest%s", quoteParam(o), didYouMean(o, []string{"newest", "oldest"}))
	}
}

// errNoDefinition: a flow registered without the model a diagram is
// drawn from (RegisterFlow, or a generated flow older than FlowJSON).
var errNoDefinition = errors.New("no diagram")

// flowModel returns the model of a registered flow, as a file of one flow.
func (e *Engine) flowModel(name string) (*dsl.File, error) {
	fe, err := e.lookup(name)
	if err != nil {
		return nil, err
	}
	def := fe.def
	if def == nil {
		def = fe.model
	}
	if def == nil {
		return nil, fmt.Errorf("%w: %w: %q is a flow registered with its runtime definition only (RegisterFlow); register the generated flow with Register, or draw it from its .flow file with flowgen graph -format svg", ErrUnknownFlow, errNoDefinition, name)
	}
	return &dsl.File{Version: dsl.FormatVersion, Flows: []*dsl.Flow{def}}, nil
}

// svgHeaders are those of a diagram: an image that runs nothing, even
// opened alone (and, as every answer of Handler, not sniffed).
func svgHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "image/svg+xml")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	h.Set("Cache-Control", "no-store")
}

// httpFlowDiagram answers GET /flows/{flow}/diagram: the flow's SVG
// diagram (graph.SVG).
func (e *Engine) httpFlowDiagram(w http.ResponseWriter, r *http.Request) {
	name, ok := pathName(w, r, "flow", "flow name")
	if !ok {
		return
	}
	f, err := e.flowModel(name)
	if err != nil {
		e.writeErr(w, r, statusOf(err), err)
		return
	}
	svg, err := graph.SVG(f, name)
	if err != nil {
		e.writeErr(w, r, statusOf(err), err)
		return
	}
	svgHeaders(w)
	_, _ = w.Write(svg)
}

// httpRunDiagram answers GET /runs/{id}/diagram: the diagram of the run's
// flow with its path lit (RunPath).
func (e *Engine) httpRunDiagram(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx, done := e.readCtx(r.Context())
	defer done()
	h, err := e.statusHistory(ctx, id) // RunPath reads no state
	if err != nil {
		e.writeRunErr(w, r, id, err)
		return
	}
	st, err := runtime.Replay(h) // with its History, which Status drops
	if err != nil {
		e.writeErr(w, r, statusOf(err), err)
		return
	}
	f, err := e.flowModel(st.Flow)
	if err != nil {
		e.writeErr(w, r, statusOf(err), err)
		return
	}
	svg, err := graph.SVGPath(f, st.Flow, RunPath(st))
	if err != nil {
		e.writeErr(w, r, statusOf(err), err)
		return
	}
	svgHeaders(w)
	_, _ = w.Write(svg)
}

// RunPath is a run's way through its flow, from its status with its
// history (runtime.Replay):
// the steps that ran and those whose rollback ran, what runs or waits now
// (its step, or its running parallel branches), the step that made it
// fail (and, for a parallel block, its branches that failed), the
// branches cut short because another failed or by the abort (in any
// block the run entered, not only the last), the rollback that failed (compensation_failed), whether it took an
// abort (it entered aborting) and the step that abort cut short
// (runtime.Event.Interrupted: none for an abort while the run waited,
// before its first step, or as its step returned ok), and its final
// state. An aborted run has no failed step: the abort was asked for.
func RunPath(st runtime.Status) *graph.Path {
	p := &graph.Path{}
	seen := map[graph.Phase]bool{}
	// Whether each branch's last event cut it short, read from the
	// whole history: st.Branches holds only the last block's, and an
	// earlier block that failed and was routed on (`on error`) has
	// branches cut short too. Branches in the order they first ran.
	var branches []string
	cut := map[string]bool{}
	for _, ev := range st.History {
		if ev.Branch != "" {
			if _, ok := cut[ev.Branch]; !ok {
				branches = append(branches, ev.Branch)
			}
			// Cut short by another branch's failure or by the run's
			// abort: lit as the step an abort cuts short is, not failed.
			cut[ev.Branch] = ev.Cancelled() || ev.InterruptedBranch()
		}
		if ev.To == runtime.MachineAborting {
			p.Aborted = true
			if ev.Interrupted() {
				p.Interrupted = ev.Step
			}
		}
		for _, m := range []string{ev.From, ev.To} {
			step, phase, _ := runtime.ParseMachineState(m)
			ph := graph.Phase{Step: step, Rollback: phase == runtime.PhaseRollback}
			if step == "" || seen[ph] {
				continue
			}
			seen[ph] = true
			if ph.Rollback {
				p.Undone = append(p.Undone, step)
			} else {
				p.Visited = append(p.Visited, step)
			}
		}
	}
	for _, b := range branches {
		if cut[b] {
			p.Cancelled = append(p.Cancelled, b)
		}
	}
	if st.State.Terminal() {
		p.Terminal = string(st.State)
		if st.State != runtime.StateDone && !p.Aborted {
			p.Failed = st.Step
			// A parallel block failed: its branches that failed made it.
			for _, b := range st.Branches {
				if block, phase, _ := runtime.ParseMachineState(b.Machine); block == st.Step && phase == runtime.PhaseParallel &&
					b.Outcome != "" && b.Outcome != runtime.OutcomeOK && !b.Cancelled {
					p.FailedBranches = append(p.FailedBranches, b.Step)
				}
			}
		}
		if st.State == runtime.StateCompensationFailed {
			// The last rollback attempt that failed for good.
			for _, ev := range st.History {
				if step, phase, _ := runtime.ParseMachineState(ev.From); phase == runtime.PhaseRollback && ev.Outcome == runtime.OutcomeError {
					p.FailedUndo = step
				}
			}
		}
		return p
	}
	if step, phase, _ := runtime.ParseMachineState(st.Machine); step != "" {
		p.Current = append(p.Current, graph.Phase{Step: step, Rollback: phase == runtime.PhaseRollback})
	}
	for _, b := range st.Branches {
		if step, phase, _ := runtime.ParseMachineState(b.Machine); step != "" && phase != runtime.PhaseParallel {
			p.Current = append(p.Current, graph.Phase{Step: step, Rollback: phase == runtime.PhaseRollback})
		}
	}
	return p
}
