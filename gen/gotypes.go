package gen

import (
	"fmt"
	"go/types"
	"strconv"

	"github.com/dave/jennifer/jen"

	"github.com/flowgen/flowgen/dsl"
)

// typeCode writes the Go type t, as the generated file's package (pkg)
// sees it: a type of pkg by its name, a type of another package qualified
// (jennifer adds the import; imports records the package's own name for
// it), composite types element by element. The typed service ports' method
// signatures are written with it. A type that JSON cannot carry, or that
// the generated file cannot name (an unexported type of another package),
// is an error; dsl.PortTypeProblem is the rule, which the Go package checks
// report at the field (TestTypeCodeAgreesWithPortTypeProblem keeps the
// two in step).
func typeCode(t types.Type, pkg *types.Package, imports map[string]string) (jen.Code, error) {
	switch t := t.(type) {
	case *types.Alias:
		return namedCode(t.Obj(), t.TypeArgs(), pkg, imports)
	case *types.Named:
		return namedCode(t.Obj(), t.TypeArgs(), pkg, imports)
	case *types.Basic:
		if t.Kind() == types.Invalid || t.Info()&types.IsUntyped != 0 {
			return nil, fmt.Errorf("type %s is not a type a field can have", t)
		}
		return jen.Id(t.Name()), nil
	case *types.Pointer:
		return elemCode(jen.Op("*"), t.Elem(), pkg, imports)
	case *types.Slice:
		return elemCode(jen.Index(), t.Elem(), pkg, imports)
	case *types.Array:
		return elemCode(jen.Index(jen.Lit(int(t.Len()))), t.Elem(), pkg, imports)
	case *types.Map:
		key, err := typeCode(t.Key(), pkg, imports)
		if err != nil {
			return nil, err
		}
		return elemCode(jen.Map(key), t.Elem(), pkg, imports)
	case *types.Struct:
		var fields []jen.Code
		for i := range t.NumFields() {
			f := t.Field(i)
			ft, err := typeCode(f.Type(), pkg, imports)
			if err != nil {
				return nil, err
			}
			field := jen.Add(ft)
			if !f.Embedded() {
				field = jen.Id(f.Name()).Add(ft)
			}
			if tag := t.Tag(i); tag != "" {
				field.Op(strconv.Quote(tag)) // a tag as an interpreted string: any content is safe
			}
			fields = append(fields, field)
		}
		return jen.Struct(fields...), nil
	case *types.Interface:
		if t.NumMethods() == 0 && t.IsMethodSet() {
			return jen.Any(), nil
		}
	}
	return nil, fmt.Errorf("type %s cannot travel as JSON in a service call", dsl.TypeString(t, pkg))
}

func elemCode(prefix *jen.Statement, elem types.Type, pkg *types.Package, imports map[string]string) (jen.Code, error) {
	e, err := typeCode(elem, pkg, imports)
	if err != nil {
		return nil, err
	}
	return prefix.Add(e), nil
}

// namedCode writes a named type or alias with its type arguments.
func namedCode(obj *types.TypeName, args *types.TypeList, pkg *types.Package, imports map[string]string) (jen.Code, error) {
	var code *jen.Statement
	switch p := obj.Pkg(); {
	case p == nil: // predeclared: error, comparable
		code = jen.Id(obj.Name())
	case pkg != nil && p.Path() == pkg.Path():
		code = jen.Id(obj.Name())
	case !obj.Exported():
		return nil, fmt.Errorf("type %s.%s is not exported, so the generated file cannot name it", p.Path(), obj.Name())
	default:
		imports[p.Path()] = p.Name()
		code = jen.Qual(p.Path(), obj.Name())
	}
	if args.Len() == 0 {
		return code, nil
	}
	var list []jen.Code
	for i := range args.Len() {
		a, err := typeCode(args.At(i), pkg, imports)
		if err != nil {
			return nil, err
		}
		list = append(list, a)
	}
	return code.Types(list...), nil
}
