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
// .flow file of the package declares, when nothing makes the callee's
// *<Callee>Flow in the package: no Go file there declares it (its
// generated file, under gen.FileName's name or -o's) and no //go:generate
// line of the package's Go files names the callee's file. The caller's
// generated constructor takes that type, so the package would not
// compile, and go build would say so in generated code ("undefined:
// ArchiveFlow"), far from the cause (code "call-generate"). A callee of
// the file itself, or of another input of the command, is generated with
// it. A warning, not an error: a go:generate line that makes the file
// without naming it (a shell glob) is not seen.
func (in *input) calleeGenerated(f *dsl.File) diag.List {
	var ds diag.List
	var srcs [][]byte // the package's Go files, read once when needed
	read := false
	for _, c := range in.siblingCalls(f) {
		if !read {
			srcs, read = goSources(in.packageDir()), true
		}
		typ := c.callee.GoNames().Type
		base := filepath.Base(c.file.path)
		if slices.ContainsFunc(srcs, func(src []byte) bool {
			return bytes.Contains(src, []byte(typ)) && declaresType(src, typ) || namesFile(generateLines(src), base)
		}) {
			continue
		}
		ds = append(ds, diag.Warnf(c.site.Action.Flow.Range, "call-generate",
			"flow %q is declared in %s, which nothing generates into the package (no Go file declares %s, and no //go:generate line names %s): %s takes a *%s, so the package will not compile",
			c.callee.Name, in.beside(base), typ, base, c.caller.GoNames().Constructor, typ).
			WithHint("add `//go:generate go tool flowgen %s` to a Go file of the package, or name both files in one go:generate line", base))
	}
	return ds
}

// goSources returns the sources of the Go files in dir, test files
// included.
func goSources(dir string) [][]byte {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out [][]byte
	for _, ent := range ents {
		if ent.IsDir() || filepath.Ext(ent.Name()) != ".go" {
			continue
		}
		if src, _, err := regfile.Read(filepath.Join(dir, ent.Name()), -1); err == nil {
			out = append(out, src)
		}
	}
	return out
}

// generateLines returns the //go:generate lines of the Go source src,
// after the directive, as go generate reads them: at the start of a line,
// followed by a space or a tab.
func generateLines(src []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(nil, len(src)+1)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "//go:generate")
		if ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			out = append(out, rest[1:])
		}
	}
	return out
}

// namesFile reports whether one of the go:generate lines names the file
// base of its directory among its words (quoted or not, ./base too).
func namesFile(lines []string, base string) bool {
	for _, l := range lines {
		for _, w := range strings.Fields(l) {
			if filepath.Clean(strings.Trim(w, `"'`)) == base {
				return true
			}
		}
	}
	return false
}
