package gocheck

import (
	"cmp"
	"encoding/json"
	"go/types"
	"math"
	"regexp"
	"strconv"
	"testing"

	"github.com/flowgen/flowgen/dsl"
)

// decimalLit is a condition's number as a JSON flow may write it.
var decimalLit = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

// FuzzFloatCond: for a float field's literal that cond-type takes
// (floatWritten), the flow service's comparison (dsl.Cond.Eval, exact, on
// the state's number as encoding/json writes the field) and the generated
// code's (the field's Go value against the literal rounded to the field's
// type, as the Go compiler rounds a constant) order every value of the
// type alike. TestConditionsAgreeWithEval (gen) runs the generated code on
// a table of such values; this explores the values and literals.
//
//	go test ./dsl/gocheck -run '^$' -fuzz FuzzFloatCond -fuzztime 3m
func FuzzFloatCond(f *testing.F) {
	for _, s := range []struct {
		bits uint64
		lit  string
		wide bool
	}{
		{uint64(math.Float32bits(0.1)), "0.1", false},
		{uint64(math.Float32bits(16777216)), "16777216", false},
		{uint64(math.Float32bits(math.MaxFloat32)), "340282350000000000000000000000000000000", false},
		{1, "0.000000000000000000000000000000000000000000001", false},
		{uint64(math.Float32bits(-2.5)), "-2.5e0", false},
		{math.Float64bits(0.1 + 0.2), "0.30000000000000004", true},
		{math.Float64bits(0.3), "0.3", true},
		{1, "5e-324", true},
		{math.Float64bits(1e21), "1e21", true},
	} {
		f.Add(s.bits, s.lit, s.wide)
	}
	f.Fuzz(func(t *testing.T, bits uint64, lit string, wide bool) {
		if len(lit) > 64 || !decimalLit.MatchString(lit) {
			return
		}
		typ, size := types.Typ[types.Float32], 32
		v := float64(math.Float32frombits(uint32(bits)))
		if wide {
			typ, size, v = types.Typ[types.Float64], 64, math.Float64frombits(bits)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return // not JSON
		}
		litF, err := strconv.ParseFloat(lit, size)
		if err != nil || floatOverflows(numberConst(lit), typ) {
			return
		}
		if _, ok := floatWritten(lit, typ); !ok {
			return // cond-type refuses it
		}
		var state []byte
		if wide {
			state, err = json.Marshal(v)
		} else {
			state, err = json.Marshal(float32(v))
		}
		if err != nil {
			t.Fatal(err)
		}
		goOrder := cmp.Compare(v, litF)
		for _, op := range []dsl.CondOp{dsl.CondLt, dsl.CondEq, dsl.CondGt} {
			c := &dsl.Cond{Op: op, Field: &dsl.Ident{Name: "F"}, Value: &dsl.Literal{Kind: dsl.LitNumber, Text: lit}}
			got, err := c.Eval(func(string) json.RawMessage { return state })
			if err != nil {
				t.Fatalf("%s on %s: %v", c, state, err)
			}
			want := map[dsl.CondOp]bool{dsl.CondLt: goOrder < 0, dsl.CondEq: goOrder == 0, dsl.CondGt: goOrder > 0}[op]
			if got != want {
				t.Fatalf("F %s %s on F = %s (float%d): the service says %v, the generated code %v", op, lit, state, size, got, want)
			}
		}
	})
}
