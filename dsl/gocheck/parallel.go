package gocheck

import (
	"go/types"
	"slices"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
)

// checkParallelWrites reports two branches of one parallel block whose
// writes name different fields of the state type T that share memory: an
// embedded struct (writes Inner) and a field promoted from it (writes X).
// The block copies each branch's fields into the run's state when the
// branch completes, so whichever copy comes last undoes the other, as
// with two writers of one field; dsl's check compares names only, and
// reports two writers of one name itself ("parallel-write").
func checkParallelWrites(pkg *types.Package, T types.Type, f *dsl.Flow) diag.List {
	type write struct {
		branch *dsl.Step
		field  *dsl.Ident
		index  []int // the field's path from T (types.LookupFieldOrMethod)
	}
	var ds diag.List
	for _, blk := range f.Steps {
		if blk == nil || !blk.IsBlock() {
			continue
		}
		var prev []write
		for _, b := range blk.Branches() {
			for _, w := range b.BranchWrites() {
				if w == nil {
					continue
				}
				obj, index, indirect := types.LookupFieldOrMethod(T, true, pkg, w.Name)
				if v, ok := obj.(*types.Var); !ok || !v.IsField() || indirect {
					continue // not a field to write: checkField reports it
				}
				for _, p := range prev {
					if p.branch == b || p.field.Name == w.Name {
						continue // one branch's own writes; one name is dsl's to report
					}
					var outer *dsl.Ident
					switch {
					case isPrefix(p.index, index):
						outer = p.field
					case isPrefix(index, p.index):
						outer = w
					default:
						continue
					}
					ds = append(ds, dsl.ParallelWriteError(blk, p.branch, p.field, b, w, outer))
					break
				}
				prev = append(prev, write{b, w, index})
			}
		}
	}
	return ds
}

// isPrefix reports whether the field path a leads to the field path b or
// to a struct that holds it.
func isPrefix(a, b []int) bool { return len(a) <= len(b) && slices.Equal(a, b[:len(a)]) }
