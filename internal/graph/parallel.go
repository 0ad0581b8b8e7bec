package graph

import (
	"strings"

	"github.com/flowgen/flowgen/dsl"
)

// A parallel block is drawn as a fork and a join: the block's own state
// (its name, "parallel"), a fork bar from which an arrow enters each
// branch (a state labelled like a step), the branches' arrows into a join
// bar, and from the join the block's outcomes, like a step's (ok to where
// the block routes it, error and timeout to the compensation). Branches
// do not route, so they have no arrows of their own.
//
// In the compensation chain the block is one undo state, "undo <block>",
// which undoes the block's completed branches, newest completion first:
// the order depends on which branch finished first, which a diagram
// cannot know. A block that fails enters it too, since the branches that
// completed before the failure are undone.

// block adds the nodes and edges of block s (step i, state id) to g and
// returns the id of its join, where its outcomes leave.
func (g *flowGraph) block(fl *dsl.Flow, fi, i int, s *dsl.Step, id string, ids *idAlloc) string {
	fork := ids.get(idKey{flow: fi, kind: nodeFork, n: i}, fl.Name+"_"+s.Name+"_fork")
	join := ids.get(idKey{flow: fi, kind: nodeJoin, n: i}, fl.Name+"_"+s.Name+"_join")
	g.nodes = append(g.nodes, &node{id: fork, kind: nodeFork, step: s.Name})
	g.edges = append(g.edges, edge{from: id, to: fork})
	for _, b := range s.Branches() {
		if b == nil {
			continue
		}
		bid := ids.get(idKey{flow: fi, kind: nodeBranch, n: i, name: b.Name}, fl.Name+"_"+b.Name)
		g.nodes = append(g.nodes, &node{id: bid, kind: nodeBranch, title: b.Name, step: b.Name, lines: branchLines(fl, b), doc: b.Doc})
		g.edges = append(g.edges, edge{from: fork, to: bid}, edge{from: bid, to: join})
	}
	g.nodes = append(g.nodes, &node{id: join, kind: nodeJoin, step: s.Name})
	return join
}

// branchLines are a branch's label lines: a step's, then what it merges
// back into the run's state.
func branchLines(fl *dsl.Flow, b *dsl.Step) []string {
	lines := stepLines(fl, b)
	var ws []string
	for _, w := range b.BranchWrites() {
		ws = append(ws, word(w.Name))
	}
	if len(ws) > 0 {
		lines = append(lines, "writes "+strings.Join(ws, ", "))
	}
	return lines
}

// blockUndoable reports whether s is a block with a branch to undo.
func blockUndoable(s *dsl.Step) bool { return len(undoBranches(s)) > 0 }

// undoBranches are the branches of block s that have a rollback.
func undoBranches(s *dsl.Step) []string {
	var out []string
	for _, b := range s.Branches() {
		if b != nil && b.Rollback != nil {
			out = append(out, b.Name)
		}
	}
	return out
}

// blockUndoLines are the label lines of a block's undo state: the
// rollbacks of its branches, in file order. They run for the branches that
// completed, newest completion first, an order only the run knows, so the
// heading says the list is not it.
func blockUndoLines(s *dsl.Step) []string {
	lines := []string{blockUndoHeading}
	for _, b := range s.Branches() {
		if b != nil && b.Rollback != nil {
			lines = append(lines, b.Name+": "+rollbackText(b.Rollback))
		}
	}
	return lines
}

// blockUndoHeading heads a block's undo label.
const blockUndoHeading = "completed branches, last finished undone first; listed in file order:"

// barAttrs draw a fork or join in DOT: a thin black bar.
const barAttrs = `shape=box, style=filled, fillcolor=black, label="", height=0.05, width=1.2, fixedsize=true`

// mermaidBar are the Mermaid pseudo-states of a fork and a join.
var mermaidBar = map[nodeKind]string{nodeFork: "<<fork>>", nodeJoin: "<<join>>"}
