// Package pointerjsontest is a user's value whose JSON methods have
// pointer receivers, for the tests of each place that hands such a value
// to an encoder (a state, a state field, a request, a payload). Only
// tests import it.
package pointerjsontest

import (
	"fmt"
	"math/big"
)

// Money is an amount in a math/big.Int, whose JSON methods have pointer
// receivers: encoded as a value, encoding/json cannot address the field,
// skips them and writes its unexported fields, {}, which its
// UnmarshalJSON refuses. Through a pointer it is written as a number.
type Money struct {
	Cents big.Int `json:"cents"`
}

// New is n cents.
func New(n int64) Money {
	var m Money
	m.Cents.SetInt64(n)
	return m
}

// JSON is New(n) encoded through a pointer: {"cents":n}.
func JSON(n int64) string { return fmt.Sprintf(`{"cents":%d}`, n) }
