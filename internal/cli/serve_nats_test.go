package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flowgen/flowgen/internal/listen"
	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/internal/natstest"
)

// natsServe starts serve with the Greet flow on srv's JetStream, with the
// NATS options opts after serve's own.
func natsServe(t *testing.T, srv *natstest.Server, opts ...nats.Option) (string, *logtest.Buffer, func()) {
	t.Helper()
	dir := t.TempDir()
	flows := filepath.Join(dir, "flows")
	if err := os.MkdirAll(flows, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(flows, "Greet.json"), []byte(serveFlow), 0o600); err != nil {
		t.Fatal(err)
	}
	return serveWith(t, serveConfig{store: filepath.Join(dir, "store"), flows: flows, nats: srv.URL,
		net: listen.Config{Addr: "127.0.0.1:0"}, natsOptions: opts})
}

// POST /events while NATS is down answers 5xx and changes nothing: the
// event is not in the stream once NATS is back. Before, the client kept
// the publish in its reconnect buffer and sent it on reconnecting, after
// the engine had answered 502: the event reached its run all the same.
func TestServeNATSDownPublishChangesNothing(t *testing.T) {
	srv := natstest.JetStreamServer(t)
	url, logs, stop := natsServe(t, srv)
	defer stop()
	srv.Stop()
	// Stop returns once the server has closed its connections; serve's
	// client learns it at its next read, and logs it. A POST before then
	// is a publish in flight as NATS goes: sent into the closed connection,
	// it waits for the answer's deadline, and its 502 cannot say that NATS
	// is not connected.
	waitUntil(t, "serve to see NATS gone", func() bool { return strings.Contains(logs.String(), "NATS disconnected") })
	if code, out := call(t, "POST", url+"/events/people/arrived", `{"correlation_id": "ada"}`); code < 500 {
		t.Fatalf("POST /events with NATS down: %d %v; want a 5xx", code, out)
	} else if msg, _ := out["error"].(string); !strings.Contains(msg, "not connected to NATS") {
		t.Errorf("POST /events with NATS down: %d %v; want an error that says NATS is not connected", code, out)
	}
	srv.Start()
	// The server's connection is back once a publish of it is
	// acknowledged; a publish it buffered would have gone first.
	waitUntil(t, "a publish through the reconnected server", func() bool {
		code, _ := call(t, "POST", url+"/events/people/left", `{"correlation_id": "bob"}`)
		return code == 202
	})
	nc := natstest.Connect(t, srv.URL)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "FLOWGEN")
	if err != nil {
		t.Fatal(err)
	}
	if m, err := s.GetLastMsgForSubject(ctx, "flowgen.people.arrived"); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("the event answered 5xx is in the stream: %v %v", m, err)
	}
	if !strings.Contains(logs.String(), "NATS disconnected") || !strings.Contains(logs.String(), "NATS reconnected") {
		t.Errorf("the log does not say NATS went away and came back:\n%s", logs.String())
	}
}

// NATS down longer than the client's default reconnect attempts (60)
// does not leave serve without a broker: it reconnects when NATS is
// back. Before, the connection closed for good after the 60th attempt
// (two minutes at the client's pace; here the attempts are 1ms apart),
// and every POST /events answered 502 until the server was restarted.
func TestServeNATSReconnectsForever(t *testing.T) {
	srv := natstest.JetStreamServer(t)
	var failed atomic.Int64
	url, _, stop := natsServe(t, srv, nats.ReconnectWait(time.Millisecond), nats.ReconnectJitter(0, 0),
		nats.ReconnectErrHandler(func(*nats.Conn, error) { failed.Add(1) }))
	defer stop()
	srv.Stop()
	waitUntil(t, "more reconnect attempts than the client's default", func() bool { return failed.Load() > 60 })
	srv.Start()
	waitUntil(t, "POST /events through NATS again", func() bool {
		code, _ := call(t, "POST", url+"/events/people/arrived", `{"correlation_id": "ada"}`)
		return code == 202
	})
}

// A NATS connection that closes for good stops serve with an error that
// says so (flowgen serve exits 1), where it used to serve on without a
// broker. What closes it here is a client allowed no reconnection.
func TestServeStopsWhenNATSCloses(t *testing.T) {
	srv := natstest.JetStreamServer(t)
	dir := t.TempDir()
	done := make(chan error, 1)
	ready := make(chan string, 1)
	logs := &logtest.Buffer{}
	go func() {
		done <- serve(context.Background(), serveConfig{store: filepath.Join(dir, "store"), nats: srv.URL, id: "t", stderr: logs,
			net: listen.Config{Addr: "127.0.0.1:0"}, natsOptions: []nats.Option{nats.NoReconnect()}}, func(a string) { ready <- a })
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, logs.String())
	}
	srv.Stop()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "NATS connection closed") {
			t.Errorf("serve ended with %v; want the NATS connection closed", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve still serves 30s after its NATS connection closed:\n%s", logs.String())
	}
}

// A NATS server that cannot be reached stops serve before it writes
// anything (the store directory is not created), with an error that names
// the URL without its credentials. Before, the store directory was made
// first and the error said only "no servers available for connection".
func TestServeNATSConnectFails(t *testing.T) {
	for _, c := range []struct{ url, shown, secret string }{
		{"nats://ada:s3cret@127.0.0.1:1", "nats://ada:xxxxx@127.0.0.1:1", "s3cret"},
		{"nats://t0ken@127.0.0.1:1", "nats://xxxxx@127.0.0.1:1", "t0ken"},
		{"nats://127.0.0.1:1, ada:s3cret@127.0.0.1:2", "nats://127.0.0.1:1,ada:xxxxx@127.0.0.1:2", "s3cret"},
	} {
		dir := filepath.Join(t.TempDir(), "store")
		logs := &logtest.Buffer{}
		err := serve(context.Background(), serveConfig{store: dir, nats: c.url, id: "t", stderr: logs,
			net: listen.Config{Addr: "127.0.0.1:0"}}, nil)
		if err == nil || !strings.Contains(err.Error(), "connect to NATS "+c.shown+":") || strings.Contains(err.Error()+logs.String(), c.secret) {
			t.Errorf("-nats %s: %v; want an error naming %s, without %s\n%s", c.url, err, c.shown, c.secret, logs.String())
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("-nats %s: the store directory was created before NATS answered: %v", c.url, err)
		}
	}
}

// A NATS server without JetStream is refused before anything is written
// too, naming the server.
func TestServeNATSWithoutJetStream(t *testing.T) {
	url := natstest.URL(t)
	dir := filepath.Join(t.TempDir(), "store")
	err := serve(context.Background(), serveConfig{store: dir, nats: url, id: "t", stderr: &logtest.Buffer{},
		net: listen.Config{Addr: "127.0.0.1:0"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "NATS "+url+":") {
		t.Errorf("-nats %s without JetStream: %v; want an error naming the server", url, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the store directory was created before NATS's JetStream answered: %v", err)
	}
}

// serve's -broker-bytes and -broker-max-age bound the JetStream stream
// (natsbus.Options.MaxBytes, MaxAge), which was created with no bounds. A
// max age under 2 minutes, JetStream's duplicate window, failed the start
// (the window may not be longer).
func TestServeNATSStreamBounds(t *testing.T) {
	srv := natstest.JetStreamServer(t)
	_, _, stop := serveWith(t, serveConfig{store: filepath.Join(t.TempDir(), "store"), nats: srv.URL,
		net: listen.Config{Addr: "127.0.0.1:0"}, limits: serverLimits{brokerBytes: 1 << 20, brokerMaxAge: time.Minute}})
	defer stop()
	stream := flowgenStream(t, srv.URL)
	if cfg := stream.CachedInfo().Config; cfg.MaxBytes != 1<<20 || cfg.MaxAge != time.Minute || cfg.Retention != jetstream.InterestPolicy {
		t.Fatalf("stream %+v, want 1 MiB, 1m, interest retention", cfg)
	}
}

// flowgenStream is serve's JetStream stream (natsbus's default, FLOWGEN)
// on the NATS server at url, read through a connection the test closes.
func flowgenStream(t *testing.T, url string) jetstream.Stream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	stream, err := js.Stream(context.Background(), "FLOWGEN")
	if err != nil {
		t.Fatal(err)
	}
	return stream
}

// Two serve processes, each with its store, of one -id on one NATS stream
// (two left at the default, serve) split the awaited events between them,
// and nothing said so. The second is now refused before it serves, with
// an error that names the holder and says to give each its own -id, and
// leaves no store behind; with its own -id it serves.
func TestServeSecondProcessOfAnIDIsRefused(t *testing.T) {
	srv := natstest.JetStreamServer(t)
	_, _, stop := natsServe(t, srv)
	defer stop()
	dir := filepath.Join(t.TempDir(), "store")
	logs := &logtest.Buffer{}
	// Served, it stops at once: the test fails, not hangs.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := serve(ctx, serveConfig{store: dir, nats: srv.URL, id: "t", stderr: logs,
		net: listen.Config{Addr: "127.0.0.1:0"}}, func(string) { cancel() })
	if err == nil || !strings.Contains(err.Error(), `another process on this NATS stream (FLOWGEN) has engine ID "t" (host `) ||
		!strings.Contains(err.Error(), "give each process its own -id") {
		t.Fatalf("a second serve of -id t on the stream: %v; want it refused, naming the holder\n%s", err, logs.String())
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused serve left its store directory: %v", err)
	}
	_, _, stopOther := serveWith(t, serveConfig{store: filepath.Join(t.TempDir(), "store"), nats: srv.URL, id: "u", net: listen.Config{Addr: "127.0.0.1:0"}})
	stopOther()
}
