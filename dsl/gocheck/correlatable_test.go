package gocheck

import (
	"go/token"
	"go/types"
	"testing"

	"golang.org/x/tools/go/packages"
)

// TestCorrelatableMatchesRuntime keeps correlatable, which the checker
// applies to go/types, equal to the constraint the generated code must
// satisfy, runtime.Correlatable: for every typed basic type, a type
// defined on it and a few composite types, both must say the same.
func TestCorrelatableMatchesRuntime(t *testing.T) {
	pkgs, err := packages.Load(&packages.Config{Mode: packages.NeedName | packages.NeedTypes}, "github.com/flowgen/flowgen/runtime")
	if err != nil || len(pkgs) != 1 || pkgs[0].Types == nil || len(pkgs[0].Errors) > 0 {
		t.Fatalf("loading the runtime: %v %v", err, pkgs)
	}
	obj := pkgs[0].Types.Scope().Lookup("Correlatable")
	if obj == nil {
		t.Fatal("runtime.Correlatable not found")
	}
	constraint, ok := obj.Type().Underlying().(*types.Interface)
	if !ok {
		t.Fatalf("runtime.Correlatable is %s, want an interface", obj.Type())
	}
	var cases []types.Type
	for _, b := range types.Typ {
		if b.Kind() == types.Invalid || b.Info()&types.IsUntyped != 0 {
			continue // no field has these types
		}
		defined := types.NewNamed(types.NewTypeName(token.NoPos, nil, "D"+b.Name(), nil), b, nil)
		cases = append(cases, b, defined)
	}
	str := types.Typ[types.String]
	cases = append(cases, types.NewPointer(str), types.NewSlice(str), types.NewStruct(nil, nil), types.NewMap(str, str))
	yes := 0
	for _, c := range cases {
		want := types.Satisfies(c, constraint)
		if got := correlatable(c); got != want {
			t.Errorf("correlatable(%s) = %v, but runtime.Correlatable says %v", c, got, want)
		}
		if want {
			yes++
		}
	}
	if yes == 0 || yes == len(cases) {
		t.Errorf("%d of %d cases satisfy runtime.Correlatable: the test compares nothing", yes, len(cases))
	}
}
