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

// A call made while the engine's NATS connection is being made again
// (flowgen serve connects with no reconnect buffer: natsbus.ConnOptions)
// is not sent, and its error, which the run's history records, says so:
// it said "nats: outbound buffer limit exceeded" alone, which names the
// client's buffer, not the connection being down.
func TestCallWhileReconnectingSaysSo(t *testing.T) {
	srv := natstest.JetStreamServer(t)
	nc, err := nats.Connect(srv.URL, nats.ReconnectBufSize(-1), nats.MaxReconnects(-1), nats.ReconnectWait(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	tr := NewTransport(nc)
	srv.Stop()
	waitFor(t, "the connection to be reconnecting", nc.IsReconnecting)
	_, err = tr.CallProvider(context.Background(), Prefix+".billing.step.Reserve", []byte(`{}`))
	if err == nil || !strings.HasPrefix(err.Error(), "not connected to NATS, reconnecting: the call was not sent") || !errors.Is(err, nats.ErrReconnectBufExceeded) {
		t.Fatalf("call while reconnecting: %v, want an error saying that the engine is not connected to NATS", err)
	}
}
