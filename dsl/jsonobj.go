package dsl

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/internal/ident"
	"github.com/flowgen/flowgen/internal/jsonpath"
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

// errorf reports an error at path; its hint (what to write instead) is
// given by the reported value's hint method, which every caller calls:
// TestDecodeJSONHints fails on a json diagnostic without one.
func (d *jsonDecoder) errorf(path, format string, args ...any) reported {
	d.ds = append(d.ds, diag.Errorf(d.at(path), "json", format, args...))
	return reported{d, len(d.ds) - 1}
}

// reported is a diagnostic just added to a decoder's list, by its index
// (a pointer into the list would not survive the next append).
type reported struct {
	d *jsonDecoder
	i int
}

// hint sets the diagnostic's hint.
func (r reported) hint(format string, args ...any) {
	r.d.ds[r.i] = r.d.ds[r.i].WithHint(format, args...)
}

// article is word with its indefinite article: "a step", "an rpc action".
func article(word string) string { return ident.Article(word) + " " + word }

// asString is a number or boolean written as a JSON string ("3" for 3), or
// a placeholder for any other value: what a hint suggests writing instead
// of a value that should have been a string.
func asString(n *jnode) string {
	switch n.kind {
	case jnumber:
		return strconv.Quote(n.num.String())
	case jbool:
		return strconv.Quote(strconv.FormatBool(n.b))
	}
	return `"..."`
}

// syntaxError positions err, whose offset counts from the text's start
// (offset start of data).
func (d *jsonDecoder) syntaxError(data []byte, start int, err error) diag.Diagnostic {
	var off int64
	var msg string
	var js *jsonSyntaxError
	if errors.As(err, &js) {
		off, msg = js.offset, js.msg
	} else {
		off, msg = syntaxErrorAt(data[start:], err)
	}
	off = min(max(off, 0), int64(len(data)-start))
	line, col := diag.LineColumn(data[start:], int(off))
	r := diag.Range{Start: diag.Pos{File: d.file, Offset: int(off) + start, Line: line, Column: col}}
	return diag.Errorf(r, "json", "invalid JSON: %s", msg).WithHint("the JSON form is what `flowgen json` prints")
}

// syntaxErrorAt is the byte offset and message of the syntax error that
// json.Decoder's Token reported as err. Its offset is not where the error
// is for every error (bytes before a bad character inside a value, one past
// one at the top level, none for a text that ends inside a value), so the
// text is scanned again as json.Unmarshal scans it, whose Offset is one
// past the offending byte, with a NUL after it, which JSON allows nowhere:
// an error at the NUL is a text that ends too soon.
func syntaxErrorAt(text []byte, err error) (int64, string) {
	var se *json.SyntaxError
	if !errors.As(json.Unmarshal(append(text[:len(text):len(text)], 0), new(json.RawMessage)), &se) {
		return 0, err.Error()
	}
	if off := se.Offset - 1; off < int64(len(text)) {
		return off, strings.TrimPrefix(se.Error(), "json: ")
	}
	return int64(len(text)), "unexpected end of JSON input"
}

// jobj walks one JSON object, remembering which keys were read so that the
// others can be reported as unknown.
type jobj struct {
	d      *jsonDecoder
	n      *jnode
	path   string
	what   string   // "flow", "step", ... for messages
	fields []string // every field such an object may have
}

// object returns n as an object of the given fields, or nil after
// reporting a type error.
func (d *jsonDecoder) object(n *jnode, path, what string, fields []string) *jobj {
	if n.kind != jobject {
		d.errorf(path, "expected %s object, found %s", what, n.kind).
			hint("write a JSON object, {...}: %s has the fields %s", article(what), strings.Join(fields, ", "))
		return nil
	}
	return &jobj{d: d, n: n, path: path, what: what, fields: fields}
}

// check reports unknown and duplicate keys.
func (o *jobj) check() { o.checkVariant(nil, "", "") }

// checkVariant is check for an object whose kind allows only some of its
// fields: allowed (nil for all) are those of this variant, which variant
// names in messages, with why (if not "") saying why others are not.
func (o *jobj) checkVariant(allowed []string, variant, why string) {
	seen := map[string]bool{}
	for _, k := range o.n.keys {
		p := jsonpath.Member(o.path, k)
		switch {
		case seen[k]:
			o.d.errorf(p, "duplicate field %q in %s", k, o.what).
				hint("write %q once: delete one of the two", k)
		case !slices.Contains(o.fields, k):
			r := o.d.errorf(p, "unknown field %q in %s", k, o.what)
			if s := diag.DidYouMean(k, o.fields); s != "" {
				r.hint("did you mean %q?", s)
			} else {
				r.hint("%s has the fields %s", article(o.what), strings.Join(o.fields, ", "))
			}
		case allowed != nil && !slices.Contains(allowed, k):
			in := variant
			if why != "" {
				in += " (" + why + ")"
			}
			o.d.errorf(p, "field %q is not allowed in %s", k, in).
				hint("%s has only the fields %s", variant, strings.Join(allowed, ", "))
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
			return o.n.vals[i], jsonpath.Member(o.path, key)
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

// missing reports that key is absent; value is an example of its value
// (JSON text) for the hint.
func (o *jobj) missing(key, value string) {
	o.d.errorf(o.path, "missing required field %q in %s", key, o.what).
		hint("add %q: %s to the %s", key, value, o.what)
}

func (o *jobj) str(key string, required bool) (string, bool) {
	return o.strOr(key, required, `"..."`)
}

// strOr is str with the example value a missing hint gives.
func (o *jobj) strOr(key string, required bool, example string) (string, bool) {
	n, p := o.get(key)
	if n == nil {
		if required {
			o.missing(key, example)
		}
		return "", false
	}
	if n.kind != jstring {
		o.d.errorf(p, "expected string for %q, found %s", key, n.kind).
			hint("write the value in double quotes: %q: %s", key, asString(n))
		return "", false
	}
	// What a .flow's lexer refuses in its strings and comments is refused
	// here too: the generated Go holds these strings, names and docs.
	for _, r := range n.str {
		switch {
		case r == 0:
			o.d.errorf(p, "%q holds a NUL character", key).
				hint(`delete the \u0000 from the string`)
			return "", false
		case diag.IsBidi(r):
			o.d.errorf(p, "%q holds the bidirectional control character U+%04X, which makes the text display in a different order than it is read", key, r).
				hint(`delete the character (or its escape \u%04X) from the string`, r)
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
	return &Ident{Name: s, Range: o.d.at(jsonpath.Member(o.path, key))}
}

func (o *jobj) boolean(key string) bool {
	n, p := o.get(key)
	if n == nil {
		return false
	}
	if n.kind != jbool {
		o.d.errorf(p, "expected boolean for %q, found %s", key, n.kind).
			hint("write true or false, without quotes: %q: true", key)
		return false
	}
	return n.b
}

func (o *jobj) integer(key string, required bool) int {
	n, p := o.get(key)
	if n == nil {
		if required {
			o.missing(key, "3")
		}
		return 0
	}
	if n.kind != jnumber {
		r := o.d.errorf(p, "expected integer for %q, found %s", key, n.kind)
		if _, err := strconv.ParseInt(n.str, 10, 32); n.kind == jstring && err == nil {
			r.hint("write the number without quotes: %q: %s", key, n.str)
		} else {
			r.hint("write a whole number, without quotes: %q: 3", key)
		}
		return 0
	}
	v, err := strconv.ParseInt(n.num.String(), 10, 64)
	if err != nil || v > math.MaxInt32 || v < math.MinInt32 {
		o.d.errorf(p, "expected an integer for %q, found %s", key, n.num).
			hint("write a whole number of at most %d, such as %q: 3", math.MaxInt32, key)
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
		r := o.d.errorf(p, "expected number for %q, found %s", key, n.kind)
		if _, err := strconv.ParseFloat(n.str, 64); n.kind == jstring && err == nil {
			r.hint("write the number without quotes: %q: %s", key, n.str)
		} else {
			r.hint("write a number, without quotes: %q: 1.5", key)
		}
		return 0
	}
	v, err := strconv.ParseFloat(n.num.String(), 64)
	if err != nil || math.IsInf(v, 0) {
		o.d.errorf(p, "number %s for %q is out of range", n.num, key).
			hint("write a number of ordinary size, such as %q: 1.5", key)
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
		o.d.errorf(p, "expected duration string for %q (such as \"250ms\"), found %s", key, n.kind).
			hint("write the duration as a string with its unit: %q: \"30s\"", key)
		return 0
	}
	var v Duration
	if err := v.UnmarshalText([]byte(n.str)); err != nil {
		r := o.d.errorf(p, "%v", err)
		_, perr := time.ParseDuration(n.str)
		switch hint, fix := DurationHint(n.str); {
		case perr == nil: // well formed, so negative
			r.hint("a duration is zero or more: write %q: %q", key, strings.TrimPrefix(n.str, "-"))
		case fix != "":
			r.hint("%s; write %q: %q", hint, key, fix)
		default:
			r.hint("%s; write %q: \"30s\"", hint, key)
		}
		return 0
	}
	return v
}

// array calls fn for each element of the array at key.
func (o *jobj) array(key string, required bool, fn func(n *jnode, path string)) {
	n, p := o.get(key)
	if n == nil {
		if required {
			o.missing(key, "[...]")
		}
		return
	}
	if n.kind != jarray {
		o.d.errorf(p, "expected array for %q, found %s", key, n.kind).
			hint("write a list in square brackets, even of one element: %q: [...]", key)
		return
	}
	for i, e := range n.vals {
		fn(e, jsonpath.Index(p, i))
	}
}

// enum reads a string that must be one of values.
func (o *jobj) enum(key string, required bool, values ...string) (string, bool) {
	example := strconv.Quote(values[0])
	if len(values) > 1 {
		example += " (or " + orList(values[1:]) + ")"
	}
	s, ok := o.strOr(key, required, example)
	if !ok {
		return "", false
	}
	if !slices.Contains(values, s) {
		r := o.d.errorf(jsonpath.Member(o.path, key), "invalid %s %q: expected one of %s", key, s, quoteList(values))
		if m := diag.DidYouMean(s, values); m != "" {
			r.hint("did you mean %q?", m)
		} else {
			r.hint("write one of them, such as %q: %q", key, values[0])
		}
		return "", false
	}
	return s, true
}

// orList is quoteList with "or" before the last value: "a", "b" or "c".
func orList(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = strconv.Quote(v)
	}
	return diag.OrList(q)
}

func quoteList(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}
