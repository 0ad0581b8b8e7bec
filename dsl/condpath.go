package dsl

import "go/types"

// Selector is one field selection of the Go expression that reads a
// condition's member: its name, whether it selects an embedded field that
// Go would promote (the expression leaves it out, a nil check needs it),
// and whether the value it selects from is a pointer, which the generated
// code checks for nil first: a member behind a nil pointer reads as its
// zero value, as a missing or null member of a JSON state does (Eval).
type Selector struct {
	Name     string
	Index    int // of the field in its struct: a step of a selection JSONLoss reads
	Embedded bool
	Pointer  bool
}

// MemberProblem is why a member of a condition's path does not resolve in
// Go: the index of the member in Cond.Members, the type it was looked up
// in, and what is wrong.
type MemberProblem struct {
	Member int
	In     types.Type
	Kind   MemberProblemKind
	// Why and Hint are JSONLoss's, for MemberJSONDropped.
	Why, Hint string
}

// MemberProblemKind is what is wrong with a member of a condition's path.
type MemberProblemKind int

const (
	MemberNotStruct   MemberProblemKind = iota + 1 // In is not a struct, nor a pointer to one
	MemberMissing                                  // In has no field of that name
	MemberAmbiguous                                // promoted from two embedded fields at one depth
	MemberMethod                                   // a method, not a field
	MemberUnexported                               // unexported: JSON (snapshots, the engine) drops it
	MemberJSONDropped                              // JSON drops it (JSONLoss): MemberProblem.Why says why
	// reached through an unexported embedded field of another package
	// and then a pointer, which the generated code would have to name to
	// check it for nil
	MemberUnnameable
)

// CondSelectors resolves the members of condition c in ft, the Go type of
// its state field (dsl.FieldType), as a Go selector does: through one
// pointer at each step, and into embedded structs, by value or pointer.
// It returns the selections after the state field, embedded ones
// included, and the type of the last member (ft when c has no members);
// or the first member that does not resolve. It is the one home of these
// rules: gocheck reports the problem at the member's position, and gen
// writes the selections with a nil check for each pointer.
func CondSelectors(pkg *types.Package, ft types.Type, c *Cond) ([]Selector, types.Type, *MemberProblem) {
	var sels []Selector
	hidden := false // an embedded field pkg cannot name is on the way
	t := ft
	for i, m := range c.Members {
		in := t
		if p, ok := t.Underlying().(*types.Pointer); ok {
			in = p.Elem()
		}
		if _, ok := in.Underlying().(*types.Struct); !ok {
			return nil, nil, &MemberProblem{Member: i, In: t, Kind: MemberNotStruct}
		}
		obj, index, _ := types.LookupFieldOrMethod(t, true, pkg, m.Name)
		v, isVar := obj.(*types.Var)
		switch {
		case obj == nil && index != nil:
			return nil, nil, &MemberProblem{Member: i, In: in, Kind: MemberAmbiguous}
		case obj == nil:
			return nil, nil, &MemberProblem{Member: i, In: in, Kind: MemberMissing}
		case !isVar || !v.IsField():
			return nil, nil, &MemberProblem{Member: i, In: in, Kind: MemberMethod}
		case !v.Exported():
			return nil, nil, &MemberProblem{Member: i, In: in, Kind: MemberUnexported}
		}
		if why, hint := JSONLoss(t, index); why != "" {
			return nil, nil, &MemberProblem{Member: i, In: in, Kind: MemberJSONDropped, Why: why, Hint: hint}
		}
		for k, ix := range index {
			ptr := false
			if p, ok := t.Underlying().(*types.Pointer); ok {
				t, ptr = p.Elem(), true
			}
			st := t.Underlying().(*types.Struct) // LookupFieldOrMethod went through it
			f := st.Field(ix)
			if ptr && hidden {
				return nil, nil, &MemberProblem{Member: i, In: in, Kind: MemberUnnameable}
			}
			embedded := k < len(index)-1
			hidden = hidden || embedded && !f.Exported() && f.Pkg() != pkg
			sels = append(sels, Selector{Name: f.Name(), Index: ix, Embedded: embedded, Pointer: ptr})
			t = f.Type()
		}
	}
	return sels, t, nil
}
