package dsl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/internal/jsonpath"
	"github.com/flowgen/flowgen/internal/jsontag"
)

// The JSON form is the model's own encoding (the json tags in model.go),
// with "version": FormatVersion first. EncodeJSON writes it; DecodeJSON reads
// it strictly: unknown fields, duplicate keys, wrong types, missing required
// fields, fields that do not belong to the action or trigger kind, bad
// durations and other versions are all errors, each positioned by the JSON
// path of the offending value ("$.flows[0].steps[2].timeout"). Syntax errors
// have no path yet, so they are positioned by line and column instead.
//
// Decoding reads the document into a small ordered tree (jsontree.go,
// keeping duplicate keys, which encoding/json would silently merge) and then
// walks it with the path in hand (jsonobj.go reads one object's members), so
// every path is exact.

// EncodeJSON returns the JSON form of f: indented with two spaces, fields in
// a fixed order, no HTML escaping ("->" stays readable), ending in a
// newline. The same model always gives the same bytes. Nil entries in
// Flows and Steps are skipped, a step without an action is written as a Go
// step, and empty lists are written as [] rather than null.
func EncodeJSON(f *File) ([]byte, error) {
	if f == nil {
		return nil, errors.New("dsl: EncodeJSON of a nil file")
	}
	out := *f
	out.Version = FormatVersion
	out.Flows = make([]*Flow, 0, len(f.Flows))
	for _, fl := range f.Flows {
		if fl == nil {
			continue
		}
		c := *fl
		c.Steps = make([]*Step, 0, len(fl.Steps))
		for _, s := range fl.Steps {
			if s != nil {
				c.Steps = append(c.Steps, encodableStep(s))
			}
		}
		out.Flows = append(out.Flows, &c)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&out); err != nil {
		return nil, fmt.Errorf("dsl: encoding %s as JSON: %w", f.Name, err)
	}
	return b.Bytes(), nil
}

// IsJSONFile reports whether a file of this name holds the JSON form (and
// not .flow text): its extension is .json, in any case.
func IsJSONFile(name string) bool { return strings.EqualFold(filepath.Ext(name), ".json") }

// DecodeJSON reads the JSON form. It returns the model even when there are
// errors (with the parts that could not be decoded left out), so that
// callers may still report more; callers must not generate code from a
// model that came with errors.
//
// A leading byte order mark is not part of the document, as in a .flow
// file (diag.TextStart): reading starts after it, columns of line 1 count
// from there, and offsets are those of data.
func DecodeJSON(filename string, data []byte) (*File, diag.List) {
	d := &jsonDecoder{file: filename}
	start := diag.TextStart(data)
	root, err := parseJSONTree(data[start:])
	if err != nil {
		return nil, diag.List{d.syntaxError(data, start, err)}
	}
	f := d.decodeFile(root)
	if f != nil {
		f.Name = filename
	}
	return f, d.ds
}

// The fields each JSON object may have are the json tags of its model
// struct, read once here: a field added to the model is accepted by
// DecodeJSON as soon as EncodeJSON writes it, and no list can forget it.
var (
	fileFields        = jsonFields(reflect.TypeFor[File]())
	flowFields        = jsonFields(reflect.TypeFor[Flow]())
	triggerFields     = jsonFields(reflect.TypeFor[Trigger]())
	retryFields       = jsonFields(reflect.TypeFor[Retry]())
	stepFields        = jsonFields(reflect.TypeFor[Step]())
	actionFields      = jsonFields(reflect.TypeFor[Action]())
	rollbackFields    = jsonFields(reflect.TypeFor[Rollback]())
	publicationFields = jsonFields(reflect.TypeFor[Publication]())
	transitionFields  = jsonFields(reflect.TypeFor[Transition]())
	branchFields      = jsonFields(reflect.TypeFor[Branch]())
	// condFields are a condition's (Cond.MarshalJSON): a comparison's,
	// and the one key of each combination.
	condFields = []string{"field", "op", "value", "duration", string(CondAnd), string(CondOr), string(CondNot)}
)

// jsonFields returns the JSON names of struct type t's fields in
// declaration order, as encoding/json names them: the tag's name, or the
// Go name when the tag gives none; fields tagged "-" and unexported ones
// are left out, and an embedded struct without a name of its own (the
// runtime.Trigger in Trigger) contributes its fields in its place.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, omitted := jsontag.Parse(f.Tag)
		if omitted {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}

const (
	jnull jkind = iota
	jbool
	jnumber
	jstring
	jarray
	jobject
)

// maxJSONDepth bounds nesting; the format needs 6 levels, so anything deep
// is garbage, and we stop before encoding/json's own (larger) limit.
const maxJSONDepth = 64

func (d *jsonDecoder) decodeFile(n *jnode) *File {
	o := d.object(n, "$", "flowgen JSON document", fileFields)
	if o == nil {
		return nil
	}
	o.check()
	f := &File{Version: FormatVersion, Range: d.at("$")}
	switch vn, p := o.get("version"); {
	case vn == nil:
		o.missing("version", strconv.Itoa(FormatVersion))
	case vn.kind != jnumber:
		d.errorf(p, "expected integer for \"version\", found %s", vn.kind).
			hint("write the number without quotes: \"version\": %d", FormatVersion)
	case vn.num.String() != strconv.Itoa(FormatVersion):
		d.ds = append(d.ds, diag.Errorf(d.at(p), "json", "unsupported version %s: this flowgen reads version %d", vn.num, FormatVersion).
			WithHint("regenerate the file with `flowgen json`"))
	}
	f.Flows = []*Flow{}
	o.array("flows", true, func(n *jnode, path string) {
		if fl := d.decodeFlow(n, path); fl != nil {
			f.Flows = append(f.Flows, fl)
		}
	})
	return f
}

func (d *jsonDecoder) decodeFlow(n *jnode, path string) *Flow {
	o := d.object(n, path, "flow", flowFields)
	if o == nil {
		return nil
	}
	o.check()
	f := &Flow{Range: d.at(path), NameRange: d.at(jsonpath.Member(path, "name"))}
	f.Name, _ = o.str("name", true)
	f.Doc, _ = o.str("doc", false)
	f.State = o.ident("state", false)
	o.array("triggers", false, func(n *jnode, path string) {
		if t := d.decodeTrigger(n, path); t != nil {
			f.Triggers = append(f.Triggers, t)
		}
	})
	if rn, p := o.get("retry"); rn != nil {
		f.Retry = d.decodeRetry(rn, p)
	}
	f.Timeout = o.duration("timeout")
	f.Deadline = o.duration("deadline")
	f.Steps = []*Step{}
	o.array("steps", true, func(n *jnode, path string) {
		if s := d.decodeStep(n, path, false); s != nil {
			f.Steps = append(f.Steps, s)
		}
	})
	return f
}

// triggerKindFields lists the fields each trigger kind may have besides
// "kind" (a subset of triggerFields; TestJSONFieldsFromTags checks it).
var triggerKindFields = map[TriggerKind][]string{
	TriggerRPC:      {"endpoint"},
	TriggerEvent:    {"topic", "event"},
	TriggerSchedule: {"schedule"},
}

func (d *jsonDecoder) decodeTrigger(n *jnode, path string) *Trigger {
	o := d.object(n, path, "trigger", triggerFields)
	if o == nil {
		return nil
	}
	t := &Trigger{Range: d.at(path)}
	kind, ok := o.enum("kind", true, string(TriggerRPC), string(TriggerEvent), string(TriggerSchedule))
	t.Kind = TriggerKind(kind)
	if !ok {
		o.check()
		return t
	}
	switch t.Kind {
	case TriggerRPC:
		t.Endpoint, _ = o.str("endpoint", true)
		t.ValueRange = o.at("endpoint")
	case TriggerEvent:
		t.Topic, _ = o.str("topic", true)
		t.Event, _ = o.str("event", true)
		t.ValueRange, t.EventRange = o.at("topic"), o.at("event")
	case TriggerSchedule:
		t.Schedule, _ = o.str("schedule", true)
		t.ValueRange = o.at("schedule")
	}
	o.checkVariant(append([]string{"kind"}, triggerKindFields[t.Kind]...), article(kind+" trigger"), "")
	return t
}

func (d *jsonDecoder) decodeRetry(n *jnode, path string) *Retry {
	o := d.object(n, path, "retry policy", retryFields)
	if o == nil {
		return nil
	}
	o.check()
	r := &Retry{Range: d.at(path)}
	r.Attempts = o.integer("attempts", true)
	r.Initial = o.duration("initial")
	r.Max = o.duration("max")
	r.Multiplier = o.float("multiplier")
	j, _ := o.enum("jitter", false, string(JitterFull), string(JitterNone))
	r.Jitter = Jitter(j)
	r.AttemptsRange, r.MultiplierRange, r.JitterRange = o.at("attempts"), o.at("multiplier"), o.at("jitter")
	r.BackoffRange = pick(o.at("initial"), o.at("max"))
	return r
}

// decodeStep reads a step; branch says it is a branch of a parallel
// block, which cannot be a block itself.
func (d *jsonDecoder) decodeStep(n *jnode, path string, branch bool) *Step {
	o := d.object(n, path, "step", stepFields)
	if o == nil {
		return nil
	}
	s := &Step{Range: d.at(path), NameRange: d.at(jsonpath.Member(path, "name"))}
	if d.decodeBlock(o, s, branch) {
		return s
	}
	s.Name, _ = o.str("name", true)
	s.Doc, _ = o.str("doc", false)
	if an, p := o.get("action"); an != nil {
		s.Action = d.decodeAction(an, p, false)
	} else if pn, _ := o.get(parallelKey); pn == nil {
		// A block written as a branch has no action, being a block:
		// decodeBlock said that it cannot nest, the one thing to fix.
		o.missing("action", `{"kind": "go"}`)
	}
	if s.Action == nil {
		// Keep the step usable by later checks.
		s.Action = &Action{Kind: ActionGo, Range: s.Range}
	}
	if rn, p := o.get("retry"); rn != nil {
		s.Retry = d.decodeRetry(rn, p)
	}
	s.Timeout, s.TimeoutRange = o.duration("timeout"), o.at("timeout")
	s.Deadline, s.DeadlineRange = o.duration("deadline"), o.at("deadline")
	if rn, p := o.get("rollback"); rn != nil {
		s.Rollback = d.decodeRollback(rn, p)
	}
	s.Irreversible, s.IrreversibleRange = o.boolean("irreversible"), o.at("irreversible")
	o.array("publish", false, func(n *jnode, path string) {
		if p := d.decodePublication(n, path); p != nil {
			s.Publish = append(s.Publish, p)
		}
	})
	o.array("outcomes", false, func(n *jnode, path string) {
		if n.kind != jstring {
			d.errorf(path, "expected outcome name string, found %s", n.kind).
				hint("write each outcome's name as a string: \"outcomes\": [\"declined\"]")
			return
		}
		s.Outcomes = append(s.Outcomes, &Ident{Name: n.str, Range: d.at(path)})
	})
	s.Writes = d.names(o, "writes", "field name")
	d.decodeTransitions(o, s)
	return s
}

// decodeTransitions reads a step's "on" list.
func (d *jsonDecoder) decodeTransitions(o *jobj, s *Step) {
	o.array("on", false, func(n *jnode, path string) {
		to := d.object(n, path, "transition", transitionFields)
		if to == nil {
			return
		}
		to.check()
		t := &Transition{Range: d.at(path), On: to.ident("on", true), Target: to.ident("target", true)}
		if t.On != nil && t.Target != nil {
			s.Transitions = append(s.Transitions, t)
		}
	})
}

// decodeAction reads an action: its kind, then the fields the kind has
// (KindSpec.Fields), each required or not as the spec says; any other
// field of Action is an error. A rollback's action may only be of a kind
// that can undo a step (KindSpec.Rollback).
func (d *jsonDecoder) decodeAction(n *jnode, path string, rollback bool) *Action {
	o := d.object(n, path, "action", actionFields)
	if o == nil {
		return nil
	}
	kind, ok := o.enum("kind", true, KindNames(rollback)...)
	if !ok {
		o.check()
		return nil
	}
	a := &Action{Kind: ActionKind(kind), Range: d.at(path)}
	spec := a.Spec()
	allowed := []string{"kind"}
	for _, f := range spec.Fields {
		allowed = append(allowed, string(f.Field))
	}
	o.checkVariant(allowed, article(kind+" action"), "")
	for _, f := range spec.Fields {
		name := string(f.Field)
		acc := fieldAccess[f.Field]
		if f.Required {
			if v, _ := o.get(name); v == nil {
				example := `"..."`
				switch {
				case acc.dur != nil:
					example = `"30s"`
				case acc.branches != nil:
					example = "[...]"
				}
				o.missing(name, example)
			}
		}
		switch {
		case acc.str != nil:
			*acc.str(a), _ = o.str(name, false)
		case acc.id != nil:
			*acc.id(a) = o.ident(name, false)
		case acc.dur != nil:
			*acc.dur(a) = o.duration(name)
			if f.Field == FieldDuration {
				a.DurationRange = o.at(name)
			}
		case acc.branches != nil:
			o.array(name, false, func(n *jnode, path string) {
				if b := d.decodeBranch(n, path); b != nil {
					*acc.branches(a) = append(*acc.branches(a), b)
				}
			})
		}
	}
	return a
}

// rollbackNouns names the action kinds that can undo a step: "an rpc or
// a call".
var rollbackNouns = func() string {
	var nouns []string
	for _, k := range KindNames(true) {
		nouns = append(nouns, SpecOf(ActionKind(k)).Noun)
	}
	return strings.Join(nouns, " or ")
}()

// rollbackForms is the hint of a rollback of the wrong shape: its two
// forms, with the action kinds that can undo a step.
var rollbackForms = fmt.Sprintf(`write {"name": "Undo"} for a Go method, or {"action": {"kind": %s, ...}}`, orList(KindNames(true)))

func (d *jsonDecoder) decodeRollback(n *jnode, path string) *Rollback {
	o := d.object(n, path, "rollback", rollbackFields)
	if o == nil {
		return nil
	}
	o.check()
	r := &Rollback{Range: d.at(path), Name: o.ident("name", false)}
	if an, p := o.get("action"); an != nil {
		r.Action = d.decodeAction(an, p, true)
	}
	switch {
	case r.Name != nil && r.Action != nil:
		d.errorf(path, "rollback has both a Go method \"name\" and an \"action\" (%s); keep one", rollbackNouns).
			hint("%s", rollbackForms)
	case r.Name == nil && r.Action == nil:
		if _, p := o.get("action"); p == "" {
			d.errorf(path, "rollback needs a Go method \"name\" or an \"action\" (%s)", rollbackNouns).
				hint("%s", rollbackForms)
		}
		return nil
	}
	return r
}

func (d *jsonDecoder) decodePublication(n *jnode, path string) *Publication {
	o := d.object(n, path, "publication", publicationFields)
	if o == nil {
		return nil
	}
	o.check()
	p := &Publication{Range: d.at(path)}
	p.Topic, _ = o.str("topic", true)
	p.Event, _ = o.str("event", true)
	p.Payload = o.ident("payload", false)
	return p
}

func (d *jsonDecoder) decodeBranch(n *jnode, path string) *Branch {
	o := d.object(n, path, "branch", branchFields)
	if o == nil {
		return nil
	}
	o.check()
	b := &Branch{Range: d.at(path), Target: o.ident("target", true)}
	if cn, p := o.get("if"); cn != nil {
		b.When = d.decodeCond(cn, p)
	} else {
		o.missing("if", `{"field": "Total", "op": ">=", "value": 100}`)
	}
	if b.When == nil || b.Target == nil {
		return nil
	}
	return b
}

// decodeCond reads a condition (Cond's JSON form): exactly one of "and",
// "or" and "not", or a "field" with, for a comparison, an "op" and a
// "value" (a string, number or boolean) or a "duration".
// condForms is the hint of a condition of no known form: its forms.
const condForms = `write {"field": "Total", "op": ">=", "value": 100}, {"field": "Express"} (a bool field), {"and": [...]}, {"or": [...]} or {"not": {...}}`

// sameChars reports whether a and b are the same characters in another
// order.
func sameChars(a, b string) bool {
	x, y := []byte(a), []byte(b)
	slices.Sort(x)
	slices.Sort(y)
	return string(x) == string(y)
}

func (d *jsonDecoder) decodeCond(n *jnode, path string) *Cond {
	o := d.object(n, path, "condition", condFields)
	if o == nil {
		return nil
	}
	o.check()
	c := &Cond{Range: d.at(path)}
	var forms []string
	for _, k := range []string{string(CondAnd), string(CondOr), string(CondNot), "field"} {
		if v, _ := o.get(k); v != nil {
			forms = append(forms, k)
		}
	}
	if len(forms) != 1 {
		has := "none"
		if len(forms) > 0 {
			has = quoteList(forms)
		}
		r := d.errorf(path, "a condition has exactly one of \"field\", \"and\", \"or\" and \"not\"; this one has %s", has)
		if len(forms) > 1 {
			r.hint(`give each its own object, and join them with "and" or "or": {"and": [{...}, {...}]}`)
		} else {
			r.hint(`%s`, condForms)
		}
		return nil
	}
	switch forms[0] {
	case string(CondAnd), string(CondOr):
		c.Op = CondOp(forms[0])
		o.array(forms[0], true, func(n *jnode, path string) {
			if a := d.decodeCond(n, path); a != nil {
				c.Args = append(c.Args, a)
			}
		})
		if len(c.Args) < 2 {
			d.errorf(jsonpath.Member(path, forms[0]), "%q needs at least two conditions", forms[0]).
				hint("add another condition to the list, or write a single condition alone, without %q", forms[0])
			return nil
		}
	case string(CondNot):
		c.Op = CondNot
		v, p := o.get(forms[0])
		a := d.decodeCond(v, p)
		if a == nil {
			return nil
		}
		c.Args = []*Cond{a}
	default:
		if id := o.ident("field", true); id != nil {
			c.Field, c.Members = ParsePath(id.Name, id.Range)
		}
		vn, vp := o.get("value")
		dn, dp := o.get("duration")
		op, hasOp := o.str("op", false)
		switch {
		case !hasOp && vn == nil && dn == nil:
			c.Op = CondField
			return c
		case !hasOp:
			o.missing("op", `">="`)
			return nil
		case !CondOp(op).IsCompare():
			ops := make([]string, len(CompareOps))
			for i, c := range CompareOps {
				ops[i] = string(c)
			}
			r := d.errorf(jsonpath.Member(path, "op"), "invalid op %q: expected one of %s", op, quoteList(ops))
			// A near miss by edit distance among one- and two-character
			// operators is mostly noise ("~" is one edit from "<"); only
			// an operator that is the same characters, or a part of one,
			// is a likely mistake ("=" for "==", "=>" for ">=").
			if m := diag.DidYouMean(op, ops); m != "" && (strings.Contains(m, op) || sameChars(m, op)) {
				r.hint("did you mean %q?", m)
			} else {
				r.hint("write a comparison operator as Go writes it, such as \"op\": \">=\"")
			}
			return nil
		case vn != nil && dn != nil:
			d.errorf(path, "a comparison has a \"value\" or a \"duration\", not both").
				hint(`keep "duration" to compare a duration field ("duration": "90m"), or "value" for any other ("value": 100)`)
			return nil
		case vn == nil && dn == nil:
			o.missing("value", `100 (or "duration": "90m" for a duration field)`)
			return nil
		}
		c.Op = CondOp(op)
		if dn != nil {
			v := o.duration("duration")
			if dn.kind != jstring {
				return nil
			}
			c.Value = &Literal{Kind: LitDuration, Text: v.String(), Range: d.at(dp)}
			return c
		}
		lit := &Literal{Range: d.at(vp)}
		switch vn.kind {
		case jstring:
			lit.Kind, lit.Text = LitString, vn.str
		case jnumber:
			lit.Kind, lit.Text = LitNumber, vn.num.String()
		case jbool:
			lit.Kind, lit.Text = LitBool, strconv.FormatBool(vn.b)
		default:
			d.errorf(vp, "expected a string, number or boolean for \"value\", found %s", vn.kind).
				hint(`compare with one value: "value": 100, "value": "gold" or "value": true; for a duration field, "duration": "90m"`)
			return nil
		}
		c.Value = lit
	}
	return c
}
