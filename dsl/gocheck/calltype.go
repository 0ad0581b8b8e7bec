package gocheck

import (
	"go/types"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
)

// checkCalls checks the state fields of fl's calls against the state type
// of the flow each calls (code "call-type"): the field passed as the
// child's state and the one receiving its final state are of that type,
// which the generated code passes and assigns as they are. A field or a
// state type that does not exist is reported by checkState.
func checkCalls(pkg *types.Package, f *dsl.File, fl *dsl.Flow) diag.List {
	T := stateType(pkg, fl)
	if T == nil {
		return nil
	}
	var ds diag.List
	for _, cs := range fl.Calls() {
		callee := f.Callee(cs.Action)
		if callee == nil || callee.State == nil {
			continue // call-flow, or a callee without a state: the model's checks
		}
		C := stateType(pkg, callee)
		if C == nil {
			continue
		}
		for _, id := range []*dsl.Ident{cs.Action.Request, cs.Action.Response} {
			if id == nil {
				continue
			}
			obj, _, _ := types.LookupFieldOrMethod(T, true, pkg, id.Name)
			v, ok := obj.(*types.Var)
			if !ok || !v.IsField() || types.Identical(v.Type(), C) {
				continue
			}
			if b, ok := v.Type().Underlying().(*types.Basic); ok && b.Kind() == types.Invalid {
				continue // a type error already reported by the compiler
			}
			// Say which role the field plays: a rollback call receives
			// nothing, and a request and a response are fixed differently.
			role, fix := "the field in ( ) is the child run's initial state", "pass a field of that type"
			switch {
			case id == cs.Action.Response:
				role, fix = "the field after -> receives the child run's final state", "receive it in a field of that type"
			case cs.Rollback:
				role = "a rollback call's field in ( ) is the child run's initial state"
			}
			ds = append(ds, diag.Errorf(id.Range, "call-type", "field %q has type %s, but flow %s's state is %s", id.Name,
				dsl.TypeString(v.Type(), pkg), callee.Name, dsl.TypeString(C, pkg)).
				WithHint("%s, of type %s: %s, or declare %s as %s", role, dsl.TypeString(C, pkg), fix, id.Name, dsl.TypeString(C, pkg)))
		}
	}
	return ds
}

// stateType is fl's state type in pkg, when it is a struct type declared
// there; else nil (checkState reports why).
func stateType(pkg *types.Package, fl *dsl.Flow) types.Type {
	if fl.State == nil {
		return nil
	}
	tn, ok := pkg.Scope().Lookup(fl.State.Name).(*types.TypeName)
	if !ok {
		return nil
	}
	if _, ok := tn.Type().Underlying().(*types.Struct); !ok {
		return nil
	}
	return tn.Type()
}
