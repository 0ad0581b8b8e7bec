package dsl

import (
	"reflect"
	"slices"

	"github.com/flowgen/flowgen/internal/jsontag"
)

// The JSON form of a parallel block is a step with "parallel" (Parallel's
// fields: "branches", a list of steps) instead of "action":
//
//	{"name": "Prepare", "parallel": {"branches": [{...}, {...}]}, "on": [...]}
//
// A block has only a name, a doc, its branches and its transitions; a
// branch is a step like any other, except that it cannot be a block.

var (
	parallelFields = jsonFields(reflect.TypeFor[Parallel]())
	// blockFields are the step fields a block may have: the JSON names
	// of Step's Name, Doc, Parallel and Transitions.
	blockFields = []string{stepKey("Name"), stepKey("Doc"), parallelKey, stepKey("Transitions")}
	parallelKey = stepKey("Parallel")
	// branchStepFields are the step fields a branch may have: all but
	// "parallel".
	branchStepFields = slices.DeleteFunc(slices.Clone(stepFields), func(k string) bool { return k == parallelKey })
)

// stepKey is the JSON name of Step's field name (its json tag's).
func stepKey(name string) string {
	f, _ := reflect.TypeFor[Step]().FieldByName(name)
	key, _ := jsontag.Parse(f.Tag)
	return key
}

// decodeBlock checks the keys of step object o and, when it is a parallel
// block (it has "parallel", and is not a branch), reads it into s and
// reports true. Otherwise the caller reads o as a step with an action.
func (d *jsonDecoder) decodeBlock(o *jobj, s *Step, branch bool) bool {
	pn, p := o.get(parallelKey)
	switch {
	case pn == nil:
		o.check()
		return false
	case branch:
		o.checkVariant(branchStepFields, "a branch of a parallel block", "a block cannot be nested")
		return false
	}
	o.checkVariant(blockFields, "a parallel block", "its branches have actions and policies")
	s.Name, _ = o.str("name", true)
	s.Doc, _ = o.str("doc", false)
	s.Parallel = &Parallel{Branches: []*Step{}}
	if po := d.object(pn, p, "parallel block", parallelFields); po != nil {
		po.check()
		po.array(parallelFields[0], true, func(n *jnode, path string) {
			if b := d.decodeStep(n, path, true); b != nil {
				s.Parallel.Branches = append(s.Parallel.Branches, b)
			}
		})
	}
	d.decodeTransitions(o, s)
	return true
}

// names reads the list of names at key (what names them, for messages).
func (d *jsonDecoder) names(o *jobj, key, what string) []*Ident {
	var out []*Ident
	o.array(key, false, func(n *jnode, path string) {
		if n.kind != jstring {
			d.errorf(path, "expected %s string, found %s", what, n.kind).
				hint("write each %s as a string: %q: [%s]", what, key, asString(n))
			return
		}
		out = append(out, &Ident{Name: n.str, Range: d.at(path)})
	})
	return out
}

// encodableStep is s as EncodeJSON writes it: a step without an action
// is a Go step, in a block's branches too; a block keeps no action.
func encodableStep(s *Step) *Step {
	switch {
	case s.IsBlock():
		sc := *s
		p := Parallel{Branches: make([]*Step, 0, len(s.Parallel.Branches))}
		for _, b := range s.Parallel.Branches {
			if b != nil {
				p.Branches = append(p.Branches, encodableStep(b))
			}
		}
		sc.Parallel = &p
		return &sc
	case s.Action == nil:
		sc := *s
		sc.Action = &Action{Kind: ActionGo}
		return &sc
	}
	return s
}
