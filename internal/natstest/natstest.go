// Package natstest starts an in-process NATS server for tests: the
// remote providers' tests (engine, engine/provider/natsprovider) serve
// and call over it.
package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// URL starts a NATS server on a free loopback port, shut down when the
// test ends, and returns its client URL.
func URL(t testing.TB) string {
	t.Helper()
	return start(t, &server.Options{})
}

// JetStreamURL is URL with JetStream on, its store in a temporary
// directory (natsbus's stream).
func JetStreamURL(t testing.TB) string {
	t.Helper()
	return start(t, &server.Options{JetStream: true, StoreDir: t.TempDir()})
}

func start(t testing.TB, opts *server.Options) string {
	t.Helper()
	opts.Host, opts.Port, opts.NoLog, opts.NoSigs = "127.0.0.1", -1, true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(ns.Shutdown)
	return ns.ClientURL()
}

// Connect connects to the server at url, closed when the test ends.
func Connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}
