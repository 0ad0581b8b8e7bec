package cli

import (
	"bufio"
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/gen"
	"github.com/flowgen/flowgen/internal/regfile"
)

// calleeTargets reports, for the Temporal target, each call of f's flows
// whose callee another .flow file of the package declares and whose
// generated file there was generated for the runtime target: it declares
// no <Callee>Temporal, which the caller's generated NewXTemporal takes, so
// the package would not compile, and go build would say so in generated
// code (code "call-target"). A callee of the file itself, or of another
// input of the command, is generated with it, for the same target; one
// whose .flow has no generated file fails either target alike.
func (in *input) calleeTargets(f *dsl.File) diag.List {
	var ds diag.List
	for _, c := range in.siblingCalls(f) {
		name := c.callee.Name
		generated := gen.FileName(c.file.path)
		src, _, err := regfile.Read(filepath.Join(in.packageDir(), generated), -1)
		want := dsl.TemporalNamesOf(name).Type
		if err != nil || !dsl.IsGenerated(src) || declaresType(src, want) {
			continue
		}
		ds = append(ds, diag.Errorf(c.site.Action.Flow.Range, "call-target",
			"flow %q is generated for the runtime target (%s declares no %s): on Temporal, step %q calls it as a child workflow, from its Temporal form",
			name, in.beside(filepath.Base(generated)), want, c.site.Step.Name).
			WithHint("generate %s with -target temporal too (it has the runtime form as well)", in.beside(filepath.Base(c.file.path))))
	}
	return ds
}

// siblingCall is a call of a flow that another .flow file of the package
// declares.
type siblingCall struct {
	caller *dsl.Flow
	site   dsl.CallSite
	file   sibling   // the file that declares the callee
	callee *dsl.Flow // its flow
}

// siblingCalls returns the calls (and rollback calls) of f's flows whose
// callee another .flow file of the package declares, in file order: not
// those of a flow of f itself, nor of another input of the command, which
// is generated with it, for the same target.
func (in *input) siblingCalls(f *dsl.File) []siblingCall {
	var out []siblingCall
	for _, fl := range f.Flows {
		if fl == nil {
			continue
		}
		for _, cs := range fl.Calls() {
			name := cs.Action.Flow.Name
			named := func(o *dsl.Flow) bool { return o != nil && o.Name == name }
			if slices.ContainsFunc(f.Flows, named) {
				continue
			}
			i := slices.IndexFunc(in.siblingFiles(), func(s sibling) bool { return slices.ContainsFunc(s.flows, named) })
			if i < 0 || slices.Contains(in.peers, in.siblingFiles()[i].path) {
				continue
			}
			sib := in.siblingFiles()[i]
			out = append(out, siblingCall{caller: fl, site: cs, file: sib, callee: sib.flows[slices.IndexFunc(sib.flows, named)]})
		}
	}
	return out
}

// declaresType reports whether the Go source src declares the type name
// at package level.
func declaresType(src []byte, name string) bool {
	af, err := parser.ParseFile(token.NewFileSet(), "", src, parser.SkipObjectResolution)
	if err != nil {
		return true // not ours to judge: the build says what is wrong with it
	}
	for _, d := range af.Decls {
		if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.TYPE {
			for _, s := range gd.Specs {
				if s.(*ast.TypeSpec).Name.Name == name {
					return true
				}
			}
		}
	}
	return false
}

// calleeGenerated warns, for each call of f's flows whose callee another
// .flow file of the package declares, when that file is not generated into
// the package: it has no generated file there (gen.FileName) and no
// //go:generate line of the package's Go files names it. The caller's
// generated constructor takes the callee's *<Callee>Flow, so the package
// would not compile, and go build would say so in generated code
// ("undefined: ArchiveFlow"), far from the cause (code "call-generate").
// A callee of the file itself, or of another input of the command, is
// generated with it. A warning, not an error: a go:generate line that
// makes the file without naming it (a shell glob) is not seen.
func (in *input) calleeGenerated(f *dsl.File) diag.List {
	var ds diag.List
	var lines []string // the package's go:generate lines, read once when needed
	read := false
	for _, c := range in.siblingCalls(f) {
		generated := gen.FileName(c.file.path)
		if src, _, err := regfile.Read(filepath.Join(in.packageDir(), generated), -1); err == nil && dsl.IsGenerated(src) {
			continue
		}
		if !read {
			lines, read = generateLines(in.packageDir()), true
		}
		base := filepath.Base(c.file.path)
		if slices.ContainsFunc(lines, func(l string) bool { return namesFile(l, base) }) {
			continue
		}
		ds = append(ds, diag.Warnf(c.site.Action.Flow.Range, "call-generate",
			"flow %q is declared in %s, which nothing generates into the package (there is no %s, and no //go:generate line names it): %s takes a *%s, so the package will not compile",
			c.callee.Name, in.beside(base), in.beside(filepath.Base(generated)), c.caller.GoNames().Constructor, c.callee.GoNames().Type).
			WithHint("add `//go:generate go tool flowgen %s` to a Go file of the package, or name both files in one go:generate line", base))
	}
	return ds
}

// generateLines returns the //go:generate lines of the Go files in dir,
// test files included, as go generate reads them: at the start of a line.
func generateLines(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, ent := range ents {
		if ent.IsDir() || filepath.Ext(ent.Name()) != ".go" {
			continue
		}
		src, _, err := regfile.Read(filepath.Join(dir, ent.Name()), -1)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(src))
		sc.Buffer(nil, len(src)+1)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "//go:generate "); ok {
				out = append(out, rest)
			}
		}
	}
	return out
}

// namesFile reports whether the go:generate line names the file base of
// its directory among its words (quoted or not, ./base too).
func namesFile(line, base string) bool {
	for _, w := range strings.Fields(line) {
		if filepath.Clean(strings.Trim(w, `"'`)) == base {
			return true
		}
	}
	return false
}
