package kinds

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"slices"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"

	"github.com/flowgen/flowgen/dsl"
)

const (
	module  = "github.com/flowgen/flowgen"
	dslPath = module + "/dsl"
)

// loadModule type-checks every package of the module from source, tests
// excluded.
func loadModule(t *testing.T) []*packages.Package {
	t.Helper()
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo,
	}
	pkgs, err := packages.Load(cfg, module+"/...")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		for _, e := range p.Errors {
			t.Errorf("%s: %v", p.PkgPath, e)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return pkgs
}

// isActionKind reports whether t is dsl.ActionKind.
func isActionKind(t types.Type) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == dslPath && n.Obj().Name() == "ActionKind"
}

func tableKinds() []string {
	var out []string
	for _, k := range dsl.Kinds() {
		out = append(out, string(k.Kind))
	}
	return out
}

// TestSwitchesOverKindsAreExhaustive finds every switch whose tag is a
// dsl.ActionKind (s.Kind(), a.Kind, a variable) in the module's non-test
// code and requires a case for every kind of dsl's table, or a default
// that is clearly an error. Add the missing case (CONTRIBUTING.md says
// what each stage does per kind), or, where the switch only picks out some
// kinds, ask the table (dsl.KindSpec) instead.
func TestSwitchesOverKindsAreExhaustive(t *testing.T) {
	pkgs := loadModule(t)
	kinds := tableKinds()
	found := 0
	for _, p := range pkgs {
		for _, f := range p.Syntax {
			for _, problem := range kindSwitches(p.Fset, f, p.TypesInfo, isActionKind, kinds, func() { found++ }) {
				t.Errorf("%s: %s", p.Fset.Position(problem.pos), problem.msg)
			}
		}
	}
	// Guard against a vacuous pass (a load that found no syntax, or a
	// type check that no longer recognises the tag): gen and the engine
	// each build a step per kind in such a switch.
	t.Logf("%d switches over dsl.ActionKind", found)
	if found < 2 {
		t.Errorf("found %d switches over dsl.ActionKind, want at least gen's newStep and the engine's compile", found)
	}
}

// TestKindConstantsHaveSpecs: every constant of type dsl.ActionKind that
// package dsl declares has an entry in the table (dsl.Kinds), and every
// entry a constant.
func TestKindConstantsHaveSpecs(t *testing.T) {
	var dslPkg *packages.Package
	for _, p := range loadModule(t) {
		if p.PkgPath == dslPath {
			dslPkg = p
		}
	}
	if dslPkg == nil {
		t.Fatal("package dsl not loaded")
	}
	var consts []string
	scope := dslPkg.Types.Scope()
	for _, name := range scope.Names() {
		c, ok := scope.Lookup(name).(*types.Const)
		if ok && isActionKind(c.Type()) {
			consts = append(consts, constant.StringVal(c.Val()))
		}
	}
	kinds := tableKinds()
	for _, c := range consts {
		if !slices.Contains(kinds, c) {
			t.Errorf("dsl declares kind %q, which has no entry in the table of dsl/kinds.go", c)
		}
	}
	for _, k := range kinds {
		if !slices.Contains(consts, k) {
			t.Errorf("the table of dsl/kinds.go has kind %q, which no dsl.ActionKind constant declares", k)
		}
	}
	if len(consts) == 0 {
		t.Error("found no dsl.ActionKind constants")
	}
}

// problem is what is wrong with a switch, and where.
type problem struct {
	pos token.Pos
	msg string
}

// kindSwitches returns a problem for each switch of f whose tag isKind
// and that misses one of kinds without a default that is clearly an error
// (see errorDefault); found is called for each such switch.
func kindSwitches(fset *token.FileSet, f *ast.File, info *types.Info, isKind func(types.Type) bool, kinds []string, found func()) []problem {
	var problems []problem
	ast.Inspect(f, func(n ast.Node) bool {
		sw, ok := n.(*ast.SwitchStmt)
		if !ok || sw.Tag == nil || !isKind(info.TypeOf(sw.Tag)) {
			return true
		}
		found()
		covered := map[string]bool{}
		var def *ast.CaseClause
		for _, st := range sw.Body.List {
			cc := st.(*ast.CaseClause)
			if cc.List == nil {
				def = cc
			}
			for _, e := range cc.List {
				tv := info.Types[e]
				if tv.Value == nil || tv.Value.Kind() != constant.String {
					problems = append(problems, problem{e.Pos(), fmt.Sprintf("case %s of a switch over dsl.ActionKind is not a constant, so this test cannot tell which kind it is", types.ExprString(e))})
					continue
				}
				covered[constant.StringVal(tv.Value)] = true
			}
		}
		var missing []string
		for _, k := range kinds {
			if !covered[k] {
				missing = append(missing, k)
			}
		}
		switch {
		case len(missing) == 0:
		case def == nil:
			problems = append(problems, problem{sw.Pos(), fmt.Sprintf("switch over dsl.ActionKind has no case for %s and no default: add the cases (a default that panics or returns an error is fine where a kind cannot reach the switch)", strings.Join(missing, ", "))})
		case !errorDefault(def, info):
			problems = append(problems, problem{sw.Pos(), fmt.Sprintf("switch over dsl.ActionKind has no case for %s, and its default (line %d) is not clearly an error: name every kind, and make the default panic or return an error", strings.Join(missing, ", "), fset.Position(def.Pos()).Line)})
		}
		return true
	})
	return problems
}

// errorDefault reports whether a default clause is clearly an error: its
// last statement is a call of the built-in panic, or a return with a
// result of a type that implements error other than nil.
func errorDefault(cc *ast.CaseClause, info *types.Info) bool {
	if len(cc.Body) == 0 {
		return false
	}
	errorType := types.Universe.Lookup("error").Type().Underlying().(*types.Interface)
	switch last := cc.Body[len(cc.Body)-1].(type) {
	case *ast.ExprStmt:
		call, ok := last.X.(*ast.CallExpr)
		if !ok {
			return false
		}
		id, ok := ast.Unparen(call.Fun).(*ast.Ident)
		if !ok {
			return false
		}
		_, builtin := info.Uses[id].(*types.Builtin)
		return builtin && id.Name == "panic"
	case *ast.ReturnStmt:
		for _, r := range last.Results {
			tv := info.Types[r]
			if tv.IsNil() || tv.Type == nil {
				continue
			}
			if types.Implements(tv.Type, errorType) {
				return true
			}
		}
	}
	return false
}

// TestKindSwitchesFindsMissingCases keeps the check honest on a small
// package of its own: which switches it accepts and which it reports.
func TestKindSwitchesFindsMissingCases(t *testing.T) {
	const src = `package p

type Kind string

const (
	A Kind = "a"
	B Kind = "b"
)

type failure struct{}

func (failure) Error() string { return "failure" }

func all(k Kind) int {
	switch k {
	case A:
		return 1
	case B:
		return 2
	}
	return 0
}

func missesB(k Kind) int {
	switch k {
	case A:
		return 1
	}
	return 0
}

func panics(k Kind) int {
	switch k {
	case A:
		return 1
	default:
		panic("unknown kind " + string(k))
	}
}

func returnsError(k Kind) (int, error) {
	switch kind := k; kind {
	case A:
		return 1, nil
	default:
		return 0, failure{}
	}
}

func quietDefault(k Kind) int {
	switch k {
	case A:
		return 1
	default:
		return 0
	}
}

func returnsNil(k Kind) error {
	switch k {
	case A:
	default:
		return nil
	}
	return nil
}

func notAKind(s string) int {
	switch s {
	case "a":
		return 1
	}
	return 0
}

func tagless(k Kind) int {
	switch {
	case k == A:
		return 1
	}
	return 0
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}, Uses: map[*ast.Ident]types.Object{}}
	pkg, err := (&types.Config{}).Check("p", fset, []*ast.File{f}, info)
	if err != nil {
		t.Fatal(err)
	}
	kindType := pkg.Scope().Lookup("Kind").Type()
	isKind := func(t types.Type) bool { return t != nil && types.Identical(t, kindType) }
	found := 0
	problems := kindSwitches(fset, f, info, isKind, []string{"a", "b"}, func() { found++ })
	if found != 6 {
		t.Errorf("found %d switches over Kind, want 6", found)
	}
	// The functions the problems are in.
	var funcs, msgs []string
	for _, p := range problems {
		msgs = append(msgs, fmt.Sprintf("%s: %s", fset.Position(p.pos), p.msg))
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Pos() <= p.pos && p.pos < fd.End() {
				funcs = append(funcs, fd.Name.Name)
			}
		}
	}
	if want := []string{"missesB", "quietDefault", "returnsNil"}; !slices.Equal(funcs, want) {
		t.Errorf("problems in %v, want %v:\n%s", funcs, want, strings.Join(msgs, "\n"))
	}
}
