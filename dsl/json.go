package dsl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/internal/ident"
)

// The JSON form is the model's own encoding (the json tags in model.go),
// with "version": FormatVersion first. EncodeJSON writes it; DecodeJSON reads
// it strictly: unknown fields, duplicate keys, wrong types, missing required
// fields, fields that do not belong to the action or trigger kind, bad
// durations and other versions are all errors, each positioned by the JSON
// path of the offending value ("$.flows[0].steps[2].timeout"). Syntax errors
// have no path yet, so they are positioned by line and column instead.
//
// Decoding reads the document into a small ordered tree (keeping duplicate
// keys, which encoding/json would silently merge) and then walks it with
// the path in hand, so every path is exact.

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
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
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

// jnode is one JSON value with its place in the document.
type jnode struct {
	kind jkind
	keys []string // object keys, in document order (duplicates kept)
	vals []*jnode // object values, parallel to keys; array elements
	str  string
	num  json.Number
	b    bool
}

type jkind int

const (
	jnull jkind = iota
	jbool
	jnumber
	jstring
	jarray
	jobject
)

func (k jkind) String() string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[k]
}

// jsonSyntaxError is a JSON syntax error at a byte offset.
type jsonSyntaxError struct {
	msg    string
	offset int64
}

func (e *jsonSyntaxError) Error() string { return e.msg }

func parseJSONTree(data []byte) (*jnode, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	root, err := readJSONValue(dec)
	if err != nil {
		return nil, err
	}
	off := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		for off < int64(len(data)) && strings.IndexByte(" \t\r\n", data[off]) >= 0 {
			off++
		}
		return nil, &jsonSyntaxError{"unexpected data after the top-level value", off}
	}
	return root, nil
}

// maxJSONDepth bounds nesting; the format needs 6 levels, so anything deep
// is garbage, and we stop before encoding/json's own (larger) limit.
const maxJSONDepth = 64

func readJSONValue(dec *json.Decoder) (*jnode, error) {
	type frame struct {
		n   *jnode
		key *string // pending key for an object frame
	}
	var stack []*frame
	var root *jnode
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			return nil, &jsonSyntaxError{"unexpected end of JSON input", off}
		}
		if err != nil {
			return nil, err
		}
		var n *jnode
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				k := jobject
				if t == '[' {
					k = jarray
				}
				n = &jnode{kind: k}
			case '}', ']':
				top := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					return top.n, nil
				}
				continue
			}
		case string:
			top := (*frame)(nil)
			if len(stack) > 0 {
				top = stack[len(stack)-1]
			}
			if top != nil && top.n.kind == jobject && top.key == nil {
				top.key = &t
				continue
			}
			n = &jnode{kind: jstring, str: t}
		case json.Number:
			n = &jnode{kind: jnumber, num: t}
		case bool:
			n = &jnode{kind: jbool, b: t}
		case nil:
			n = &jnode{kind: jnull}
		}
		if len(stack) == 0 {
			root = n
		} else {
			top := stack[len(stack)-1]
			if top.n.kind == jobject {
				top.n.keys = append(top.n.keys, *top.key)
				top.key = nil
			}
			top.n.vals = append(top.n.vals, n)
		}
		if n.kind == jobject || n.kind == jarray {
			if len(stack) >= maxJSONDepth {
				return nil, &jsonSyntaxError{fmt.Sprintf("JSON nested deeper than %d levels", maxJSONDepth), off}
			}
			stack = append(stack, &frame{n: n})
			continue
		}
		if len(stack) == 0 {
			return root, nil
		}
	}
}

type jsonDecoder struct {
	file string
	ds   diag.List
}

func (d *jsonDecoder) at(path string) diag.Range {
	return diag.Range{Start: diag.Pos{File: d.file, Path: path}}
}

func (d *jsonDecoder) errorf(path, format string, args ...any) {
	d.ds = append(d.ds, diag.Errorf(d.at(path), "json", format, args...))
}

// syntaxError positions err, whose offset counts from the text's start
// (offset start of data).
func (d *jsonDecoder) syntaxError(data []byte, start int, err error) diag.Diagnostic {
	var off int64
	msg := err.Error()
	var se *json.SyntaxError
	var js *jsonSyntaxError
	switch {
	case errors.As(err, &se):
		off = se.Offset
		msg = strings.TrimPrefix(se.Error(), "json: ")
	case errors.As(err, &js):
		off = js.offset
	}
	off = min(max(off, 0), int64(len(data)-start)) + int64(start)
	line, col := 1, 1
	for _, c := range data[start:off] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	r := diag.Range{Start: diag.Pos{File: d.file, Offset: int(off), Line: line, Column: col}}
	return diag.Errorf(r, "json", "invalid JSON: %s", msg).WithHint("the JSON form is what `flowgen json` prints")
}

// jsonPath appends a key to a path, bracketing keys that are not simple
// names so that the path stays unambiguous.
func jsonPath(path, key string) string {
	if key != "" && ident.IsGo(key) && strings.IndexFunc(key, func(r rune) bool { return r > 0x7f }) < 0 {
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

func jsonIndex(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// jobj walks one JSON object, remembering which keys were read so that the
// others can be reported as unknown.
type jobj struct {
	d    *jsonDecoder
	n    *jnode
	path string
	what string // "flow", "step", ... for messages
}

// object returns n as an object, or nil after reporting a type error.
func (d *jsonDecoder) object(n *jnode, path, what string) *jobj {
	if n.kind != jobject {
		d.errorf(path, "expected %s object, found %s", what, n.kind)
		return nil
	}
	return &jobj{d: d, n: n, path: path, what: what}
}

// check reports unknown and duplicate keys. known lists every field the
// object may have; allowed (a subset, or nil for all of known) the ones
// allowed in this variant (for kind-dependent fields), with kindDesc
// naming the variant in messages.
func (o *jobj) check(known, allowed []string, kindDesc string) {
	seen := map[string]bool{}
	for _, k := range o.n.keys {
		p := jsonPath(o.path, k)
		switch {
		case seen[k]:
			o.d.errorf(p, "duplicate field %q in %s", k, o.what)
		case !slices.Contains(known, k):
			d := diag.Errorf(o.d.at(p), "json", "unknown field %q in %s", k, o.what)
			if s := diag.DidYouMean(k, known); s != "" {
				d = d.WithHint("did you mean %q?", s)
			} else {
				d = d.WithHint("a %s has the fields %s", o.what, strings.Join(known, ", "))
			}
			o.d.ds = append(o.d.ds, d)
		case allowed != nil && !slices.Contains(allowed, k):
			o.d.errorf(p, "field %q is not allowed in %s", k, kindDesc)
		}
		seen[k] = true
	}
}

// get returns the value of key (the first, if duplicated) and its path, or
// nil when absent or null.
func (o *jobj) get(key string) (*jnode, string) {
	for i, k := range o.n.keys {
		if k == key {
			if o.n.vals[i].kind == jnull {
				return nil, ""
			}
			return o.n.vals[i], jsonPath(o.path, key)
		}
	}
	return nil, ""
}

// at is where the value of key is, or the zero range when it is absent.
func (o *jobj) at(key string) diag.Range {
	if _, p := o.get(key); p != "" {
		return o.d.at(p)
	}
	return diag.Range{}
}

func (o *jobj) missing(key string) {
	o.d.errorf(o.path, "missing required field %q in %s", key, o.what)
}

func (o *jobj) str(key string, required bool) (string, bool) {
	n, p := o.get(key)
	if n == nil {
		if required {
			o.missing(key)
		}
		return "", false
	}
	if n.kind != jstring {
		o.d.errorf(p, "expected string for %q, found %s", key, n.kind)
		return "", false
	}
	// What a .flow's lexer refuses in its strings and comments is refused
	// here too: the generated Go holds these strings, names and docs.
	for _, r := range n.str {
		switch {
		case r == 0:
			o.d.errorf(p, "%q holds a NUL character", key)
			return "", false
		case diag.IsBidi(r):
			o.d.errorf(p, "%q holds the bidirectional control character U+%04X, which makes the text display in a different order than it is read", key, r)
			return "", false
		}
	}
	return n.str, true
}

func (o *jobj) ident(key string, required bool) *Ident {
	s, ok := o.str(key, required)
	if !ok {
		return nil
	}
	return &Ident{Name: s, Range: o.d.at(jsonPath(o.path, key))}
}

func (o *jobj) boolean(key string) bool {
	n, p := o.get(key)
	if n == nil {
		return false
	}
	if n.kind != jbool {
		o.d.errorf(p, "expected boolean for %q, found %s", key, n.kind)
		return false
	}
	return n.b
}

func (o *jobj) integer(key string, required bool) int {
	n, p := o.get(key)
	if n == nil {
		if required {
			o.missing(key)
		}
		return 0
	}
	if n.kind != jnumber {
		o.d.errorf(p, "expected integer for %q, found %s", key, n.kind)
		return 0
	}
	v, err := strconv.ParseInt(n.num.String(), 10, 64)
	if err != nil || v > math.MaxInt32 || v < math.MinInt32 {
		o.d.errorf(p, "expected an integer for %q, found %s", key, n.num)
		return 0
	}
	return int(v)
}

func (o *jobj) float(key string) float64 {
	n, p := o.get(key)
	if n == nil {
		return 0
	}
	if n.kind != jnumber {
		o.d.errorf(p, "expected number for %q, found %s", key, n.kind)
		return 0
	}
	v, err := strconv.ParseFloat(n.num.String(), 64)
	if err != nil || math.IsInf(v, 0) {
		o.d.errorf(p, "number %s for %q is out of range", n.num, key)
		return 0
	}
	return v
}

func (o *jobj) duration(key string) Duration {
	n, p := o.get(key)
	if n == nil {
		return 0
	}
	if n.kind != jstring {
		o.d.errorf(p, "expected duration string for %q (such as \"250ms\"), found %s", key, n.kind)
		return 0
	}
	var v Duration
	if err := v.UnmarshalText([]byte(n.str)); err != nil {
		o.d.errorf(p, "%v", err)
		return 0
	}
	return v
}

// array calls fn for each element of the array at key.
func (o *jobj) array(key string, required bool, fn func(n *jnode, path string)) {
	n, p := o.get(key)
	if n == nil {
		if required {
			o.missing(key)
		}
		return
	}
	if n.kind != jarray {
		o.d.errorf(p, "expected array for %q, found %s", key, n.kind)
		return
	}
	for i, e := range n.vals {
		fn(e, jsonIndex(p, i))
	}
}

// enum reads a string that must be one of values.
func (o *jobj) enum(key string, required bool, values ...string) (string, bool) {
	s, ok := o.str(key, required)
	if !ok {
		return "", false
	}
	if !slices.Contains(values, s) {
		d := diag.Errorf(o.d.at(jsonPath(o.path, key)), "json", "invalid %s %q: expected one of %s", key, s, quoteList(values))
		if m := diag.DidYouMean(s, values); m != "" {
			d = d.WithHint("did you mean %q?", m)
		}
		o.d.ds = append(o.d.ds, d)
		return "", false
	}
	return s, true
}

func quoteList(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

func (d *jsonDecoder) decodeFile(n *jnode) *File {
	o := d.object(n, "$", "flowgen JSON document")
	if o == nil {
		return nil
	}
	o.check(fileFields, nil, "")
	f := &File{Version: FormatVersion, Range: d.at("$")}
	switch vn, p := o.get("version"); {
	case vn == nil:
		o.missing("version")
	case vn.kind != jnumber:
		d.errorf(p, "expected integer for \"version\", found %s", vn.kind)
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
	o := d.object(n, path, "flow")
	if o == nil {
		return nil
	}
	o.check(flowFields, nil, "")
	f := &Flow{Range: d.at(path), NameRange: d.at(jsonPath(path, "name"))}
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
	o := d.object(n, path, "trigger")
	if o == nil {
		return nil
	}
	t := &Trigger{Range: d.at(path)}
	kind, ok := o.enum("kind", true, string(TriggerRPC), string(TriggerEvent), string(TriggerSchedule))
	t.Kind = TriggerKind(kind)
	if !ok {
		o.check(triggerFields, nil, "")
		return t
	}
	switch t.Kind {
	case TriggerRPC:
		t.Endpoint, _ = o.str("endpoint", true)
	case TriggerEvent:
		t.Topic, _ = o.str("topic", true)
		t.Event, _ = o.str("event", true)
	case TriggerSchedule:
		t.Schedule, _ = o.str("schedule", true)
	}
	o.check(triggerFields, append([]string{"kind"}, triggerKindFields[t.Kind]...), fmt.Sprintf("a %s trigger", kind))
	return t
}

func (d *jsonDecoder) decodeRetry(n *jnode, path string) *Retry {
	o := d.object(n, path, "retry policy")
	if o == nil {
		return nil
	}
	o.check(retryFields, nil, "")
	r := &Retry{Range: d.at(path)}
	r.Attempts = o.integer("attempts", true)
	r.Initial = o.duration("initial")
	r.Max = o.duration("max")
	r.Multiplier = o.float("multiplier")
	j, _ := o.enum("jitter", false, string(JitterFull), string(JitterNone))
	r.Jitter = Jitter(j)
	return r
}

// decodeStep reads a step; branch says it is a branch of a parallel
// block, which cannot be a block itself.
func (d *jsonDecoder) decodeStep(n *jnode, path string, branch bool) *Step {
	o := d.object(n, path, "step")
	if o == nil {
		return nil
	}
	s := &Step{Range: d.at(path), NameRange: d.at(jsonPath(path, "name"))}
	if d.decodeBlock(o, s, branch) {
		return s
	}
	s.Name, _ = o.str("name", true)
	s.Doc, _ = o.str("doc", false)
	if an, p := o.get("action"); an != nil {
		s.Action = d.decodeAction(an, p, false)
	} else {
		o.missing("action")
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
			d.errorf(path, "expected outcome name string, found %s", n.kind)
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
		to := d.object(n, path, "transition")
		if to == nil {
			return
		}
		to.check(transitionFields, nil, "")
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
	o := d.object(n, path, "action")
	if o == nil {
		return nil
	}
	kind, ok := o.enum("kind", true, KindNames(rollback)...)
	if !ok {
		o.check(actionFields, nil, "")
		return nil
	}
	a := &Action{Kind: ActionKind(kind), Range: d.at(path)}
	spec := a.Spec()
	allowed := []string{"kind"}
	for _, f := range spec.Fields {
		allowed = append(allowed, string(f.Field))
	}
	o.check(actionFields, allowed, fmt.Sprintf("a %s action", kind))
	for _, f := range spec.Fields {
		name := string(f.Field)
		if f.Required {
			if v, _ := o.get(name); v == nil {
				o.missing(name)
			}
		}
		switch acc := fieldAccess[f.Field]; {
		case acc.str != nil:
			*acc.str(a), _ = o.str(name, false)
		case acc.id != nil:
			*acc.id(a) = o.ident(name, false)
		case acc.dur != nil:
			*acc.dur(a) = o.duration(name)
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

func (d *jsonDecoder) decodeRollback(n *jnode, path string) *Rollback {
	o := d.object(n, path, "rollback")
	if o == nil {
		return nil
	}
	o.check(rollbackFields, nil, "")
	r := &Rollback{Range: d.at(path), Name: o.ident("name", false)}
	if an, p := o.get("action"); an != nil {
		r.Action = d.decodeAction(an, p, true)
	}
	switch {
	case r.Name != nil && r.Action != nil:
		d.errorf(path, "rollback has both a Go method \"name\" and an \"action\" (an rpc or a call); keep one")
	case r.Name == nil && r.Action == nil:
		if _, p := o.get("action"); p == "" {
			d.errorf(path, "rollback needs a Go method \"name\" or an \"action\" (an rpc or a call)")
		}
		return nil
	}
	return r
}

func (d *jsonDecoder) decodePublication(n *jnode, path string) *Publication {
	o := d.object(n, path, "publication")
	if o == nil {
		return nil
	}
	o.check(publicationFields, nil, "")
	p := &Publication{Range: d.at(path)}
	p.Topic, _ = o.str("topic", true)
	p.Event, _ = o.str("event", true)
	p.Payload = o.ident("payload", false)
	return p
}

func (d *jsonDecoder) decodeBranch(n *jnode, path string) *Branch {
	o := d.object(n, path, "branch")
	if o == nil {
		return nil
	}
	o.check(branchFields, nil, "")
	b := &Branch{Range: d.at(path), Target: o.ident("target", true)}
	if cn, p := o.get("if"); cn != nil {
		b.When = d.decodeCond(cn, p)
	} else {
		o.missing("if")
	}
	if b.When == nil || b.Target == nil {
		return nil
	}
	return b
}

// decodeCond reads a condition (Cond's JSON form): exactly one of "and",
// "or" and "not", or a "field" with, for a comparison, an "op" and a
// "value" (a string, number or boolean) or a "duration".
func (d *jsonDecoder) decodeCond(n *jnode, path string) *Cond {
	o := d.object(n, path, "condition")
	if o == nil {
		return nil
	}
	o.check(condFields, nil, "")
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
		d.errorf(path, "a condition has exactly one of \"field\", \"and\", \"or\" and \"not\"; this one has %s", has)
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
			d.errorf(jsonPath(path, forms[0]), "%q needs at least two conditions", forms[0])
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
		c.Field = o.ident("field", true)
		vn, vp := o.get("value")
		dn, dp := o.get("duration")
		op, hasOp := o.str("op", false)
		switch {
		case !hasOp && vn == nil && dn == nil:
			c.Op = CondField
			return c
		case !hasOp:
			o.missing("op")
			return nil
		case !CondOp(op).IsCompare():
			ops := make([]string, len(CompareOps))
			for i, c := range CompareOps {
				ops[i] = string(c)
			}
			d.errorf(jsonPath(path, "op"), "invalid op %q: expected one of %s", op, quoteList(ops))
			return nil
		case vn != nil && dn != nil:
			d.errorf(path, "a comparison has a \"value\" or a \"duration\", not both")
			return nil
		case vn == nil && dn == nil:
			o.missing("value")
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
			d.errorf(vp, "expected a string, number or boolean for \"value\", found %s", vn.kind)
			return nil
		}
		c.Value = lit
	}
	return c
}
