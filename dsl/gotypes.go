package dsl

import "go/types"

// FieldType is the Go type of the field id of the state type T, as package
// pkg sees it (promoted fields count), or nil when id is nil or T has no
// such field. The Go package checks (dsl/gocheck) compare the fields of an
// endpoint's calls with it, and the generator writes the typed service
// ports' signatures with it; both get pkg from gocheck.Load (its Types).
func FieldType(pkg *types.Package, T types.Type, id *Ident) types.Type {
	if id == nil || T == nil {
		return nil
	}
	obj, _, _ := types.LookupFieldOrMethod(T, true, pkg, id.Name)
	v, ok := obj.(*types.Var)
	if !ok || !v.IsField() {
		return nil
	}
	return v.Type()
}
