package natsprovider

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/internal/natstest"
)

// A replica whose NATS connection is down does not renew its lease: a
// renewal tells the engine that the replica serves its handlers, and
// makes one that a call found unreachable (no subscriber) callable
// again, so that each waiting run spent an attempt, failing, at each
// renewal of a replica that could take none. Once its connection is
// back, it renews again. The log says each renewal it skips, which the
// test waits for rather than for time to pass.
func TestNoRenewalWhileNATSIsDown(t *testing.T) {
	srv := natstest.JetStreamServer(t)
	nc := reconnecting(t, srv, 20*time.Millisecond)
	var l leases
	var down, up int // renewals while the connection is down, and up again
	restarted := false
	l.renewed = func() {
		switch {
		case !nc.IsConnected() && !restarted:
			down++
		case restarted && nc.IsConnected():
			up++
		}
	}
	eng := l.server(t)
	defer eng.Close()
	var logs logtest.Buffer
	p := provider.New(provider.Options{Name: "bill-ing", Engine: eng.URL, TTL: 60 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	p.Step("Billing.Reconcile", func(ctx context.Context, c *provider.Call) (string, error) { return "", nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, p, "bill-ing", nc) }()
	waitFor(t, "the registration", func() bool { _, leased := l.get(); return leased })

	srv.Stop()
	const skipped = "provider lease not renewed: it cannot serve now"
	// A renewal sent as the connection went down may arrive after; a
	// second one was sent while it was down.
	waitFor(t, "two renewals skipped (or renewals while NATS is down)", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return strings.Count(logs.String(), skipped) >= 2 || down >= 2
	})
	l.mu.Lock()
	if down >= 2 {
		t.Errorf("%d renewals while the replica's NATS connection was down", down)
	}
	restarted = true
	l.mu.Unlock()
	srv.Start()
	waitFor(t, "a renewal once NATS is back", func() bool { l.mu.Lock(); defer l.mu.Unlock(); return up > 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
