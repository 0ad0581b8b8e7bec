package gen

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"sync"
	"testing"

	"github.com/flowgen/flowgen/dsl"
)

// caseTypes type-checks the Go files of a golden case that the generated
// file does not depend on (state.go: main.go uses the generated names),
// in process: the package the typed service ports take their types from,
// as gocheck.Load gives it to the command. Cached per directory.
func caseTypes(t testing.TB, dir, pkgName string) *types.Package {
	t.Helper()
	caseTypesMu.Lock()
	defer caseTypesMu.Unlock()
	if p, ok := caseTypesCache[dir]; ok {
		return p
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(dir, "state.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	conf := types.Config{Importer: caseImporter}
	p, err := conf.Check(pkgName, fset, []*ast.File{f}, nil)
	if err != nil {
		t.Fatalf("%s/state.go: %v", dir, err)
	}
	caseTypesCache[dir] = p
	return p
}

var (
	// caseImporter is one importer for every case: it keeps the packages
	// it imported, so that the standard library is read once.
	caseImporter   = importer.Default()
	caseTypesMu    sync.Mutex
	caseTypesCache = map[string]*types.Package{}
)

// syntheticTypes is a package "p" that declares, for every flow of f that
// has a state type, a struct with a string field per field the flow
// names: enough Go types to generate any flow that checks clean, for the
// tests that generate files without a Go package of their own (the corpus,
// the fuzz target, benchmarks).
func syntheticTypes(f *dsl.File) *types.Package {
	pkg := types.NewPackage("p", "p")
	if f == nil {
		return pkg
	}
	for _, fl := range f.Flows {
		if fl == nil || fl.State == nil || pkg.Scope().Lookup(fl.State.Name) != nil || !token.IsIdentifier(fl.State.Name) {
			continue
		}
		seen := map[string]bool{}
		var fields []*types.Var
		for _, ref := range fl.FieldRefs() {
			name := ref.Field.Name
			if seen[name] || !token.IsIdentifier(name) {
				continue
			}
			seen[name] = true
			fields = append(fields, types.NewField(token.NoPos, pkg, name, types.Typ[types.String], false))
		}
		tn := types.NewTypeName(token.NoPos, pkg, fl.State.Name, nil)
		types.NewNamed(tn, types.NewStruct(fields, nil), nil)
		pkg.Scope().Insert(tn)
	}
	return pkg
}
