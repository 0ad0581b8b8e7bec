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

// TypeString is how a diagnostic prints Go type t, seen from package pkg:
// types.TypeString, except that anonymous structs lose their field tags,
// which it would print as escaped Go strings
// (struct{ID string "json:\"id\""}), unreadable in a message.
func TypeString(t types.Type, pkg *types.Package) string {
	return types.TypeString(untagged(t), types.RelativeTo(pkg))
}

// untagged is t with the tags of its anonymous structs dropped, however
// deep in its composite types (pointers, slices, arrays, maps, channels).
// A named type is printed by its name, so it is kept as it is; that also
// bounds the recursion, since only a named type can refer to itself.
func untagged(t types.Type) types.Type {
	switch u := t.(type) {
	case *types.Struct:
		fields := make([]*types.Var, u.NumFields())
		for i := range fields {
			f := u.Field(i)
			fields[i] = types.NewField(f.Pos(), f.Pkg(), f.Name(), untagged(f.Type()), f.Embedded())
		}
		return types.NewStruct(fields, nil)
	case *types.Pointer:
		return types.NewPointer(untagged(u.Elem()))
	case *types.Slice:
		return types.NewSlice(untagged(u.Elem()))
	case *types.Array:
		return types.NewArray(untagged(u.Elem()), u.Len())
	case *types.Map:
		return types.NewMap(untagged(u.Key()), untagged(u.Elem()))
	case *types.Chan:
		return types.NewChan(u.Dir(), untagged(u.Elem()))
	}
	return t
}
