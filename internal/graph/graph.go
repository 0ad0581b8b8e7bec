// Package graph draws the flows of a .flow file as Graphviz DOT, as
// Mermaid stateDiagram-v2 text, and as SVG laid out by the package itself
// (layout.go), alone or in a self-contained HTML page.
//
// Every format is rendered from one layout-free description of each flow
// (see build), so the diagrams always show the same states and
// transitions:
//
//   - a start arrow into the first step, labelled with the flow's triggers;
//   - one state per step, labelled with its name, its action in .flow syntax
//     (rpc, await, publish, sleep, call, or "go" for a Go step), its effective retry,
//     per-attempt timeout and deadline, its rollback, publications and
//     irreversible mark; a call step is a subroutine linked to the flow it runs
//     (call.go);
//   - one transition per target, labelled with every outcome that goes there
//     (the defaults included: ok to the next step, error and timeout to fail),
//     of the outcomes the step can end with (dsl.Flow.Outcomes: no error for
//     a sleep that cannot fail, no timeout for a step without one);
//   - the terminal states done, failed, compensated, compensation_failed and
//     aborted;
//   - for failures, the compensation chain: a failing transition leads to the
//     rollback ("undo") of the last completed step that has one, each undo
//     leads to the undo of the step completed before it, and the chain ends
//     compensated, or compensation_failed when a rollback kept failing. A
//     failure with nothing to undo leads to failed. Rollback edges and undo
//     states are dashed.
//   - for aborts, one state "aborting", the runtime's own machine state of
//     that name (runtime.MachineAborting): an abort while any step runs or
//     waits enters it (an abort during a rollback changes nothing), so it
//     has no incoming edge, and it leads, by edges labelled "abort", to
//     every undo state where an abort's rollbacks can begin, and to aborted
//     for an abort with nothing to undo. The chain from there is the same
//     as a failure's; where it ends, it goes on to aborted. So a rollback
//     that only an abort can run (that of a flow's last step, which no
//     later step can fail after) has its undo state too.
//
// Which undo comes next depends on the path the run took, so the chain is
// computed as a dataflow over the flow's transitions: for every step, the set
// of steps that can be the most recently completed undoable step when it
// starts. A step counts as completed when it ended with ok or a named
// outcome; a step that ends with error or timeout did not complete and is
// not undone. An abort's rollbacks begin at any step that can be on top
// when a step starts, or at the step aborted itself, which is undone when
// it returns ok anyway (runtime.Run.Abort): every undo state of a reachable
// step. Where a chain ends, it goes to compensated only when a failure's
// rollbacks can pass through it, and to aborted always.
package graph

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/flowgen/flowgen/dsl"
)

// DOT renders flow (every flow when flow is "") as a Graphviz digraph, one
// cluster per flow.
func DOT(f *dsl.File, flow string) ([]byte, error) {
	d, err := build(f, flow)
	if err != nil {
		return nil, err
	}
	return renderDOT(d), nil
}

// Mermaid renders flow (every flow when flow is "") as a Mermaid
// stateDiagram-v2, one composite state per flow.
func Mermaid(f *dsl.File, flow string) ([]byte, error) {
	d, err := build(f, flow)
	if err != nil {
		return nil, err
	}
	return renderMermaid(d), nil
}

// Formats lists the names Render accepts, for usage messages.
var Formats = []string{"dot", "mermaid", "svg", "html"}

// Render dispatches on a format name (one of Formats).
func Render(f *dsl.File, flow, format string) ([]byte, error) {
	switch format {
	case "dot":
		return DOT(f, flow)
	case "mermaid":
		return Mermaid(f, flow)
	case "svg":
		return SVG(f, flow)
	case "html":
		return HTML(f, flow)
	}
	return nil, fmt.Errorf("unknown graph format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

type nodeKind int

const (
	nodeStep nodeKind = iota
	nodeUndo
	nodeTerminal
	nodeFlow  // a flow's own id (cluster or composite state)
	nodeStart // the start point (DOT only; Mermaid uses [*])
	nodeChoice
	nodeFork     // a parallel block's fork bar, after the block's own state
	nodeJoin     // a parallel block's join bar, where the block's outcomes leave
	nodeBranch   // a branch of a parallel block
	nodeAborting // where an abort enters: the runtime's machine state aborting
)

// Terminal states, named as the runtime names the final states of a run.
const (
	termDone               = "done"
	termFailed             = "failed"
	termCompensated        = "compensated"
	termCompensationFailed = "compensation_failed"
	termAborted            = "aborted"
)

// terminalOrder is the order the terminals are drawn in. Aborted comes
// before compensation_failed: where a chain ends, its edges to
// compensated, aborted and compensation_failed then leave in the order of
// their targets, and the longest label, "a rollback failed", is the
// rightmost (SVG).
var terminalOrder = []string{termDone, termFailed, termCompensated, termAborted, termCompensationFailed}

type node struct {
	id    string // unique across the whole diagram, valid in both formats
	kind  nodeKind
	title string   // first line
	lines []string // further label lines
	doc   string   // tooltip (DOT and SVG)
	step  string   // the step of a step, branch or undo state (SVG's data-step); a fork's or join's block (data-block)
	// branches are, for a parallel block's undo state, the branches whose
	// rollbacks it stands for: a run records their rollbacks, never the
	// block's (SVGPath lights the state for them).
	branches []string
	// choice is set for a choose step: DOT draws the step as a diamond;
	// Mermaid, whose choice pseudo-state has no name, draws the step and
	// then a <<choice>> state of this id, from which its edges leave.
	choice string
	// call is the flow a call step (or an undo state's rollback call)
	// runs as a child run; "" otherwise (call.go).
	call string
}

type edge struct {
	from, to string // node ids; from == "" is the flow's start
	label    string
	rollback bool // part of the compensation: drawn dashed
	// abort leaves the aborting state: drawn dashed in grey (DOT, SVG);
	// its label says "abort" in every format.
	abort bool
	call  bool // a call's link to the flow it runs: drawn dotted
}

type flowGraph struct {
	index   int // position in the diagram
	name    string
	id      string
	startID string
	nodes   []*node // steps, then undo states, aborting, then terminals
	edges   []edge
}

type diagram struct {
	name  string // digraph name
	flows []*flowGraph
}

// build turns the model into diagram form. It never panics on a model that
// failed Check: unknown targets become an error naming them.
func build(f *dsl.File, flow string) (*diagram, error) {
	if f == nil {
		return nil, fmt.Errorf("no file")
	}
	var flows []*dsl.Flow
	for _, fl := range f.Flows {
		if fl != nil {
			flows = append(flows, fl)
		}
	}
	if flow != "" {
		fl := f.Flow(flow)
		if fl == nil {
			var names []string
			for _, fl := range flows {
				names = append(names, fl.Name)
			}
			if len(names) == 0 {
				return nil, fmt.Errorf("unknown flow %q: the file declares no flows", flow)
			}
			return nil, fmt.Errorf("unknown flow %q: the file declares %s", flow, strings.Join(quoteAll(names), ", "))
		}
		flows = []*dsl.Flow{fl}
	}
	d := &diagram{name: "flows"}
	if len(flows) == 1 {
		d.name = flows[0].Name
	}
	ids := newIDs()
	for i, fl := range flows {
		g, err := buildFlow(i, fl, ids)
		if err != nil {
			return nil, err
		}
		d.flows = append(d.flows, g)
	}
	return d, nil
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%q", n)
	}
	return out
}

// bottom stands for "no undoable step has completed" in the dataflow below.
const bottom = -1

func buildFlow(fi int, fl *dsl.Flow, ids *idAlloc) (*flowGraph, error) {
	g := &flowGraph{
		index:   fi,
		name:    fl.Name,
		id:      ids.get(idKey{flow: fi, kind: nodeFlow}, fl.Name),
		startID: ids.get(idKey{flow: fi, kind: nodeStart}, fl.Name+"_start"),
	}
	var steps []*dsl.Step
	index := map[string]int{}
	for _, s := range fl.Steps {
		if s == nil {
			continue
		}
		if _, dup := index[s.Name]; !dup {
			index[s.Name] = len(steps)
		}
		steps = append(steps, s)
	}
	stepID := make([]string, len(steps))
	// fromID[i] is where step i's outcome edges leave: its own state, or
	// a block's join.
	fromID := make([]string, len(steps))
	for i, s := range steps {
		stepID[i] = ids.get(idKey{flow: fi, kind: nodeStep, n: i}, fl.Name+"_"+s.Name)
		fromID[i] = stepID[i]
		n := &node{id: stepID[i], kind: nodeStep, title: s.Name, step: s.Name, lines: stepLines(fl, s), doc: s.Doc, call: callee(s.Action)}
		if s.Spec().Decides {
			n.choice = ids.get(idKey{flow: fi, kind: nodeChoice, n: i}, fl.Name+"_"+s.Name+"_choice")
		}
		g.nodes = append(g.nodes, n)
		if s.IsBlock() {
			fromID[i] = g.block(fl, fi, i, s, stepID[i], ids)
		}
	}

	type out struct {
		outcome string
		label   string // the outcome, or a choose's condition or "otherwise"
		to      string // dsl target
		target  int    // step index for a step target
	}
	outs := make([][]out, len(steps))
	edges := fl.EdgesByStep()
	for i, s := range steps {
		for _, e := range edges[s] {
			o := out{outcome: e.Outcome, label: e.Outcome, to: e.To, target: -1}
			if c := e.Choice; c != nil {
				o.label = "otherwise"
				if c.Branch != nil {
					o.label = c.Branch.When.String()
				}
			} else if s.Spec().Decides {
				// A decision's own outcome (error: a condition that could
				// not be evaluated) among its conditions: "on" says it is
				// an outcome, not a third condition.
				o.label = "on " + e.Outcome
			}
			if e.To != dsl.TargetDone && e.To != dsl.TargetFail {
				j, ok := index[e.To]
				if !ok {
					return nil, fmt.Errorf("flow %q: step %q: on %s goes to unknown step %q", fl.Name, s.Name, e.Outcome, e.To)
				}
				o.target = j
			}
			outs[i] = append(outs[i], o)
		}
	}

	// top[i]: which undoable steps (or bottom) can be the most recently
	// completed one when step i starts. Iterated to a fixed point because
	// transitions may loop.
	undoable := func(i int) bool { return steps[i].Rollback != nil || blockUndoable(steps[i]) }
	top := make([]map[int]bool, len(steps))
	for i := range top {
		top[i] = map[int]bool{}
	}
	// after returns what is on top of the rollback stack once step i ended
	// with outcome.
	after := func(i int, outcome string) map[int]bool {
		if completes(outcome) && undoable(i) {
			return map[int]bool{i: true}
		}
		// A block that failed may have completed branches to undo, or
		// none (its failing branch cancelled the others before they
		// completed): then the rollbacks begin below it, or the run
		// ends failed.
		if steps[i].IsBlock() && undoable(i) {
			m := maps.Clone(top[i])
			m[i] = true
			return m
		}
		return top[i]
	}
	if len(steps) > 0 {
		top[0][bottom] = true
	}
	for changed := true; changed; {
		changed = false
		for i := range steps {
			for _, o := range outs[i] {
				if o.target < 0 {
					continue
				}
				for k := range after(i, o.outcome) {
					if !top[o.target][k] {
						top[o.target][k] = true
						changed = true
					}
				}
			}
		}
	}

	undoID := map[int]string{}
	terms := map[string]bool{termAborted: true}
	var undoQueue []int
	// undoOf returns the id of step k's undo state, queueing the state the
	// first time.
	undoOf := func(k int) string {
		if _, ok := undoID[k]; !ok {
			undoID[k] = ids.get(idKey{flow: fi, kind: nodeUndo, n: k}, fl.Name+"_undo_"+steps[k].Name)
			undoQueue = append(undoQueue, k)
		}
		return undoID[k]
	}
	// undoTargets maps a set of stack tops to the node ids a rollback
	// starting there enters: the undo states, and terminal for bottom.
	undoTargets := func(set map[int]bool, terminal string) []string {
		var to []string
		for _, k := range sortedTops(set) {
			if k == bottom {
				terms[terminal] = true
				to = append(to, terminalID(g, ids, terminal))
				continue
			}
			to = append(to, undoOf(k))
		}
		return to
	}

	// Start edge.
	if len(steps) > 0 {
		g.edges = append(g.edges, edge{to: stepID[0], label: triggers(fl)})
	}
	// failTops: where a failure's rollbacks can begin.
	failTops := map[int]bool{}
	// Step transitions, grouped by target in order of first appearance so
	// that "error, timeout" share one arrow.
	for i := range steps {
		var order []string
		labels := map[string][]string{}
		rollback := map[string]bool{}
		add := func(to, outcome string, rb bool) {
			if _, ok := labels[to]; !ok {
				order = append(order, to)
			}
			labels[to] = append(labels[to], outcome)
			rollback[to] = rollback[to] || rb
		}
		for _, o := range outs[i] {
			switch {
			case o.target >= 0:
				add(stepID[o.target], o.label, false)
			case o.to == dsl.TargetDone:
				terms[termDone] = true
				add(terminalID(g, ids, termDone), o.label, false)
			default: // fail
				maps.Copy(failTops, after(i, o.outcome))
				for _, to := range undoTargets(after(i, o.outcome), termFailed) {
					add(to, o.label, to != terminalID(g, ids, termFailed))
				}
			}
		}
		sep := ", "
		if steps[i].Spec().Decides {
			sep = "; " // conditions may hold commas (in strings)
		}
		for _, to := range order {
			g.edges = append(g.edges, edge{from: fromID[i], to: to, label: strings.Join(labels[to], sep), rollback: rollback[to]})
		}
	}
	// failing: the undo states a failure's rollbacks can pass through,
	// from where they begin down the chain.
	failing := map[int]bool{}
	for work := sortedTops(failTops); len(work) > 0; {
		k := work[len(work)-1]
		work = work[:len(work)-1]
		if k == bottom || failing[k] {
			continue
		}
		failing[k] = true
		work = append(work, sortedTops(top[k])...)
	}
	// The abort entry. An abort in pending has nothing to undo; one while
	// step i runs or waits begins its rollbacks at what is on top when i
	// starts, or at i itself when i returns ok anyway. An unreachable step
	// (top empty) is never aborted.
	abortTops := map[int]bool{bottom: true}
	for i := range steps {
		if len(top[i]) == 0 {
			continue
		}
		maps.Copy(abortTops, top[i])
		if undoable(i) {
			abortTops[i] = true
		}
	}
	abortingID := ids.get(idKey{flow: fi, kind: nodeAborting}, fl.Name+"_aborting")
	var abortEdges []edge
	for _, to := range undoTargets(abortTops, termAborted) {
		abortEdges = append(abortEdges, edge{from: abortingID, to: to, label: "abort", abort: true})
	}
	// Undo states and the chain between them, in order of discovery
	// (deterministic: the loops above walk steps and outcomes in order).
	// Where the chain ends, a failure's rollbacks end compensated and an
	// abort's aborted, either compensation_failed when one kept failing.
	for q := 0; q < len(undoQueue); q++ {
		k := undoQueue[q]
		s := steps[k]
		g.nodes = append(g.nodes, &node{id: undoID[k], kind: nodeUndo, title: "undo " + s.Name, step: s.Name, lines: undoLines(fl, s), call: rollbackCallee(s)})
		if s.IsBlock() {
			g.nodes[len(g.nodes)-1].lines = blockUndoLines(s)
			g.nodes[len(g.nodes)-1].branches = undoBranches(s)
		}
		for _, j := range sortedTops(top[k]) {
			if j != bottom {
				g.edges = append(g.edges, edge{from: undoID[k], to: undoOf(j), rollback: true})
				continue
			}
			if failing[k] {
				terms[termCompensated] = true
				g.edges = append(g.edges, edge{from: undoID[k], to: terminalID(g, ids, termCompensated), label: "all undone", rollback: true})
			}
			terms[termCompensationFailed] = true
			g.edges = append(g.edges,
				edge{from: undoID[k], to: terminalID(g, ids, termAborted), label: "all undone", rollback: true},
				edge{from: undoID[k], to: terminalID(g, ids, termCompensationFailed), label: "a rollback failed", rollback: true})
		}
	}
	g.nodes = append(g.nodes, &node{id: abortingID, kind: nodeAborting, title: "aborting", lines: []string{"abort while any step runs or waits"}})
	g.edges = append(g.edges, abortEdges...)
	for _, t := range terminalOrder {
		if !terms[t] {
			continue
		}
		g.nodes = append(g.nodes, &node{id: terminalID(g, ids, t), kind: nodeTerminal, title: t})
	}
	return g, nil
}

// sortedTops lists a set of stack tops: bottom first, then file order.
func sortedTops(set map[int]bool) []int {
	return slices.Sorted(maps.Keys(set))
}

// completes reports whether a step that ended with outcome completed (and
// so is undone when the run fails later): dsl.IsFailure says which do not.
func completes(outcome string) bool { return !dsl.IsFailure(outcome) }

func terminalID(g *flowGraph, ids *idAlloc, t string) string {
	return ids.get(idKey{flow: g.index, kind: nodeTerminal, name: t}, g.name+"_"+t)
}
