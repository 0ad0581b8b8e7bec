package natsbus

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// failingConsumer is a consumer whose every pull request fails at once, as
// one deleted, or JetStream's without a responder, answers: it sends the
// time of each Fetch to calls.
type failingConsumer struct {
	jetstream.Consumer
	calls chan time.Time
}

func (c *failingConsumer) Fetch(int, ...jetstream.FetchOpt) (jetstream.MessageBatch, error) {
	c.calls <- time.Now()
	return nil, nats.ErrNoResponders
}

// A pull request that keeps failing (a consumer deleted for good,
// JetStream without a responder) is asked again less and less often, from
// pullRetry up to pullRetryMax, not ten times a second for ever, and the
// failure is logged once, not hidden and not at every request. The check
// is a lower bound on the time the first requests take: a loaded machine
// only makes it easier to pass; a fixed pause of pullRetry fails it.
func TestPullBacksOffAndLogs(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil)).With("topic", "payments", "event", "paid")
	cons := &failingConsumer{calls: make(chan time.Time, 100)}
	quit := make(chan struct{})
	end := startPull(context.Background(), cons, 8, make(chan jetstream.Msg), quit, log)
	const n = 6
	var first, last time.Time
	for i := range n {
		last = <-cons.calls
		if i == 0 {
			first = last
		}
	}
	close(quit)
	end()
	// The pauses between the first n requests, doubling from pullRetry.
	var want time.Duration
	for i := range n - 1 {
		want += min(pullRetry<<i, pullRetryMax)
	}
	if got := last.Sub(first); got < want {
		t.Errorf("%d pull requests failing at once took %v, want at least %v: no backoff", n, got, want)
	}
	if got := strings.Count(logs.String(), "level=WARN"); got != 1 || !strings.Contains(logs.String(), nats.ErrNoResponders.Error()) || !strings.Contains(logs.String(), "topic=payments") {
		t.Errorf("%d failed pull requests logged %d warnings, want 1 naming the error and the consumer:\n%s", n, got, logs.String())
	}
}
