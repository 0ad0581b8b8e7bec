package dsl_test

import (
	"testing"

	"github.com/flowgen/flowgen/dsl"
)

func TestCondString(t *testing.T) {
	f := func(name string) *dsl.Cond { return &dsl.Cond{Op: dsl.CondField, Field: &dsl.Ident{Name: name}} }
	and := func(a ...*dsl.Cond) *dsl.Cond { return &dsl.Cond{Op: dsl.CondAnd, Args: a} }
	or := func(a ...*dsl.Cond) *dsl.Cond { return &dsl.Cond{Op: dsl.CondOr, Args: a} }
	not := func(a *dsl.Cond) *dsl.Cond { return &dsl.Cond{Op: dsl.CondNot, Args: []*dsl.Cond{a}} }
	gt := func(name, n string) *dsl.Cond {
		return &dsl.Cond{Op: dsl.CondGt, Field: &dsl.Ident{Name: name}, Value: &dsl.Literal{Kind: dsl.LitNumber, Text: n}}
	}
	for _, tc := range []struct {
		c    *dsl.Cond
		want string
	}{
		{and(f("A"), f("B"), f("C")), "A and B and C"},
		{or(f("A"), f("B")), "A or B"},
		// An and inside an or is bracketed for the reader, on either side.
		{or(f("A"), and(f("B"), f("C"))), "A or (B and C)"},
		{or(and(f("A"), f("B")), f("C")), "(A and B) or C"},
		// An or inside an and needs its brackets.
		{and(f("A"), or(f("B"), f("C"))), "A and (B or C)"},
		{not(or(f("A"), f("B"))), "not (A or B)"},
		{not(and(f("A"), f("B"))), "not (A and B)"},
		{and(not(f("A")), f("B")), "not A and B"},
		// A comparison under not is bracketed for the reader: not X > 1
		// is not (X > 1), but reads as (not X) > 1.
		{not(gt("X", "1")), "not (X > 1)"},
		{not(not(gt("X", "1"))), "not not (X > 1)"},
		{and(not(gt("X", "1")), f("B")), "not (X > 1) and B"},
		{gt("X", "1"), "X > 1"},
		// Left-associative: the right operand of the same operator keeps
		// the brackets it was written with.
		{and(f("A"), and(f("B"), f("C"))), "A and (B and C)"},
		{and(and(f("A"), f("B")), f("C")), "A and B and C"},
	} {
		if got := tc.c.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}
