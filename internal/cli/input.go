package cli

import (
	"encoding/json"
	"go/types"
	"os"
	"path/filepath"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
	"github.com/flowgen/flowgen/dsl/gocheck"
)

// input is one file named on the command line.
type input struct {
	path string // as given, for opening and writing
	name string // in diagnostics: relative to the working directory, slash-separated
	dir  string // absolute directory: the Go package the flow belongs to
	src  []byte

	// The Go package in dir, loaded once for the checks and the
	// generator (goPackage); loaded says whether it was.
	pkg    *types.Package
	pkgErr error
	loaded bool
}

// goPackage loads the Go package in the input's directory, once.
func (in *input) goPackage() (*types.Package, error) {
	if !in.loaded {
		in.pkg, in.pkgErr = gocheck.Load(in.dir)
		in.loaded = true
	}
	return in.pkg, in.pkgErr
}

// types is the Go package the checks loaded, or nil: with -nopkg, when it
// could not be loaded, or when no flow names a state type (then no typed
// port carries a state field, and the generator needs no types).
func (in *input) types() *types.Package { return in.pkg }

// read reads every path, printing all the files that cannot be read.
func (e *env) read(paths []string) ([]*input, bool) {
	ins, unread := e.readInputs(paths)
	e.printUnread(unread)
	return ins, len(unread) == 0
}

// readInputs reads every path. Each file that cannot be read (missing, a
// directory, no permission) is an error diagnostic of that file, without
// a line, code "read": check -json reports it as JSON like any other.
func (e *env) readInputs(paths []string) ([]*input, diag.List) {
	var ins []*input
	var unread diag.List
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			at := diag.Range{Start: diag.Pos{File: e.display(p)}}
			unread = append(unread, diag.Errorf(at, "read", "%s", pathError(e, err)))
			continue
		}
		dir, err := filepath.Abs(filepath.Dir(p))
		if err != nil {
			dir = filepath.Dir(p)
		}
		ins = append(ins, &input{path: p, name: e.display(p), dir: dir, src: src})
	}
	return ins, unread
}

// printUnread prints readInputs' diagnostics for people, as the other
// errors that are not about a flow's content: "flowgen: open x.flow: ...".
func (e *env) printUnread(unread diag.List) {
	for _, d := range unread {
		failf(e, "%s", d.Message)
	}
}

// pathError shows an *os.PathError with the display path rather than the
// path as given.
func pathError(e *env, err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Op + " " + e.display(pe.Path) + ": " + pe.Err.Error()
	}
	return err.Error()
}

// display returns path relative to the working directory when it can, in
// slash form, as diagnostics show paths.
func (e *env) display(path string) string {
	if e.cwd != "" && filepath.IsAbs(path) {
		if rel, err := filepath.Rel(e.cwd, path); err == nil {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.ToSlash(filepath.Clean(path))
}

// checkOptions are the options of `flowgen check` and `flowgen gen`: with
// goPackage, the Go package in the input's directory is loaded to check
// the state type (dsl/gocheck).
func (in *input) checkOptions(goPackage, strict bool) dsl.CheckOptions {
	opts := dsl.CheckOptions{StrictRollback: strict, PackageFlows: in.packageFlows}
	if goPackage && in.dir != "" {
		opts.GoPackage = func(f *dsl.File) diag.List { return gocheck.CheckLoaded(f, in.dir, in.goPackage) }
	}
	return opts
}

// packageFlows returns the flows of the other .flow files in the input's
// directory, the Go package it belongs to, in file name order, for the
// calls the input makes to flows it does not declare. A file that does not
// parse is left out: its own generate reports it, and a call of one of its
// flows is then reported as a call of no flow.
func (in *input) packageFlows() []*dsl.Flow {
	ents, err := os.ReadDir(in.dir)
	if err != nil {
		return nil
	}
	self, _ := filepath.Abs(in.path)
	var out []*dsl.Flow
	for _, ent := range ents {
		path := filepath.Join(in.dir, ent.Name())
		if ent.IsDir() || filepath.Ext(ent.Name()) != ".flow" || path == self {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		name := filepath.ToSlash(filepath.Join(filepath.Dir(in.name), ent.Name()))
		if f, ds := flowfile.Parse(name, src); f != nil && !ds.HasErrors() {
			out = append(out, f.Flows...)
		}
	}
	return out
}

// load parses (or decodes) and checks one input.
func load(in *input, opts dsl.CheckOptions) (*dsl.File, diag.List) {
	f, diags := flowfile.Load(in.name, in.src, opts)
	return f, in.own(diags)
}

// own fills in the file of diagnostics that do not name one, so that every
// line of output says which input it is about.
func (in *input) own(diags diag.List) diag.List {
	for i := range diags {
		if diags[i].Range.Start.File == "" {
			diags[i].Range.Start.File = in.name
		}
	}
	return diags
}

// sources maps display names to contents for quoting source lines.
func sources(ins []*input) diag.Sources {
	m := make(map[string][]byte, len(ins))
	for _, in := range ins {
		m[in.name] = in.src // JSON too: its syntax errors have a line
	}
	return func(file string) []byte { return m[file] }
}

// report prints diagnostics: for people, sorted, one per line, capped, with
// the source line and a hint (diag.Fprint) on stderr; with asJSON, one JSON
// object per line on stdout, every diagnostic kept (editors and CI want
// them all).
func (e *env) report(diags diag.List, ins []*input, asJSON bool) {
	if asJSON {
		list, _ := diags.Normalize(-1)
		enc := json.NewEncoder(e.stdout)
		enc.SetEscapeHTML(false)
		for _, d := range list {
			enc.Encode(d)
		}
		return
	}
	if len(diags) == 0 {
		return
	}
	list, dropped := diags.Normalize(0)
	diag.Fprint(e.stderr, list, sources(ins), dropped)
}
