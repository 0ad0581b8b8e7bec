package dsl

import "go/types"

// PortTypeInvalid is what PortTypeProblem says of a type that, or a part
// of which, did not type-check (an undefined name in the Go package).
const PortTypeInvalid = "a type that does not type-check"

// PortTypeProblem says why the generated code cannot declare a typed
// port's method (dsl/ports.go) with a request or response of Go type t,
// as package pkg sees it, or "" when it can. This is the rule of gen's
// writer of those signatures (typeCode), which the Go package checks
// report at the field, so that gen never fails without a position:
//
//   - a part of t that does not type-check: PortTypeInvalid;
//   - an interface literal with methods ("an interface literal with
//     methods"): JSON cannot decode into it;
//   - a channel or a function, itself ("a channel") or inside a composite
//     type ("with a channel in it"): JSON cannot carry it;
//   - an unexported type of another package, which the generated file
//     cannot name.
//
// A named type is written by its name, so only its type arguments are
// looked into; that also bounds the recursion, since only a named type
// can refer to itself.
func PortTypeProblem(t types.Type, pkg *types.Package) string {
	return portTypeProblem(t, pkg, 0)
}

func portTypeProblem(t types.Type, pkg *types.Package, depth int) string {
	what := func(noun string) string { return described(noun, "", depth) }
	switch t := t.(type) {
	case *types.Alias:
		return namedTypeProblem(t.Obj(), t.TypeArgs(), pkg, depth)
	case *types.Named:
		return namedTypeProblem(t.Obj(), t.TypeArgs(), pkg, depth)
	case *types.Basic:
		if t.Kind() == types.Invalid || t.Info()&types.IsUntyped != 0 {
			return PortTypeInvalid
		}
		return ""
	case *types.Pointer:
		return portTypeProblem(t.Elem(), pkg, depth+1)
	case *types.Slice:
		return portTypeProblem(t.Elem(), pkg, depth+1)
	case *types.Array:
		return portTypeProblem(t.Elem(), pkg, depth+1)
	case *types.Map:
		if why := portTypeProblem(t.Key(), pkg, depth+1); why != "" {
			return why
		}
		return portTypeProblem(t.Elem(), pkg, depth+1)
	case *types.Struct:
		for i := range t.NumFields() {
			if why := portTypeProblem(t.Field(i).Type(), pkg, depth+1); why != "" {
				return why
			}
		}
		return ""
	case *types.Interface:
		if t.NumMethods() == 0 && t.IsMethodSet() {
			return "" // any
		}
		return what("an interface literal with methods")
	case *types.Chan:
		return what("a channel")
	case *types.Signature:
		return what("a function")
	}
	return what("a type a field cannot have")
}

func namedTypeProblem(obj *types.TypeName, args *types.TypeList, pkg *types.Package, depth int) string {
	if p := obj.Pkg(); p != nil && (pkg == nil || p.Path() != pkg.Path()) && !obj.Exported() {
		return described("the unexported type "+p.Path()+"."+obj.Name(), ", which the generated file cannot name", depth)
	}
	for i := range args.Len() {
		if why := portTypeProblem(args.At(i), pkg, depth+1); why != "" {
			return why
		}
	}
	return ""
}

// described is noun, what a type is, or "with noun in it" for a part of it
// (depth > 0), then tail.
func described(noun, tail string, depth int) string {
	if depth > 0 {
		return "with " + noun + " in it" + tail
	}
	return noun + tail
}
