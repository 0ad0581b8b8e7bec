package provider

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/internal/conntest"
)

// The server ListenAndServe runs bounds what anyone who reaches its port
// can hold: the time to send the headers and the whole request (more than
// a call waits for its registration's answer before its body is read),
// the time a keep-alive connection stays idle, and the headers' size.
// It has no WriteTimeout: a handler takes the step's time, which the
// call's deadline bounds.
func TestServerLimits(t *testing.T) {
	srv := newServer(http.NotFoundHandler())
	if srv.ReadHeaderTimeout <= 0 {
		t.Errorf("ReadHeaderTimeout %v: a client that sends no headers holds its connection for ever", srv.ReadHeaderTimeout)
	}
	if srv.ReadTimeout <= maxTokenWait {
		t.Errorf("ReadTimeout %v: want more than the %v a call waits for its token (none: a slow body holds its connection for ever)", srv.ReadTimeout, maxTokenWait)
	}
	if srv.IdleTimeout <= 0 {
		t.Errorf("IdleTimeout %v: an idle keep-alive connection is held for ever", srv.IdleTimeout)
	}
	if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 64<<10 {
		t.Errorf("MaxHeaderBytes %d: want at most 64 KiB (0 is net/http's 1 MiB)", srv.MaxHeaderBytes)
	}
	if srv.WriteTimeout != 0 {
		t.Errorf("WriteTimeout %v would cut a step longer than it short", srv.WriteTimeout)
	}
}

// registered is a provider as after a registration whose call token is
// token, with a step that counts its runs, served by a test server.
func registered(t *testing.T, token string) (url string, runs *atomic.Int32) {
	t.Helper()
	runs = new(atomic.Int32)
	p := New(Options{Name: "billing"})
	p.Step("Billing.Reconcile", func(ctx context.Context, c *Call) (string, error) { runs.Add(1); return "", nil })
	p.auth.begin()
	p.auth.end(true, token)
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL + "/step/Billing.Reconcile", runs
}

// A request the provider refuses before reading it (another method, no
// call token) closes its connection: who is not the engine holds no idle
// keep-alive connection.
func TestRefusedCallClosesItsConnection(t *testing.T) {
	url, runs := registered(t, "ct-1")
	addr := strings.TrimPrefix(url, "http://")
	addr = addr[:strings.Index(addr, "/")]
	for _, req := range []string{
		"GET /step/Billing.Reconcile HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /step/Billing.Reconcile HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
		"POST /step/Billing.Reconcile HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ct-2\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(conn)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed && res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%q: %d, want 405 or 401", req, res.StatusCode)
		}
		if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
			t.Errorf("%q answered %d: the connection stays open (%v), want it closed", strings.SplitN(req, "\r\n", 2)[0], res.StatusCode, err)
		}
	}
	if runs.Load() != 0 {
		t.Errorf("refused calls ran the handler %d times", runs.Load())
	}
}

// A call whose body is larger than MaxCallBytes is answered 413 and runs
// nothing.
func TestCallTooLarge(t *testing.T) {
	url, runs := registered(t, "ct-1")
	body := `{"handler": "Billing.Reconcile", "state": {"x": "` + strings.Repeat("a", MaxCallBytes) + `"}}`
	r, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer ct-1")
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge || runs.Load() != 0 {
		t.Errorf("a call of %d bytes: %d, %d runs; want 413 and none", len(body), res.StatusCode, runs.Load())
	}
}

// ListenAndServe serves no more than Options.MaxConns connections at
// once: with two open (served, then idle on keep-alive), a third connects
// (the kernel's backlog takes it) but gets no answer until one of the two
// closes.
func TestListenAndServeMaxConns(t *testing.T) {
	f := &fakeEngine{}
	eng := httptest.NewServer(f.handler(t))
	defer eng.Close()
	p := New(Options{Name: "billing", Engine: eng.URL, MaxConns: 2})
	p.Step("Billing.Reconcile", func(ctx context.Context, c *Call) (string, error) { return "", nil })
	listenAndServe(t, p)
	waitFor(t, "the registration", func() bool { _, regs, _ := f.snapshot(); return len(regs) == 1 })
	_, regs, _ := f.snapshot()
	addr, path, _ := strings.Cut(strings.TrimPrefix(regs[0].Handlers[0].URL, "http://"), "/")
	conntest.MaxTwo(t, addr, "POST /"+path+" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+callToken(1)+
		"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
}

// ListenAndServe gives the calls in flight ShutdownTimeout once its
// context ends, then closes their connections, which ends their
// handlers' contexts: it returned with them still running, their
// connections open, and the engine waiting for them past the bound
// (docs/engine.md#limits), while the program that called it went on to
// close what the handlers use.
func TestListenAndServeEndsCallsPastShutdownTimeout(t *testing.T) {
	f := &fakeEngine{}
	eng := httptest.NewServer(f.handler(t))
	defer eng.Close()
	p := New(Options{Name: "billing", Engine: eng.URL})
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	var ended atomic.Bool
	p.Step("Billing.Reconcile", func(ctx context.Context, c *Call) (string, error) {
		close(started)
		select {
		case <-ctx.Done():
			ended.Store(true)
		case <-release:
		}
		return "", ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.ListenAndServe(ctx, "127.0.0.1:0", "") }()
	waitFor(t, "the registration", func() bool { _, regs, _ := f.snapshot(); return len(regs) == 1 })
	_, regs, _ := f.snapshot()
	go func() {
		rctx, rcancel := context.WithTimeout(context.Background(), time.Minute)
		defer rcancel()
		r, _ := http.NewRequestWithContext(rctx, http.MethodPost, regs[0].Handlers[0].URL, strings.NewReader(string(request(t, Request{Handler: "Billing.Reconcile"}))))
		r.Header.Set("Authorization", "Bearer "+callToken(1))
		if res, err := http.DefaultClient.Do(r); err == nil {
			res.Body.Close()
		}
	}()
	<-started
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the call's handler to see its context end", ended.Load)
}

// ListenAndServe with no address listens on loopback, on a port of its
// own, as everything that listens does by default: "" was Go's ":0",
// every interface, open to anyone who reaches the host until the engine
// refused the callback URL it advertised (http://[::]:PORT).
func TestListenAndServeDefaultsToLoopback(t *testing.T) {
	f := &fakeEngine{}
	eng := httptest.NewServer(f.handler(t))
	defer eng.Close()
	p := New(Options{Name: "billing", Engine: eng.URL})
	p.Step("Billing.Reconcile", func(ctx context.Context, c *Call) (string, error) { return "", nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.ListenAndServe(ctx, "", "") }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitFor(t, "the registration", func() bool { _, regs, _ := f.snapshot(); return len(regs) == 1 })
	_, regs, _ := f.snapshot()
	if u := regs[0].Handlers[0].URL; !strings.HasPrefix(u, "http://127.0.0.1:") {
		t.Fatalf("ListenAndServe(\"\") serves at %s, want loopback", u)
	}
}
