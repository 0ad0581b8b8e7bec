// Package growth measures in a benchmark how a cost grows with the size of
// its input: the cost per unit of a large input over that of a small one,
// both measured in each iteration of the same run, so that the load of the
// machine weighs on both alike. 1.0 is linear growth; a pass that is
// quadratic in the size shows as a ratio that rises towards the ratio of
// the sizes. For tests only.
package growth

import (
	"fmt"
	"testing"
	"time"
)

// Case is one input: its size, in units, and the work to measure on it
// (prepared beforehand: Run is all that is timed).
type Case struct {
	N   int
	Run func()
}

// Report runs small and large in each iteration of b and reports the
// time per unit of each ("ns/step@1k", "ns/step@10k" for unit "step") and
// their ratio, "growth".
func Report(b *testing.B, unit string, small, large Case) {
	b.Helper()
	var tSmall, tLarge time.Duration
	timed := func(run func()) time.Duration {
		start := time.Now()
		run()
		return time.Since(start)
	}
	for b.Loop() {
		tSmall += timed(small.Run)
		tLarge += timed(large.Run)
	}
	perSmall := float64(tSmall) / float64(b.N) / float64(small.N)
	perLarge := float64(tLarge) / float64(b.N) / float64(large.N)
	b.ReportMetric(perSmall, fmt.Sprintf("ns/%s@%s", unit, size(small.N)))
	b.ReportMetric(perLarge, fmt.Sprintf("ns/%s@%s", unit, size(large.N)))
	b.ReportMetric(perLarge/perSmall, "growth")
}

// size writes n as a metric's unit does: 1k for 1000.
func size(n int) string {
	if n >= 1000 && n%1000 == 0 {
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}
