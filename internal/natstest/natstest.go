// Package natstest starts an in-process NATS server for tests: the
// remote providers' tests (engine, engine/provider/natsprovider) serve
// and call over it; flowgen serve -nats's tests stop and start one
// (Server) in the middle of a run; natsbus's cut the link to one (Link)
// while events are published.
package natstest

import (
	"io"
	"net"
	"net/url"
	"sync"
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
	return run(t, opts).ClientURL()
}

func run(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

// Server is a JetStream server a test stops and starts again, on the same
// address and store: NATS down in the middle of a run.
type Server struct {
	t    testing.TB
	opts server.Options
	ns   *server.Server
	URL  string
}

// JetStreamServer starts a Server, shut down when the test ends.
func JetStreamServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, opts: server.Options{JetStream: true, StoreDir: t.TempDir(),
		Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true}}
	opts := s.opts
	s.ns = run(t, &opts)
	s.URL = s.ns.ClientURL()
	s.opts.Port = s.ns.Addr().(*net.TCPAddr).Port
	return s
}

// Stop shuts the server down.
func (s *Server) Stop() { s.ns.Shutdown(); s.ns.WaitForShutdown() }

// Start starts it again, on the same port, with the same store.
func (s *Server) Start() {
	s.t.Helper()
	opts := s.opts
	s.ns = run(s.t, &opts)
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

// Link carries a client's connections to a NATS server through a TCP
// proxy that a test mutes and cuts: the link between a client and the
// server lost in the middle of a request.
type Link struct {
	URL string // what the client connects to

	mu    sync.Mutex
	muted bool
	conns []net.Conn
}

// NewLink starts a Link to the server at url (nats://host:port), closed
// when the test ends.
func NewLink(t testing.TB, serverURL string) *Link {
	t.Helper()
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &Link{URL: "nats://" + ln.Addr().String()}
	t.Cleanup(func() { ln.Close(); l.Cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed
			}
			s, err := net.Dial("tcp", u.Host)
			if err != nil {
				c.Close()
				continue
			}
			l.mu.Lock()
			l.conns = append(l.conns, c, s)
			l.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go l.down(c, s)
		}
	}()
	return l
}

// down copies what the server sends to the client, but while muted.
func (l *Link) down(c, s net.Conn) {
	defer c.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := s.Read(buf)
		l.mu.Lock()
		muted := l.muted
		l.mu.Unlock()
		if n > 0 && !muted {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Mute drops what the server sends from now on (its answers, its
// acknowledgements of JetStream publishes) while what the client sends
// still reaches it, until Cut.
func (l *Link) Mute() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.muted = true
}

// Cut closes every connection carried so far and ends the mute: the
// client reconnects through the link.
func (l *Link) Cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns, l.muted = nil, false
}
