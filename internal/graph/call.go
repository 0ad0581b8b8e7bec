package graph

import "github.com/flowgen/flowgen/dsl"

// Calls. A step that calls a flow (and an undo state whose rollback calls
// one) is drawn as a subroutine: a 3D box in DOT, a state of class "call"
// in Mermaid, a box with a bar inside each side in SVG (class fg-call,
// data-call naming the flow: the HTML page's details, and the web view's,
// link to that flow's diagram), labelled with its call line. When the called flow is in the
// same diagram, DOT also links the call to that flow's start with a dotted
// edge labelled "child run" (Mermaid cannot draw a transition between the
// insides of two composite states, so the label names the flow).

// callee is the flow a call action runs (a call step's, or a rollback
// call's); "" for other actions.
func callee(a *dsl.Action) string {
	if a == nil || a.Kind != dsl.ActionCall || a.Flow == nil {
		return ""
	}
	return a.Flow.Name
}

// rollbackCallee is the flow the undo state of s runs: its rollback's
// call, or for a parallel block the one flow its branches' rollbacks
// call. Branches that call two flows leave it "": a call node links one
// flow (the undo state's lines name each).
func rollbackCallee(s *dsl.Step) string {
	if s.IsBlock() {
		flow := ""
		for _, b := range s.Branches() {
			if b == nil {
				continue
			}
			switch c := rollbackCallee(b); {
			case c == "" || c == flow:
			case flow != "":
				return ""
			default:
				flow = c
			}
		}
		return flow
	}
	if s.Rollback == nil {
		return ""
	}
	return callee(s.Rollback.Action)
}

// callLinks are the DOT edges from call nodes to the start of the flows
// they call, for the called flows in the diagram.
func callLinks(d *diagram) []edge {
	start := map[string]string{}
	for _, g := range d.flows {
		start[g.name] = g.startID
	}
	var out []edge
	for _, g := range d.flows {
		for _, n := range g.nodes {
			if to, ok := start[n.call]; ok && n.call != "" {
				out = append(out, edge{from: n.id, to: to, label: "child run", call: true})
			}
		}
	}
	return out
}
