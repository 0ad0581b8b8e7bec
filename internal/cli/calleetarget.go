package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"

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
	for _, fl := range f.Flows {
		if fl == nil {
			continue
		}
		for _, cs := range fl.Calls() {
			name := cs.Action.Flow.Name
			if slices.ContainsFunc(f.Flows, func(o *dsl.Flow) bool { return o != nil && o.Name == name }) {
				continue
			}
			i := slices.IndexFunc(in.siblingFiles(), func(s sibling) bool {
				return slices.ContainsFunc(s.flows, func(o *dsl.Flow) bool { return o != nil && o.Name == name })
			})
			if i < 0 || slices.Contains(in.peers, in.siblingFiles()[i].path) {
				continue
			}
			flowPath := in.siblingFiles()[i].path
			generated := gen.FileName(flowPath)
			src, _, err := regfile.Read(filepath.Join(in.packageDir(), generated), -1)
			want := dsl.TemporalNamesOf(name).Type
			if err != nil || !dsl.IsGenerated(src) || declaresType(src, want) {
				continue
			}
			ds = append(ds, diag.Errorf(cs.Action.Flow.Range, "call-target",
				"flow %q is generated for the runtime target (%s declares no %s): on Temporal, step %q calls it as a child workflow, from its Temporal form",
				name, in.beside(filepath.Base(generated)), want, cs.Step.Name).
				WithHint("generate %s with -target temporal too (it has the runtime form as well)", in.beside(filepath.Base(flowPath))))
		}
	}
	return ds
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
