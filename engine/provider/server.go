package provider

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"golang.org/x/net/netutil"
)

// The bounds of the HTTP server ListenAndServe runs, which anyone who
// reaches its port can talk to (docs/engine.md#limits). It has no
// WriteTimeout: a handler takes the step's time, which the call's
// deadline (Request.Deadline) bounds.
const (
	// MaxCallBytes bounds a call's body: the engine's bound of a
	// provider's answer (engine.MaxProviderResponse), whose state the next
	// call carries, and room for the call's other fields. A larger body
	// is answered 413 and runs nothing.
	MaxCallBytes = 16<<20 + 64<<10
	// ReadHeaderTimeout bounds the time to send a request's headers.
	ReadHeaderTimeout = 10 * time.Second
	// ReadTimeout bounds the time to send a whole request, its body
	// included: more than a call may wait for its registration's answer
	// (maxTokenWait) before its body is read.
	ReadTimeout = 30 * time.Second
	// IdleTimeout bounds the time a keep-alive connection stays idle.
	IdleTimeout = 60 * time.Second
	// MaxHeaderBytes bounds a request's headers (431 beyond).
	MaxHeaderBytes = 64 << 10
	// DefaultMaxConns is Options.MaxConns' default: far above the 64
	// connections the engine opens to one provider host, within the open
	// files of a process.
	DefaultMaxConns = 1024
	// ShutdownTimeout bounds how long ListenAndServe, at its end, waits
	// for the calls in flight to be answered; it then closes their
	// connections, which ends their handlers' contexts.
	ShutdownTimeout = 10 * time.Second
)

// DefaultAddr is where ListenAndServe listens when given no address:
// loopback, on a port of its own, as the engine allows by default (Go's
// "" is every interface).
const DefaultAddr = "127.0.0.1:0"

// ListenAndServe serves the handlers over HTTP on addr (a loopback
// address such as "127.0.0.1:0" unless the engine allows another; ""
// is DefaultAddr),
// registers them with the engine (callback URLs on the bound address,
// or under advertise if not ""), keeps the lease alive, and at the end
// of ctx withdraws its replica's registration (KeepLease) and stops,
// finishing the calls in flight: it returns once they are answered, or
// after ShutdownTimeout, having closed the connections of those still in
// flight (their handlers' contexts end).
func (p *Provider) ListenAndServe(ctx context.Context, addr, advertise string) error {
	if addr == "" {
		addr = DefaultAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if advertise == "" {
		advertise = "http://" + ln.Addr().String()
	}
	advertise = strings.TrimRight(advertise, "/")
	// Each connection holds a goroutine and its buffers: beyond
	// MaxConns, Accept waits and the kernel's backlog holds the new ones.
	ln = netutil.LimitListener(ln, p.opts.MaxConns)
	srv := newServer(p)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	hs := p.Handlers(func(h *Handler) { h.URL = advertise + httpPath(h) })
	lerr := p.KeepLease(ctx, hs)
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if srv.Shutdown(sctx) != nil {
		// Calls still in flight at the bound: Shutdown leaves their
		// connections open and their handlers running, after this
		// returns. Closed, they end, and their handlers' contexts with
		// them.
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return lerr
}

// newServer is the HTTP server ListenAndServe runs h on.
func newServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: ReadHeaderTimeout, ReadTimeout: ReadTimeout,
		IdleTimeout: IdleTimeout, MaxHeaderBytes: MaxHeaderBytes}
}
