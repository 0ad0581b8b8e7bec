package gen

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
)

// caseTypes type-checks the Go files of a golden case that the generated
// file does not depend on (state.go: main.go uses the generated names),
// in process: the package the typed service ports take their types from,
// as gocheck.Load gives it (Types) to the command. Cached per directory.
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

// syntheticTypes is a package "p" that declares, for every state type of
// f's flows, a struct with a string field per field those flows name, or,
// for a field whose members a condition reads (Customer.Tier), a struct of
// them, as deep as the members go: enough Go types to generate any flow
// that checks clean, for the tests that generate files without a Go
// package of their own (the corpus, the fuzz target, benchmarks).
func syntheticTypes(f *dsl.File) *types.Package {
	pkg := types.NewPackage("p", "p")
	if f == nil {
		return pkg
	}
	// Flows may share a state type: it has the fields any of them names.
	var order []string
	fields := map[string]*synthField{}
	for _, fl := range f.Flows {
		if fl == nil || fl.State == nil || !token.IsIdentifier(fl.State.Name) {
			continue
		}
		st := fl.State.Name
		if _, ok := fields[st]; !ok {
			order = append(order, st)
			fields[st] = &synthField{}
		}
		for _, ref := range fl.FieldRefs() {
			path := []*dsl.Ident{ref.Field}
			if ref.Cond != nil {
				path = append(path, ref.Cond.Members...)
			}
			fields[st].add(path)
		}
	}
	for _, st := range order {
		tn := types.NewTypeName(token.NoPos, pkg, st, nil)
		types.NewNamed(tn, fields[st].typ(pkg), nil)
		pkg.Scope().Insert(tn)
	}
	return pkg
}

// synthField is a field of a synthetic struct type: a string, or a struct
// of its members.
type synthField struct {
	order   []string
	members map[string]*synthField
}

func (n *synthField) add(path []*dsl.Ident) {
	if len(path) == 0 || path[0] == nil || !token.IsIdentifier(path[0].Name) {
		return
	}
	if n.members == nil {
		n.members = map[string]*synthField{}
	}
	name := path[0].Name
	m, ok := n.members[name]
	if !ok {
		m = &synthField{}
		n.members[name] = m
		n.order = append(n.order, name)
	}
	m.add(path[1:])
}

func (n *synthField) typ(pkg *types.Package) types.Type {
	var vars []*types.Var
	for _, name := range n.order {
		var t types.Type = types.Typ[types.String]
		if m := n.members[name]; len(m.order) > 0 {
			t = m.typ(pkg)
		}
		vars = append(vars, types.NewField(token.NoPos, pkg, name, t, false))
	}
	return types.NewStruct(vars, nil)
}

// A port's signature naming a type of the package called like a local
// (req) or a type of a package called like one (p.ID) renames that local
// in the generated code, which still parses, and names the types as the
// package sees them.
func TestPortTypesNamedLikeLocals(t *testing.T) {
	other := types.NewPackage("example.com/p", "p")
	idName := types.NewTypeName(token.NoPos, other, "ID", nil)
	types.NewNamed(idName, types.Typ[types.String], nil)
	pkg := types.NewPackage("example.com/shop", "shop")
	reqName := types.NewTypeName(token.NoPos, pkg, "req", nil)
	types.NewNamed(reqName, types.NewStruct(nil, nil), nil)
	pkg.Scope().Insert(reqName)
	state := types.NewTypeName(token.NoPos, pkg, "S", nil)
	types.NewNamed(state, types.NewStruct([]*types.Var{
		types.NewField(token.NoPos, pkg, "In", reqName.Type(), false),
		types.NewField(token.NoPos, pkg, "Out", types.NewSlice(idName.Type()), false),
	}, nil), nil)
	pkg.Scope().Insert(state)

	f, ds := flowfile.Load("x.flow", []byte("flow X {\n    state S\n    step A {\n        rpc svc \"Svc.Do\" (In) -> Out\n        irreversible\n    }\n}\n"), dsl.CheckOptions{})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	out, err := Generate(f, Options{Package: "shop", Types: pkg})
	if err != nil {
		t.Fatal(err)
	}
	src := string(out["x_flow.go"])
	for _, want := range []string{
		`"example.com/p"`,
		"SvcDo(ctx context.Context, req_ req) ([]p.ID, error)",
		"through p_.Caller.",
		"func (p_ XSvcCaller) SvcDo(ctx context.Context, req_ req) ([]p.ID, error) {",
		"return runtime.CallPort[[]p.ID](ctx, p_.Caller, \"svc\", \"Svc.Do\", req_)",
	} {
		if !strings.Contains(src, want) {
			t.Errorf("generated code lacks %q:\n%s", want, src)
		}
	}
	if _, err := parser.ParseFile(token.NewFileSet(), "x_flow.go", out["x_flow.go"], 0); err != nil {
		t.Error(err)
	}
}

// A condition that reads a member needs the Go types, to check each
// pointer on the way for nil: without them, or with a member the type
// lacks, Generate refuses the file rather than write code that panics or
// does not compile.
func TestGenerateMembersNeedTypes(t *testing.T) {
	src := "flow X {\n    state S\n    step A {\n        choose {\n            when Customer.Tier == \"gold\" -> B\n            otherwise -> B\n        }\n    }\n    step B {\n        irreversible\n    }\n}\n"
	f, ds := flowfile.Load("x.flow", []byte(src), dsl.CheckOptions{})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	if _, err := Generate(f, Options{Package: "p"}); err == nil || !strings.Contains(err.Error(), `condition on "Customer.Tier" reads a member of state field "Customer", and the generator needs its Go type`) {
		t.Errorf("without types: %v", err)
	}
	pkg := types.NewPackage("p", "p")
	state := types.NewTypeName(token.NoPos, pkg, "S", nil)
	types.NewNamed(state, types.NewStruct([]*types.Var{types.NewField(token.NoPos, pkg, "Customer", types.Typ[types.String], false)}, nil), nil)
	pkg.Scope().Insert(state)
	if _, err := Generate(f, Options{Package: "p", Types: pkg}); err == nil || !strings.Contains(err.Error(), `member "Tier" does not resolve in type string`) {
		t.Errorf("with a string field: %v", err)
	}
	if _, err := Generate(f, Options{Package: "p", Types: syntheticTypes(f)}); err != nil {
		t.Errorf("with a struct field: %v", err)
	}
}
