package dsl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Eval reports whether c holds on a JSON state, whose fields field
// returns (the JSON of a state field; nil when it is not set). It is how
// the engine runs the choose steps of JSON-defined flows; the generated
// code compiles the same conditions to Go expressions instead.
//
// A field that is not set, or null, reads as the zero value of the type
// it is compared with ("", 0, false, 0s), as a field of a Go struct would.
// A duration field is a string in Go syntax ("90m") or a number of
// nanoseconds (how encoding/json writes a time.Duration). A field of
// another JSON type than the literal's is an error that names the field.
func (c *Cond) Eval(field func(name string) json.RawMessage) (bool, error) {
	switch {
	case c == nil:
		return false, fmt.Errorf("empty condition")
	case c.Op == CondAnd || c.Op == CondOr:
		for _, a := range c.Args {
			v, err := a.Eval(field)
			if err != nil {
				return false, err
			}
			if v == (c.Op == CondOr) { // short-circuit, as Go's && and ||
				return v, nil
			}
		}
		return c.Op == CondAnd, nil
	case c.Op == CondNot:
		if len(c.Args) != 1 {
			return false, fmt.Errorf("not takes one condition")
		}
		v, err := c.Args[0].Eval(field)
		return !v, err
	case c.Op == CondField:
		var b bool
		if err := decodeField(field, c.Field, "a bool", &b); err != nil {
			return false, err
		}
		return b, nil
	case c.Op.IsCompare() && c.Value != nil && c.Field != nil:
		cmp, err := c.compare(field)
		if err != nil {
			return false, err
		}
		switch c.Op {
		case CondEq:
			return cmp == 0, nil
		case CondNe:
			return cmp != 0, nil
		case CondLt:
			return cmp < 0, nil
		case CondLe:
			return cmp <= 0, nil
		case CondGt:
			return cmp > 0, nil
		}
		return cmp >= 0, nil
	}
	return false, fmt.Errorf("invalid condition %q", c.String())
}

// compare compares the field with the literal: -1, 0 or +1. Bools are
// equal or not (0 or 1): Check refuses an ordering of bools.
func (c *Cond) compare(field func(string) json.RawMessage) (int, error) {
	switch c.Value.Kind {
	case LitString:
		var s string
		if err := decodeField(field, c.Field, "a string", &s); err != nil {
			return 0, err
		}
		return strings.Compare(s, c.Value.Text), nil
	case LitBool:
		var b bool
		if err := decodeField(field, c.Field, "a bool", &b); err != nil {
			return 0, err
		}
		if b == (c.Value.Text == "true") {
			return 0, nil
		}
		return 1, nil
	case LitNumber:
		var n json.Number
		if err := decodeField(field, c.Field, "a number", &n); err != nil {
			return 0, err
		}
		if n == "" {
			n = "0"
		}
		x, ok1 := new(big.Rat).SetString(string(n))
		y, ok2 := new(big.Rat).SetString(c.Value.Text)
		if !ok1 || !ok2 {
			return 0, fmt.Errorf("state field %q: cannot compare %s with %s", c.Field.Name, n, c.Value.Text)
		}
		return x.Cmp(y), nil
	case LitDuration:
		d, err := durationField(field, c.Field)
		if err != nil {
			return 0, err
		}
		lit, err := time.ParseDuration(c.Value.Text)
		if err != nil {
			return 0, fmt.Errorf("condition on %q: %w", c.Field.Name, err)
		}
		switch {
		case d < lit:
			return -1, nil
		case d > lit:
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("condition on %q: unknown literal type %q", c.Field.Name, c.Value.Kind)
}

// decodeField decodes the JSON of field id into v (a *string, *bool or
// *json.Number), leaving v's zero value when the field is unset or null.
func decodeField(field func(string) json.RawMessage, id *Ident, want string, v any) error {
	raw := bytes.TrimSpace(field(id.Name))
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	ok := false
	switch v := v.(type) {
	case *string:
		ok = raw[0] == '"' && json.Unmarshal(raw, v) == nil
	case *bool:
		ok = json.Unmarshal(raw, v) == nil
	case *json.Number:
		ok = (raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9') && json.Unmarshal(raw, v) == nil
	}
	if !ok {
		return fmt.Errorf("state field %q is %s, not %s", id.Name, jsonKind(raw), want)
	}
	return nil
}

// durationField reads a duration field: a string in Go syntax, or a number
// of nanoseconds.
func durationField(field func(string) json.RawMessage, id *Ident) (time.Duration, error) {
	raw := bytes.TrimSpace(field(id.Name))
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("state field %q is %q, not a duration such as \"90m\"", id.Name, s)
		}
		return d, nil
	}
	var n int64
	if json.Unmarshal(raw, &n) == nil {
		return time.Duration(n), nil
	}
	return 0, fmt.Errorf("state field %q is %s, not a duration (a string such as \"90m\", or nanoseconds)", id.Name, jsonKind(raw))
}

// jsonKind names the type of a JSON value for messages.
func jsonKind(raw []byte) string {
	switch c := raw[0]; {
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a bool"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '-' || '0' <= c && c <= '9':
		return "a number"
	}
	return "not JSON"
}
