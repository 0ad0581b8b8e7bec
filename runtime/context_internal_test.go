package runtime

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestQuietContext: the context of sinks and rollbacks has the run's values
// and never its cancellation, its deadline or its cause, whatever the
// parent, as context.WithoutCancel.
func TestQuietContext(t *testing.T) {
	type key struct{}
	cancelled, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	defer cancel()
	deadline, stop := context.WithTimeout(context.WithValue(context.Background(), key{}, "v"), time.Hour)
	defer stop()
	parents := map[string]context.Context{
		"background":     context.WithValue(context.Background(), key{}, "v"),
		"without cancel": context.WithoutCancel(cancelled),
		"cancellable":    cancelled,
		"deadline":       deadline,
	}
	cause := errors.New("cause")
	for name, parent := range parents {
		run, cancelRun := context.WithCancelCause(parent)
		q := quietContext(parent, run)
		cancelRun(cause)
		if name == "cancellable" || name == "without cancel" {
			cancel()
		}
		if q.Done() != nil || q.Err() != nil || context.Cause(q) != nil {
			t.Errorf("%s: quiet context is cancelled: done %v, err %v, cause %v", name, q.Done(), q.Err(), context.Cause(q))
		}
		if _, ok := q.Deadline(); ok {
			t.Errorf("%s: quiet context has a deadline", name)
		}
		if q.Value(key{}) != "v" {
			t.Errorf("%s: quiet context lost the values", name)
		}
	}
}
