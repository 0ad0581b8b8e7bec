package gen

import (
	"strconv"
	"time"

	"github.com/dave/jennifer/jen"

	"github.com/flowgen/flowgen/runtime"
)

// durationUnits are the units a duration is written in, largest first.
var durationUnits = []struct {
	d    time.Duration
	name string
}{
	{time.Hour, "Hour"},
	{time.Minute, "Minute"},
	{time.Second, "Second"},
	{time.Millisecond, "Millisecond"},
	{time.Microsecond, "Microsecond"},
	{time.Nanosecond, "Nanosecond"},
}

// duration writes d as a readable constant expression in the largest unit
// that divides it: 72 * time.Hour, 1500 * time.Millisecond, time.Second.
func duration(d time.Duration) jen.Code {
	if d <= 0 {
		return jen.Lit(0)
	}
	for _, u := range durationUnits {
		if d%u.d != 0 {
			continue
		}
		if n := d / u.d; n != 1 {
			return jen.Op(strconv.FormatInt(int64(n), 10)).Op("*").Qual(timePkg, u.name)
		}
		return jen.Qual(timePkg, u.name)
	}
	return jen.Lit(0) // unreachable: every duration is a whole number of nanoseconds
}

// retryPolicy is the literal of a runtime.RetryPolicy, as dsl.Retry.Policy
// maps an effective policy onto it. Zero fields are left out.
func retryPolicy(r runtime.RetryPolicy) jen.Code {
	field := func(name string, v jen.Code) jen.Code { return jen.Id(name).Op(":").Add(v) }
	fs := []jen.Code{field("Attempts", jen.Lit(r.Attempts))}
	if r.Initial > 0 {
		fs = append(fs, field("Initial", duration(r.Initial)))
	}
	if r.Max > 0 {
		fs = append(fs, field("Max", duration(r.Max)))
	}
	if r.Multiplier != 0 {
		// 2, not jen.Lit's 2.0: an untyped constant in a float64 field.
		fs = append(fs, field("Multiplier", jen.Op(strconv.FormatFloat(r.Multiplier, 'g', -1, 64))))
	}
	if r.Jitter {
		fs = append(fs, field("Jitter", jen.True()))
	}
	// Fields in declaration order (jen.Dict would sort them by name).
	return rt("RetryPolicy").Values(fs...)
}
