package cli

import (
	"errors"
	"flag"
	"go/token"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/gocheck"
	"github.com/flowgen/flowgen/gen"
	"github.com/flowgen/flowgen/internal/atomicfile"
)

var genVerb = &verb{
	name:  "gen",
	args:  "FILE...",
	short: "generate Go code from .flow files (the default verb)",
	summary: `Gen generates Go code for each .flow (or .json) file: <name>_flow.go beside
the input, or the file named by -o; a directory stands for its .flow files.
It is the default verb, so "flowgen signup.flow" is "flowgen gen
signup.flow". The Go package the output
joins (the file's directory, or -o's) is loaded to check the state type
and to give the typed service ports the Go types of the fields the rpc
lines carry, and to check the generated names against the package's
declarations and the other generated .flow files of the directory (-nopkg
skips that, so a flow whose rpc lines name state fields cannot be
generated). If any input has an error, nothing is written; warnings are
printed and do not stop generation. An existing
output file that is not generated code (no "// Code generated ... DO NOT
EDIT." line before its package clause) is never overwritten: gen stops,
naming it, and writes nothing. An empty one (or one of white space alone)
holds nothing to lose and is overwritten. Files are written atomically,
and only when they change; with several outputs, all are written to
temporary files before any is renamed, so a failure to write one leaves
them all as they were. An output that is a symbolic link stays one: the
file it leads to is rewritten. An output that go build would skip (a name
starting with "_" or ".", from _x.flow) is an error. The package name is
that of the Go files in the output's directory; -pkg sets it when there
are none (naming another package than theirs is an error).`,
	flags: func(fs *flag.FlagSet) func(*env, []string) int {
		out := fs.String("o", "", "write the generated code to this `FILE` (only with a single input)")
		nopkg := fs.Bool("nopkg", false, "do not load the Go package: no state type or generated name checks, and no typed ports for rpc lines that name state fields")
		strict := fs.Bool("strict", false, "make a step with side effects and neither rollback nor irreversible an error")
		pkg := fs.String("pkg", "", "package `NAME` of the generated code when the output's directory has no Go files to take it from (it cannot name another package than theirs)")
		target := targetFlag(fs)
		return func(e *env, args []string) int {
			// Generation makes many short-lived objects (syntax trees, the
			// jennifer tree, go/format's AST) in a process that ends right
			// after: collecting less often saves about a quarter of the
			// time on large flows, for a few tens of MB of peak memory.
			defer debug.SetGCPercent(debug.SetGCPercent(400))
			if len(args) == 0 {
				return usageError(e, "no input files")
			}
			args, unlisted := e.flowFilesOf(args)
			if len(unlisted) > 0 {
				e.printUnread(unlisted)
				return exitError
			}
			if *out != "" && len(args) != 1 {
				return usageError(e, "-o needs exactly one input file, got %d", len(args))
			}
			if err := gen.CheckTarget(*target); err != nil {
				return usageError(e, "-target: %v", err)
			}
			if *pkg != "" && !token.IsIdentifier(*pkg) {
				return usageError(e, "-pkg %q is not a Go package name", *pkg)
			}
			ins, ok := e.read(args)
			if !ok {
				return exitError
			}
			if *out != "" {
				// The file joins the package of its own directory: that
				// is the one the checks load. The input is alone, so the
				// package it loads is its own.
				if fi, err := os.Stat(filepath.Dir(*out)); err != nil {
					return failf(e, "-o %s: %s", e.display(*out), pathError(e, err))
				} else if !fi.IsDir() {
					return failf(e, "-o %s: %s is not a directory", e.display(*out), e.display(filepath.Dir(*out)))
				}
				dir, err := filepath.Abs(filepath.Dir(*out))
				if err != nil {
					return failf(e, "%s", pathError(e, err))
				}
				ins[0].out, ins[0].outName, ins[0].goDir = *out, e.display(*out), dir
			}
			// A file in the way of an output stops the run before the
			// checks, naming it: loading the package would read its
			// declarations as the package's own and report each generated
			// name as a collision with it, not the file.
			failed := false
			inTheWay := map[string]bool{} // x.flow and x.json name one output: said once
			for _, in := range ins {
				out := in.out
				if out == "" {
					out = filepath.Join(filepath.Dir(in.path), gen.FileName(in.path))
				}
				// go build skips such a file: its code would never be
				// compiled, and gen would seem to have worked.
				if base := filepath.Base(out); strings.HasSuffix(base, ".go") && (base[0] == '_' || base[0] == '.') {
					fix := "rename " + in.name + ", or name the output with -o"
					if in.out != "" {
						fix = "name the output otherwise"
					}
					failf(e, "%s: go build ignores %s, whose name starts with %q: %s", in.name, e.display(out), base[:1], fix)
					failed = true
					continue
				}
				if _, err := needsWrite(out, nil); err != nil && !inTheWay[out] {
					inTheWay[out] = true
					failed = reportInTheWay(e, out, err) || failed
				}
			}
			if failed {
				return exitError
			}
			var all diag.List
			files := make([]*dsl.File, len(ins))
			for i, in := range ins {
				var diags diag.List
				files[i], diags = load(in, in.checkOptions(!*nopkg, *strict, *target))
				all = append(all, diags...)
			}
			e.report(all, ins, false)
			if all.HasErrors() {
				return exitError
			}
			// Generate everything before writing anything.
			type output struct {
				path string
				data []byte
			}
			var outputs []output
			// Two inputs that generate one file (x.flow and its JSON form
			// x.json both make x_flow.go) would write it twice, the last
			// one winning without a word.
			generatedBy := map[string]*input{}
			for i, in := range ins {
				dir := in.dir
				if *out != "" {
					dir = filepath.Dir(*out) // the package the file goes to
				}
				// -pkg names the package only where the Go files name
				// none: beside files of another, the generated file would
				// make two packages in one directory, which go build
				// refuses.
				name, err := gocheck.PackageName(dir)
				switch {
				case *pkg == "" && err != nil:
					return failf(e, "%s: %v", in.name, err)
				case *pkg != "" && err == nil && name != *pkg:
					return failf(e, "%s: -pkg %s, but the Go files in %s are package %s, which the generated file joins: leave -pkg out",
						in.name, *pkg, e.display(dir), name)
				case *pkg != "":
					name = *pkg
				}
				gen, err := generate(files[i], in, name, *target)
				var d diag.Diagnostic
				if errors.As(err, &d) {
					// An error at a place in the input: shown with its
					// line, as check shows the others.
					e.report(in.own(diag.List{d}), ins, false)
					return exitError
				}
				if err != nil {
					return failf(e, "%s: %v", in.name, err)
				}
				names := make([]string, 0, len(gen))
				for name := range gen {
					if name == "" || filepath.Base(name) != name || strings.ContainsAny(name, `/\`) {
						return failf(e, "%s: generator returned an invalid file name %q", in.name, name)
					}
					names = append(names, name)
				}
				slices.Sort(names)
				if *out != "" {
					if len(names) != 1 {
						return failf(e, "%s: -o needs a single generated file, the generator produced %d", in.name, len(names))
					}
					outputs = append(outputs, output{*out, gen[names[0]]})
					continue
				}
				for _, name := range names {
					path := filepath.Join(in.dir, name)
					if other := generatedBy[path]; other != nil && other.abs() != in.abs() {
						return usageError(e, "%s and %s both generate %s: give one of them", other.name, in.name, e.display(path))
					}
					generatedBy[path] = in
					outputs = append(outputs, output{filepath.Join(filepath.Dir(in.path), name), gen[name]})
				}
			}
			// Check every output before writing any: a file in the way
			// stops the whole run, as an error in an input does.
			var writes []output
			for _, o := range outputs {
				write, err := needsWrite(o.path, o.data)
				switch {
				case err != nil:
					failed = reportInTheWay(e, o.path, err) || failed
				case write:
					writes = append(writes, o)
				}
			}
			if failed {
				return exitError
			}
			// All the outputs or none (as far as a file system allows):
			// the files of one package compile together.
			staged := make([]atomicfile.File, len(writes))
			for i, o := range writes {
				staged[i] = atomicfile.File{Path: o.path, Data: o.data, Perm: 0o644}
			}
			return writeAll(e, staged)
		}
	},
}

// reportInTheWay prints needsWrite's error for the output at path and
// returns true.
func reportInTheWay(e *env, path string, err error) bool {
	if errors.Is(err, errHandWritten) {
		failf(e, "%s: %v", e.display(path), err)
	} else {
		failf(e, "%s", pathError(e, err))
	}
	return true
}

// targetFlag is the -target flag of gen and check: what the generated code
// runs on, which decides the names it declares.
func targetFlag(fs *flag.FlagSet) *string {
	return fs.String("target", gen.TargetRuntime, "what the generated code runs on: `runtime|temporal` (docs/temporal.md)")
}

// generate produces the Go files for one checked input, in package pkg:
// file name (beside the input) to contents.
func generate(f *dsl.File, in *input, pkg, target string) (map[string][]byte, error) {
	return gen.Generate(f, gen.Options{Package: pkg, Source: in.path, Target: target, Types: in.types()})
}
