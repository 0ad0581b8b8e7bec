package graph

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// renderMermaid writes a stateDiagram-v2 with one composite state per flow.
// Inside a composite, [*] is the flow's own start and end. Mermaid draws
// every transition the same way, so the compensation is set apart by
// styling the undo states (dashed), the aborting state (grey) and the
// terminals (by outcome) with classDef; the edges out of aborting say
// "abort".
func renderMermaid(d *diagram) []byte {
	var b bytes.Buffer
	b.WriteString("stateDiagram-v2\n")
	classes := map[string][]string{}
	for _, g := range d.flows {
		fmt.Fprintf(&b, "    state \"%s\" as %s {\n", mermaidText(g.name), g.id)
		choice := map[string]string{} // a choose step's id -> its choice state's
		for _, n := range g.nodes {
			if bar, ok := mermaidBar[n.kind]; ok {
				fmt.Fprintf(&b, "        state %s %s\n", n.id, bar)
				continue
			}
			fmt.Fprintf(&b, "        state \"%s\" as %s\n", mermaidText(n.title), n.id)
			for _, l := range n.lines {
				fmt.Fprintf(&b, "        %s : %s\n", n.id, mermaidText(l))
			}
			if n.choice != "" {
				choice[n.id] = n.choice
				fmt.Fprintf(&b, "        state %s <<choice>>\n", n.choice)
				fmt.Fprintf(&b, "        %s --> %s\n", n.id, n.choice)
			}
			if n.call != "" {
				classes["call"] = append(classes["call"], n.id)
			}
			switch n.kind {
			case nodeUndo:
				classes["undo"] = append(classes["undo"], n.id)
			case nodeAborting:
				classes["aborting"] = append(classes["aborting"], n.id)
			case nodeTerminal:
				c := mermaidClass[n.title]
				classes[c] = append(classes[c], n.id)
			}
		}
		for _, e := range g.edges {
			from := e.from
			if from == "" {
				from = "[*]"
			}
			if c, ok := choice[from]; ok {
				from = c
			}
			fmt.Fprintf(&b, "        %s --> %s", from, e.to)
			if e.label != "" {
				fmt.Fprintf(&b, " : %s", mermaidText(e.label))
			}
			b.WriteString("\n")
		}
		for _, n := range g.nodes {
			if n.kind == nodeTerminal {
				fmt.Fprintf(&b, "        %s --> [*]\n", n.id)
			}
		}
		b.WriteString("    }\n")
	}
	for _, c := range mermaidClassOrder {
		if ids := classes[c.name]; len(ids) > 0 {
			fmt.Fprintf(&b, "    classDef %s %s\n", c.name, c.style)
			fmt.Fprintf(&b, "    class %s %s\n", strings.Join(ids, ","), c.name)
		}
	}
	return b.Bytes()
}

var mermaidClass = map[string]string{
	termDone:               "done",
	termFailed:             "failed",
	termCompensated:        "compensated",
	termCompensationFailed: "failed",
	termAborted:            "aborted",
}

var mermaidClassOrder = []struct{ name, style string }{
	{"call", "stroke-width:3px"},
	{"undo", "stroke-dasharray:5 5,stroke:#a03030"},
	{"aborting", "fill:" + abortingFill + ",stroke:" + abortColor},
	{"done", "fill:#d8f0d8"},
	{"failed", "fill:#f6d3d3"},
	{"compensated", "fill:#f5ecc8"},
	{"aborted", "fill:#e4e4e4"},
}

// mermaidText makes s safe as a state name in "..." and as a description
// or transition label after ":". Mermaid has no backslash escapes; it
// decodes entity codes (#quot; #35; ...) when it renders, so every
// character that its lexer stops at or that HTML would read (quote, colon,
// semicolon, hash, braces, angle brackets, ampersand, percent) is written as
// a numeric entity. Control, format (bidi) and invalid characters become
// U+FFFD, since Mermaid has no way to show them.
func mermaidText(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			b.WriteString("#65533;")
		case strings.ContainsRune("\"#:;{}<>&%`\\", r):
			fmt.Fprintf(&b, "#%d;", r)
		case !unicode.IsPrint(r) && r != ' ':
			b.WriteString("#65533;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
