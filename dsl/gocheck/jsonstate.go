package gocheck

import (
	"go/types"
	"reflect"
	"slices"
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/internal/jsontag"
)

// checkStateJSON reports the fields of f's state type that do not cross
// JSON (code "state-json"). A run's state is JSON in every event of its
// history, so a field JSON cannot encode fails every run as it starts, on
// either target (an error; a field the flow names is checkField's to
// report, at its use). On the Temporal target every step is moreover an
// activity whose input and result are the state as JSON, so a field JSON
// drops (unexported, tagged `json:"-"`, or hidden by another field's JSON
// name: dsl.JSONLoss) is zero in every step after the one that set it (a
// warning: it may be scratch space of one step); on the runtime target
// only a resumed run loses it, and only the fields the flow names are
// checked (state-field-unexported). The state's own fields are
// checked, with those of an embedded struct, which JSON promotes; a
// struct-typed field's own fields are not.
func checkStateJSON(pkg *types.Package, f *dsl.Flow, target string) diag.List {
	tn, ok := pkg.Scope().Lookup(f.State.Name).(*types.TypeName)
	if !ok {
		return nil // checkState reports it
	}
	st, ok := tn.Type().Underlying().(*types.Struct)
	if !ok {
		return nil
	}
	// One diagnostic per kind, naming every field: the command shows one
	// diagnostic per line (diag.List.Normalize), and all are on the state
	// line.
	named := map[string]bool{}
	for _, ref := range f.FieldRefs() {
		if ref.Field != nil {
			named[ref.Field.Name] = true
		}
	}
	var dropped, unencoded, undecoded []string
	// The walk lists the state's Go fields, descending into the embedded
	// structs JSON inlines; whether JSON keeps one is dsl.JSONLoss's to
	// say (a tag, a name another field takes, two embedded fields that
	// tie), the one home of encoding/json's rules.
	var walk func(st *types.Struct, index []int, depth int)
	walk = func(st *types.Struct, index []int, depth int) {
		for i := range st.NumFields() {
			fd := st.Field(i)
			at := append(slices.Clip(index), i)
			tag, omitted := jsontag.Parse(reflect.StructTag(st.Tag(i)))
			if fd.Embedded() && tag == "" && !omitted && depth < 8 {
				t := fd.Type()
				if p, isPtr := t.Underlying().(*types.Pointer); isPtr {
					t = p.Elem()
				}
				if inner, isStruct := t.Underlying().(*types.Struct); isStruct {
					walk(inner, at, depth+1) // JSON promotes its fields, an unexported type's too
					continue
				}
			}
			if why, _ := dsl.JSONLoss(tn.Type(), at); why != "" {
				dropped = append(dropped, fd.Name()+" ("+why+")")
			} else if what := unencodable(fd.Type()); what != "" && !named[fd.Name()] {
				unencoded = append(unencoded, fd.Name()+" ("+what+")")
			} else if path, what := undecodable(fd.Type()); what != "" {
				undecoded = append(undecoded, fd.Name()+path+" ("+what+")")
			}
		}
	}
	walk(st, nil, 0)
	var ds diag.List
	method, at, own := dsl.JSONCodec(tn.Type())
	promotedCodec := method != "" && !own
	if promotedCodec {
		// A promoted codec sees only its embedded field: the others are
		// lost in every snapshot, whichever the flow names.
		var lost []string
		hint := ""
		for _, jf := range dsl.JSONFields(tn.Type()) {
			if len(jf.Index) < len(at) || !slices.Equal(jf.Index[:len(at)], at) {
				if lost = append(lost, jf.Name); len(lost) == 1 {
					_, hint = dsl.JSONLoss(tn.Type(), jf.Index) // the codec's hint, the same for each
				}
			}
		}
		if len(lost) > 0 {
			ds = append(ds, diag.Errorf(f.State.Range, "state-json", "state type %s promotes %s from an embedded field, so encoding/json writes and reads a run's state as that field alone: %s %s lost in every snapshot, and a resumed run sees them zero", f.State.Name, method, plural(len(lost), "field", "fields"), strings.Join(lost, ", ")+plural(len(lost), " is", " are")).
				WithHint("%s", hint))
		}
	}
	if d, ok := unsettablePointer(pkg, tn.Type(), f); ok {
		ds = append(ds, d)
	}
	if len(unencoded) > 0 {
		ds = append(ds, diag.Errorf(f.State.Range, "state-json", "state type %s has %s that JSON cannot encode, %s: a run's state is JSON in its history (and on Temporal between its steps), so no run could start", f.State.Name, plural(len(unencoded), "a field", "fields"), strings.Join(unencoded, ", ")).
			WithHint("keep them out of the state (a dependency of the steps belongs in the handlers value)"))
	}
	// A state type that decodes itself decides how its fields are read.
	if len(undecoded) > 0 && method == "" {
		ds = append(ds, diag.Errorf(f.State.Range, "state-json", "state type %s has %s that JSON cannot decode, %s: encoding/json writes the value such a field holds but cannot read it back into an interface with methods, so a run whose snapshot holds one cannot resume (and on Temporal no step after the one that sets it can run)", f.State.Name, plural(len(undecoded), "a field", "fields"), strings.Join(undecoded, ", ")).
			WithHint("hold a concrete type (an error's text as a string), or keep it out of the state (a dependency of the steps belongs in the handlers value)"))
	}
	// Under a promoted codec the error above names what is lost.
	if len(dropped) > 0 && target == dsl.TargetTemporal && !promotedCodec {
		ds = append(ds, diag.Warnf(f.State.Range, "state-json", "state type %s has %s that JSON drops, %s: on Temporal the state crosses JSON between steps, so each step after the one that sets one sees it zero", f.State.Name, plural(len(dropped), "a field", "fields"), strings.Join(dropped, ", ")).
			WithHint("export them (without the tag), or keep them out of the state"))
	}
	return ds
}

// undecodable says where and why encoding/json cannot decode a non-null
// value into t, or "": t is, holds (as a pointer, a slice's, an array's
// or a map's element, or as a member of a struct, at any depth: path is
// the Go names down to it, ".Order.Err") or is an interface type with
// methods (error, io.Reader), which it cannot choose a concrete type for
// ("cannot unmarshal object into Go value of type error"), unless a type
// on the way decodes itself (customJSON). The empty interface decodes (as
// a map, a slice, a string...).
func undecodable(t types.Type) (path, why string) {
	return undecodableIn(t, map[types.Type]bool{})
}

// undecodableIn is undecodable, walking each struct type once (seen): a
// struct can hold itself through a pointer or a slice.
func undecodableIn(t types.Type, seen map[types.Type]bool) (path, why string) {
	for range 8 { // a type can be its own element (type L []L)
		if customJSON(t) { // a pointer to an interface has no methods: an interface never decodes itself
			return "", ""
		}
		switch u := t.Underlying().(type) {
		case *types.Interface:
			if u.NumMethods() > 0 {
				return "", "an interface with methods, " + types.TypeString(t, (*types.Package).Name)
			}
			return "", ""
		case *types.Pointer:
			t = u.Elem()
		case *types.Slice:
			t = u.Elem()
		case *types.Array:
			t = u.Elem()
		case *types.Map:
			t = u.Elem()
		case *types.Struct:
			if seen[t] {
				return "", ""
			}
			seen[t] = true
			// The members JSON carries (dsl.JSONFields, the one home of
			// its field rules), named as Go names them (dsl.GoPath).
			for _, jf := range dsl.JSONFields(t) {
				if p, w := undecodableIn(jf.Type, seen); w != "" {
					return "." + dsl.GoPath(t, jf.Index) + p, w
				}
			}
			return "", ""
		default:
			return "", ""
		}
	}
	return "", ""
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// unsettablePointer reports the members of state type T that JSON reaches
// through an embedded pointer to an unexported struct type (`*inner`):
// encoding/json writes them when the pointer is set, but cannot allocate
// the pointer when it decodes them into a new state ("cannot set embedded
// pointer to unexported struct"), so a run whose snapshot holds them
// cannot resume.
func unsettablePointer(pkg *types.Package, T types.Type, f *dsl.Flow) (diag.Diagnostic, bool) {
	var members []string
	var via *types.Var
	for _, jf := range dsl.JSONFields(T) {
		t := T
		for _, i := range jf.Index[:len(jf.Index)-1] {
			st, ok := pointee(t).Underlying().(*types.Struct)
			if !ok {
				break
			}
			fd := st.Field(i)
			if _, isPtr := fd.Type().Underlying().(*types.Pointer); isPtr && fd.Embedded() && !fd.Exported() {
				members = append(members, jf.Name)
				if via == nil {
					via = fd
				}
				break
			}
			t = fd.Type()
		}
	}
	if via == nil {
		return diag.Diagnostic{}, false
	}
	typ := dsl.TypeString(via.Type(), pkg)
	return diag.Errorf(f.State.Range, "state-json", "state type %s reaches %s through %s, an embedded pointer to an unexported struct type: encoding/json writes them when it is set, but cannot set it when it decodes them, so a run whose snapshot holds them cannot resume", f.State.Name, strings.Join(members, ", "), typ).
		WithHint("embed %s by value, or export its type", strings.TrimPrefix(typ, "*")), true
}
