package dsl

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/internal/ident"
)

// jsonDecoder walks a document's tree (jsontree.go) and collects a
// diagnostic, positioned by its JSON path, for each thing it refuses.
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
