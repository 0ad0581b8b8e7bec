package cli

// The serve verb: an engine (package engine) with the embedded durable
// store and the JSON flows of a directory, behind the engine's HTTP/JSON
// API. Owned with engine/; registered by the init below.

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/engine/httpcall"
	"github.com/flowgen/flowgen/engine/natsbus"
	"github.com/flowgen/flowgen/engine/provider/natsprovider"
	"github.com/flowgen/flowgen/internal/listen"
	"github.com/flowgen/flowgen/observe"
	"github.com/flowgen/flowgen/runtime/store"
)

func init() {
	verbs = append(verbs, serveVerb)
}

var serveVerb = &verb{
	name: "serve",
	summary: `Serve runs a flow engine with the embedded durable store (-store) and the JSON
flows of a directory (-flows), behind an HTTP/JSON API (-addr): start runs
(POST /flows/{flow}/runs, POST /rpc/{endpoint}), read their status and
history (GET /runs/{id}, GET /runs/{id}/history, GET /runs), abort them
(POST /runs/{id}/abort), define flows (PUT /flows, saved into -flows) and
publish events (POST /events/{topic}/{event}). -flows is optional: without
it, flows defined through the API last until the server stops, and after a
restart their runs wait in the store until the flow is defined again.

Runs that were in progress when the server stopped resume when it starts;
runs waiting for an event stay parked in the store. rpc steps call the
services named with -service name=URL (POST URL/<endpoint>, JSON). Events
go through an in-process broker, or NATS JetStream with -nats URL.
POST /echo/{endpoint} answers with its request body: a stand-in service
for trying flows (-service NAME=http://localhost:8080/echo). Go steps
and Go rollbacks are served by remote providers: services that register
them (PUT /providers/{name}, with a lease) and serve them over HTTP or
NATS (docs/engine.md#remote-providers); a flow whose Go handlers have no
provider yet loads with a warning, and its runs wait for one. Callback
URLs must be on loopback, or match a -provider-allow if given. SIGINT or SIGTERM stops the server
gracefully: runs stop at a step boundary and resume at the next start.

Access: with -tokens FILE (one "ROLE TOKEN" a line, ROLE admin or client)
every request needs "Authorization: Bearer TOKEN" (401 without, 403 for
a client on what only an admin may do: define flows, abort runs, read
dead letters; ROLE provider registers providers, and admin may too); POST /echo needs none. Without -tokens the API is open, so
serve listens on loopback by default and refuses another address unless
-insecure is given. POST and PUT bodies must be application/json (415).
-tls-cert and -tls-key serve HTTPS. SIGHUP re-reads the token file and
the key pair; a bad one is logged and the old one stays.`,
	flags: func(fs *flag.FlagSet) func(*env, []string) int {
		dir := fs.String("store", "", "store directory (required; created if missing)")
		flows := fs.String("flows", "", "directory of flows (.json, .flow), loaded at start; flows defined through the API are saved there (without it, they are lost at exit)")
		addr := fs.String("addr", "127.0.0.1:8080", "HTTP listen address; one that is not loopback needs -tokens or -insecure")
		tokens := fs.String("tokens", "", "`FILE` of bearer tokens, one \"ROLE TOKEN\" a line (ROLE: admin, client or provider), that API requests must present; re-read on SIGHUP")
		insecure := fs.Bool("insecure", false, "serve without -tokens on an address that is not loopback: anyone who reaches it may do anything")
		tlsCert := fs.String("tls-cert", "", "TLS certificate `FILE` (PEM, with -tls-key): serve HTTPS; re-read on SIGHUP")
		tlsKey := fs.String("tls-key", "", "TLS private key `FILE` (PEM, with -tls-cert)")
		natsURL := fs.String("nats", "", "NATS server URL: use JetStream as the broker instead of the in-process one")
		id := fs.String("id", "serve", "engine ID (names its durable event consumer)")
		retain := retainFlag(fs, "by background compaction of the store")
		var lim serverLimits
		lim.flags(fs)
		var services httpcall.Static
		fs.Var(&services, "service", "a service for rpc steps, as name=URL (repeatable)")
		var allow listFlag
		fs.Var(&allow, "provider-allow", "a `HOST`, HOST:PORT or http(s) URL prefix that remote providers' callback URLs may use (repeatable; replaces the default, loopback only)")
		return func(e *env, args []string) int {
			if len(args) != 0 {
				return usageError(e, "unexpected arguments %q", args)
			}
			if *dir == "" {
				return usageError(e, "-store is required")
			}
			if (*tlsCert == "") != (*tlsKey == "") {
				return usageError(e, "-tls-cert and -tls-key go together")
			}
			if err := lim.check(); err != nil {
				return usageError(e, "%v", err)
			}
			if err := checkRetain(*retain); err != nil {
				return usageError(e, "%v", err)
			}
			if err := listen.CheckExposure(*addr, *tokens != "", *insecure); err != nil {
				return usageError(e, "%v", err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			err := serve(ctx, serveConfig{
				store: *dir, flows: *flows, addr: *addr, nats: *natsURL, id: *id,
				tokens: *tokens, insecure: *insecure, tlsCert: *tlsCert, tlsKey: *tlsKey,
				services: services, providerAllow: allow, limits: lim, retain: *retain, stderr: e.stderr,
			}, nil)
			if err != nil {
				var le *loadError
				if errors.As(err, &le) {
					printDiags(e, le.ds)
				}
				return failf(e, "serve: %v", err)
			}
			return exitOK
		}
	},
}

type serveConfig struct {
	store, flows, addr, nats, id string
	tokens                       string // token file; "" serves the API open
	insecure                     bool   // -insecure: open on an address that is not loopback
	tlsCert, tlsKey              string
	services                     map[string]string
	providerAllow                []string      // engine.ProviderOptions.Allow
	limits                       serverLimits  // zero fields: the defaults
	retain                       time.Duration // store.Options.Retain
	stderr                       io.Writer
}

// The defaults of serve's HTTP server limits (docs/engine.md#limits).
const (
	defaultReadHeaderTimeout = listen.DefaultReadHeaderTimeout
	defaultReadTimeout       = listen.DefaultReadTimeout
	defaultWriteTimeout      = listen.DefaultWriteTimeout
	defaultIdleTimeout       = listen.DefaultIdleTimeout
	defaultMaxHeaderBytes    = listen.DefaultMaxHeaderBytes
)

// serverLimits are the HTTP server's timeouts and sizes; a zero field
// takes its default.
type serverLimits struct {
	readHeaderTimeout, readTimeout, writeTimeout, idleTimeout time.Duration
	maxHeaderBytes                                            int
	maxBody                                                   int64
	serviceConns                                              int   // httpcall.Limits.MaxConnsPerHost
	maxRunning                                                int   // engine.Options.MaxRunning
	resumeWorkers                                             int   // engine.Options.ResumeWorkers
	eventWorkers                                              int   // engine.Options.EventWorkers
	brokerBytes                                               int64 // engine.MemoryBrokerOptions.MaxBytes
}

func (l *serverLimits) flags(fs *flag.FlagSet) {
	fs.DurationVar(&l.readHeaderTimeout, "read-header-timeout", defaultReadHeaderTimeout, "time a client has to send a request's headers")
	fs.DurationVar(&l.readTimeout, "read-timeout", defaultReadTimeout, "time a client has to send a whole request, body included; a slower one is cut off")
	fs.DurationVar(&l.writeTimeout, "write-timeout", defaultWriteTimeout, "time to answer a request, from the end of its headers")
	fs.DurationVar(&l.idleTimeout, "idle-timeout", defaultIdleTimeout, "time a keep-alive connection may stay idle before it is closed")
	fs.IntVar(&l.maxHeaderBytes, "max-header-bytes", defaultMaxHeaderBytes, "largest request header, in bytes")
	fs.Int64Var(&l.maxBody, "max-body", engine.MaxBody, "largest request body, in bytes (413 beyond)")
	fs.IntVar(&l.serviceConns, "service-conns", httpcall.DefaultLimits.MaxConnsPerHost, "most connections open to each service host for rpc steps; more calls wait")
	fs.IntVar(&l.maxRunning, "max-running", engine.DefaultMaxRunning, "most runs in flight (holding a goroutine; waiting runs do not count): starts beyond answer 429 with Retry-After, event triggers are delivered again later")
	fs.IntVar(&l.resumeWorkers, "resume-workers", engine.DefaultResumeWorkers, "unfinished runs resumed at a time at start, in the background while serving")
	fs.IntVar(&l.eventWorkers, "event-workers", engine.DefaultEventWorkers, "broker events each event trigger applies at once (runs being started together)")
	fs.Int64Var(&l.brokerBytes, "broker-bytes", engine.DefaultBrokerBytes, "payload bytes the in-process broker holds for consumers that have not acknowledged them (without -nats); publishing beyond fails and is retried")
}

// check refuses limits that would disable themselves: each must be positive.
func (l serverLimits) check() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"read-header-timeout", l.readHeaderTimeout}, {"read-timeout", l.readTimeout}, {"write-timeout", l.writeTimeout}, {"idle-timeout", l.idleTimeout}} {
		if d.v <= 0 {
			return fmt.Errorf("-%s must be positive, found %v", d.name, d.v)
		}
	}
	if l.maxHeaderBytes <= 0 {
		return fmt.Errorf("-max-header-bytes must be positive, found %d", l.maxHeaderBytes)
	}
	if l.maxBody <= 0 {
		return fmt.Errorf("-max-body must be positive, found %d", l.maxBody)
	}
	for _, n := range []struct {
		name string
		v    int64
	}{{"service-conns", int64(l.serviceConns)}, {"max-running", int64(l.maxRunning)}, {"resume-workers", int64(l.resumeWorkers)}, {"event-workers", int64(l.eventWorkers)}, {"broker-bytes", l.brokerBytes}} {
		if n.v <= 0 {
			return fmt.Errorf("-%s must be positive, found %d", n.name, n.v)
		}
	}
	return nil
}

// withDefaults fills the zero fields with the defaults.
func (l serverLimits) withDefaults() serverLimits {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.readHeaderTimeout, defaultReadHeaderTimeout)
	def(&l.readTimeout, defaultReadTimeout)
	def(&l.writeTimeout, defaultWriteTimeout)
	def(&l.idleTimeout, defaultIdleTimeout)
	if l.maxHeaderBytes <= 0 {
		l.maxHeaderBytes = defaultMaxHeaderBytes
	}
	if l.maxBody <= 0 {
		l.maxBody = engine.MaxBody
	}
	return l
}

// listFlag is a repeatable flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// keyPair is the TLS certificate and key serve presents; SIGHUP reloads it.
type keyPair struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

func (k *keyPair) load() error {
	c, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		return fmt.Errorf("TLS key pair: %w", err)
	}
	k.cur.Store(&c)
	return nil
}

func (k *keyPair) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return k.cur.Load(), nil }

// reloadable is what SIGHUP reloads: the token file and the TLS key pair.
// What fails to reload is logged, and what was in use stays.
type reloadable struct {
	auth *engine.TokenAuth
	cert *keyPair
}

func (rl reloadable) reload(log *slog.Logger) {
	if rl.auth != nil {
		if err := rl.auth.Reload(); err != nil {
			log.Error("SIGHUP: tokens not reloaded, the old ones stay", "error", err)
		} else {
			log.Info("SIGHUP: tokens reloaded", "tokens", rl.auth.Len())
		}
	}
	if rl.cert != nil {
		if err := rl.cert.load(); err != nil {
			log.Error("SIGHUP: TLS key pair not reloaded, the old one stays", "error", err)
		} else {
			log.Info("SIGHUP: TLS key pair reloaded")
		}
	}
}

// watch reloads rl on every SIGHUP until stop is called. It installs the
// handler before it returns, and only if there is something to reload (else
// SIGHUP keeps its default action).
func (rl reloadable) watch(log *slog.Logger) (stop func()) {
	if rl.auth == nil && rl.cert == nil {
		return func() {}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				rl.reload(log)
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(hup); close(done) }
}

// webURL is the address of the web view (engine/ui) on the listener.
func webURL(addr string, tls bool) string {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	return scheme + "://" + addr + "/ui/"
}

type loadError struct {
	ds  diag.List
	err error
}

func (e *loadError) Error() string { return e.err.Error() }

func printDiags(e *env, ds diag.List) {
	list, _ := ds.Normalize(0)
	for _, d := range list {
		fmt.Fprintln(e.stderr, d.String())
		if d.Hint != "" {
			fmt.Fprintf(e.stderr, "  hint: %s\n", d.Hint)
		}
	}
}

// serve runs the server until ctx ends; ready, if set, gets the listening
// address.
func serve(ctx context.Context, cfg serveConfig, ready func(addr string)) error {
	log := slog.New(slog.NewTextHandler(cfg.stderr, nil))
	lim := cfg.limits.withDefaults()
	var rl reloadable
	if cfg.tokens != "" {
		a, err := engine.NewTokenAuth(cfg.tokens)
		if err != nil {
			return err
		}
		rl.auth = a
	}
	if cfg.tlsCert != "" {
		rl.cert = &keyPair{certFile: cfg.tlsCert, keyFile: cfg.tlsKey}
		if err := rl.cert.load(); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(cfg.store, 0o755); err != nil {
		return err
	}
	// Metrics at GET /metrics (docs/observability.md): they cost a few
	// counter updates per transition, so serve always keeps them.
	tel, err := observe.New(observe.Options{})
	if err != nil {
		return err
	}
	defer tel.Shutdown(context.Background())
	st, err := store.Open(cfg.store, store.Options{Committed: tel.StoreCommitted, Retain: cfg.retain, OnCompact: func(cs store.CompactStats, err error) {
		if err != nil {
			log.Error("store compaction failed", "error", err)
			return
		}
		log.Info("store compacted", "runs_removed", cs.RunsRemoved, "runs_kept", cs.RunsKept,
			"messages_removed", cs.MessagesRemoved, "bytes_before", cs.Bytes, "bytes_after", cs.BytesAfter, "duration", cs.Duration)
	}})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	// The store keeps the inbox too (flowgen inbox -store DIR).
	opts := engine.Options{Store: st, ID: cfg.id, FlowsDir: cfg.flows, Logger: log, MaxBody: lim.maxBody, Telemetry: tel,
		MaxRunning: lim.maxRunning, ResumeWorkers: lim.resumeWorkers, EventWorkers: lim.eventWorkers,
		Broker: engine.NewMemoryBrokerWith(engine.MemoryBrokerOptions{MaxBytes: lim.brokerBytes, Logger: log}),
		// .flow files load too (-flows, PUT /flows?name=x.flow), as the
		// command links the parser anyway; an embedded engine loads JSON.
		FlowFile: func(name string, src []byte) (*dsl.File, diag.List) {
			return flowfile.Load(name, src, dsl.CheckOptions{})
		}}
	// Remote providers serve Go steps and rollbacks (serve has no handler
	// of its own); over NATS too with -nats.
	opts.Providers = &engine.ProviderOptions{Allow: cfg.providerAllow}
	if rl.auth != nil { // a nil *TokenAuth in the interface would not be nil
		opts.Authorizer = rl.auth
	}
	if len(cfg.services) > 0 {
		opts.Caller = httpcall.New(httpcall.Static(cfg.services),
			httpcall.WithLimits(httpcall.Limits{MaxConnsPerHost: lim.serviceConns, MaxIdleConnsPerHost: lim.serviceConns}))
	}
	if cfg.nats != "" {
		nc, err := nats.Connect(cfg.nats)
		if err != nil {
			return fmt.Errorf("connect to NATS: %w", err)
		}
		defer nc.Close()
		b, err := natsbus.New(ctx, nc, natsbus.Options{})
		if err != nil {
			return err
		}
		opts.Broker = b
		opts.Providers.NATS = natsprovider.NewTransport(nc)
	}
	eng, err := engine.New(opts)
	if err != nil {
		return err
	}
	if cfg.flows != "" {
		if err := os.MkdirAll(cfg.flows, 0o755); err != nil {
			return err
		}
		ds, err := eng.LoadDir(cfg.flows)
		if err != nil {
			return &loadError{ds: ds, err: fmt.Errorf("loading flows from %s: %w", cfg.flows, err)}
		}
		for _, d := range ds { // warnings: Go handlers no provider serves yet
			log.Warn(d.String())
		}
	}
	if err := eng.Start(ctx); err != nil {
		return err
	}
	ln, err := listen.Listen(cfg.addr, rl.auth == nil && !cfg.insecure)
	if err != nil {
		_ = eng.Close(context.Background())
		return err
	}
	bound := ln.Addr().(*net.TCPAddr).IP
	mux := http.NewServeMux()
	mux.Handle("/", tel.Middleware(eng.Handler())) // access control: engine.Routes, the one table
	// A stand-in service for trying flows out: it answers every endpoint
	// with the request it got (-service NAME=http://ADDR/echo). It needs
	// no token: the engine's own rpc steps call it (httpcall sends none),
	// and it reads and changes nothing. Its body must be JSON, like the API's.
	mux.Handle("POST /echo/{endpoint}", engine.RequireJSON(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.Copy(w, http.MaxBytesReader(w, r.Body, lim.maxBody))
	})))
	srv := &http.Server{Handler: mux,
		ReadHeaderTimeout: lim.readHeaderTimeout, ReadTimeout: lim.readTimeout,
		WriteTimeout: lim.writeTimeout, IdleTimeout: lim.idleTimeout,
		MaxHeaderBytes: lim.maxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn)} // TLS handshake errors, among others
	// Shutdown waits for open requests: the web view's GET /watch streams
	// end first.
	srv.RegisterOnShutdown(eng.EndWatches)
	stopWatch := rl.watch(log)
	defer stopWatch()
	errc := make(chan error, 1)
	if rl.cert != nil {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: rl.cert.get}
		go func() { errc <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	access := "open (loopback)"
	switch {
	case rl.auth != nil:
		access = fmt.Sprintf("bearer tokens (%d)", rl.auth.Len())
		if rl.cert == nil && !bound.IsLoopback() {
			log.Warn("tokens travel in clear text on this address: use -tls-cert and -tls-key, or a TLS reverse proxy (docs/engine.md#tls)")
		}
	case !bound.IsLoopback():
		access = "OPEN TO ALL (-insecure)"
		log.Warn("serving without access control on an address that is not loopback (-insecure): anyone who reaches it may define flows, abort runs and read every run")
	}
	log.Info("flowgen serve", "addr", ln.Addr().String(), "ui", webURL(ln.Addr().String(), rl.cert != nil), "tls", rl.cert != nil, "access", access, "store", cfg.store, "flows", len(eng.Flows()))
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	// Stop taking requests, then let runs reach a step boundary.
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if cerr := eng.Close(sctx); cerr != nil {
		log.Warn("stopping", "error", cerr)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
