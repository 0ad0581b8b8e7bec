package dsl

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/flowgen/flowgen/internal/jsonscan"
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
		order, ok := compareDecimal(string(n), c.Value.Text)
		if !ok {
			return 0, fmt.Errorf("state field %q: cannot compare %s with %s", c.Path(), n, c.Value.Text)
		}
		return order, nil
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
			return nil, fmt.Errorf("state field %q is %s, not an object with a member %q", c.PathTo(i), jsonscan.Kind(raw), m.Name)
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
		return fmt.Errorf("state field %q is %s, not %s", c.Path(), jsonscan.Kind(raw), want)
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
	return 0, fmt.Errorf("state field %q is %s, not a duration (a string such as \"90m\", or nanoseconds)", c.Path(), jsonscan.Kind(raw))
}

// compareDecimal compares two numbers in decimal notation (JSON's, and a
// condition's: [+-]digits[.digits][e[+-]digits]) exactly, as big.Rat
// would, in time linear in their length: a state's number comes from
// outside, and the engine takes any JSON number down to 1e-999999999
// (which reads as 0 where it is decoded as a float64); big.Rat spent 0.2s
// computing the 10^999999 of 1e-999999, and refused 1e-1000001, a number
// the engine had taken. ok is false when a or b is not such a number.
func compareDecimal(a, b string) (int, bool) {
	x, ok1 := parseDecimal(a)
	y, ok2 := parseDecimal(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	sign := func(d decimal) int {
		switch {
		case d.digits == "":
			return 0
		case d.neg:
			return -1
		}
		return 1
	}
	sx, sy := sign(x), sign(y)
	if sx != sy || sx == 0 {
		return cmp.Compare(sx, sy), true
	}
	// Same sign, both non-zero: compare the magnitudes, by the place of
	// the first digit, then digit by digit (no trailing zeros: a longer
	// one with the same start is larger).
	m := cmp.Compare(x.top, y.top)
	if m == 0 {
		m = strings.Compare(x.digits, y.digits)
	}
	return sx * m, true
}

// SameNumber reports whether a and b, numbers in decimal notation (a
// condition's literal, a state's JSON number), are the same number as Eval
// compares them: exactly, whatever the spelling (12.50e-1 and 1.25).
func SameNumber(a, b string) bool {
	order, ok := compareDecimal(a, b)
	return ok && order == 0
}

// decimal is a number in decimal notation: digits, without leading or
// trailing zeros ("" for zero), whose first digit is at the place
// 10^(top-1).
type decimal struct {
	neg    bool
	digits string
	top    int64
}

// maxDecimalExp bounds an exponent: beyond it (far beyond any number of
// digits a document can hold) every exponent compares alike.
const maxDecimalExp = 1 << 50

func parseDecimal(s string) (decimal, bool) {
	var d decimal
	if s != "" && (s[0] == '-' || s[0] == '+') {
		d.neg, s = s[0] == '-', s[1:]
	}
	mant, exp, hasExp := strings.Cut(strings.ToLower(s), "e")
	whole, frac, hasDot := strings.Cut(mant, ".")
	if whole == "" && (!hasDot || frac == "") || !allDigits(whole) || !allDigits(frac) {
		return decimal{}, false
	}
	var e int64
	if hasExp {
		neg := false
		if exp != "" && (exp[0] == '-' || exp[0] == '+') {
			neg, exp = exp[0] == '-', exp[1:]
		}
		if exp == "" || !allDigits(exp) {
			return decimal{}, false
		}
		exp = strings.TrimLeft(exp, "0")
		if len(exp) > 16 {
			e = maxDecimalExp
		} else if v, _ := strconv.ParseInt("0"+exp, 10, 64); v > maxDecimalExp {
			e = maxDecimalExp
		} else {
			e = v
		}
		if neg {
			e = -e
		}
	}
	digits := whole + frac
	lead := len(digits) - len(strings.TrimLeft(digits, "0"))
	digits = strings.TrimRight(digits[lead:], "0")
	d.digits = digits
	// The first digit of whole+frac is at 10^(len(whole)-1+e); lead zeros
	// move it down.
	d.top = int64(len(whole)-lead) + e
	return d, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
