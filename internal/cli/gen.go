package cli

import (
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
)

var genVerb = &verb{
	name: "gen",
	args: "FILE...",
	summary: `Gen generates Go code for each .flow (or .json) file: <name>_flow.go beside
the input, or the file named by -o. It is the default verb, so "flowgen
signup.flow" is "flowgen gen signup.flow". The Go package in the file's
directory is loaded to check the state type (-nopkg skips that). If any
input has an error, nothing is written; warnings are printed and do not
stop generation. Files are written atomically.`,
	flags: func(fs *flag.FlagSet) func(*env, []string) int {
		out := fs.String("o", "", "write the generated code to this `file` (only with a single input)")
		nopkg := fs.Bool("nopkg", false, "do not load the Go package to check the state type")
		strict := fs.Bool("strict", false, "make a step with side effects and neither rollback nor irreversible an error")
		return func(e *env, args []string) int {
			if len(args) == 0 {
				return usageError(e, "no input files")
			}
			if *out != "" && len(args) != 1 {
				return usageError(e, "-o needs exactly one input file, got %d", len(args))
			}
			ins, ok := e.read(args)
			if !ok {
				return exitError
			}
			var all diag.List
			files := make([]*dsl.File, len(ins))
			for i, in := range ins {
				var diags diag.List
				files[i], diags = load(in, dsl.CheckOptions{Dir: in.dir, LoadPackage: !*nopkg, StrictRollback: *strict})
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
			for i, in := range ins {
				gen, err := generate(files[i], in)
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
					outputs = append(outputs, output{filepath.Join(filepath.Dir(in.path), name), gen[name]})
				}
			}
			for _, o := range outputs {
				if err := writeFileAtomic(o.path, o.data, 0o644); err != nil {
					return failf(e, "%s", pathError(e, err))
				}
			}
			return exitOK
		}
	},
}

// errGenNotYet is returned until package gen exists.
var errGenNotYet = errors.New("code generation is not available in this build yet (package gen is not written); check, fmt, graph and json work")

// generate produces the Go files for one checked input: file name (beside
// the input) to contents.
//
// TODO(gen helper): replace the body with
//
//	return gen.Generate(f, gen.Options{ /* source name: in.name, ... */ })
func generate(f *dsl.File, in *input) (map[string][]byte, error) {
	_ = f
	return nil, fmt.Errorf("%w", errGenNotYet)
}
