package natsprovider

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/internal/natstest"
)

// A replica whose NATS connection is closed for good (closed by its
// process, or out of reconnect attempts) can never take a call again:
// Serve ends with an error that says so, having withdrawn its lease, so
// that whoever supervises it starts it again. It skipped a renewal and
// logged it at every tick for ever, and Serve never returned.
func TestServeEndsWhenNATSIsClosed(t *testing.T) {
	for _, c := range []struct {
		name  string
		close func(*natstest.Server, *nats.Conn)
		conn  func(*testing.T, *natstest.Server) *nats.Conn
	}{
		{"closed", func(_ *natstest.Server, nc *nats.Conn) { nc.Close() },
			func(t *testing.T, srv *natstest.Server) *nats.Conn { return reconnecting(t, srv, 20*time.Millisecond) }},
		{"out of reconnects", func(srv *natstest.Server, _ *nats.Conn) { srv.Stop() },
			func(t *testing.T, srv *natstest.Server) *nats.Conn {
				nc, err := nats.Connect(srv.URL, nats.MaxReconnects(1), nats.ReconnectWait(time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(nc.Close)
				return nc
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := natstest.JetStreamServer(t)
			nc := c.conn(t, srv)
			var l leases
			eng := l.server(t)
			defer eng.Close()
			p := provider.New(provider.Options{Name: "bill-ing", Engine: eng.URL, TTL: 60 * time.Millisecond})
			p.Step("Billing.Reconcile", func(ctx context.Context, c *provider.Call) (string, error) { return "", nil })
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- Serve(ctx, p, "bill-ing", nc) }()
			waitFor(t, "the registration", func() bool { _, leased := l.get(); return leased })
			c.close(srv, nc)
			// Serve's return is what the test waits for; the deadline only
			// turns a hang into a failure.
			select {
			case err := <-done:
				if !errors.Is(err, nats.ErrConnectionClosed) {
					t.Errorf("Serve on a closed connection: %v, want nats.ErrConnectionClosed", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Serve did not return once its NATS connection was closed")
			}
			if _, leased := l.get(); leased {
				t.Error("the lease was not withdrawn")
			}
		})
	}
}
