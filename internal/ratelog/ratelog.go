// Package ratelog is the one home of the bound on log lines that whoever
// reaches a server can make at will (a refused request, a failed TLS
// handshake): at most a burst of them an interval, the others counted, so
// that a flood cannot fill the log and its disk. The engine's refusal log,
// its log of dead-lettered events, the serve commands' HTTP server log,
// engine/provider's log of its handlers' panics and engine/httpcall's log
// of calls that got no answer use it.
package ratelog

import (
	"context"
	"log/slog"
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

// SuppressedRecord is the line that says how many events the interval
// that started at since suppressed: what (such as "API requests refused,
// not logged") at Warn, with suppressed, since and until (since +
// interval). Every bounded log writes it so, at t.
func SuppressedRecord(t time.Time, what string, suppressed int, since time.Time, interval time.Duration) slog.Record {
	r := slog.NewRecord(t, slog.LevelWarn, what, 0)
	r.AddAttrs(slog.Int("suppressed", suppressed), slog.String("since", since.UTC().Format(time.RFC3339)),
		slog.String("until", since.Add(interval).UTC().Format(time.RFC3339)))
	return r
}

// Logger writes Warn (or Error) lines through Log, at most Bound's burst of them an
// interval by Now's time (a service's clock, so that tests can step it);
// before the first line of a later interval it writes the count of those
// it left out (SuppressedRecord, with Suppressed as its message).
type Logger struct {
	Bound      Bound
	Log        *slog.Logger
	Now        func() time.Time
	Suppressed string
}

// Warn logs msg with args at Warn, unless the bound leaves it out.
func (l *Logger) Warn(msg string, args ...any) { l.at(context.Background(), slog.LevelWarn, msg, args) }

// WarnContext is Warn with ctx for the handler (a trace's IDs, say).
func (l *Logger) WarnContext(ctx context.Context, msg string, args ...any) {
	l.at(ctx, slog.LevelWarn, msg, args)
}

// Error logs msg with args at Error, unless the bound leaves it out.
func (l *Logger) Error(msg string, args ...any) {
	l.at(context.Background(), slog.LevelError, msg, args)
}

func (l *Logger) at(ctx context.Context, level slog.Level, msg string, args []any) {
	now := l.Now()
	ok, suppressed, since := l.Bound.Allow(now)
	if suppressed > 0 {
		_ = l.Log.Handler().Handle(ctx, SuppressedRecord(now, l.Suppressed, suppressed, since, l.Bound.Interval))
	}
	if ok {
		l.Log.Log(ctx, level, msg, args...)
	}
}
