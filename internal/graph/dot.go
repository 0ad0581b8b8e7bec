package graph

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Node styles: steps are rounded boxes, undo states dashed, the aborting
// state grey, terminals double-bordered and coloured by how the run ended.
var terminalColor = map[string]string{
	termDone:               "#d8f0d8",
	termFailed:             "#f6d3d3",
	termCompensated:        "#f5ecc8",
	termCompensationFailed: "#f0b8b8",
	termAborted:            "#e4e4e4",
}

// The aborting state and the abort edges leaving it: grey, as aborted is.
const (
	abortColor   = "#707070"
	abortingFill = "#f2f2f2"
)

func renderDOT(d *diagram) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "digraph %s {\n", dotString(d.name))
	b.WriteString("\tgraph [fontname=\"Helvetica\", fontsize=12, labeljust=l, nodesep=0.4, ranksep=0.45];\n")
	b.WriteString("\tnode [fontname=\"Helvetica\", fontsize=11, shape=box, style=rounded];\n")
	b.WriteString("\tedge [fontname=\"Helvetica\", fontsize=10];\n")
	for _, g := range d.flows {
		fmt.Fprintf(&b, "\n\tsubgraph %s {\n", dotString("cluster_"+g.id))
		fmt.Fprintf(&b, "\t\tlabel=%s;\n", dotString(g.name))
		fmt.Fprintf(&b, "\t\t%s [shape=point, width=0.15, label=\"\"];\n", dotString(g.startID))
		for _, n := range g.nodes {
			fmt.Fprintf(&b, "\t\t%s [%s];\n", dotString(n.id), dotNodeAttrs(n))
		}
		for _, e := range g.edges {
			from := e.from
			if from == "" {
				from = g.startID
			}
			var attrs []string
			if e.label != "" {
				attrs = append(attrs, "label="+dotString(" "+e.label+" "))
			}
			if e.rollback {
				attrs = append(attrs, "style=dashed", `color="#a03030"`, `fontcolor="#a03030"`)
			}
			if e.abort {
				attrs = append(attrs, "style=dashed", "color="+dotString(abortColor), "fontcolor="+dotString(abortColor))
			}
			fmt.Fprintf(&b, "\t\t%s -> %s", dotString(from), dotString(e.to))
			if len(attrs) > 0 {
				fmt.Fprintf(&b, " [%s]", strings.Join(attrs, ", "))
			}
			b.WriteString(";\n")
		}
		b.WriteString("\t}\n")
	}
	if links := callLinks(d); len(links) > 0 {
		b.WriteString("\n")
		for _, e := range links {
			fmt.Fprintf(&b, "\t%s -> %s [label=%s, style=dotted, arrowhead=onormal];\n", dotString(e.from), dotString(e.to), dotString(" "+e.label+" "))
		}
	}
	b.WriteString("}\n")
	return b.Bytes()
}

func dotNodeAttrs(n *node) string {
	if n.kind == nodeFork || n.kind == nodeJoin {
		return barAttrs
	}
	attrs := []string{"label=" + dotLabel(n.title, n.lines)}
	if n.choice != "" {
		attrs = append(attrs, "shape=diamond", `style=""`)
	}
	if n.call != "" {
		attrs = append(attrs, "shape=box3d")
	}
	switch n.kind {
	case nodeUndo:
		attrs = append(attrs, `style="rounded,dashed"`, `color="#a03030"`)
	case nodeAborting:
		attrs = append(attrs, `style="rounded,filled"`, "color="+dotString(abortColor), "fillcolor="+dotString(abortingFill))
	case nodeTerminal:
		attrs = append(attrs, `style="rounded,filled"`, "peripheries=2", "fillcolor="+dotString(terminalColor[n.title]))
	}
	if n.doc != "" {
		attrs = append(attrs, "tooltip="+dotString(strings.TrimSpace(n.doc)))
	}
	return strings.Join(attrs, ", ")
}

// dotLabel centres the title and left-aligns the detail lines (\l ends a
// left-justified line in Graphviz).
func dotLabel(title string, lines []string) string {
	if len(lines) == 0 {
		return dotString(title)
	}
	var b strings.Builder
	b.WriteString(`"`)
	b.WriteString(dotEscape(title))
	b.WriteString(`\n`)
	for _, l := range lines {
		b.WriteString(dotEscape(l))
		b.WriteString(`\l`)
	}
	b.WriteString(`"`)
	return b.String()
}

// dotString quotes s as a DOT string, which is valid wherever DOT takes an
// ID, so keywords (node, edge, graph...) need no special case.
func dotString(s string) string { return `"` + dotEscape(s) + `"` }

// dotEscape escapes s for the inside of a DOT double-quoted string. Inside
// one, only \" is an escape to the parser, but in labels Graphviz also
// reads \n, \l, \r and the \N-style name escapes, so every backslash is
// doubled; a newline becomes \n; other control, format (bidi) and invalid
// bytes are written as visible \u escapes rather than passed to the
// renderer.
func dotEscape(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\\x%02x`, s[i])
		case !unicode.IsPrint(r) && r != ' ':
			fmt.Fprintf(&b, `\\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
