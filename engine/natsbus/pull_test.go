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

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/internal/natstest"
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
	var r outages
	o, leave := r.join("c", log)
	end := startPull(context.Background(), cons, 8, make(chan jetstream.Msg), quit, o, leave, nil)
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

// switchConsumer is a consumer whose pull requests fail until up is
// closed, then work (an empty batch), once each; the next ones wait for
// done. It counts the failed requests in failed.
type switchConsumer struct {
	jetstream.Consumer
	up, done chan struct{}
	failed   chan struct{}
	worked   bool
}

func (c *switchConsumer) Fetch(int, ...jetstream.FetchOpt) (jetstream.MessageBatch, error) {
	select {
	case <-c.up:
	default:
		c.failed <- struct{}{}
		return nil, nats.ErrNoResponders
	}
	if c.worked {
		<-c.done
		return nil, nats.ErrConnectionClosed // ends the loop
	}
	c.worked = true
	return emptyBatch{}, nil
}

type emptyBatch struct{}

func (emptyBatch) Messages() <-chan jetstream.Msg {
	c := make(chan jetstream.Msg)
	close(c)
	return c
}
func (emptyBatch) Error() error { return nil }

// The pull loops of one consumer (an event trigger's workers) that all
// fail, as when JetStream is down, log it once, and once that they work
// again, with how many requests failed; not once per loop. Before, 32
// workers wrote 32 warnings per outage and 32 lines when it ended.
func TestPullOutageLoggedOncePerConsumer(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	var r outages
	const loops = 8
	up, done := make(chan struct{}), make(chan struct{})
	quit := make(chan struct{})
	var ends []func()
	var conss []*switchConsumer
	for range loops {
		c := &switchConsumer{up: up, done: done, failed: make(chan struct{}, 100)}
		conss = append(conss, c)
		o, leave := r.join("trigger-Greet", log)
		ends = append(ends, startPull(context.Background(), c, 8, make(chan jetstream.Msg), quit, o, leave, nil))
	}
	for _, c := range conss { // each loop has failed
		<-c.failed
	}
	close(up)
	// Each loop has had its request work once it asks again.
	waitFor(t, "every loop working again", func() bool {
		o := r.m["trigger-Greet"]
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.failing == 0
	})
	close(done)
	close(quit)
	for _, end := range ends {
		end()
	}
	out := logs.String()
	if w, i := strings.Count(out, "level=WARN"), strings.Count(out, "pulling again"); w != 1 || i != 1 ||
		!strings.Contains(out, "failed=") || !strings.Contains(out, "down_for=") {
		t.Errorf("%d pull loops of one consumer, all failing then working, logged %d warnings and %d recoveries, want 1 each:\n%s", loops, w, i, out)
	}
	if len(r.m) != 0 {
		t.Errorf("the stopped consumer's outage record stays: %v", r.m)
	}
}

// A pull loop that stops while it fails (its consumer's workers being
// stopped one by one) ends the outage if the others work: the consumer
// pulls again. The last loop that stops leaves nothing behind.
func TestPullOutageLoopStopsWhileFailing(t *testing.T) {
	var logs bytes.Buffer
	var r outages
	log := slog.New(slog.NewTextHandler(&logs, nil))
	o, leaveA := r.join("c", log)
	_, leaveB := r.join("c", log)
	o.fail(nats.ErrNoResponders, true) // A fails; B works
	leaveA(true)
	if !strings.Contains(logs.String(), "pulling again") {
		t.Errorf("the failing loop stopped, the other works, and no line says the consumer pulls again:\n%s", logs.String())
	}
	leaveB(false)
	if len(r.m) != 0 {
		t.Errorf("outage records left: %v", r.m)
	}
}

// An idle consumer whose pull requests failed while NATS was down logs
// that it pulls again once NATS and JetStream are back, from the answer to
// a request of a short expiry (pullProbe), not when a request of the
// default expiry ends with nothing to pull, 30s later: waitFor gives up
// at 30s. The message published after it is delivered.
func TestPullRecoveryLoggedWhenNATSIsBack(t *testing.T) {
	srv := natstest.JetStreamServer(t)
	nc, err := nats.Connect(srv.URL, ConnOptions(nil)...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var logs logtest.Buffer
	b, err := New(context.Background(), nc, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	stop, err := b.Consume(context.Background(), "mail", "accounts", "signup", func(_ context.Context, m engine.Message) error {
		got <- m.ID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	srv.Stop()
	waitFor(t, "the failed pull requests logged", func() bool { return strings.Contains(logs.String(), "pull requests failed") })
	srv.Start()
	waitFor(t, "the consumer's recovery logged", func() bool { return strings.Contains(logs.String(), "pulling again") })
	if err := b.Publish(context.Background(), engine.Message{ID: "after", Topic: "accounts", Event: "signup", Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if id := <-got; id != "after" {
		t.Errorf("delivered %q, want the message published after the outage", id)
	}
	if out := logs.String(); strings.Count(out, "pull requests failed") != 1 || strings.Count(out, "pulling again") != 1 {
		t.Errorf("one outage, want one warning and one recovery:\n%s", out)
	}
}
