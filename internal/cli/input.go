package cli

import (
	"encoding/json"
	"fmt"
	"go/types"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
	"github.com/flowgen/flowgen/dsl/gocheck"
	"github.com/flowgen/flowgen/gen"
	"github.com/flowgen/flowgen/internal/regfile"
	"github.com/flowgen/flowgen/parser"
)

// input is one file named on the command line.
type input struct {
	path string // as given, for opening and writing
	name string // in diagnostics: relative to the working directory, slash-separated
	dir  string // absolute directory: the Go package the flow belongs to
	src  []byte

	// out is gen -o's file, as given, and outName as diagnostics show
	// it; goDir is its absolute directory. The generated file compiles in
	// that directory's package: the checks load it (state type, typed
	// ports, generated names), and the .flow files there are the ones
	// generated beside it (calls, generated names), not those of dir.
	out, outName, goDir string

	// pkg is what the inputs of dir share: its Go package and its .flow
	// files, each read once.
	pkg *pkgDir

	// peers are the absolute paths of every input of the command line,
	// this one's too: they are generated together.
	peers []string
}

// abs is the input's absolute path.
func (in *input) abs() string { return filepath.Join(in.dir, filepath.Base(in.path)) }

// sibling is a .flow file of an input's directory.
type sibling struct {
	path      string // absolute
	flows     []*dsl.Flow
	generated bool // its generated file (gen.FileName) is there; see pkgDir.generatedKnown
}

// pkgDir is what the inputs of one directory, one Go package, share,
// each read at most once for all of them, since every input of a
// `flowgen check *.flow` needs it: the Go package (loading runs the go
// command, some 0.1 s), which the checks and the generator only read; and
// the directory's .flow files, parsed, for the calls and the generated
// names of each input (read once per input, they made the command
// quadratic in the files of a directory).
type pkgDir struct {
	pkg    *gocheck.Package
	err    error
	loaded bool

	files          []sibling // in file name order; those that parse
	unparsed       []string  // the .flow files that do not parse, absolute, in file name order
	readFiles      bool
	generatedKnown bool // the files' generated field is set
}

// loadPackage is gocheck.Load; a test counts its calls.
var loadPackage = gocheck.Load

// packageDir is the directory of the Go package the input's generated
// code joins: goDir, or the input's own.
func (in *input) packageDir() string {
	if in.goDir != "" {
		return in.goDir
	}
	return in.dir
}

// sameOutput reports whether the .flow file at path (absolute, in the
// input's package directory) is the input itself, or another form of it
// (x.flow beside x.json: both make x_flow.go), or one whose generated
// file -o replaces: not another file of the package.
func (in *input) sameOutput(path string) bool {
	own := gen.FileName(path)
	if in.out != "" && own == filepath.Base(in.out) {
		return true
	}
	return filepath.Dir(path) == in.dir && own == gen.FileName(in.path)
}

// beside is how diagnostics name the file base of the input's package
// directory (packageDir).
func (in *input) beside(base string) string {
	if in.out != "" {
		return diag.Beside(in.outName, base)
	}
	return diag.Beside(in.name, base)
}

// goPackage loads the Go package the input's generated code joins
// (packageDir), once for all the inputs of that directory.
func (in *input) goPackage() (*gocheck.Package, error) {
	p := in.shared()
	if !p.loaded {
		p.pkg, p.err = loadPackage(in.packageDir())
		p.loaded = true
	}
	return p.pkg, p.err
}

// types is the Go package the checks loaded, or nil: with -nopkg, when it
// could not be loaded, or when no input of the directory has a flow.
func (in *input) types() *types.Package {
	if in.pkg == nil || in.pkg.pkg == nil {
		return nil
	}
	return in.pkg.pkg.Types
}

// shared is what the input shares with the other inputs of its directory
// (readInputs), or its own when it was made alone.
func (in *input) shared() *pkgDir {
	if in.pkg == nil {
		in.pkg = &pkgDir{}
	}
	return in.pkg
}

// flowFilesOf is paths with each directory among them replaced by its
// .flow files, in name order (not its .json files: a directory holds JSON
// of other kinds, package.json, a fixture), as `go vet DIR` takes the
// package's files: `flowgen check .` checks the flows beside it. A
// directory without one is an error diagnostic of it, code "read", as a
// file that cannot be read is; so is one that cannot be listed. Hidden
// files (an editor's lock, .#x.flow) are no flows'.
func (e *env) flowFilesOf(paths []string) ([]string, diag.List) {
	var out []string
	var bad diag.List
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || !st.IsDir() {
			out = append(out, p) // readInputs reports what is wrong with it
			continue
		}
		at := diag.Range{Start: diag.Pos{File: e.display(p)}}
		ents, err := os.ReadDir(p)
		if err != nil {
			bad = append(bad, diag.Errorf(at, "read", "%s", pathError(e, err)))
			continue
		}
		n := len(out)
		for _, ent := range ents {
			name := ent.Name()
			if filepath.Ext(name) != ".flow" || name[0] == '.' {
				continue
			}
			// A regular file, or a link to one: a named pipe would hang
			// the read, as beside an input (siblingFiles).
			path := filepath.Join(p, name)
			if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
				out = append(out, path)
			}
		}
		if len(out) == n {
			bad = append(bad, diag.Errorf(at, "read", "%s is a directory with no .flow file", e.display(p)))
		}
	}
	return out, bad
}

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
		src, err := readSource(p)
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
	var peers []string
	pkgs := map[string]*pkgDir{}
	for _, in := range ins {
		peers = append(peers, in.abs())
		if pkgs[in.dir] == nil {
			pkgs[in.dir] = &pkgDir{}
		}
		in.pkg = pkgs[in.dir]
	}
	for _, in := range ins {
		in.peers = peers
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

// readSource reads the source file at path. A file that is not a regular
// one (a pipe, a device such as /dev/zero) is read up to the most any
// source may hold (parser.MaxFileSize): its size is not known before, and
// an endless one would take the memory. A regular file is read whole, and
// the parser says how large it is when it is too large.
func readSource(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.Mode().IsRegular() || st.IsDir() {
		return io.ReadAll(f) // a directory: "read PATH: is a directory"
	}
	src, err := readBounded(f)
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	}
	return src, nil
}

// readBounded reads a source from r, at most parser.MaxFileSize bytes:
// more is an error, not a source cut short.
func readBounded(r io.Reader) ([]byte, error) {
	src, err := io.ReadAll(io.LimitReader(r, parser.MaxFileSize+1))
	if err == nil && len(src) > parser.MaxFileSize {
		err = fmt.Errorf("more than %d MiB, the most a source may hold", parser.MaxFileSize>>20)
	}
	return src, err
}

// stdinName names standard input in diagnostics, as gofmt does.
const stdinName = "<standard input>"

// readStdin reads standard input as one .flow source, within the size a
// file may have.
func (e *env) readStdin() (*input, bool) {
	in := e.stdin
	if in == nil {
		in = strings.NewReader("")
	}
	src, err := readBounded(in)
	if err != nil {
		e.printUnread(diag.List{diag.Errorf(diag.Range{Start: diag.Pos{File: stdinName}}, "read", "read %s: %s", stdinName, err)})
		return nil, false
	}
	dir, _ := os.Getwd()
	return &input{name: stdinName, dir: dir, src: src}, true
}

// pathError shows an *os.PathError with the display path rather than the
// path as given.
func pathError(e *env, err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Op + " " + e.display(pe.Path) + ": " + pe.Err.Error()
	}
	return err.Error()
}

// display returns path relative to the working directory when that is
// shorter (as the go command shows paths: /etc/x.go stays itself rather than
// ../../../etc/x.go), in slash form, as diagnostics show paths.
func (e *env) display(path string) string {
	if e.cwd != "" && filepath.IsAbs(path) {
		if rel, err := filepath.Rel(e.cwd, path); err == nil && len(rel) < len(filepath.Clean(path)) {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.ToSlash(filepath.Clean(path))
}

// checkOptions are the options of `flowgen check` and `flowgen gen`: the
// generated names checked are target's; with goPackage, they are checked
// against those of the other .flow files of its directory, and the Go
// package in the directory is loaded to check the state type and the
// package's own declarations (dsl/gocheck).
func (in *input) checkOptions(goPackage, strict bool, target string) dsl.CheckOptions {
	opts := dsl.CheckOptions{StrictRollback: strict, PackageFlows: in.packageFlows, Target: target,
		PackageScope: dsl.CallScope{Unparsed: in.unparsedSiblings}}
	if goPackage && in.dir != "" {
		opts.GeneratedFlows = in.generatedFlows
		opts.GoPackage = func(f *dsl.File) diag.List {
			ds := gocheck.CheckLoaded(f, in.packageDir(), target, in.goPackage)
			ds = append(ds, in.staleCollision(f, target)...)
			ds = append(ds, in.calleeGenerated(f)...)
			if target == dsl.TargetTemporal {
				ds = append(ds, in.calleeTargets(f)...)
			}
			return ds
		}
	}
	return opts
}

// packageFlows returns the flows of the other .flow files in the input's
// directory, the Go package it belongs to, in file name order, for the
// calls the input makes to flows it does not declare.
func (in *input) packageFlows() []*dsl.Flow {
	var out []*dsl.Flow
	for _, s := range in.siblingFiles() {
		out = append(out, s.flows...)
	}
	return out
}

// unparsedSiblings names, as the input's diagnostics name files, the other
// .flow files of its directory that packageFlows left out because they do
// not parse.
func (in *input) unparsedSiblings() []string {
	in.flowFiles()
	var out []string
	for _, path := range in.shared().unparsed {
		if !in.sameOutput(path) {
			out = append(out, in.beside(filepath.Base(path)))
		}
	}
	return out
}

// generatedFlows returns the flows of those other .flow files whose Go
// code is generated into the package, for the checks of generated names
// (dsl.CheckOptions.GeneratedFlows): the command's other inputs, and the
// files whose generated file (gen.FileName) is there. Another .flow of the
// directory is not necessarily generated: it may be a variant kept beside,
// which no go:generate line names.
func (in *input) generatedFlows() []*dsl.Flow {
	p := in.shared()
	if !p.generatedKnown {
		p.generatedKnown = true
		for i, s := range in.flowFiles() {
			src, _, err := regfile.Read(filepath.Join(in.packageDir(), gen.FileName(s.path)), -1)
			p.files[i].generated = err == nil && dsl.IsGenerated(src)
		}
	}
	var out []*dsl.Flow
	for _, s := range in.siblingFiles() {
		if s.generated || slices.Contains(in.peers, s.path) {
			out = append(out, s.flows...)
		}
	}
	return out
}

// siblingFiles returns the other .flow files of the input's package
// directory (packageDir), in file name order (flowFiles), but those of
// sameOutput.
func (in *input) siblingFiles() []sibling {
	var out []sibling
	for _, s := range in.flowFiles() {
		if !in.sameOutput(s.path) {
			out = append(out, s)
		}
	}
	return out
}

// flowFiles reads and parses the .flow files of the input's package
// directory (packageDir),
// once for all the inputs there, in file name order. A file that does not
// parse is left out (its own generate reports it) and listed in unparsed:
// a call of one of its flows is then reported as a call of a flow that
// may be in it (unparsedSiblings).
func (in *input) flowFiles() []sibling {
	p := in.shared()
	if p.readFiles {
		return p.files
	}
	p.readFiles = true
	dir := in.packageDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	for _, ent := range ents {
		path := filepath.Join(dir, ent.Name())
		if ent.IsDir() || filepath.Ext(ent.Name()) != ".flow" {
			continue
		}
		// Regular files only: a named pipe among them would hang the
		// command, a link to /dev/zero fill its memory.
		src, _, err := regfile.Read(path, -1)
		if err != nil {
			continue
		}
		if f, ds := flowfile.Parse(in.beside(ent.Name()), src); f != nil && !ds.HasErrors() {
			p.files = append(p.files, sibling{path: path, flows: f.Flows})
		} else {
			p.unparsed = append(p.unparsed, path)
		}
	}
	return p.files
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
// the source line and a hint (diag.Report) on stderr; with asJSON, one JSON
// object per line on stdout, every diagnostic kept (editors and CI want
// them all).
func (e *env) report(diags diag.List, ins []*input, asJSON bool) {
	if asJSON {
		list := diags.Sorted()
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
	diag.Report(e.stderr, diags, sources(ins))
}
