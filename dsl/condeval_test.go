package dsl

import (
	"encoding/json"
	"math/big"
	"regexp"
	"strconv"
	"testing"

	"github.com/flowgen/flowgen/diag"
)

// A number the engine takes in (any JSON number down to 1e-999999999,
// which reads as 0 where it is decoded as a float64) compares exactly, at
// once: big.Rat refused 1e-1000001 ("cannot compare"), and spent 0.2s
// on the 10^999999 of 1e-999999.
func TestEvalTinyNumbers(t *testing.T) {
	for _, tc := range []struct {
		state, op, lit string
		want           bool
	}{
		{`1e-1000001`, ">", "0", true},
		{`1e-1000001`, "<", "1", true},
		{`-1e-999999999`, "<", "0", true},
		{`-1e-999999999`, ">", "-0.5", true},
		{`1e-999999`, "==", "0", false},
		{`0e-999999999`, "==", "0", true},
		{`12.50e-1`, "==", "1.25", true},
		{`-0`, "==", "0", true},
		{`1E+2`, "==", "100", true},
		{`0.000123`, ">", "1.22e-4", true},
	} {
		f, _ := ParsePath("X", diag.Range{})
		c := &Cond{Op: CondOp(tc.op), Field: f, Value: &Literal{Kind: LitNumber, Text: tc.lit}}
		got, err := c.Eval(func(string) json.RawMessage { return json.RawMessage(tc.state) })
		if err != nil || got != tc.want {
			t.Errorf("X %s %s with X = %s: %v, %v; want %v", tc.op, tc.lit, tc.state, got, err, tc.want)
		}
	}
}

// FuzzCompareDecimal: compareDecimal is big.Rat's comparison wherever
// big.Rat can afford it, and is antisymmetric everywhere.
//
//	go test ./dsl -run '^$' -fuzz FuzzCompareDecimal -fuzztime 5m
func FuzzCompareDecimal(f *testing.F) {
	for _, p := range [][2]string{
		{"0", "-0"}, {"1.5", "15e-1"}, {"-2", "-10"}, {"0.001", "1e-3"}, {"1e-1000001", "0"},
		{"123456789012345678901234567890", "1.2345678901234567890123456789e29"}, {"9", "10"}, {"-0.0", "0e5"},
	} {
		f.Add(p[0], p[1])
	}
	number := regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?([0-9]+))?$`) // JSON's
	f.Fuzz(func(t *testing.T, a, b string) {
		x, okx := compareDecimal(a, b)
		y, oky := compareDecimal(b, a)
		if okx != oky || x != -y {
			t.Fatalf("compareDecimal(%q, %q) = %d, %v, but (%q, %q) = %d, %v", a, b, x, okx, b, a, y, oky)
		}
		ma, mb := number.FindStringSubmatch(a), number.FindStringSubmatch(b)
		if ma == nil || mb == nil {
			return
		}
		if !okx {
			t.Fatalf("compareDecimal(%q, %q): not numbers", a, b)
		}
		for _, m := range [][]string{ma, mb} {
			if e, err := strconv.Atoi(m[4]); m[4] != "" && (err != nil || e > 2000) || len(m[0]) > 2000 {
				return // too costly for big.Rat
			}
		}
		ra, _ := new(big.Rat).SetString(a)
		rb, _ := new(big.Rat).SetString(b)
		if want := ra.Cmp(rb); x != want {
			t.Fatalf("compareDecimal(%q, %q) = %d, big.Rat says %d", a, b, x, want)
		}
	})
}
