package wal

import (
	"errors"
	"os"
	"sync/atomic"
	"testing"
)

// TestCloseWaitsForOnFail: OnFail runs on a goroutine of its own, and
// Close returns only once it has returned, so that nothing of the log (a
// service's "the store failed" log line) goes on after Close. OnFail here
// returns only once Close has begun: Close returned before it, and with the
// log failed, a service's log was written after the store was closed.
func TestCloseWaitsForOnFail(t *testing.T) {
	var l *Log
	var told atomic.Bool
	_, l, err := readAll(t, t.TempDir(), Options{OnFail: func(error) {
		for {
			l.mu.Lock()
			closing := l.closed
			l.mu.Unlock()
			if closing {
				break
			}
		}
		told.Store(true)
	}})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("injected EIO")
	l.opts.sync = func(*os.File) error { return boom }
	if _, err := l.Append(payload(0)); !errors.Is(err, boom) {
		t.Fatalf("append during a failing sync: %v, want its error", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !told.Load() {
		t.Fatal("Close returned before OnFail did")
	}
}
