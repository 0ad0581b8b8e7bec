package dsl

import (
	"cmp"
	"fmt"
	"go/types"
	"reflect"
	"slices"
	"strings"

	"github.com/flowgen/flowgen/internal/ident"
	"github.com/flowgen/flowgen/internal/jsontag"
)

// JSONField is a member that encoding/json writes and reads for a struct
// type: its name, the Go selection that reaches its field (the indices of
// reflect.Type.FieldByIndex and types.LookupFieldOrMethod), the field's
// type, and whether a json tag gave the name.
type JSONField struct {
	Name   string
	Index  []int
	Type   types.Type
	Tagged bool
}

// JSONFields are the members encoding/json carries for struct type t (or
// a pointer to one), sorted by name: its exported fields and those its
// untagged embedded structs promote, as its typeFields computes them from
// reflect, here from go/types. A json tag names a field (an invalid name
// is ignored) and `json:"-"` drops it; of the fields that share a name, the
// shallowest wins, a tagged one before an untagged one at its depth, and
// two that tie both vanish; a struct type embedded twice at one depth is
// dropped, and one met again deeper is not walked again. nil for a type
// that is not a struct. It is the one home of these rules: the checks of
// the state type (dsl/gocheck) and of a condition's members
// (CondSelectors) ask it what a run's snapshot keeps.
func JSONFields(t types.Type) []JSONField {
	return dominantJSONFields(jsonCandidates(t))
}

// jsonCandidates are the fields encoding/json considers for struct type t
// before it settles which of those that share a name wins, sorted by name,
// depth, tag and index; a field of a struct type embedded twice at one
// depth is listed twice, so that it ties with itself.
func jsonCandidates(t types.Type) []JSONField {
	st := structOf(t)
	if st == nil {
		return nil
	}
	type embedded struct {
		st    *types.Struct
		typ   types.Type
		index []int
	}
	var fields []JSONField
	var visited []types.Type
	current, next := []embedded(nil), []embedded{{st, t, nil}}
	var count, nextCount []typeCount
	for len(next) > 0 {
		current, next = next, nil
		count, nextCount = nextCount, nil
		for _, e := range current {
			if slices.ContainsFunc(visited, func(v types.Type) bool { return types.Identical(v, e.typ) }) {
				continue
			}
			visited = append(visited, e.typ)
			for i := range e.st.NumFields() {
				sf := e.st.Field(i)
				if sf.Embedded() {
					if !sf.Exported() && structOf(sf.Type()) == nil {
						continue // an unexported embedded type JSON cannot look into
					}
				} else if !sf.Exported() {
					continue
				}
				name, omitted := jsontag.Parse(reflect.StructTag(e.st.Tag(i)))
				if omitted {
					continue
				}
				index := append(slices.Clip(e.index), i)
				ft := sf.Type()
				if p, ok := types.Unalias(ft).(*types.Pointer); ok {
					ft = p.Elem() // an unnamed pointer is followed
				}
				fst, isStruct := ft.Underlying().(*types.Struct)
				if name != "" || !sf.Embedded() || !isStruct {
					f := JSONField{Name: cmp.Or(name, sf.Name()), Index: index, Type: sf.Type(), Tagged: name != ""}
					fields = append(fields, f)
					if countOf(count, e.typ) > 1 {
						fields = append(fields, f) // a twin, so that it ties
					}
					continue
				}
				if bumpCount(&nextCount, ft) == 1 {
					next = append(next, embedded{fst, ft, index})
				}
			}
		}
	}
	slices.SortStableFunc(fields, func(a, b JSONField) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		if c := cmp.Compare(len(a.Index), len(b.Index)); c != 0 {
			return c
		}
		if a.Tagged != b.Tagged {
			if a.Tagged {
				return -1
			}
			return 1
		}
		return slices.Compare(a.Index, b.Index)
	})
	return fields
}

type typeCount struct {
	t types.Type
	n int
}

func countOf(counts []typeCount, t types.Type) int {
	for _, c := range counts {
		if types.Identical(c.t, t) {
			return c.n
		}
	}
	return 0
}

func bumpCount(counts *[]typeCount, t types.Type) int {
	for i := range *counts {
		if types.Identical((*counts)[i].t, t) {
			(*counts)[i].n++
			return (*counts)[i].n
		}
	}
	*counts = append(*counts, typeCount{t, 1})
	return 1
}

// dominantJSONFields keeps, of each run of sorted candidates that share a
// name, the first, unless the second is as deep and as tagged (a tie: JSON
// keeps neither).
func dominantJSONFields(cands []JSONField) []JSONField {
	var out []JSONField
	for i := 0; i < len(cands); {
		j := i + 1
		for j < len(cands) && cands[j].Name == cands[i].Name {
			j++
		}
		if j-i == 1 || len(cands[i].Index) != len(cands[i+1].Index) || cands[i].Tagged != cands[i+1].Tagged {
			out = append(out, cands[i])
		}
		i = j
	}
	return out
}

// structOf is the struct type t is, or points to; nil for another type.
func structOf(t types.Type) *types.Struct {
	if p, ok := t.Underlying().(*types.Pointer); ok {
		t = p.Elem()
	}
	st, _ := t.Underlying().(*types.Struct)
	return st
}

// JSONLoss says why encoding/json leaves out of a run's snapshot the field
// of struct type T that the Go selection index reaches (as
// types.LookupFieldOrMethod returns it): a phrase that follows "is"
// ("unexported", "tagged `json:\"-\"`", "hidden from JSON by ..."), and a
// hint; "" when JSON carries the field, whole. An embedded struct JSON
// inlines is carried when each of its own members is. A selection that
// does not fit T is not JSON's to judge: "".
func JSONLoss(T types.Type, index []int) (why, hint string) {
	return jsonLoss(T, index, 0)
}

func jsonLoss(T types.Type, index []int, depth int) (why, hint string) {
	st := structOf(T)
	if st == nil || len(index) == 0 || depth > 16 {
		return "", ""
	}
	if method, at, own := JSONCodec(T); own {
		return "", "" // T's own encoding: not the checks' to judge
	} else if method != "" {
		if len(index) >= len(at) && slices.Equal(index[:len(at)], at) {
			return "", "" // the embedded value's own encoding
		}
		qual := func(p *types.Package) string { return p.Name() }
		if n, ok := types.Unalias(T).(*types.Named); ok {
			qual = types.RelativeTo(n.Obj().Pkg())
		}
		name := types.TypeString(T, qual)
		embedded := fieldAt(T, at)
		return fmt.Sprintf("left out of the JSON of %s, which promotes %s from its embedded %s: encoding/json calls it for the whole %s, and it sees only %s", name, method, embedded.Name(), name, embedded.Name()),
			fmt.Sprintf("name the embedded field (`%s %s`), or declare %s on %s itself", embedded.Name(), types.TypeString(embedded.Type(), qual), method, name)
	}
	cands := jsonCandidates(T)
	fields := dominantJSONFields(cands)
	for _, f := range fields {
		switch {
		case slices.Equal(f.Index, index):
			return "", ""
		case len(f.Index) < len(index) && slices.Equal(f.Index, index[:len(f.Index)]):
			// An embedded struct JSON writes as an object of its own
			// (it is tagged with a name): the rest is its members'.
			return jsonLoss(f.Type, index[len(f.Index):], depth+1)
		}
	}
	// Walk the selection: the first field on it that JSON drops.
	t := T
	var path []string
	inlined := false // the selected field is a struct JSON inlines
	for k, i := range index {
		s := structOf(t)
		if s == nil || i >= s.NumFields() {
			return "", ""
		}
		sf := s.Field(i)
		path = append(path, sf.Name())
		at := strings.Join(path, ".")
		name, omitted := jsontag.Parse(reflect.StructTag(s.Tag(i)))
		if k == len(index)-1 {
			inlined = sf.Embedded() && name == "" && !omitted && structOf(sf.Type()) != nil
			switch {
			case omitted:
				return "tagged `json:\"-\"`", "remove the `json:\"-\"` tag"
			case !sf.Exported() && !(sf.Embedded() && structOf(sf.Type()) != nil):
				return "unexported", ExportHint(sf.Name())
			}
			t = sf.Type()
			break
		}
		if omitted {
			return fmt.Sprintf("promoted from %s, which is tagged `json:\"-\"`", at),
				fmt.Sprintf("remove the `json:\"-\"` tag of %s, or move the field out of it", at)
		}
		if prefix := index[:k+1]; slices.ContainsFunc(cands, func(f JSONField) bool { return slices.Equal(f.Index, prefix) }) {
			// A tagged embedded struct, an object of its own, that JSON
			// drops whole.
			if w, h := jsonLoss(T, prefix, depth+1); w != "" {
				return fmt.Sprintf("promoted from %s, which is %s", at, w), h
			}
		}
		t = sf.Type()
	}
	if inlined {
		// A whole struct that JSON inlines: carried when each member is.
		for _, f := range JSONFields(t) {
			full := append(slices.Clip(index), f.Index...)
			if w, h := jsonLoss(T, full, depth+1); w != "" {
				return fmt.Sprintf("an embedded struct whose field %s is %s", GoPath(t, f.Index), w), h
			}
		}
		return "", ""
	}
	// A name two fields share.
	i := slices.IndexFunc(cands, func(f JSONField) bool { return slices.Equal(f.Index, index) })
	if i < 0 {
		return "left out by encoding/json, which reads a struct type embedded at several depths only at the shallowest, and drops one embedded twice at one depth",
			"embed the struct once"
	}
	c := cands[i]
	rename := "give one of them another JSON name, with a json tag"
	for _, f := range fields {
		if f.Name == c.Name {
			return fmt.Sprintf("hidden from JSON by %s, whose JSON name is also %q", GoPath(T, f.Index), c.Name), rename
		}
	}
	for _, f := range cands {
		if f.Name == c.Name && !slices.Equal(f.Index, c.Index) {
			return fmt.Sprintf("dropped by JSON, and so is %s: both have the JSON name %q at one depth", GoPath(T, f.Index), c.Name), rename
		}
	}
	return fmt.Sprintf("dropped by JSON: the struct type that declares it is embedded twice at one depth, so its JSON name %q is there twice", c.Name),
		"embed the struct once"
}

// JSONCodec says whether struct type T (or a pointer to one) encodes or
// decodes itself, as encoding/json asks first: the first of MarshalJSON,
// UnmarshalJSON, MarshalText and UnmarshalText that its pointer has, and
// the Go selection of the embedded field it is promoted from, or own when
// T declares it. A promoted one sees only that field's value, so JSON
// carries none of T's other fields. "" when there is none.
func JSONCodec(T types.Type) (method string, index []int, own bool) {
	if p, ok := T.Underlying().(*types.Pointer); ok {
		T = p.Elem()
	}
	for _, m := range []string{"MarshalJSON", "UnmarshalJSON", "MarshalText", "UnmarshalText"} {
		obj, idx, _ := types.LookupFieldOrMethod(types.NewPointer(T), true, nil, m)
		if _, ok := obj.(*types.Func); ok {
			return m, idx[:len(idx)-1], len(idx) == 1
		}
	}
	return "", nil, false
}

// fieldAt is the field of struct type t that the non-empty index selects.
func fieldAt(t types.Type, index []int) *types.Var {
	var f *types.Var
	for _, i := range index {
		f = structOf(t).Field(i)
		t = f.Type()
	}
	return f
}

// GoPath is the Go selection index in struct type t, with the names of the
// fields it goes through: "Order.ID".
func GoPath(t types.Type, index []int) string {
	var names []string
	for _, i := range index {
		s := structOf(t)
		if s == nil || i >= s.NumFields() {
			break
		}
		names = append(names, s.Field(i).Name())
		t = s.Field(i).Type()
	}
	return strings.Join(names, ".")
}

// ExportHint is the hint for an unexported field a flow names, which run
// snapshots (JSON) drop: the exported spelling when the name has one
// ("_count" -> "Count"), else how to export it.
func ExportHint(name string) string {
	if s := ident.Exported(name); s != "" {
		return fmt.Sprintf("export the field, for example as %q", s)
	}
	return "export the field: start its name with an upper-case letter"
}
