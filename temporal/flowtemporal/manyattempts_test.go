package flowtemporal

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// A step retried many times, each attempt failing with a long error, makes
// all its attempts and ends as the runtime's does. The failed attempts'
// records travel in the activity's heartbeat details, which the cluster
// limits as any payload: each record keeps at most maxRecordedError bytes
// of its error, and an attempt carries the records of the last
// keptRecords attempts only. Before, every record was carried on: past the
// limit the cluster refused the heartbeat and failed the activity ("Heartbeat
// details exceed size limit."), and the step failed there, on attempt 0,
// with attempts left. The server here limits a payload to 128 KiB, about
// 60 records of 2 KB.
func TestManyAttemptsKeepTheirRecordsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	const limit = 128 << 10
	const last = 70
	var calls atomic.Int32
	sink := runtime.NewMemorySink() // the status query's answer, every event, is past this server's limit
	def := runtime.New[grown]("Many", runtime.WithSink(sink))
	must(t, def.Register(
		runtime.NewStep("Poll", func(ctx context.Context, s *grown) (runtime.Outcome, error) {
			calls.Add(1)
			if n := runtime.Attempt(ctx); n < last {
				return "", errors.New(strings.Repeat("x", 3000))
			}
			return runtime.OutcomeOK, nil
		}, runtime.WithRetry[grown](runtime.RetryPolicy{Attempts: 2 * last})),
	))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, _, res, err := runLimited(ctx, t, def, limit, grown{})
	if res.Final != runtime.StateDone || err != nil {
		t.Fatalf("run ended %s: %v; want done at attempt %d", res.Final, err, last)
	}
	if n := calls.Load(); n != last {
		t.Errorf("Poll called %d times, want %d", n, last)
	}
	retried := 0
	for _, e := range sink.History(res.RunID) {
		if e.Outcome == runtime.OutcomeRetry {
			retried++
			if e.Error == "" {
				t.Errorf("retry event of attempt %d has no error", e.Attempt)
			}
		}
	}
	if retried != last-1 {
		t.Errorf("%d retry events, want %d", retried, last-1)
	}
}
