// Package ratelog is the one home of the bound on log lines that whoever
// reaches a server can make at will (a refused request, a failed TLS
// handshake): at most a burst of them an interval, the others counted, so
// that a flood cannot fill the log and its disk. The engine's refusal log
// and the serve commands' HTTP server log use it.
package ratelog

import (
	"sync"
	"time"
)

// Bound lets at most Burst events through in each Interval and counts the
// others. Its zero value lets nothing through: set both fields.
type Bound struct {
	Burst    int
	Interval time.Duration

	mu         sync.Mutex
	start      time.Time // of the current interval
	passed     int       // in the current interval
	suppressed int       // in the current interval
}

// Allow reports whether an event at now is let through. The first event of
// a later interval (no timer: a quiet server costs nothing) also returns
// how many events the interval before suppressed, if any, and when that
// interval started, for the caller to log before the event: the count
// ends at since+Interval.
func (b *Bound) Allow(now time.Time) (ok bool, suppressed int, since time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.start) >= b.Interval || now.Before(b.start) {
		suppressed, since = b.suppressed, b.start
		b.start, b.passed, b.suppressed = now, 0, 0
	}
	if b.passed >= b.Burst {
		b.suppressed++
		return false, suppressed, since
	}
	b.passed++
	return true, suppressed, since
}
