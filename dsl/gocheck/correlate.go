package gocheck

import (
	"fmt"
	"go/types"
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
)

// The correlation path against the payload's Go type (code
// "correlate-member", a warning): a correlated await that writes its
// payload to a state field (-> Field) compares the event's member at its
// path (correlate Field on path, or DefaultCorrelationPath). When the Go
// type of that field is a struct with no such member, the events the flow
// expects do not carry it as far as the type says, and the await would
// wait until its timeout: the defect of an "order_id" event awaited on the
// default "correlation_id". It is a warning, because an event may carry
// more than the type declares.
//
// Members are the JSON names encoding/json gives the fields (json tag,
// else field name; the fields of embedded structs promoted), compared
// exactly, as runtime.Correlation compares the event's members: a type
// whose field OrderID has no tag is sent as {"OrderID": ...}, which
// "orderid" does not match. Where the type cannot say (an interface, a
// map with string keys followed by its element, a type with its own
// UnmarshalJSON or UnmarshalText), nothing is reported.

// checkCorrelateMember checks ref when it is the payload field of a
// correlated await.
func checkCorrelateMember(pkg *types.Package, T types.Type, ref dsl.FieldRef) (diag.Diagnostic, bool) {
	s := ref.Step
	if ref.Role != dsl.RoleResponse || ref.InRollback || s == nil || s.Action == nil ||
		!s.Action.Spec().Has(dsl.FieldCorrelate) || s.Action.Correlate == nil {
		return diag.Diagnostic{}, false
	}
	a := s.Action
	path := a.CorrelationPath()
	if dsl.CorrelationPathProblem(path) != "" {
		return diag.Diagnostic{}, false // reported as correlate-path
	}
	obj, _, _ := types.LookupFieldOrMethod(T, true, pkg, ref.Field.Name)
	v, ok := obj.(*types.Var)
	if !ok || !v.IsField() {
		return diag.Diagnostic{}, false // reported as state-field
	}
	at, how := a.Correlate.Range, " (the default path)"
	if a.CorrelateOn != nil {
		at, how = a.CorrelateOn.Range, ""
	}
	t := v.Type()
	members := strings.Split(path, ".")
	for i, name := range members {
		next, found := jsonMember(t, name)
		switch found {
		case memberUnknown:
			return diag.Diagnostic{}, false
		case memberFound:
			t = next
			continue
		}
		where := "its payload type " + dsl.TypeString(v.Type(), pkg)
		if i > 0 {
			where = fmt.Sprintf("member %q (type %s) of its payload type %s", strings.Join(members[:i], "."), dsl.TypeString(t, pkg), dsl.TypeString(v.Type(), pkg))
		}
		what := fmt.Sprintf("has no member %q", name)
		if found == notObject {
			what = "is not a JSON object"
		}
		d := diag.Warnf(at, "correlate-member", "await in step %q correlates on %q%s, but %s %s",
			s.Name, path, how, where, what)
		if m := diag.DidYouMean(name, jsonMemberNames(t)); m != "" && found == memberMissing {
			return d.WithHint("did you mean %q? members are compared exactly, as the events carry them", m), true
		}
		if a.CorrelateOn == nil {
			return d.WithHint("name the payload member that carries the run's %s, such as `correlate %s on order_id`, or add a %q member to the type",
				a.Correlate.Name, a.Correlate.Name, dsl.DefaultCorrelationPath), true
		}
		return d.WithHint("members are JSON names (json tags, else field names); correct the path, or add the member to the type if the events carry it"), true
	}
	return diag.Diagnostic{}, false
}

// What jsonMember knows of a member.
const (
	memberFound   = iota
	memberMissing // t is a JSON object without it
	notObject     // t is not a JSON object
	memberUnknown // t does not say what its JSON holds
)

// jsonMember returns the type of t's JSON object member name, if t has
// it, and what t says about it.
func jsonMember(t types.Type, name string) (types.Type, int) {
	t = pointee(t)
	if customJSON(t) {
		return nil, memberUnknown
	}
	switch u := t.Underlying().(type) {
	case *types.Interface, *types.TypeParam:
		return nil, memberUnknown
	case *types.Map:
		if b, ok := u.Key().Underlying().(*types.Basic); ok && b.Info()&types.IsString != 0 {
			return u.Elem(), memberFound
		}
		return nil, memberUnknown // integer keys: not worth guessing
	case *types.Struct:
		for _, m := range structMembers(u) {
			if m.name == name {
				return m.typ, memberFound
			}
		}
		return nil, memberMissing
	case *types.Basic:
		if u.Kind() == types.Invalid {
			return nil, memberUnknown // a type error, reported by the compiler
		}
	}
	return nil, notObject
}

type member struct {
	name string
	typ  types.Type
}

// structMembers lists the JSON members of s, as encoding/json names them
// (dsl.JSONFields).
func structMembers(s *types.Struct) []member {
	var out []member
	for _, f := range dsl.JSONFields(s) {
		out = append(out, member{f.Name, f.Type})
	}
	return out
}

// jsonMemberNames lists the member names of struct type t, for
// did-you-mean.
func jsonMemberNames(t types.Type) []string {
	t = pointee(t)
	s, ok := t.Underlying().(*types.Struct)
	if !ok {
		return nil
	}
	var names []string
	for _, m := range structMembers(s) {
		names = append(names, m.name)
	}
	return names
}

// customJSON reports whether *t decodes itself from JSON or text
// (UnmarshalJSON or UnmarshalText), as encoding/json asks first.
func customJSON(t types.Type) bool {
	pt := types.NewPointer(t)
	for _, m := range []string{"UnmarshalJSON", "UnmarshalText"} {
		if obj, _, _ := types.LookupFieldOrMethod(pt, true, nil, m); obj != nil {
			if _, ok := obj.(*types.Func); ok {
				return true
			}
		}
	}
	return false
}
