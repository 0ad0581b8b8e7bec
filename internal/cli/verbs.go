package cli

import (
	"bytes"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/gen"
	"github.com/flowgen/flowgen/internal/atomicfile"
	"github.com/flowgen/flowgen/internal/graph"
	"github.com/flowgen/flowgen/parser"
)

var checkVerb = &verb{
	name:  "check",
	args:  "FILE...",
	short: "report every diagnostic, write nothing",
	summary: `Check reports every diagnostic of the .flow (or .json) files and writes nothing.
A directory stands for its .flow files: flowgen check . checks those here.
Errors make the exit status 1; warnings alone leave it 0. By default the Go
package in each file's directory is loaded to check the state type and its
fields (this runs the go command), and the generated names are checked
against the package's declarations and the other generated .flow files of
the directory; -nopkg skips that. The generated names are those of -target
(temporal declares more per flow).`,
	flags: func(fs *flag.FlagSet) func(*env, []string) int {
		asJSON := fs.Bool("json", false, "print diagnostics as JSON objects, one per line, on stdout")
		strict := fs.Bool("strict", false, "make a step with side effects and neither rollback nor irreversible an error")
		nopkg := fs.Bool("nopkg", false, "do not load the Go package to check the state type and the generated names")
		target := targetFlag(fs)
		return func(e *env, args []string) int {
			if len(args) == 0 {
				return usageError(e, "no input files")
			}
			if err := gen.CheckTarget(*target); err != nil {
				return usageError(e, "-target: %v", err)
			}
			args, unlisted := e.flowFilesOf(args)
			ins, unread := e.readInputs(args)
			unread = append(unlisted, unread...)
			var all diag.List
			if *asJSON {
				// Every outcome is JSON then, a file that cannot be read
				// included: a tool reading stdout must not miss it.
				all = unread
			} else {
				e.printUnread(unread)
			}
			for _, in := range ins {
				_, diags := load(in, in.checkOptions(!*nopkg, *strict, *target))
				all = append(all, diags...)
			}
			e.report(all, ins, *asJSON)
			if len(unread) > 0 || all.HasErrors() {
				return exitError
			}
			return exitOK
		}
	},
}

var fmtVerb = &verb{
	name:  "fmt",
	args:  "[FILE...]",
	short: "print or rewrite .flow files in canonical layout",
	summary: `Fmt prints .flow files (a directory: its .flow files; no file: the
.flow text of standard input, as an editor pipes it) in canonical
layout, keeping comments, and the .flow form of a file in the JSON form (a
flow service's flows, to compile with go generate), with doc comments; a
JSON file whose flows .flow cannot say exactly is an error (flow-form) that
names the part. With -w it
rewrites the files instead: atomically, only those that change, and all of
them or, when one cannot be written, none; a symbolic link stays one, and
the file it leads to is rewritten. A byte order mark at the start of a file
is dropped, so -l lists such a file; -w and -l take .flow files only. On a
syntax error in any file (text the parser cannot read) nothing is printed
or written. Fmt does not check: a value the parser reads but the model
refuses (timeout 10x) and a statement written twice are printed as written;
flowgen check reports them.`,
	flags: func(fs *flag.FlagSet) func(*env, []string) int {
		write := fs.Bool("w", false, "write the result to the files instead of stdout")
		list := fs.Bool("l", false, "list the files whose layout is not canonical, instead of printing them")
		return func(e *env, args []string) int {
			if len(args) == 0 && (*write || *list) {
				return usageError(e, "no input files: -w and -l take .flow files; without files fmt reads standard input")
			}
			for _, a := range args {
				if dsl.IsJSONFile(a) && (*write || *list) {
					return usageError(e, "%s: -w and -l take .flow files; fmt prints the .flow form of a JSON file: flowgen fmt %s > NAME.flow", e.display(a), e.display(a))
				}
			}
			var ins []*input
			if len(args) == 0 {
				// As gofmt: an editor pipes the buffer through.
				in, ok := e.readStdin()
				if !ok {
					return exitError
				}
				ins = []*input{in}
			} else {
				args, unlisted := e.flowFilesOf(args)
				e.printUnread(unlisted)
				var ok bool
				ins, ok = e.read(args)
				if !ok || len(unlisted) > 0 {
					return exitError
				}
			}
			var all diag.List
			out := make([][]byte, len(ins))
			for i, in := range ins {
				if dsl.IsJSONFile(in.name) {
					src, diags := jsonFlowForm(in)
					out[i], all = src, append(all, diags...)
					continue
				}
				f, diags := parser.Parse(in.name, in.src)
				all = append(all, in.own(diags)...)
				if !diags.HasErrors() && f != nil {
					out[i] = parser.Format(f)
				}
			}
			e.report(all, ins, false)
			if all.HasErrors() {
				return exitError
			}
			var writes []atomicfile.File
			for i, in := range ins {
				changed := !bytes.Equal(out[i], in.src)
				if *list && changed {
					fmt.Fprintln(e.stdout, in.name)
				}
				switch {
				case *write:
					if changed {
						writes = append(writes, atomicfile.File{Path: in.path, Data: out[i], Perm: 0o644})
					}
				case !*list:
					e.stdout.Write(out[i])
				}
			}
			// All the files or none (as far as a file system allows), as
			// gen writes its outputs: a file that cannot be written leaves
			// the others as they were, not half the set reformatted.
			return writeAll(e, writes)
		}
	},
}

var graphVerb = &verb{
	name:  "graph",
	args:  "FILE",
	short: "draw the flows as Graphviz DOT, Mermaid, SVG or an HTML page",
	summary: `Graph prints a diagram of the flows in FILE: Graphviz DOT (render with
"dot -Tsvg"), a Mermaid stateDiagram-v2, SVG laid out by flowgen itself
(no Graphviz needed), or one self-contained HTML page with the SVG diagram
made interactive (click a step to see its details and transitions; it
works offline, from a file). It shows the steps with their
actions, retries and timeouts, the transitions by outcome, the terminal
states, and the compensation chain of rollbacks (dashed).`,
	flags: func(fs *flag.FlagSet) func(*env, []string) int {
		format := fs.String("format", "dot", "diagram format: `"+strings.Join(graph.Formats, "|")+"`")
		flow := fs.String("flow", "", "draw only the flow with this `NAME` (default: every flow)")
		return func(e *env, args []string) int {
			if len(args) != 1 {
				return usageError(e, "want exactly one input file, got %d", len(args))
			}
			if !slices.Contains(graph.Formats, *format) {
				return badChoice(e, "format", *format, formatList(), graph.Formats)
			}
			f, ins, code := e.loadOne(args[0])
			if f == nil {
				return code
			}
			out, err := graph.Render(f, *flow, *format)
			if err != nil {
				return failf(e, "%s: %v", ins.name, err)
			}
			e.stdout.Write(out)
			return exitOK
		}
	},
}

// formatList names graph's formats for usage messages: "a, b or c".
func formatList() string {
	return diag.OrList(graph.Formats)
}

var jsonVerb = &verb{
	name:  "json",
	args:  "FILE",
	short: "print the JSON form of the flows",
	summary: `Json prints the JSON form of the flows in FILE (a .flow, or a .json file in
that form, which is checked and printed back in canonical form). Every verb
accepts such a .json file as input.`,
	flags: func(fs *flag.FlagSet) func(*env, []string) int {
		return func(e *env, args []string) int {
			if len(args) != 1 {
				return usageError(e, "want exactly one input file, got %d", len(args))
			}
			f, in, code := e.loadOne(args[0])
			if f == nil {
				return code
			}
			out, err := dsl.EncodeJSON(f)
			if err != nil {
				return failf(e, "%s: %v", in.name, err)
			}
			e.stdout.Write(out)
			return exitOK
		}
	},
}

// loadOne reads and checks a single input without loading its Go package
// (diagrams and JSON do not depend on Go types), but with the flows of the
// package's other .flow files, which its calls may run, printing
// diagnostics. It returns a nil file and the exit code when the input has
// errors.
func (e *env) loadOne(path string) (*dsl.File, *input, int) {
	ins, ok := e.read([]string{path})
	if !ok {
		return nil, nil, exitError
	}
	in := ins[0]
	f, diags := load(in, in.checkOptions(false, false, gen.TargetRuntime))
	e.report(diags, ins, false)
	if diags.HasErrors() || f == nil {
		return nil, in, exitError
	}
	return f, in, exitOK
}

var versionVerb = &verb{
	name:    "version",
	short:   "print flowgen's version",
	summary: "Version prints flowgen's version and the Go version it was built with.",
	flags: func(fs *flag.FlagSet) func(*env, []string) int {
		return func(e *env, args []string) int {
			if len(args) != 0 {
				return usageError(e, "takes no arguments")
			}
			fmt.Fprintf(e.stdout, "flowgen %s %s %s/%s\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return exitOK
		}
	},
}

// version is the module version flowgen was built at: a tag for
// `go install ...@v1.2.3` and go.mod tool dependencies, "(devel)" for a
// build from a checkout.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
