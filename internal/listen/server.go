package listen

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/netutil"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/internal/flagerr"
	"github.com/flowgen/flowgen/internal/ratelog"
	"github.com/flowgen/flowgen/internal/regfile"
)

// Config is how a serve command listens: its address, its credentials,
// TLS, and its HTTP server's limits. `flowgen serve` and `flowgen-temporal
// serve` take the same flags for it (Flags), checked the same way (Check).
type Config struct {
	Addr            string
	Tokens          string // token file; "" serves the API open
	Insecure        bool   // open on an address that is not loopback
	TLSCert, TLSKey string // both or neither: HTTPS
	Limits          Limits // zero fields: the defaults
}

// Limits are the HTTP server's timeouts, sizes and connections
// (docs/engine.md#limits).
type Limits struct {
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	MaxHeaderBytes                                            int
	// MaxConns caps the client connections open at once, idle keep-alive
	// ones and GET /watch streams included: each holds a goroutine and
	// its buffers. Beyond it the server accepts no more until one closes.
	MaxConns int
}

// MaxStreams is how many requests one HTTP/2 connection (-tls-cert)
// carries at once; each is a handler that may hold a request body of up
// to -max-body. net/http's default is 250, which made the requests in
// flight -max-conns times that, unsaid. 100 is what RFC 9113 asks a
// server to allow at least; a client that wants more opens another
// connection, which -max-conns counts.
const MaxStreams = 100

// ShutdownTimeout bounds how long Serve waits for open requests once its
// context ends; it then closes their connections.
const ShutdownTimeout = 30 * time.Second

// shutdownTimeout is the ShutdownTimeout Serve applies: a variable so that
// a test can shorten it.
var shutdownTimeout = ShutdownTimeout

// Flags defines the flags of c on fs; roles names the token file's roles
// in -tokens' help. Its file flags given empty (-tokens "$UNSET") are an
// error of the command line (flagerr.PathVar), not the flag left out: an
// empty -tokens would serve the API open.
func (c *Config) Flags(fs *flag.FlagSet, roles string) {
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "the `ADDR` (host:port) the HTTP API listens on; one that is not loopback needs -tokens or -insecure")
	flagerr.PathVar(fs, &c.Tokens, "tokens", "`FILE` of bearer tokens, one \"ROLE TOKEN\" a line (ROLE: "+roles+"), that API requests must present; re-read on SIGHUP")
	fs.BoolVar(&c.Insecure, "insecure", false, "serve without -tokens on an address that is not loopback: anyone who reaches it may do anything")
	flagerr.PathVar(fs, &c.TLSCert, "tls-cert", "TLS certificate `FILE` (PEM, with -tls-key): serve HTTPS; re-read on SIGHUP")
	flagerr.PathVar(fs, &c.TLSKey, "tls-key", "TLS private key `FILE` (PEM, with -tls-cert)")
	l := &c.Limits
	flagerr.DurationVar(fs, &l.ReadHeaderTimeout, "read-header-timeout", DefaultReadHeaderTimeout, "time a client has to send a request's headers (a `duration`)")
	flagerr.DurationVar(fs, &l.ReadTimeout, "read-timeout", DefaultReadTimeout, "time a client has to send a whole request, body included (a `duration`); a slower one is cut off")
	flagerr.DurationVar(fs, &l.WriteTimeout, "write-timeout", DefaultWriteTimeout, "time to answer a request, from the end of its headers (a `duration`)")
	flagerr.DurationVar(fs, &l.IdleTimeout, "idle-timeout", DefaultIdleTimeout, "time a keep-alive connection may stay idle before it is closed (a `duration`)")
	fs.IntVar(&l.MaxHeaderBytes, "max-header-bytes", DefaultMaxHeaderBytes, "largest request line and headers, in bytes, to which net/http adds 4096 of slack (431 beyond)")
	fs.IntVar(&l.MaxConns, "max-conns", DefaultMaxConns, "most client connections open at once (at least 2), idle keep-alive ones and GET /watch streams (at most half) included; beyond, new connections wait in the kernel's backlog until one closes")
}

// Check refuses a configuration given on the command line that cannot
// serve, or would serve the API open off loopback (CheckExposure).
func (c Config) Check() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("-tls-cert and -tls-key go together")
	}
	if err := c.Limits.check(); err != nil {
		return err
	}
	// A named pipe would hang the start (and SIGTERM with it) in New; a
	// file that is missing or not valid is New's error.
	for _, f := range []struct{ flag, path string }{{"tokens", c.Tokens}, {"tls-cert", c.TLSCert}, {"tls-key", c.TLSKey}} {
		if f.path == "" {
			continue
		}
		if err := regfile.Check(f.path); err != nil {
			return fmt.Errorf("-%s: %w", f.flag, err)
		}
	}
	return CheckExposure(c.Addr, c.Tokens != "", c.Insecure)
}

// check refuses limits that would disable themselves: each must be
// positive.
func (l Limits) check() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"read-header-timeout", l.ReadHeaderTimeout}, {"read-timeout", l.ReadTimeout}, {"write-timeout", l.WriteTimeout}, {"idle-timeout", l.IdleTimeout}} {
		if d.v <= 0 {
			return fmt.Errorf("-%s must be positive, found %v", d.name, d.v)
		}
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"max-header-bytes", l.MaxHeaderBytes}, {"max-conns", l.MaxConns}} {
		if n.v <= 0 {
			return fmt.Errorf("-%s must be positive, found %d", n.name, n.v)
		}
	}
	// GET /watch streams take at most half the places (MaxWatchers), but
	// at least one: with a single place, one stream would hold it and the
	// API would answer no one until the stream ends.
	if l.MaxConns < 2 {
		return fmt.Errorf("-max-conns must be at least 2, found %d: a GET /watch stream holds its connection, and takes at most half of them", l.MaxConns)
	}
	return nil
}

// withDefaults fills the zero fields with the defaults.
func (l Limits) withDefaults() Limits {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&l.ReadTimeout, DefaultReadTimeout)
	def(&l.WriteTimeout, DefaultWriteTimeout)
	def(&l.IdleTimeout, DefaultIdleTimeout)
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxConns <= 0 {
		l.MaxConns = DefaultMaxConns
	}
	return l
}

// Server serves one handler as its Config says.
type Server struct {
	cfg  Config
	log  *slog.Logger
	auth *engine.TokenAuth // nil: no -tokens
	cert *keyPair          // nil: plain HTTP
	// hup takes SIGHUP from New on when there is something to reload, so
	// that one sent while the command opens its store and resumes its
	// runs, or while it stops, does not end it (SIGHUP's default action)
	// but is kept for Serve, which reloads.
	hup chan os.Signal
	// ln is the listener Bind made, which Serve serves on; nil: Serve
	// listens itself.
	ln net.Listener
}

// New loads c's token file and TLS key pair: a command builds its engine
// with Auth, then calls Serve.
func New(c Config, log *slog.Logger) (*Server, error) {
	s := &Server{cfg: c, log: log}
	s.cfg.Limits = c.Limits.withDefaults()
	if c.Tokens != "" {
		a, err := engine.NewTokenAuth(c.Tokens)
		if err != nil {
			return nil, err
		}
		s.auth = a
		s.warnLooseTokens()
	}
	if c.TLSCert != "" {
		s.cert = &keyPair{certFile: c.TLSCert, keyFile: c.TLSKey}
		if err := s.cert.load(); err != nil {
			return nil, err
		}
	}
	if s.auth != nil || s.cert != nil {
		s.hup = make(chan os.Signal, 1)
		signal.Notify(s.hup, syscall.SIGHUP)
	}
	return s, nil
}

// Close gives SIGHUP its default action back (it ends the process), once
// the command is done with the server. Without it, a SIGHUP after Serve
// changes nothing.
func (s *Server) Close() {
	if s.hup != nil {
		signal.Stop(s.hup)
	}
	if s.ln != nil {
		_ = s.ln.Close() // Bind's, if Serve never took it (closed again: an error, ignored)
	}
}

// Bind listens on the address now (Listen), where Serve would: a command
// that has something to start before it serves (flowgen serve: its
// engine, whose consumers take what waits on the broker into the store)
// learns that the address is taken, or not loopback, before it starts
// it, and has nothing to undo. Serve then serves on this listener; Close
// closes it if Serve never did. Connections wait in the kernel's backlog
// until Serve.
func (s *Server) Bind() error {
	if s.ln != nil {
		return nil
	}
	ln, err := Listen(s.cfg.Addr, s.open())
	if err != nil {
		return err
	}
	s.ln = ln
	return nil
}

// open reports whether the API is served without credentials, and not
// opened off loopback on purpose (-insecure): Listen then refuses an
// address that is not loopback.
func (s *Server) open() bool { return s.auth == nil && !s.cfg.Insecure }

// warnLooseTokens warns, once per load of the token file, when its group
// or others may read or write it. It does not refuse: setups that worked
// keep working, and the operator is told what to fix.
func (s *Server) warnLooseTokens() {
	if mode, loose := s.auth.LooseMode(); loose {
		s.log.Warn("the token file may be read or written by others than its owner: whoever reads it holds every token; chmod 600 it",
			"file", s.cfg.Tokens, "mode", fmt.Sprintf("%04o", uint32(mode)))
	}
}

// AnswerWithin is how long a handler may wait on a service outside the
// process (flowgen-temporal serve: the Temporal cluster) and still write
// its answer before the write timeout (-write-timeout, counted from the
// end of the request's headers) cuts the connection, where the client
// would see a broken connection instead of the 503 the handler answers:
// the write timeout less a second, or half of it when it is two seconds
// or less. A request whose body was slow to come has less.
func (s *Server) AnswerWithin() time.Duration {
	w := s.cfg.Limits.WriteTimeout
	if w > 2*time.Second {
		return w - time.Second
	}
	return w / 2
}

// Auth is the engine's Authorizer of the token file, nil without one.
func (s *Server) Auth() engine.Authorizer {
	if s.auth == nil { // a nil *TokenAuth in the interface would not be nil
		return nil
	}
	return s.auth
}

// Serve listens and serves h until ctx ends, then stops taking requests
// and waits up to ShutdownTimeout for the open ones; past it, it closes
// their connections, which ends their handlers' contexts, and logs at
// warn how many it closed (onShutdown, if set,
// is called as that begins: the engine ends its watch streams; Serve
// returns once it has, and once a SIGHUP's reload under way has). It logs
// one line, name with the address (and interfaces=all when it listens on
// every interface), the web view's URL, the access and attrs, and calls
// ready, if set, with the address. SIGHUP reloads the token file and the
// key pair meanwhile.
func (s *Server) Serve(ctx context.Context, name string, h http.Handler, onShutdown func(), ready func(addr string), attrs ...any) error {
	if err := s.Bind(); err != nil {
		return err
	}
	ln := s.ln
	// An API without tokens is open to this machine's processes (and,
	// with -insecure, to everyone who reaches it), not to the web pages a
	// browser shows: another site's page still says so in Sec-Fetch-Site,
	// and, on loopback, a page's name rebound to 127.0.0.1 still sends its
	// own Host. -insecure changes nothing to that on a loopback address:
	// it opens the API to other machines, which a loopback listener does
	// not reach, not to the pages of other sites.
	if s.auth == nil {
		h = engine.RefuseCrossSite(h)
		if ln.Addr().(*net.TCPAddr).IP.IsLoopback() {
			h = engine.LoopbackOnly(h)
		}
	}
	lim := s.cfg.Limits
	// The connections open, for the count of those a shutdown past its
	// bound closes.
	var conns openConns
	// Each connection holds a goroutine and its buffers, so their number
	// is bounded: beyond it Accept waits, and the kernel's backlog holds
	// the new connections until one closes.
	ln = netutil.LimitListener(ln, lim.MaxConns)
	srv := &http.Server{Handler: h,
		ReadHeaderTimeout: lim.ReadHeaderTimeout, ReadTimeout: lim.ReadTimeout,
		WriteTimeout: lim.WriteTimeout, IdleTimeout: lim.IdleTimeout,
		MaxHeaderBytes: lim.MaxHeaderBytes,
		HTTP2:          &http.HTTP2Config{MaxConcurrentStreams: MaxStreams},
		ErrorLog:       slog.NewLogLogger(s.errorLog(), slog.LevelWarn), // TLS handshake errors, among others
		ConnState:      conns.track}
	// Shutdown calls onShutdown on a goroutine of its own and does not
	// wait for it: Serve does, so that nothing of it goes on once Serve
	// has returned.
	shutDown := make(chan struct{})
	if onShutdown != nil {
		srv.RegisterOnShutdown(func() {
			defer close(shutDown)
			onShutdown()
		})
	} else {
		close(shutDown)
	}
	stopWatch := s.watch()
	defer stopWatch()
	errc := make(chan error, 1)
	if s.cert != nil {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: s.cert.get}
		go func() { errc <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	addr := ln.Addr().String()
	bound := ln.Addr().(*net.TCPAddr).IP
	line := []any{"addr", addr}
	if bound.IsUnspecified() {
		line = append(line, "interfaces", "all")
	}
	line = append(line, "ui", WebURL(addr, s.cert != nil), "tls", s.cert != nil, "access", s.access(bound))
	s.log.Info(name, append(line, attrs...)...)
	if ready != nil {
		ready(addr)
	}
	var err error
	select {
	case <-ctx.Done():
		// Said as it begins: open requests, then the caller's own
		// closing (a serve's runs, to a step boundary), may take
		// seconds, which an operator who pressed Ctrl-C would otherwise
		// spend without a word.
		s.log.Info(name + ": stopping")
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); errors.Is(serr, context.DeadlineExceeded) {
		// Requests still open at the bound: Shutdown leaves their
		// connections open and their handlers running after it returns,
		// and the caller then closes what they use (the engine). Closed,
		// the connections end, and the handlers' contexts with them.
		n := conns.open()
		_ = srv.Close()
		s.log.Warn(name+": open requests cut at the shutdown bound: their connections closed",
			"connections", n, "after", shutdownTimeout)
	}
	<-shutDown
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// openConns counts a server's open connections (http.Server.ConnState):
// from their accept to their close, or their hijacking, after which the
// server no longer holds them.
type openConns struct{ n atomic.Int64 }

func (c *openConns) track(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		c.n.Add(1)
	case http.StateClosed, http.StateHijacked:
		c.n.Add(-1)
	}
}

func (c *openConns) open() int64 { return c.n.Load() }

// The bound of the HTTP server's own log lines (http.Server.ErrorLog):
// whoever reaches the port makes one at will, without credentials (a TLS
// handshake that fails, with -tls-cert, is one a connection), so at most
// ErrorLogBurst are logged an ErrorLogInterval, as the engine's refusals
// are; the others are counted, and the count logged with the first line
// of a later interval.
const (
	ErrorLogBurst    = 20
	ErrorLogInterval = time.Minute
)

// errorLog is the handler of the HTTP server's log: s.log's, bounded.
func (s *Server) errorLog() slog.Handler {
	return &boundedHandler{Handler: s.log.Handler(), bound: ratelog.Bound{Burst: ErrorLogBurst, Interval: ErrorLogInterval}}
}

// boundedHandler passes at most its bound's burst of records an interval
// to Handler (ratelog.Bound). It serves slog.NewLogLogger, which calls
// Handle only.
type boundedHandler struct {
	slog.Handler
	bound ratelog.Bound
}

func (h *boundedHandler) Handle(ctx context.Context, r slog.Record) error {
	ok, suppressed, since := h.bound.Allow(r.Time)
	if suppressed > 0 {
		n := ratelog.SuppressedRecord(r.Time, "HTTP server errors not logged", suppressed, since, h.bound.Interval)
		if err := h.Handler.Handle(ctx, n); err != nil {
			return err
		}
	}
	if !ok {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

// access describes who may use the API on bound, and warns of what is
// exposed.
func (s *Server) access(bound net.IP) string {
	switch {
	case s.auth != nil:
		if s.cert == nil && !bound.IsLoopback() {
			s.log.Warn("tokens travel in clear text on this address: use -tls-cert and -tls-key, or a TLS reverse proxy (docs/engine.md#tls)")
		}
		return fmt.Sprintf("bearer tokens (%d)", s.auth.Len())
	case !bound.IsLoopback():
		s.log.Warn("serving without access control on an address that is not loopback (-insecure): anyone who reaches it may define flows, abort runs and read every run")
		return "OPEN TO ALL (-insecure)"
	}
	return "open (loopback)"
}

// WebURL is the address of the web view (engine/ui) on a listener bound
// to addr. A listener on every interface (":8080", "0.0.0.0:8080",
// "[::]:8080") is bound to an unspecified IP, which a browser cannot open:
// its URL is on 127.0.0.1, which such a listener serves too (Listen's
// "tcp" on "[::]" takes IPv4 as well).
func WebURL(addr string, tls bool) string {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
	}
	return scheme + "://" + addr + "/ui/"
}

// keyPair is the TLS certificate and key served; SIGHUP reloads it.
type keyPair struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// MaxKeyPairFileBytes bounds the TLS certificate and key files read: a
// chain of PEM certificates is a few kilobytes; a path given by mistake
// (a log, /dev/zero: refused anyway, not a regular file) is not read
// whole into memory.
const MaxKeyPairFileBytes = 1 << 20

// load reads the key pair as tls.LoadX509KeyPair does, but only regular
// files, never waiting on a named pipe (regfile.Read).
func (k *keyPair) load() error {
	certPEM, _, err := regfile.Read(k.certFile, MaxKeyPairFileBytes)
	if err != nil {
		return fmt.Errorf("TLS key pair: %w", err)
	}
	keyPEM, _, err := regfile.Read(k.keyFile, MaxKeyPairFileBytes)
	if err != nil {
		return fmt.Errorf("TLS key pair: %w", err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("TLS key pair: %w", err)
	}
	k.cur.Store(&c)
	return nil
}

func (k *keyPair) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return k.cur.Load(), nil }

// reload re-reads the token file and the key pair. What fails to reload
// is logged, and what was in use stays.
func (s *Server) reload() {
	if s.auth != nil {
		if err := s.auth.Reload(); err != nil {
			s.log.Error("SIGHUP: tokens not reloaded, the old ones stay", "error", err)
		} else {
			s.log.Info("SIGHUP: tokens reloaded", "tokens", s.auth.Len())
			s.warnLooseTokens()
		}
	}
	if s.cert != nil {
		if err := s.cert.load(); err != nil {
			s.log.Error("SIGHUP: TLS key pair not reloaded, the old one stays", "error", err)
		} else {
			s.log.Info("SIGHUP: TLS key pair reloaded")
		}
	}
}

// watch reloads on every SIGHUP, one sent since New included, until stop
// is called, which returns once a reload under way has; SIGHUP is taken
// (and does nothing) from then until Close.
func (s *Server) watch() (stop func()) {
	if s.hup == nil {
		return func() {}
	}
	done, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		for {
			select {
			case <-s.hup:
				s.reload()
			case <-done:
				return
			}
		}
	}()
	// A reload under way finishes first: nothing of Serve (a reload's
	// log line) goes on once it has returned.
	return func() {
		close(done)
		<-ended
	}
}
