package dsl

import (
	"fmt"
	"slices"
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/internal/snippet"
)

// CallSite is one call action of a flow: a step's call, or its rollback
// call.
type CallSite struct {
	Step     *Step
	Action   *Action
	Rollback bool
}

// Calls returns f's call actions in file order, each step's call before
// its rollback call.
func (f *Flow) Calls() []CallSite {
	var out []CallSite
	for _, s := range f.AllSteps() { // a branch's rollback may call a flow too
		if a := s.Action; a != nil && a.Kind == ActionCall && a.Flow != nil {
			out = append(out, CallSite{Step: s, Action: a})
		}
		if rb := s.Rollback; rb != nil && rb.Action != nil && rb.Action.Kind == ActionCall && rb.Action.Flow != nil {
			out = append(out, CallSite{Step: s, Action: rb.Action, Rollback: true})
		}
	}
	return out
}

// Callee is the flow a call action runs: one of the file's, else one of
// its Go package's other files (File.Package); nil if none.
func (fl *File) Callee(a *Action) *Flow {
	if a == nil || a.Flow == nil {
		return nil
	}
	for _, list := range [][]*Flow{fl.Flows, fl.Package} {
		for _, f := range list {
			if f != nil && f.Name == a.Flow.Name {
				return f
			}
		}
	}
	return nil
}

// callsOutside reports whether a call of the file names a flow that is
// not among flows, the file's own.
func (fl *File) callsOutside(flows map[string]*Flow) bool {
	for _, f := range fl.Flows {
		if f == nil {
			continue
		}
		for _, cs := range f.Calls() {
			if _, ok := flows[cs.Action.Flow.Name]; !ok {
				return true
			}
		}
	}
	return false
}

// calls checks the calls of the file's flows: each runs a flow of the
// file or of its package, both in flows ("call-flow"), no flow calls
// itself, directly or through others ("call-cycle"): its run would start a
// child of itself without end, and a rollback call receives nothing
// ("call-rollback").
func (c *checker) calls(f *File, flows map[string]*Flow) {
	for _, fl := range f.Flows {
		if fl == nil {
			continue
		}
		// The caller is no candidate for a misspelt callee: calling
		// itself would be a call-cycle error.
		names := func() []string {
			out := make([]string, 0, len(flows))
			for n := range flows {
				if n != fl.Name {
					out = append(out, n)
				}
			}
			return out
		}
		for _, cs := range fl.Calls() {
			c.rollbackCallResponse(cs)
			if callee, ok := flows[cs.Action.Flow.Name]; ok {
				c.statelessCallee(cs, callee)
				continue
			}
			if c.opts.CallsByName || strings.TrimSpace(cs.Action.Flow.Name) == "" { // empty: reported by action
				continue
			}
			// A .flow file of a Go package may call the package's flows;
			// a document on its own (a JSON form the engine loads), only
			// its own.
			where, hint := "this file does not declare", "a call runs a flow declared in the same file: declare flow %s, or call one of its flows"
			if c.opts.PackageFlows != nil {
				where, hint = "neither this file nor its Go package declares", "a call runs a flow of the same Go package: declare flow %s in this file or in another .flow file beside it"
				if sc := c.opts.PackageScope; sc.Where != "" {
					where, hint = "neither this file nor "+sc.Where+" declares", sc.Hint
				}
			}
			var unparsed []string
			if c.opts.PackageFlows != nil && c.opts.PackageScope.Unparsed != nil {
				unparsed = c.opts.PackageScope.Unparsed()
			}
			if len(unparsed) > 0 {
				// The flow may be in a file that does not parse: saying the
				// package lacks it would send the author looking for a flow
				// that is there.
				files, verb, it := strings.Join(unparsed, ", "), "has", "it"
				if len(unparsed) > 1 {
					verb, it = "have", "one of them"
				}
				where = fmt.Sprintf("%s, but %s beside it %s syntax errors", where, files, verb)
				hint = fmt.Sprintf("fix %s first (flowgen check %s shows them): %s may declare flow %s", files, strings.Join(unparsed, " "), it, diag.Cut(cs.Action.Flow.Name))
			}
			d := diag.Errorf(pick(cs.Action.Flow.Range, cs.Action.Range, cs.Step.NameRange), "call-flow", "step %q calls flow %q, which %s", cs.Step.Name, cs.Action.Flow.Name, where)
			if len(unparsed) > 0 {
				d = d.WithHint("%s", hint)
			} else if m := c.suggest(cs.Action.Flow.Name, names, false); m != "" {
				d = d.WithHint("did you mean %q?", m)
			} else {
				d = d.WithHint(hint, diag.Cut(cs.Action.Flow.Name))
			}
			c.add(d)
		}
	}
	reported := map[string]bool{}
	graph := newCallGraph(f, flows)
	for _, fl := range f.Flows {
		if fl == nil || reported[fl.Name] {
			continue
		}
		path := graph.cycle(fl)
		if path == nil {
			continue
		}
		for _, cs := range path {
			reported[cs.flow.Name] = true
		}
		first := path[0].site
		names := []string{fl.Name}
		for _, cs := range path {
			names = append(names, cs.site.Action.Flow.Name)
		}
		msg := diag.Sprintf("flow %q calls itself", fl.Name)
		if len(path) > 1 {
			msg = diag.Sprintf("flow %q calls itself through %s", fl.Name, strings.Join(elideCycle(quoteAll(names[1:len(names)-1])), ", "))
		}
		c.add(diag.Errorf(pick(first.Action.Flow.Range, first.Action.Range, first.Step.NameRange), "call-cycle", "%s: %s", msg, strings.Join(elideCycle(cutAll(names)), " -> ")).
			WithHint("%s", callCycleHint(path)))
	}
}

// statelessCallee reports a field passed to or from a flow that declares
// no state: there is nothing to pass it as.
func (c *checker) statelessCallee(cs CallSite, callee *Flow) {
	if callee.State != nil {
		return
	}
	for _, id := range []*Ident{cs.Action.Request, cs.Action.Response} {
		if id != nil {
			c.add(diag.Errorf(pick(id.Range, cs.Action.Range), "call-type", "step %q passes field %q to or from flow %s, which declares no state", cs.Step.Name, id.Name, diag.Cut(callee.Name)).
				WithHint("give flow %s a `state` of the field's type, or call it without fields: `call %s`", diag.Cut(callee.Name), diag.Cut(callee.Name)))
		}
	}
}

// rollbackCallResponse reports a rollback call with a field after "->":
// the generated code and the engine pass the child its state and wait for
// it to end done, but write nothing back, so the field would silently
// keep its value.
func (c *checker) rollbackCallResponse(cs CallSite) {
	if !cs.Rollback || cs.Action.Response == nil {
		return
	}
	rsp := cs.Action.Response
	c.add(diag.Errorf(pick(rsp.Range, cs.Action.Range), "call-rollback", "rollback of step %q calls flow %s with `-> %s`, but a rollback call writes nothing back", cs.Step.Name, diag.Cut(cs.Action.Flow.Name), diag.Cut(rsp.Name)).
		WithHint("a rollback call passes its (Field) to the child and waits for it to end done; remove `-> %s`", diag.Cut(rsp.Name)))
}

type callHop struct {
	flow *Flow // the flow that calls
	site CallSite
}

// callGraph is the graph of the calls between the flows a file's flows
// reach: each flow's calls listed once, and its strongly connected
// components, so that only a flow in a cycle is searched for its own: a
// search from every flow would be quadratic in a chain of calls.
type callGraph struct {
	flows []*Flow
	num   map[*Flow]int
	calls [][]CallSite // of each flow, to flows that exist
	to    [][]int      // the flow each of calls leads to
	comp  []int        // each flow's component, or -1 when it is in no cycle
}

// newCallGraph builds the call graph of the flows of f and of those they
// reach in flows, the file's and its package's by name.
func newCallGraph(f *File, flows map[string]*Flow) *callGraph {
	g := &callGraph{num: map[*Flow]int{}}
	var roots []int
	for _, fl := range f.Flows {
		if fl != nil {
			roots = append(roots, g.node(fl))
		}
	}
	for v := 0; v < len(g.flows); v++ { // g.flows grows as calls reach flows
		var calls []CallSite
		var to []int
		for _, cs := range g.flows[v].Calls() {
			if callee := flows[cs.Action.Flow.Name]; callee != nil {
				calls = append(calls, cs)
				to = append(to, g.node(callee))
			}
		}
		g.calls = append(g.calls, calls)
		g.to = append(g.to, to)
	}
	succ := func(v int) []int { return g.to[v] }
	g.comp = make([]int, len(g.flows))
	for v := range g.comp {
		g.comp[v] = -1
	}
	for c, members := range components(len(g.flows), roots, succ) {
		if cyclic(members, succ) {
			for _, v := range members {
				g.comp[v] = c
			}
		}
	}
	return g
}

// node is the number of fl in g, added if new.
func (g *callGraph) node(fl *Flow) int {
	v, ok := g.num[fl]
	if !ok {
		v = len(g.flows)
		g.num[fl] = v
		g.flows = append(g.flows, fl)
	}
	return v
}

// cycle is a shortest chain of calls that leads from fl back to fl, or
// nil. Such a chain stays within fl's component: the search leaves it
// only for flows that cannot lead back.
func (g *callGraph) cycle(fl *Flow) []callHop {
	start, ok := g.num[fl]
	if !ok || g.comp[start] < 0 {
		return nil
	}
	type node struct {
		v    int
		prev *node
		hop  callHop
	}
	seen := map[int]bool{}
	queue := []*node{{v: start}}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for i, cs := range g.calls[n.v] {
			w := g.to[n.v][i]
			if g.comp[w] != g.comp[start] {
				continue
			}
			next := &node{v: w, prev: n, hop: callHop{flow: g.flows[n.v], site: cs}}
			if w == start {
				var path []callHop
				for m := next; m.prev != nil; m = m.prev {
					path = append(path, m.hop)
				}
				slices.Reverse(path)
				return path
			}
			if !seen[w] {
				seen[w] = true
				queue = append(queue, next)
			}
		}
	}
	return nil
}

// callCycleHint says what to do about the call cycle path: a call
// cannot repeat its own flow, so one of its calls has to go.
func callCycleHint(path []callHop) string {
	const why = "a flow cannot call itself, directly or through others: each run would start a child of its own flow without end"
	if len(path) == 1 {
		return why + "; remove the call, and to run the flow's steps again, route back to one of them with `on`, with a wait (sleep, await) in the loop"
	}
	calls := make([]string, len(path))
	for i, h := range path {
		what := "call"
		if h.site.Rollback {
			what = "rollback call"
		}
		calls[i] = diag.Sprintf("the %s of step %q of flow %s", what, h.site.Step.Name, diag.Cut(h.flow.Name))
	}
	return fmt.Sprintf("%s; remove one of its calls (%s), or move what the flows share into a flow that calls none of them", why, strings.Join(elideCycle(calls), ", "))
}

// cycleShown is how many items of a call cycle a diagnostic lists: its
// first and its last, with how many were left out between them, so that
// a cycle through thousands of flows reads in a line or two rather than
// naming each flow three times over.
const cycleShown = 8

// elideCycle is ss, the hops of a call cycle, or its first and last ones
// around "… N more" when there are more than cycleShown.
func elideCycle(ss []string) []string {
	if len(ss) <= cycleShown {
		return ss
	}
	head, tail := cycleShown-2, 2
	out := append([]string(nil), ss[:head]...)
	out = append(out, fmt.Sprintf("… %d more", len(ss)-head-tail))
	return append(out, ss[len(ss)-tail:]...)
}

// cutAll is the names ss, each cut as diag.Quote cuts it (unquoted).
func cutAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = snippet.Cut(s, diag.QuoteBytes)
	}
	return out
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = diag.Sprintf("%q", s)
	}
	return out
}

// call checks a call step's own policies: the child's steps have the
// retries and timeouts; the call waits for the child's end. A timeout
// has no attempt to bound, and a deadline would leave the child running
// after the step gave up (the runtime refuses one); a retry retries only
// what runs after the child ended (its publications), and the step's
// rollback, whose policy it is (RollbackRetryFor): a rollback call runs a
// new child per attempt, so there the retry is what makes the undo try
// again. Only a retry with neither to retry is worth a warning (as a
// sleep's, sleep-retry).
func (c *checker) call(f *Flow, s *Step, at diag.Range) {
	var lines []string
	if s.Timeout > 0 {
		lines = append(lines, "`timeout "+s.Timeout.String()+"`")
	}
	if s.Deadline > 0 {
		lines = append(lines, "`deadline "+s.Deadline.String()+"`")
	}
	if len(lines) > 0 {
		c.add(diag.Errorf(pick(s.TimeoutRange, s.DeadlineRange, at), "call-policy", "step %q calls flow %s and has %s: a call has no attempt to bound, and a deadline would leave the child running after the step gave up", s.Name, calleeName(s.Action), strings.Join(lines, " and ")).
			WithHint("remove it, and bound the steps of flow %s (their timeouts and deadlines) instead", calleeName(s.Action)))
	}
	if r := f.RetryFor(s); r.Attempts > 1 && s.Retry != nil && s.Rollback == nil && len(s.Publish) == 0 {
		c.add(diag.Warnf(pick(r.Range, at), "call-policy", "step %q calls flow %s and has retry %d, which never runs the child again: it retries only what runs after the child ended (publications) and the rollback, and the step has neither", s.Name, calleeName(s.Action), r.Attempts).
			WithHint("retry the steps of flow %s instead", calleeName(s.Action)))
	}
}

func calleeName(a *Action) string {
	if a == nil || a.Flow == nil {
		return "?"
	}
	return diag.Cut(a.Flow.Name)
}
