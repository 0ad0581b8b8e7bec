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
// A member (Customer.Tier) is read in the JSON object of the field, by its
// name as the path writes it, as the field is read in the state; a field
// or member on the way that is not set, or null, makes the member read as
// the zero value too, as the generated code reads a member behind a nil
// pointer, and one that is not an object is an error that names it.
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
	case c.Field == nil && (c.Op == CondField || c.Op.IsCompare()):
		return false, fmt.Errorf("condition %q reads no field", c.String())
	case c.Op == CondField:
		var b bool
		if err := c.decodeField(field, "a bool", &b); err != nil {
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
		if err := c.decodeField(field, "a string", &s); err != nil {
			return 0, err
		}
		return strings.Compare(s, c.Value.Text), nil
	case LitBool:
		var b bool
		if err := c.decodeField(field, "a bool", &b); err != nil {
			return 0, err
		}
		if b == (c.Value.Text == "true") {
			return 0, nil
		}
		return 1, nil
	case LitNumber:
		var n json.Number
		if err := c.decodeField(field, "a number", &n); err != nil {
			return 0, err
		}
		if n == "" {
			n = "0"
		}
		x, ok1 := new(big.Rat).SetString(string(n))
		y, ok2 := new(big.Rat).SetString(c.Value.Text)
		if !ok1 || !ok2 {
			return 0, fmt.Errorf("state field %q: cannot compare %s with %s", c.Path(), n, c.Value.Text)
		}
		return x.Cmp(y), nil
	case LitDuration:
		d, err := c.durationField(field)
		if err != nil {
			return 0, err
		}
		lit, err := time.ParseDuration(c.Value.Text)
		if err != nil {
			return 0, fmt.Errorf("condition on %q: %w", c.Path(), err)
		}
		switch {
		case d < lit:
			return -1, nil
		case d > lit:
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("condition on %q: unknown literal type %q", c.Path(), c.Value.Kind)
}

// read returns the JSON that c reads: its field's, or its last member's,
// each member looked up in the object of the field or member before it;
// nil when one of them is unset or null.
func (c *Cond) read(field func(string) json.RawMessage) (json.RawMessage, error) {
	raw := bytes.TrimSpace(field(c.Field.Name))
	for i, m := range c.Members {
		if len(raw) == 0 || string(raw) == "null" {
			return nil, nil
		}
		if raw[0] != '{' {
			return nil, fmt.Errorf("state field %q is %s, not an object with a member %q", c.PathTo(i), jsonKind(raw), m.Name)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil, fmt.Errorf("state field %q: %w", c.PathTo(i), err)
		}
		raw = bytes.TrimSpace(obj[m.Name])
	}
	return raw, nil
}

// decodeField decodes the JSON that c reads into v (a *string, *bool or
// *json.Number), leaving v's zero value when it is unset or null.
func (c *Cond) decodeField(field func(string) json.RawMessage, want string, v any) error {
	raw, err := c.read(field)
	if err != nil {
		return err
	}
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
		return fmt.Errorf("state field %q is %s, not %s", c.Path(), jsonKind(raw), want)
	}
	return nil
}

// durationField reads what c reads as a duration: a string in Go syntax,
// or a number of nanoseconds.
func (c *Cond) durationField(field func(string) json.RawMessage) (time.Duration, error) {
	raw, err := c.read(field)
	if err != nil {
		return 0, err
	}
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("state field %q is %q, not a duration such as \"90m\"", c.Path(), s)
		}
		return d, nil
	}
	var n int64
	if json.Unmarshal(raw, &n) == nil {
		return time.Duration(n), nil
	}
	return 0, fmt.Errorf("state field %q is %s, not a duration (a string such as \"90m\", or nanoseconds)", c.Path(), jsonKind(raw))
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
