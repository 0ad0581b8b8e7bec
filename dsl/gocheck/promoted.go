package gocheck

import (
	"fmt"
	"go/types"
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
)

// Promoted fields. The generated code selects a state field as s.Field,
// so a field promoted from an embedded struct is fine as Go resolves it,
// with two exceptions that checkField reports (code "state-field"):
//   - Go selects no field when the name is promoted at the same depth from
//     two embedded types (an ambiguous selector): the generated code would
//     not compile. The message names the embedded types, since "no field"
//     would be wrong and the did-you-mean misleading.
//   - A field promoted through an embedded pointer (type S struct{ *Inner })
//     compiles, but reading or writing s.Field panics while the pointer is
//     nil, which it is in the zero state a run starts from, and after a
//     resume whenever the snapshot had no value for it. Allocating it in
//     the generated code would hide the user's nil, and the JSON form
//     could not say which; rejecting it is the honest option: embed by
//     value, or declare the field in the state type itself.

// ambiguousField reports id, a name that Go finds in several embedded types
// of the state type T at one depth.
func ambiguousField(T types.Type, typeName, id string, r diag.Range) diag.Diagnostic {
	from := promotedFrom(T, id)
	// Fewer than two is not expected (LookupFieldOrMethod found two
	// ways): it names what there is.
	return diag.Errorf(r, "state-field", "state field %q is ambiguous: state type %q embeds %s, which each have a field or method %q at the same depth, so Go selects neither", id, typeName, diag.AndList(from), id).
		WithHint("declare %s in %s itself (it then hides the embedded ones), or rename it in all but one of the embedded types", id, typeName)
}

// promotedFrom lists the embedded fields of T through which name is found
// at the shallowest depth that has it, as their paths of embedded field
// names ("Inner", "Base.Inner") with the type when it is not the last name
// ("Inner (*Inner)", "Extra (ext.Meta)"). Like Go's own lookup, it visits
// each embedded type once per depth.
func promotedFrom(T types.Type, name string) []string {
	type node struct {
		t    types.Type
		path string // embedded field names from T, "" for T
		desc string // path, with the type when it says more
	}
	level := []node{{t: T}}
	seen := map[types.Type]bool{}
	for depth := 0; len(level) > 0 && depth <= maxEmbedDepth; depth++ {
		var found []string
		var next []node
		for _, n := range level {
			t := n.t
			if p, ok := t.Underlying().(*types.Pointer); ok {
				t = p.Elem()
			}
			if seen[t] {
				continue // shadowed by the same type at a shallower depth
			}
			if named, ok := types.Unalias(t).(*types.Named); ok && depth > 0 {
				for i := range named.NumMethods() {
					if named.Method(i).Name() == name {
						found = append(found, n.desc)
						break
					}
				}
			}
			s, ok := t.Underlying().(*types.Struct)
			if !ok {
				continue
			}
			for i := range s.NumFields() {
				f := s.Field(i)
				if f.Name() == name && depth > 0 {
					found = append(found, n.desc)
				}
				if f.Embedded() {
					path := f.Name()
					if n.path != "" {
						path = n.path + "." + path
					}
					desc := path
					if ts := dsl.TypeString(f.Type(), f.Pkg()); ts != f.Name() {
						desc = fmt.Sprintf("%s (%s)", path, ts)
					}
					next = append(next, node{t: f.Type(), path: path, desc: desc})
				}
			}
		}
		if len(found) > 0 {
			return found
		}
		// Marked only now: one type embedded twice at this depth (through
		// A.C and B.C) is two ways to the name, which Go calls ambiguous.
		for _, n := range level {
			seen[n.t] = true
			if p, ok := n.t.Underlying().(*types.Pointer); ok {
				seen[p.Elem()] = true
			}
		}
		level = next
	}
	return nil
}

// maxEmbedDepth bounds the walk of promotedFrom; Go's lookup has no bound,
// but state types nest a few levels, and the message only needs names.
const maxEmbedDepth = 8

// embeddedPointer returns the path ("Inner", "Base.Inner") and type of the
// first embedded pointer field on the way to the field that index (from
// LookupFieldOrMethod on T) selects, or "" when the way has none.
func embeddedPointer(T types.Type, index []int) (path, typ string) {
	t := T
	var names []string
	for k, i := range index {
		if p, ok := t.Underlying().(*types.Pointer); ok {
			t = p.Elem()
		}
		s, ok := t.Underlying().(*types.Struct)
		if !ok || i >= s.NumFields() {
			return "", ""
		}
		f := s.Field(i)
		names = append(names, f.Name())
		if _, ok := f.Type().Underlying().(*types.Pointer); ok && k < len(index)-1 {
			return strings.Join(names, "."), dsl.TypeString(f.Type(), f.Pkg())
		}
		t = f.Type()
	}
	return "", ""
}
