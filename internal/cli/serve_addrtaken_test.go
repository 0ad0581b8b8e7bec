package cli

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/internal/listen"
	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/internal/natstest"
)

// A serve whose address is taken fails before its engine starts: it
// consumes nothing from the broker. Before, the engine started first, and
// its consumers took what was waiting for them on the NATS stream (a
// trigger's events, those of its -id's awaits) into the store made for
// this start, acknowledged them, and the failed start then removed that
// store, with the events: gone from the stream and from every store. The
// address is now bound before the engine starts, so its consumers are
// never made.
func TestServeAddressTakenConsumesNothing(t *testing.T) {
	srv := natstest.JetStreamServer(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	flows := filepath.Join(dir, "flows")
	if err := os.MkdirAll(flows, 0o755); err != nil {
		t.Fatal(err)
	}
	triggered := strings.Replace(serveFlow, `{"kind": "rpc", "endpoint": "Greet.Start"}`, `{"kind": "event", "topic": "people", "event": "met"}`, 1)
	if err := os.WriteFile(filepath.Join(flows, "Greet.json"), []byte(triggered), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &logtest.Buffer{}
	err = serve(context.Background(), serveConfig{store: filepath.Join(dir, "store"), flows: flows, nats: srv.URL, id: "t", stderr: logs,
		net: listen.Config{Addr: taken.Addr().String()}}, nil)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("serve on a taken address: %v; want it refused\n%s", err, logs.String())
	}
	names := flowgenStream(t, srv.URL).ConsumerNames(context.Background())
	var made []string
	for n := range names.Name() {
		made = append(made, n)
	}
	if len(made) > 0 {
		t.Fatalf("serve on a taken address made the stream's consumers %v: its engine started, and could take their messages into a store it then removed", made)
	}
}
