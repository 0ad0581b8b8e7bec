package natsprovider

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flowgen/flowgen/internal/natstest"
)

// reconnecting connects to srv as flowgen serve does (no reconnect
// buffer, reconnecting for ever: natsbus.ConnOptions), reconnecting every
// wait, and stops srv: the connection is being made again.
func reconnecting(t *testing.T, srv *natstest.Server, wait time.Duration) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(srv.URL, nats.ReconnectBufSize(-1), nats.MaxReconnects(-1), nats.ReconnectWait(wait))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// A call that ends while the engine's NATS connection is being made
// again was not sent, and its error, which the run's history records,
// says so: it said "nats: outbound buffer limit exceeded" alone, which
// names the client's buffer, not the connection being down.
func TestCallWhileReconnectingSaysSo(t *testing.T) {
	srv := natstest.JetStreamServer(t)
	nc := reconnecting(t, srv, time.Hour)
	tr := NewTransport(nc)
	srv.Stop()
	waitFor(t, "the connection to be reconnecting", nc.IsReconnecting)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := tr.CallProvider(ctx, Prefix+".billing.step.Reserve", []byte(`{}`))
	if err == nil || !strings.HasPrefix(err.Error(), "not connected to NATS, reconnecting: the call was not sent") ||
		!errors.Is(err, nats.ErrReconnectBufExceeded) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call while reconnecting: %v, want an error saying that the engine is not connected to NATS", err)
	}
}

// A call made while the engine's NATS connection is being made again (a
// NATS server restarting) waits for it, within its context, and is sent
// once it is back: it failed at once, and a step's attempts, one after
// the other at the pace of its backoff, were all spent within the
// seconds of a restart, failing the run.
func TestCallWaitsForReconnect(t *testing.T) {
	srv := natstest.JetStreamServer(t)
	nc := reconnecting(t, srv, 20*time.Millisecond)
	subject := Prefix + ".billing.step.Reserve"
	// On the engine's connection, its subscription is back before the
	// call is sent.
	if _, err := nc.Subscribe(subject, func(m *nats.Msg) { _ = m.Respond([]byte(`{"outcome": "ok"}`)) }); err != nil {
		t.Fatal(err)
	}
	tr := NewTransport(nc)
	srv.Stop()
	waitFor(t, "the connection to be reconnecting", nc.IsReconnecting)
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := tr.CallProvider(ctx, subject, []byte(`{}`))
		done <- result{out, err}
	}()
	// Opened, it is sent (or waits) while the server is down: the
	// connection cannot be back before Start.
	waitFor(t, "the call to be opened", func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return len(tr.calls) == 1 || len(done) == 1
	})
	srv.Start()
	if r := <-done; r.err != nil || string(r.out) != `{"outcome": "ok"}` {
		t.Fatalf("call across a reconnection: %s, %v", r.out, r.err)
	}
}
