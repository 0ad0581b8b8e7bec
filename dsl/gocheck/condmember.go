package gocheck

import (
	"go/types"
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
)

// memberDiag is the diagnostic of a member of a condition's path that
// does not resolve (dsl.CondSelectors), at the member, naming it and the
// type it was looked up in. The codes are those of a state field with the
// same defect: state-field for a member that is not there (or not a
// field, or ambiguous, or of a value that has no members),
// state-field-unexported for one JSON drops, which the JSON engine and a
// resumed run would read as zero.
func memberDiag(pkg *types.Package, c *dsl.Cond, p *dsl.MemberProblem) diag.Diagnostic {
	m := c.Members[p.Member]
	at := m.Range
	if !at.Start.IsValid() {
		at = c.PathRange()
	}
	of := c.PathTo(p.Member)
	typ := dsl.TypeString(p.In, pkg)
	switch p.Kind {
	case dsl.MemberNotStruct:
		return diag.Errorf(at, "state-field", "condition %q reads member %q of %s, which has type %s: only a struct has members", c.Path(), m.Name, of, typ).
			WithHint("read a member of a struct field (or of a pointer to one); %s is compared itself: `when %s ...`", of, of)
	case dsl.MemberMissing:
		d := diag.Errorf(at, "state-field", "condition %q: %s (type %s) has no field %q", c.Path(), of, typ, m.Name)
		if h := fieldSuggestion(m.Name, p.In); h != "" {
			return d.WithHint("%s", h)
		}
		return d.WithHint("name an exported field of %s (promoted fields count)", typ)
	case dsl.MemberAmbiguous:
		return diag.Errorf(at, "state-field", "condition %q: field %q of %s (type %s) is promoted from two embedded types at one depth, so Go selects neither", c.Path(), m.Name, of, typ).
			WithHint("name the embedded field too: %s.<Embedded>.%s", of, m.Name)
	case dsl.MemberUnnameable:
		return diag.Errorf(at, "state-field", "condition %q: field %q of %s (type %s) is promoted through an unexported embedded field of another package and then a pointer, which the generated code cannot name to check it for nil", c.Path(), m.Name, of, typ).
			WithHint("embed that struct by value, or export the embedded type, or copy the member into a field of the state in a step before the choose")
	case dsl.MemberMethod:
		return diag.Errorf(at, "state-field", "condition %q: %q is a method of %s (type %s), not a field", c.Path(), m.Name, of, typ).
			WithHint("name a field of %s", typ)
	}
	why, hint := p.Why, p.Hint // dsl.MemberJSONDropped
	if p.Kind == dsl.MemberUnexported {
		why, hint = "unexported", dsl.ExportHint(m.Name)
	}
	return diag.Errorf(at, "state-field-unexported", "condition %q: field %q of %s (type %s) is %s: run snapshots and the JSON engine carry the state as JSON, which drops it, so it would read as zero there", c.Path(), m.Name, of, typ, why).
		WithHint("%s", strings.TrimSpace(hint))
}
