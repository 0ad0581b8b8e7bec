package dsl

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/internal/jsonenc"
	"github.com/flowgen/flowgen/runtime"
)

// Branch is one `when <condition> -> Target` line of a choose step.
type Branch struct {
	When   *Cond      `json:"if"`
	Target *Ident     `json:"target"`
	Range  diag.Range `json:"-"`
}

// CondOp is what a condition does: a comparison of a state field with a
// literal, a bool field alone (CondField), or a combination of conditions.
type CondOp string

const (
	CondEq    CondOp = "=="
	CondNe    CondOp = "!="
	CondLt    CondOp = "<"
	CondLe    CondOp = "<="
	CondGt    CondOp = ">"
	CondGe    CondOp = ">="
	CondField CondOp = "field" // a bool field alone: `when Express -> X`
	CondAnd   CondOp = "and"
	CondOr    CondOp = "or"
	CondNot   CondOp = "not"
)

// CompareOps are the comparison operators, in the order messages list them.
var CompareOps = []CondOp{CondEq, CondNe, CondLt, CondLe, CondGt, CondGe}

// IsCompare reports whether op compares a field with a literal.
func (op CondOp) IsCompare() bool {
	for _, c := range CompareOps {
		if op == c {
			return true
		}
	}
	return false
}

// Ordered reports whether op orders its operands (<, <=, >, >=), which a
// bool cannot be.
func (op CondOp) Ordered() bool { return op.IsCompare() && op != CondEq && op != CondNe }

// Cond is the condition of a choose branch, over the run's state: Field Op
// Value for a comparison, Field alone for CondField, Args for and/or (two
// or more) and not (one). In JSON a comparison is {"field": "Total",
// "op": ">=", "value": 100} (a duration: "duration": "5m" instead of
// "value"), a bool field alone {"field": "Express"}, and the combinations
// {"and": [...]}, {"or": [...]}, {"not": {...}}.
//
// Field is a field of the state; Members, when there are any, are the
// members read in it, one inside the other, as a Go selector reads them:
// Customer.Tier is Field Customer and Members [Tier] (in JSON "field":
// "Customer.Tier"). Field alone is what FieldRefs lists, since it is the
// state field the condition reads.
type Cond struct {
	Op      CondOp
	Field   *Ident
	Members []*Ident
	Value   *Literal
	Args    []*Cond
	Range   diag.Range
}

// PathSeparator separates a condition's field from its members, and each
// member from the next, in .flow and in JSON.
const PathSeparator = "."

// Path is what a comparison or a bool field reads, as .flow and JSON
// write it: the field, then its members, separated by dots
// ("Customer.Tier"); "" without a field.
func (c *Cond) Path() string {
	if c == nil || c.Field == nil {
		return ""
	}
	if len(c.Members) == 0 {
		return c.Field.Name
	}
	parts := []string{c.Field.Name}
	for _, m := range c.Members {
		parts = append(parts, m.String())
	}
	return strings.Join(parts, PathSeparator)
}

// PathTo is Path up to member i, excluded: the field alone for 0. It
// names what a member was looked up in, in messages.
func (c *Cond) PathTo(i int) string {
	return (&Cond{Field: c.Field, Members: c.Members[:i]}).Path()
}

// PathRange is where Path is written: from the field to its last member.
func (c *Cond) PathRange() diag.Range {
	if c == nil || c.Field == nil {
		return diag.Range{}
	}
	r := c.Field.Range
	if n := len(c.Members); n > 0 && c.Members[n-1] != nil && c.Members[n-1].Range.End.IsValid() {
		r.End = c.Members[n-1].Range.End
	}
	return r
}

// ParsePath splits a path as Path writes it into a field and its members,
// each at r (JSON has no position finer than the value's).
func ParsePath(path string, r diag.Range) (*Ident, []*Ident) {
	parts := strings.Split(path, PathSeparator)
	field := &Ident{Name: parts[0], Range: r}
	var members []*Ident
	for _, p := range parts[1:] {
		members = append(members, &Ident{Name: p, Range: r})
	}
	return field, members
}

// ValidNumber reports whether text, a condition's number, is within the
// range of float64: a number of a state field's Go type (gen compares the
// field with it; a JSON flow's condition compares it exactly, as written
// in decimal, compareDecimal). The
// one home of the rule: the .flow builder reports a number beyond it
// (invalid number), Check reports one in any model (condition), and fmt
// of a JSON form does not write one as .flow.
func ValidNumber(text string) bool {
	_, err := strconv.ParseFloat(text, 64)
	return err == nil
}

// LitKind is the type of a condition's literal.
type LitKind string

const (
	LitString   LitKind = "string"
	LitNumber   LitKind = "number"
	LitBool     LitKind = "bool"
	LitDuration LitKind = "duration"
)

// Literal is the literal a comparison compares its field with. Text is
// the value: a string's (unquoted), a number as written (a JSON number:
// "100", "-2.5"), "true" or "false", a duration in Go syntax ("90m").
type Literal struct {
	Kind  LitKind
	Text  string
	Range diag.Range
}

// String is the literal as .flow writes it.
func (l *Literal) String() string {
	if l == nil {
		return ""
	}
	if l.Kind == LitString {
		return strconv.Quote(l.Text)
	}
	return l.Text
}

// String is the condition as .flow writes it, with the parentheses its
// operators' precedence needs (not binds tighter than and, and than or),
// and around an and inside an or and a comparison under not (not (X > 1)),
// which precedence alone would not need: what diagrams and generated
// comments show, read without the rules.
func (c *Cond) String() string { return c.format(0) }

// precedence of a condition's operator as an operand: or 1, and 2, the
// rest (not, a comparison, a field) 3.
func (c *Cond) precedence() int {
	switch c.Op {
	case CondOr:
		return 1
	case CondAnd:
		return 2
	}
	return 3
}

func (c *Cond) format(outer int) string {
	if c == nil {
		return ""
	}
	var s string
	switch {
	case c.Op == CondField:
		s = c.Path()
	case c.Op.IsCompare():
		s = c.Path() + " " + string(c.Op) + " " + c.Value.String()
	case c.Op == CondNot:
		if len(c.Args) == 1 {
			a := c.Args[0]
			p := 3
			if a.Op.IsCompare() {
				// not X > 1 is not (X > 1) (a comparison is one operand
				// of not), but reads as (not X) > 1: bracketed, so a
				// reader needs no grammar.
				p = 4
			}
			s = "not " + a.format(p)
		}
	case c.Op == CondAnd || c.Op == CondOr:
		parts := make([]string, len(c.Args))
		for i, a := range c.Args {
			// Left-associative: a same-precedence operand is bracketed
			// only on the right, where it was bracketed to be written.
			p := c.precedence()
			if i > 0 {
				p++
			}
			if c.Op == CondOr && a.Op == CondAnd {
				// Bracketed though and binds tighter: a reader of a
				// diagram or a comment should not need the precedence
				// (A or (B and C), as an author who mixes them often
				// writes it).
				p = 3
			}
			parts[i] = a.format(p)
		}
		s = strings.Join(parts, " "+string(c.Op)+" ")
	}
	if c.precedence() < outer {
		return "(" + s + ")"
	}
	return s
}

// Fields calls fn for every comparison and bool field of c, in source
// order.
func (c *Cond) Fields(fn func(c *Cond)) {
	if c == nil {
		return
	}
	if c.Field != nil {
		fn(c)
	}
	for _, a := range c.Args {
		a.Fields(fn)
	}
}

func (c *Cond) MarshalJSON() ([]byte, error) {
	var v any
	switch {
	case c.Op == CondAnd || c.Op == CondOr:
		v = map[string][]*Cond{string(c.Op): c.Args}
	case c.Op == CondNot && len(c.Args) == 1:
		v = map[string]*Cond{string(c.Op): c.Args[0]}
	default:
		// Field, op, then the value: the order a comparison is read in.
		cmp := struct {
			Field    *string         `json:"field"`
			Op       CondOp          `json:"op,omitempty"`
			Value    json.RawMessage `json:"value,omitempty"`
			Duration string          `json:"duration,omitempty"`
		}{}
		if c.Field != nil {
			path := c.Path()
			cmp.Field = &path
		}
		if c.Op != CondField {
			cmp.Op = c.Op
		}
		if l := c.Value; l != nil && l.Kind == LitDuration {
			cmp.Duration = l.Text
		} else if l != nil {
			cmp.Value = json.RawMessage(l.jsonValue())
		}
		v = cmp
	}
	// No HTML escaping, as EncodeJSON: ">=" stays readable.
	return jsonenc.Marshal(v)
}

// jsonValue is the literal's JSON: a string, a number or a boolean.
func (l *Literal) jsonValue() string {
	switch l.Kind {
	case LitNumber, LitBool:
		return l.Text
	}
	b, _ := json.Marshal(l.Text)
	return string(b)
}

// ChoiceEdges returns where each outcome of a choose action goes, in
// order: each branch's (runtime.ChoiceOutcome), then otherwise's
// (runtime.OutcomeOtherwise). A branch without a target is left out.
func (a *Action) ChoiceEdges() []ChoiceEdge {
	var out []ChoiceEdge
	for i, b := range a.When {
		if b != nil && b.Target != nil {
			out = append(out, ChoiceEdge{Outcome: runtime.ChoiceOutcome(i), Target: b.Target, Branch: b})
		}
	}
	if a.Otherwise != nil {
		out = append(out, ChoiceEdge{Outcome: runtime.OutcomeOtherwise, Target: a.Otherwise})
	}
	return out
}

// ChoiceEdge is one outcome of a choose step: a branch's, or otherwise's
// (Branch nil).
type ChoiceEdge struct {
	Outcome string
	Target  *Ident
	Branch  *Branch
}
