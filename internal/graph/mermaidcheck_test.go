package graph

import (
	"fmt"
	"regexp"
	"strings"
)

// checkMermaid validates Mermaid text strictly against the subset of
// stateDiagram-v2 that renderMermaid writes, with the lexical rules of
// Mermaid's own state diagram grammar (stateDiagram.jison) in mind:
//
//   - the first line is exactly "stateDiagram-v2";
//   - every other line is, after its indentation (4 spaces per nesting
//     level), one of: `state "TEXT" as ID {`, `state "TEXT" as ID`,
//     `ID : TEXT`, `FROM --> TO`, `FROM --> TO : TEXT`, `}`, and at the top
//     level `classDef NAME STYLE` and `class ID,ID NAME`;
//   - ids are ASCII words starting with a letter, are not keywords of the
//     grammar (case-insensitively), and are declared exactly once, before
//     use, in the composite state where they are used;
//   - TEXT is non-empty and, once entity codes (#34; ...) are set aside,
//     contains none of the characters that end a token or start markup:
//     " # : ; { } < > & % ` \ and no control characters;
//   - braces balance, and every composite state holds at least one
//     transition from [*].
//
// It returns every problem found, each with its line number.
func checkMermaid(src []byte) []string {
	var errs []string
	fail := func(n int, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("line %d: %s", n, fmt.Sprintf(format, args...)))
	}
	text := string(src)
	if !strings.HasSuffix(text, "\n") {
		errs = append(errs, "missing final newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) == 0 || lines[0] != "stateDiagram-v2" {
		fail(1, "header: want %q", "stateDiagram-v2")
		return errs
	}
	type scope struct {
		id       string
		declared map[string]bool
		started  bool
	}
	declaredAnywhere := map[string]int{}
	classes := map[string]bool{}
	stack := []*scope{{declared: map[string]bool{}, started: true}}
	checkID := func(n int, id string) {
		if !mermaidID.MatchString(id) {
			fail(n, "invalid id %q", id)
		} else if reservedIDs[strings.ToLower(id)] {
			fail(n, "id %q is a keyword", id)
		}
	}
	declare := func(n int, id string) {
		checkID(n, id)
		if prev, ok := declaredAnywhere[id]; ok {
			fail(n, "id %q already declared on line %d", id, prev)
		}
		declaredAnywhere[id] = n
		stack[len(stack)-1].declared[id] = true
	}
	checkText := func(n int, what, t string) {
		if t == "" {
			fail(n, "empty %s", what)
			return
		}
		bare := mermaidEntity.ReplaceAllString(t, "")
		if i := strings.IndexAny(bare, "\"#:;{}<>&%`\\"); i >= 0 {
			fail(n, "%s %q: unescaped %q", what, t, bare[i])
		}
		for _, r := range bare {
			if r < 0x20 || r == 0x7f {
				fail(n, "%s %q: control character", what, t)
				break
			}
		}
	}
	endpoint := func(n int, id string) {
		if id == "[*]" {
			return
		}
		if !stack[len(stack)-1].declared[id] {
			fail(n, "transition uses %q, not declared in this composite state", id)
		}
	}
	for i, line := range lines[1:] {
		n := i + 2
		depth := len(stack) // statements inside composite k are indented k+1 levels
		want := strings.Repeat("    ", depth)
		if line == strings.Repeat("    ", depth-1)+"}" && depth > 1 {
			if !stack[depth-1].started {
				fail(n, "composite state %q has no start transition", stack[depth-1].id)
			}
			stack = stack[:depth-1]
			continue
		}
		if !strings.HasPrefix(line, want) || strings.HasPrefix(line, want+" ") {
			fail(n, "indentation: want %d spaces", len(want))
			continue
		}
		stmt := line[len(want):]
		switch {
		case mermaidComposite.MatchString(stmt):
			m := mermaidComposite.FindStringSubmatch(stmt)
			checkText(n, "state name", m[1])
			declare(n, m[2])
			stack = append(stack, &scope{id: m[2], declared: map[string]bool{}})
		case mermaidState.MatchString(stmt):
			m := mermaidState.FindStringSubmatch(stmt)
			checkText(n, "state name", m[1])
			declare(n, m[2])
		case mermaidChoice.MatchString(stmt):
			declare(n, mermaidChoice.FindStringSubmatch(stmt)[1])
		case mermaidDescr.MatchString(stmt):
			m := mermaidDescr.FindStringSubmatch(stmt)
			if !stack[len(stack)-1].declared[m[1]] {
				fail(n, "description of undeclared state %q", m[1])
			}
			checkText(n, "description", m[2])
		case mermaidEdge.MatchString(stmt):
			m := mermaidEdge.FindStringSubmatch(stmt)
			endpoint(n, m[1])
			endpoint(n, m[2])
			if m[1] == "[*]" {
				stack[len(stack)-1].started = true
			}
			if m[3] != "" {
				checkText(n, "transition label", strings.TrimPrefix(m[3], " : "))
			}
		case depth == 1 && mermaidClassDef.MatchString(stmt):
			classes[mermaidClassDef.FindStringSubmatch(stmt)[1]] = true
		case depth == 1 && mermaidClassStmt.MatchString(stmt):
			m := mermaidClassStmt.FindStringSubmatch(stmt)
			if !classes[m[2]] {
				fail(n, "class %q used before its classDef", m[2])
			}
			for _, id := range strings.Split(m[1], ",") {
				if _, ok := declaredAnywhere[id]; !ok {
					fail(n, "class of undeclared state %q", id)
				}
			}
		default:
			fail(n, "not a statement of the diagram: %q", stmt)
		}
	}
	if len(stack) != 1 {
		errs = append(errs, fmt.Sprintf("%d composite state(s) not closed", len(stack)-1))
	}
	return errs
}

var (
	mermaidID        = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	mermaidEntity    = regexp.MustCompile(`#[0-9]+;|#[a-z]+;`)
	reWord           = `([A-Za-z][A-Za-z0-9_]*)`
	quoted           = `"([^"\n]*)"`
	mermaidComposite = regexp.MustCompile(`^state ` + quoted + ` as ` + reWord + ` \{$`)
	mermaidState     = regexp.MustCompile(`^state ` + quoted + ` as ` + reWord + `$`)
	mermaidChoice    = regexp.MustCompile(`^state ` + reWord + ` <<(?:choice|fork|join)>>$`) // the pseudo-states
	mermaidDescr     = regexp.MustCompile(`^` + reWord + ` : (.*)$`)
	endpointRE       = `(\[\*\]|[A-Za-z][A-Za-z0-9_]*)`
	mermaidEdge      = regexp.MustCompile(`^` + endpointRE + ` --> ` + endpointRE + `( : .*)?$`)
	mermaidClassDef  = regexp.MustCompile(`^classDef ([a-z]+) ([a-z-]+:[^ ;]+( [^ ;]+)?(,[a-z-]+:[^ ;]+( [^ ;]+)?)*)$`)
	mermaidClassStmt = regexp.MustCompile(`^class ([A-Za-z0-9_]+(?:,[A-Za-z0-9_]+)*) ([a-z]+)$`)
)
