package ratelog

import (
	"testing"
	"time"
)

// A burst a interval; the others counted, and the count handed to the
// first event of a later interval with the start of the one it counts.
func TestBound(t *testing.T) {
	b := Bound{Burst: 2, Interval: time.Minute}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, want := range []bool{true, true, false, false, false} {
		ok, n, _ := b.Allow(t0.Add(time.Duration(i) * time.Second))
		if ok != want || n != 0 {
			t.Fatalf("event %d: %v, %d suppressed; want %v, 0", i, ok, n, want)
		}
	}
	ok, n, since := b.Allow(t0.Add(time.Minute))
	if !ok || n != 3 || !since.Equal(t0) {
		t.Fatalf("the next interval's first: %v, %d suppressed since %v; want true, 3 since %v", ok, n, since, t0)
	}
	if ok, n, _ := b.Allow(t0.Add(time.Minute + time.Second)); !ok || n != 0 {
		t.Fatalf("the second: %v, %d; want true, 0 (the count is handed once)", ok, n)
	}
	var zero Bound
	if ok, _, _ := zero.Allow(t0); ok {
		t.Error("the zero Bound let an event through")
	}
}
