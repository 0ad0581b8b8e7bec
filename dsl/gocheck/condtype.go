package gocheck

import (
	"go/constant"
	"go/token"
	"go/types"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
)

// checkCondType checks that field type ft can be compared with the literal
// of condition c as the generated code compares them, so that a mismatch
// is reported at its .flow position rather than as a compile error in
// generated code:
//   - a bool field alone, or compared with true or false: a boolean type;
//   - a string: a type whose underlying type is string;
//   - a number: an integer or float type that can hold it (a fraction in
//     an integer field, or a negative number in an unsigned one, is an
//     error, as it would be in Go);
//   - a duration: time.Duration (and a time.Duration only a duration: a
//     bare number would be nanoseconds).
func checkCondType(pkg *types.Package, ft types.Type, c *dsl.Cond) (diag.Diagnostic, bool) {
	b, basic := ft.Underlying().(*types.Basic)
	if basic && b.Kind() == types.Invalid {
		return diag.Diagnostic{}, false // a type error the compiler reports
	}
	typ := dsl.TypeString(ft, pkg)
	name := c.Path()
	bad := func(r diag.Range, hint, format string, args ...any) (diag.Diagnostic, bool) {
		return diag.Errorf(r, "cond-type", format, args...).WithHint("%s", hint), true
	}
	if c.Op == dsl.CondField {
		if basic && b.Info()&types.IsBoolean != 0 {
			// The generated code uses the field as a Go bool (returned,
			// combined with && and ||), which a named bool type is not.
			if _, named := types.Unalias(ft).(*types.Named); named {
				return bad(c.PathRange(), "compare it with a value instead, such as `"+name+" == true`",
					"condition %q: field %q has the named type %s: a field alone is a condition only when it is a plain bool", name, name, typ)
			}
			return diag.Diagnostic{}, false
		}
		return bad(c.PathRange(), aloneHint(name, ft, typ),
			"condition %q: field %q has type %s, not bool", name, name, typ)
	}
	l := c.Value
	at := l.Range
	if !at.Start.IsValid() {
		at = c.PathRange()
	}
	switch l.Kind {
	case dsl.LitBool:
		if basic && b.Info()&types.IsBoolean != 0 {
			return diag.Diagnostic{}, false
		}
	case dsl.LitString:
		if basic && b.Info()&types.IsString != 0 {
			return diag.Diagnostic{}, false
		}
	case dsl.LitDuration:
		if isDuration(ft) {
			return diag.Diagnostic{}, false
		}
	case dsl.LitNumber:
		// A time.Duration is an int64, but 5 would mean 5ns: ask for a unit.
		if basic && !isDuration(ft) && b.Info()&types.IsNumeric != 0 && b.Info()&types.IsComplex == 0 {
			if numberConst(l.Text).Kind() == constant.Unknown {
				// An exponent beyond what go/constant holds (1e999999999):
				// far beyond float64, which the condition check reports.
				return diag.Diagnostic{}, false
			}
			if b.Info()&types.IsInteger == 0 {
				if floatOverflows(numberConst(l.Text), b) {
					return bad(at, "compare with a number the field's type can hold",
						"condition on %q: %s overflows %q, of type %s", name, l.Text, name, typ)
				}
				if near, ok := floatWritten(l.Text, b); !ok {
					return bad(at, "write "+near+": the generated code rounds the number to the nearest "+b.Name()+", the flow service compares the state's number with it exactly",
						"condition on %q: %s is not a %s as Go writes one (the nearest is %s), and %q has type %s", name, l.Text, b.Name(), near, name, typ)
				}
				return diag.Diagnostic{}, false
			}
			iv := constant.ToInt(numberConst(l.Text))
			switch {
			// Whole as the service compares (exactly): 1e-999999999 is 0
			// to go/constant, as to the generated code.
			case iv.Kind() != constant.Int || !dsl.SameNumber(iv.ExactString(), l.Text):
				return bad(at, "compare an integer field with a whole number, or make the field a float64",
					"condition on %q: %s is not a whole number, and %q has type %s", name, l.Text, name, typ)
			case b.Info()&types.IsUnsigned != 0 && constant.Sign(iv) < 0:
				return bad(at, "compare with zero or more, or make the field signed",
					"condition on %q: %s is negative, and %q has unsigned type %s", name, l.Text, name, typ)
			case !fitsInt(iv, b):
				return bad(at, "compare with a number the field's type can hold",
					"condition on %q: %s overflows %q, of type %s", name, l.Text, name, typ)
			}
			return diag.Diagnostic{}, false
		}
	}
	return bad(at, condHint(c, ft, typ),
		"condition on %q compares a field of type %s with %s %s", name, typ, article(l.Kind), l)
}

// aloneHint says what to write for a field of type ft, not a bool, used
// alone as a condition: a comparison with a literal of its type, when
// there is one (a struct, a time.Time or a slice has none).
func aloneHint(name string, ft types.Type, typ string) string {
	const alone = "a field alone is a condition only when it is a bool"
	b, basic := ft.Underlying().(*types.Basic)
	switch {
	case isDuration(ft):
		return alone + "; compare it with a duration, such as `" + name + " > 0s`"
	case basic && b.Info()&types.IsString != 0:
		return alone + "; compare it with a string, such as `" + name + " != \"\"`"
	case basic && b.Info()&types.IsNumeric != 0 && b.Info()&types.IsComplex == 0:
		return alone + "; compare it with a number, such as `" + name + " > 0`"
	}
	return alone + ", and conditions compare strings, numbers, bools and time.Durations; " + name + " has type " + typ
}

// numberConst is the constant of a number literal (which go/constant
// reads without its sign).
func numberConst(text string) constant.Value {
	v := constant.MakeFromLiteral(strings.TrimPrefix(text, "-"), token.FLOAT, 0)
	if strings.HasPrefix(text, "-") {
		v = constant.UnaryOp(token.SUB, v, 0)
	}
	return v
}

// fitsInt reports whether the integer constant v fits integer type b
// (int, uint and uintptr taken as 64 bits).
func fitsInt(v constant.Value, b *types.Basic) bool {
	bits := map[types.BasicKind]uint{
		types.Int8: 8, types.Int16: 16, types.Int32: 32, types.Int64: 64, types.Int: 64,
		types.Uint8: 8, types.Uint16: 16, types.Uint32: 32, types.Uint64: 64, types.Uint: 64, types.Uintptr: 64,
	}[b.Kind()]
	if bits == 0 {
		return true
	}
	one := constant.MakeInt64(1)
	if b.Info()&types.IsUnsigned != 0 {
		limit := constant.Shift(one, token.SHL, bits) // 1<<bits, exclusive
		return constant.Compare(v, token.LSS, limit)
	}
	limit := constant.Shift(one, token.SHL, bits-1)
	return constant.Compare(v, token.LSS, limit) && constant.Compare(v, token.GEQ, constant.UnaryOp(token.SUB, limit, 0))
}

func article(k dsl.LitKind) string {
	if k == dsl.LitNumber {
		return "the number"
	}
	return "the " + string(k)
}

// condHint says what to compare a field of type ft with. A string that
// holds what the field takes (Age < "24h", Total >= "500") is the value
// quoted by mistake: the hint is the condition without the quotes.
func condHint(c *dsl.Cond, ft types.Type, typ string) string {
	l, name := c.Value, c.Path()
	b, basic := ft.Underlying().(*types.Basic)
	unquoted := "`" + name + " " + string(c.Op) + " " + l.Text + "`"
	switch {
	case isDuration(ft) && l.Kind == dsl.LitString && quotedDuration(l.Text):
		return "a duration is written without quotes: " + unquoted
	case basic && b.Info()&types.IsNumeric != 0 && l.Kind == dsl.LitString && quotedNumber(l.Text):
		return "a number is written without quotes: " + unquoted
	case isDuration(ft):
		return "compare a time.Duration with a duration, such as `" + name + " > 90m`"
	case basic && b.Info()&types.IsString != 0:
		return "compare a string field with a string in double quotes, such as `" + name + " == \"" + l.Text + "\"`"
	case basic && b.Info()&types.IsBoolean != 0:
		return "write the bool field alone (`when " + name + " -> ...`), or compare it with true or false"
	case basic && b.Info()&types.IsNumeric != 0:
		return "compare a number field with a number, such as `" + name + " >= 100`"
	}
	return "conditions compare strings, numbers, bools and time.Durations; " + name + " has type " + typ
}

// quotedDuration reports whether a string literal's text is a duration as
// .flow writes one (Go syntax, not negative), so that the hint can offer it
// unquoted.
func quotedDuration(text string) bool {
	_, err := time.ParseDuration(text)
	return err == nil && !strings.HasPrefix(text, "-")
}

// quotedNumber reports whether a string literal's text is a number as a
// condition writes one: decimal digits, a point, a leading minus.
func quotedNumber(text string) bool {
	_, err := strconv.ParseFloat(text, 64)
	return err == nil && strings.Trim(text, "0123456789.-") == ""
}

// isDuration reports whether t is time.Duration itself.
func isDuration(t types.Type) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "time" && n.Obj().Name() == "Duration"
}

// floatWritten is the number v rounded to the float type b, in the
// shortest decimal that reads back as it (as encoding/json writes a
// float field, so as a run's state holds it), and whether that is v. The
// generated code compares a float field with the literal rounded (Go
// rounds a constant to the type it is compared with), the flow service
// compares the state's decimal with the literal exactly (dsl.Cond.Eval):
// they agree only when the literal is a float of the field's type written
// as Go writes one. 16777217 in a float32 is 16777216 to the generated
// code but not to the service, and so is 1e-50 (0) or the exact decimal
// of the largest float32 (written 340282350000000000000000000000000000000),
// or 1e-999999999 in a JSON flow.
func floatWritten(text string, b *types.Basic) (string, bool) {
	v := numberConst(text)
	bits := 64
	f, _ := constant.Float64Val(v)
	if b.Kind() == types.Float32 {
		f32, _ := constant.Float32Val(v)
		bits, f = 32, float64(f32)
	}
	near := strconv.FormatFloat(f, 'f', -1, bits) // .flow writes no exponent
	// The service's own comparison, not go/constant's: a constant of an
	// exponent beyond big.Float's (1e-999999999) is 0 to go/constant, and
	// so to the generated code, but not to the service.
	return near, dsl.SameNumber(near, text)
}

// floatOverflows reports whether number v is beyond the float type b.
func floatOverflows(v constant.Value, b *types.Basic) bool {
	if b.Kind() == types.Float32 {
		f, _ := constant.Float32Val(v)
		return math.IsInf(float64(f), 0)
	}
	f, _ := constant.Float64Val(v)
	return math.IsInf(f, 0)
}
