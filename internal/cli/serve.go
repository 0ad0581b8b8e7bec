package cli

// The serve verb: an engine (package engine) with the embedded durable
// store and the JSON flows of a directory, behind the engine's HTTP/JSON
// API. Owned with engine/; registered by the init below.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/engine/httpcall"
	"github.com/flowgen/flowgen/engine/natsbus"
	"github.com/flowgen/flowgen/engine/provider/natsprovider"
	"github.com/flowgen/flowgen/internal/flagerr"
	"github.com/flowgen/flowgen/internal/listen"
	"github.com/flowgen/flowgen/internal/otlp"
	"github.com/flowgen/flowgen/observe"
	"github.com/flowgen/flowgen/runtime/store"
)

func init() {
	verbs = append(verbs, serveVerb)
}

var serveVerb = &verb{
	name:  "serve",
	short: "run the flow service: JSON flows behind an HTTP/JSON API, on a durable store",
	summary: `Serve runs a flow engine with the embedded durable store (-store) and the JSON
flows of a directory (-flows), behind an HTTP/JSON API (-addr): start runs
(POST /flows/{flow}/runs, POST /rpc/{endpoint}), read their status,
history and child runs (GET /runs/{id}, GET /runs/{id}/history, GET
/runs/{id}/children, GET /runs), abort them
(POST /runs/{id}/abort), define flows (PUT /flows, saved into -flows) and
publish events (POST /events/{topic}/{event}). -flows is optional: without
it, the flows directory is DIR/flows of -store (made 0700 at start), so a
flow that PUT /flows defined is served again after a restart.

Runs that were in progress when the server stopped resume when it starts;
runs waiting for an event stay parked in the store. rpc steps call the
services named with -service NAME=URL (POST URL/<endpoint>, JSON). Events
go through an in-process broker, or NATS JetStream with -nats URL (while
NATS is down, serve reconnects and POST /events answers 502, changing
nothing; a connection closed for good stops serve, exit 1).
POST /echo/{endpoint} answers with its request body: a stand-in service
for trying flows (-service NAME=http://localhost:8080/echo). Go steps
and Go rollbacks are served by remote providers: services that register
them (PUT /providers/{name}, with a lease) and serve them over HTTP or
NATS (docs/engine.md#remote-providers); a flow whose Go handlers have no
provider yet loads with a warning, and its runs wait for one. Callback
URLs must be on loopback, or match a -provider-allow if given. SIGINT or
SIGTERM stops the server gracefully (it logs "flowgen serve: stopping"
as it begins; requests still open 30s later have their connections
closed, with a warning): runs stop at a step boundary and resume at the
next start (a step still running 30s later is left, with a warning, and
runs again then); a second SIGINT or SIGTERM meanwhile ends serve at
once, as kill -9 would, losing nothing answered; closing the store
failing then is logged ("closing the store failed") and serve exits 1.

Access: with -tokens FILE (one "ROLE TOKEN" a line, ROLE admin, client,
viewer, provider or metrics) every request needs "Authorization: Bearer
TOKEN" (401 without, 403 for a role on what it may not do: only admin
defines flows, aborts runs, reads dead letters and the providers'
leases; provider, and admin, register providers; client starts runs,
posts events, and does what viewer does; viewer reads runs and flows and
changes nothing; metrics, a scraper's, reads GET /metrics only, as
viewer, client and admin may); POST
/echo needs none. An empty -tokens "" (an unset variable) is a usage
error, as is any empty path flag, -nats or -id. Without -tokens the API
is open, so serve listens on loopback by default and refuses another
address unless -insecure is given; open, it refuses (403) requests for
another host name and those a browser sends for another site's page.
POST and PUT bodies must be application/json (415).
-tls-cert and -tls-key serve HTTPS. SIGHUP re-reads the token file and
the key pair; a bad one is logged and the old one stays.

Observing: a web view of the flows and runs, live, is at /ui/ (with
-tokens it asks for a token, and shows what its role may read; admin can
abort runs there). GET /metrics serves the metrics for Prometheus (metrics
role, or viewer, client or admin). -otlp-traces sends each run's trace to an
OpenTelemetry collector (docs/observability.md).

With -temporal HOST:PORT the runs are Temporal workflows on that cluster
instead (-namespace, -task-queue, which are a usage error without it):
serve runs flowgen-temporal serve, of the module temporal/, with the same
flags, -flows DIR required (Temporal keeps the runs, not their flows, so
the flows PUT /flows defines are kept there). Those of the store, the
broker, the providers and the runs' limits are not its (-store, -retain,
-nats, -id, -max-running, -resume-workers, -event-workers, -broker-bytes,
-broker-max-age, -inbox-retention, -max-dead-letters, -watch-buffer,
-watch-bytes, -service-conns, -provider-allow: exit 2),
as Temporal keeps and schedules the runs; -inbox-bytes passes on as the
bound of a Temporal inbox, below the cluster's payload limit
(docs/temporal.md#json-flows-on-temporal).`,
	flags: func(fs *flag.FlagSet) func(*env, []string) int {
		dir := flagerr.Path(fs, "store", "store directory `DIR` (required, unless -temporal; created if missing)")
		flows := flagerr.Path(fs, "flows", "directory `DIR` of flows (.json, .flow), created if missing, loaded at start; flows defined through the API are saved there (default: the subdirectory flows of -store, made 0700; required with -temporal, which has no store)")
		var lc listen.Config
		lc.Flags(fs, "admin, client, viewer, provider or metrics")
		var tc otlp.Config
		tc.Flags(fs)
		natsURL := flagerr.NonEmpty(fs, "nats", "", "a URL", "NATS server `URL`: use JetStream as the broker instead of the in-process one")
		id := flagerr.NonEmpty(fs, "id", "serve", "an ID", "engine `ID`, naming its durable await consumer: with -nats, its own for each process, kept across restarts (a second process of an ID on the stream is refused)")
		retain := retainFlag(fs, "by background compaction of the store")
		var lim serverLimits
		lim.flags(fs)
		var services httpcall.Static
		fs.Var(&services, "service", "a service for rpc steps, as `NAME=URL` with an http(s) base URL (repeatable, once per NAME)")
		var allow listFlag
		fs.Var(&allow, "provider-allow", "a `HOST`, HOST:PORT or http(s) URL prefix that remote providers' callback URLs may use (repeatable; replaces the default, loopback only)")
		temporal := temporalFlags(fs)
		return func(e *env, args []string) int {
			if len(args) != 0 {
				return usageError(e, "unexpected arguments %q", args)
			}
			if *temporal != "" {
				return serveOnTemporal(e)
			}
			if err := checkTemporalOnly(fs); err != nil {
				return usageError(e, "%v", err)
			}
			if *dir == "" {
				return usageError(e, "-store is required")
			}
			if err := lc.Check(); err != nil {
				return usageError(e, "%v", err)
			}
			if err := lim.check(); err != nil {
				return usageError(e, "%v", err)
			}
			if *natsURL == "" && flagSet(fs, "broker-max-age") {
				return usageError(e, "-broker-max-age bounds the NATS stream: it needs -nats URL")
			}
			if err := checkRetain(*retain); err != nil {
				return usageError(e, "%v", err)
			}
			if err := tc.Check(); err != nil {
				return usageError(e, "%v", err)
			}
			if err := engine.CheckProviderAllow(allow); err != nil {
				return usageError(e, "-provider-allow: %v", err)
			}
			ctx, stop := listen.StopContext()
			defer stop()
			err := serve(ctx, serveConfig{
				store: *dir, flows: *flows, nats: *natsURL, id: *id, net: lc,
				services: services, providerAllow: allow, limits: lim, retain: *retain, trace: tc, stderr: e.stderr,
			}, nil)
			if err != nil {
				var le *loadError
				if errors.As(err, &le) {
					diag.Report(e.stderr, le.ds, diag.ReadFiles)
				}
				return failf(e, "serve: %v", err)
			}
			return exitOK
		}
	},
}

type serveConfig struct {
	store, flows, nats, id string
	net                    listen.Config // address, tokens, TLS, HTTP limits
	services               map[string]string
	providerAllow          []string      // engine.ProviderOptions.Allow
	limits                 serverLimits  // zero fields: the defaults
	retain                 time.Duration // store.Options.Retain
	trace                  otlp.Config   // where traces go, if anywhere
	stderr                 io.Writer
	natsOptions            []nats.Option            // tests': after serve's own
	closeStore             func(*store.Store) error // tests': in place of Store.Close
}

// serverLimits are the engine's bounds serve sets (the HTTP server's are
// listen.Limits); a zero field takes its default.
type serverLimits struct {
	maxBody        int64
	serviceConns   int           // httpcall.Limits.MaxConnsPerHost
	maxRunning     int           // engine.Options.MaxRunning
	resumeWorkers  int           // engine.Options.ResumeWorkers
	eventWorkers   int           // engine.Options.EventWorkers
	brokerBytes    int64         // engine.MemoryBrokerOptions.MaxBytes, natsbus.Options.MaxBytes
	brokerMaxAge   time.Duration // natsbus.Options.MaxAge
	inboxBytes     int64         // engine.Options.InboxBytes
	inboxRetention time.Duration // engine.Options.InboxRetention
	maxDead        int           // engine.Options.MaxDeadLetters
	watchBuffer    int           // engine.Options.WatchBuffer
	watchBytes     int           // engine.Options.WatchBytes
}

func (l *serverLimits) flags(fs *flag.FlagSet) {
	fs.Int64Var(&l.maxBody, "max-body", engine.MaxBody, "largest request body, in bytes (413 beyond)")
	fs.IntVar(&l.serviceConns, "service-conns", httpcall.DefaultLimits.MaxConnsPerHost, "most connections open to each service host for rpc steps, more calls wait; and most request bodies POST /echo reads at once")
	fs.IntVar(&l.maxRunning, "max-running", engine.DefaultMaxRunning, "most runs in flight (holding a goroutine; waiting runs do not count): starts beyond answer 429 with Retry-After, event triggers are delivered again later, schedule ticks wait and start their latest tick once")
	fs.IntVar(&l.resumeWorkers, "resume-workers", engine.DefaultResumeWorkers, "unfinished runs resumed at a time at start, in the background while serving")
	fs.IntVar(&l.eventWorkers, "event-workers", engine.DefaultEventWorkers, "broker events each event trigger applies at once (runs being started together); at most -max-running, as one more could only be refused")
	fs.Int64Var(&l.brokerBytes, "broker-bytes", engine.DefaultBrokerBytes, "bytes the broker holds for consumers that have not acknowledged them: the in-process broker's messages (payload, ID, names and 256 bytes each), or with -nats the JetStream stream's; publishing beyond fails and is retried")
	flagerr.DurationVar(fs, &l.brokerMaxAge, "broker-max-age", natsbus.DefaultMaxAge, "with -nats: how long (a `duration`) the JetStream stream keeps a message its consumers have not all acknowledged, and a consumer nobody pulls from (an engine down, an ID no longer used)")
	fs.Int64Var(&l.inboxBytes, "inbox-bytes", engine.DefaultInboxBytes, "bytes of the awaited events the inbox holds for runs to take (each its payload, topic, event and ID, and 512 for its records); POST /events beyond answers 429, the broker's are delivered again later")
	flagerr.DurationVar(fs, &l.inboxRetention, "inbox-retention", engine.DefaultInboxRetention, "how long (a `duration`) the inbox keeps an awaited event no run has taken, from its arrival, and one a run took, from then; then it expires, never delivered, and its ID is new again (choose it longer than an event may come before its run reaches the await)")
	fs.IntVar(&l.maxDead, "max-dead-letters", engine.DefaultMaxDeadLetters, "most dead letters the inbox keeps (events that can never be applied); beyond, the oldest are dropped before their retention (7 days) ends")
	fs.IntVar(&l.watchBuffer, "watch-buffer", engine.DefaultWatchBuffer, "events queued for one GET /watch stream (the web view's live updates) that its client has not read; a stream further behind gets an overflow event and ends")
	fs.IntVar(&l.watchBytes, "watch-bytes", engine.DefaultWatchBytes, "bytes of the events queued for one GET /watch stream (their JSON, with the runs' states unless it asked state=false; an event larger alone is queued when nothing else is); a stream further behind gets an overflow event and ends")
}

// check refuses limits that would disable themselves: each must be positive.
func (l serverLimits) check() error {
	if l.maxBody <= 0 {
		return fmt.Errorf("-max-body must be positive, found %d", l.maxBody)
	}
	if l.inboxRetention <= 0 {
		return fmt.Errorf("-inbox-retention must be positive, found %s", l.inboxRetention)
	}
	if l.brokerMaxAge < natsbus.MinMaxAge {
		return fmt.Errorf("-broker-max-age must be at least %s (JetStream keeps messages no less long), found %s", natsbus.MinMaxAge, l.brokerMaxAge)
	}
	for _, n := range []struct {
		name string
		v    int64
	}{{"service-conns", int64(l.serviceConns)}, {"max-running", int64(l.maxRunning)}, {"resume-workers", int64(l.resumeWorkers)}, {"event-workers", int64(l.eventWorkers)}, {"broker-bytes", l.brokerBytes}, {"inbox-bytes", l.inboxBytes}, {"max-dead-letters", int64(l.maxDead)}, {"watch-buffer", int64(l.watchBuffer)}, {"watch-bytes", int64(l.watchBytes)}} {
		if n.v <= 0 {
			return fmt.Errorf("-%s must be positive, found %d", n.name, n.v)
		}
	}
	return nil
}

// withDefaults fills the zero fields with the defaults.
func (l serverLimits) withDefaults() serverLimits {
	if l.maxBody <= 0 {
		l.maxBody = engine.MaxBody
	}
	if l.serviceConns <= 0 {
		l.serviceConns = httpcall.DefaultLimits.MaxConnsPerHost
	}
	return l
}

// flagSet reports whether the flag name was given.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// listFlag is a repeatable flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

type loadError struct {
	ds  diag.List
	err error
}

func (e *loadError) Error() string { return e.err.Error() }

// beforeStoreOpen is where a test starts another process on the store
// directory between serve's look at it and its Open.
var beforeStoreOpen = func() {}

// serve runs the server until ctx ends; ready, if set, gets the listening
// address.
func serve(ctx context.Context, cfg serveConfig, ready func(addr string)) (err error) {
	// A NATS connection closed for good, or a failed store, stops the
	// server with its cause.
	ctx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	log := slog.New(slog.NewTextHandler(cfg.stderr, nil))
	lim := cfg.limits.withDefaults()
	srv, err := listen.New(cfg.net, log)
	if err != nil {
		return err
	}
	// From here a SIGHUP is taken (it reloads once the server listens),
	// while the store opens and runs resume too; Close, last, gives it its
	// default action back.
	defer srv.Close()
	// A server that does not come up leaves no store behind that it made:
	// a store made for this start and refused with it (a bad flows file,
	// the address taken) holds nothing but its empty first segment, and
	// would be mistaken for a service's data; unless its engine, started,
	// recorded what it took from a broker meanwhile (newStoreDir).
	// Deferred first, so that it runs after the store is closed.
	listening, inUse := false, false
	if made := newStoreDir(cfg.store); made != nil {
		defer func() {
			if err != nil && !listening && !inUse {
				made()
			}
		}()
	}
	beforeStoreOpen()
	serving := ready
	ready = func(addr string) {
		listening = true
		if serving != nil {
			serving(addr)
		}
	}
	// NATS first: a server that cannot start writes nothing to disk.
	var nc *nats.Conn
	var bus *natsbus.Broker
	if cfg.nats != "" {
		// Closed, the connection would leave the server up without a
		// broker: every POST /events a 502, the events of other
		// processes never consumed. ConnOptions reconnects forever, so
		// what closes it (credentials refused) is not mended by waiting:
		// the server stops and says why, and its supervisor sees it.
		closed := func(nc *nats.Conn) {
			fail(&natsClosedError{err: nc.LastError()})
		}
		nc, err = nats.Connect(cfg.nats, append(append(natsbus.ConnOptions(log), nats.Name("flowgen serve "+cfg.id), nats.ClosedHandler(closed)), cfg.natsOptions...)...)
		if err != nil {
			return fmt.Errorf("connect to NATS %s: %w", natsbus.RedactURL(cfg.nats), err)
		}
		defer nc.Close()
		if bus, err = natsbus.New(ctx, nc, natsbus.Options{Logger: log, MaxBytes: lim.brokerBytes, MaxAge: lim.brokerMaxAge}); err != nil {
			return fmt.Errorf("NATS %s: %w", natsbus.RedactURL(cfg.nats), err) // JetStream off, say
		}
	}
	// Traces go to an OTLP collector when one is given; the provider is
	// stopped last, after the runs' spans have ended, flushing them.
	tp, stopTracing, err := cfg.trace.Start(ctx, log)
	if err != nil {
		return err
	}
	defer stopTracing()
	// Metrics at GET /metrics (docs/observability.md): they cost a few
	// counter updates per transition, so serve always keeps them.
	tel, err := observe.New(observe.Options{TracerProvider: tp, ProcessMetrics: true})
	if err != nil {
		return err
	}
	defer tel.Shutdown(context.Background())
	// A store whose write or sync failed (a full disk) refuses every
	// write until it is reopened: left up, the server would answer every
	// start, event and abort 500 for good, even once the disk has room.
	// It stops instead, and says why; its supervisor restarts it, and the
	// reopened store recovers what reached the disk.
	onFail := func(err error) {
		log.Error("the store failed: every write is refused until it is reopened, so the server stops", "store", cfg.store, "error", err)
		fail(&storeFailedError{err: err})
	}
	st, err := store.Open(cfg.store, store.Options{Committed: tel.StoreCommitted, Retain: cfg.retain, OnFail: onFail, OnCompact: func(cs store.CompactStats, err error) {
		if err != nil {
			log.Error("store compaction failed", "error", err)
			return
		}
		log.Info("store compacted", "runs_removed", cs.RunsRemoved, "runs_kept", cs.RunsKept,
			"messages_removed", cs.MessagesRemoved, "bytes_before", cs.Bytes, "bytes_after", cs.BytesAfter, "duration", cs.Duration)
	}})
	if err != nil {
		// Another process opened the directory first: two serves that
		// started together on a new one both found it empty, and the
		// other, which won the lock, owns it now. Removing "what this
		// start made" would remove that process's store under it.
		inUse = errors.Is(err, store.ErrInUse)
		return openStoreError(err)
	}
	// A Close that fails (a file or the directory's lock not released
	// cleanly) is the operator's to see, as any failure of the store:
	// logged, and serve exits 1 (unless it already ends with an error,
	// which comes first).
	defer func() {
		closeStore := (*store.Store).Close
		if cfg.closeStore != nil {
			closeStore = cfg.closeStore
		}
		if cerr := closeStore(st); cerr != nil {
			log.Error("closing the store failed", "store", cfg.store, "error", cerr)
			if err == nil {
				err = fmt.Errorf("close store: %w", cerr)
			}
		}
	}()
	if tail, ok := st.TornTail(); ok {
		// The last write of a process that died, never acknowledged, or
		// damage to the last records that looks the same: said, so that
		// a loss of records is never silent (docs/store.md#crash-safety).
		log.Warn("the store's log ended in a torn write, cut at open: "+store.TornTailMeaning, "segment", tail.Segment, "offset", tail.Offset, "bytes", tail.Bytes)
	}
	// The store's flows directory is made by LoadFlowsDir, once the
	// store has made (and synced) its own, and a start that fails removes
	// it with a store it made (newStoreDir).
	flows := cfg.flows
	if flows == "" {
		flows = defaultFlowsDir(cfg.store)
	}
	// The store keeps the inbox too (flowgen inbox -store DIR).
	opts := engine.Options{Store: st, ID: cfg.id, FlowsDir: flows, Logger: log, MaxBody: lim.maxBody, Telemetry: tel,
		MaxRunning: lim.maxRunning, ResumeWorkers: lim.resumeWorkers, EventWorkers: lim.eventWorkers, InboxBytes: lim.inboxBytes, InboxRetention: lim.inboxRetention, MaxDeadLetters: lim.maxDead,
		MaxWatchers: listen.MaxWatchers(cfg.net.Limits.MaxConns), WatchBuffer: lim.watchBuffer, WatchBytes: lim.watchBytes,
		Broker: engine.NewMemoryBrokerWith(engine.MemoryBrokerOptions{MaxBytes: lim.brokerBytes, Logger: log}),
		// .flow files load too (-flows, PUT /flows?name=x.flow), as the
		// command links the parser anyway; an embedded engine loads JSON.
		FlowFile: func(name string, src []byte, opts dsl.CheckOptions) (*dsl.File, diag.List) {
			return flowfile.Load(name, src, opts)
		}}
	// Remote providers serve Go steps and rollbacks (serve has no handler
	// of its own); over NATS too with -nats.
	opts.Providers = &engine.ProviderOptions{Allow: cfg.providerAllow}
	opts.Authorizer = srv.Auth()
	if len(cfg.services) > 0 {
		opts.Caller = httpcall.New(httpcall.Static(cfg.services), httpcall.WithLogger(log),
			httpcall.WithLimits(httpcall.Limits{MaxConnsPerHost: lim.serviceConns, MaxIdleConnsPerHost: lim.serviceConns}))
	}
	if nc != nil {
		opts.Broker = bus
		opts.Providers.NATS = natsprovider.NewTransport(nc)
		// Another process took this one's engine ID on the stream while
		// NATS was out of its reach: both would share the awaited events.
		// This one stops, and says why; restarted, it is refused while
		// the other holds the ID.
		opts.OnIDLost = func(err error) {
			fail(fmt.Errorf("another process took this one's engine ID on NATS while it ran, so it stopped: %w", err))
		}
	}
	eng, err := engine.New(opts)
	if err != nil {
		return err
	}
	ds, err := eng.LoadFlowsDir()
	if err != nil {
		return &loadError{ds: ds, err: err}
	}
	diag.LogWarnings(log, ds) // such as Go handlers no provider serves yet
	// The address before the engine: started, its consumers take what
	// waits on the broker (NATS: a trigger's events, the awaits' of its
	// -id) into the store and acknowledge it, and a start that failed
	// then (the address taken) would remove that store, events and all.
	if err := srv.Bind(); err != nil {
		return err
	}
	if err := eng.Start(ctx); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", tel.Middleware(eng.Handler(), engine.Untraced)) // access control: engine.Routes, the one table
	// A stand-in service for trying flows out: it answers every endpoint
	// with the request it got (-service NAME=http://ADDR/echo). It needs
	// no token: the engine's own rpc steps call it (httpcall sends none),
	// and it reads and changes nothing. Its body must be JSON, like the API's.
	// It reads at most -service-conns bodies at once, as many as the
	// engine's own rpc steps open to one service host: needing no token,
	// it would otherwise let anyone who reaches the port have every
	// connection (and under HTTP/2 each of its streams) hold a body of
	// -max-body in memory. The others wait, their bodies unread.
	// Traced as the API is (a server span under the step's call span,
	// from the traceparent httpcall sends), so that a run's trace shows
	// the service's side of each call.
	echoing := make(chan struct{}, lim.serviceConns)
	mux.Handle("POST /echo/{endpoint}", tel.Middleware(engine.NoSniff(engine.RequireJSON(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case echoing <- struct{}{}:
			defer func() { <-echoing }()
		case <-r.Context().Done():
			return
		}
		// Read whole before answering: a body over -max-body is refused
		// (413), not echoed cut short under a 200.
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, lim.maxBody))
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			status := http.StatusBadRequest
			if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
				status = http.StatusRequestEntityTooLarge
			}
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "reading the request body: " + err.Error()})
			return
		}
		_, _ = w.Write(b)
	}))), nil))
	// Another method is the echo's wrong method (405), as for the API's
	// routes, not a path without a route (the API's 404, which "/" would
	// answer).
	mux.Handle("/echo/{endpoint}", tel.Middleware(engine.NoSniff(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodPost)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusMethodNotAllowed)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "method not allowed on /echo/{endpoint} (allowed: POST)"})
	})), nil))
	// Shutdown waits for open requests, up to listen.ShutdownTimeout, and
	// then closes their connections: the web view's GET /watch streams
	// end first. Then runs reach a step boundary.
	// This mux would redirect a path that is not clean (//runs) before the
	// engine's Handler sees it: it answers the API's JSON 404 instead.
	err = srv.Serve(ctx, "flowgen serve", engine.Canonical(mux), eng.EndWatches, ready, "store", cfg.store, "flows", len(eng.Flows()), "tracing", tp != nil)
	cctx, cancel := context.WithTimeout(context.Background(), runsShutdownTimeout)
	defer cancel()
	if cerr := eng.Close(cctx); errors.Is(cerr, context.DeadlineExceeded) {
		// The operator sees what was left and what comes of it, not a
		// bare deadline: nothing is lost, the step runs again.
		log.Warn("flowgen serve: runs still in a step at the shutdown bound were left in it: each runs that step again at the next start, with the same idempotency key", "after", runsShutdownTimeout)
	} else if cerr != nil {
		log.Warn("stopping", "error", cerr)
	}
	// What stopped the server by itself (fail) is the error it ends with;
	// a signal's or the caller's cancellation is not an error.
	if cause := context.Cause(ctx); err == nil && cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
		err = cause
	}
	return err
}

// runsShutdownTimeout bounds how long serve, once its requests are
// answered, waits for its runs to reach a step boundary:
// listen.ShutdownTimeout, a variable so that a test need not wait for it.
var runsShutdownTimeout = listen.ShutdownTimeout

// storeFailedError: a write or sync of the store failed while the server ran.
type storeFailedError struct{ err error }

func (e *storeFailedError) Error() string {
	return "the store failed, so the server stopped (start it again once the cause is mended: the store recovers what reached the disk): " + e.err.Error()
}

func (e *storeFailedError) Unwrap() error { return e.err }

// natsClosedError: the NATS connection closed while the server ran.
type natsClosedError struct{ err error }

func (e *natsClosedError) Error() string {
	if e.err == nil {
		return "the NATS connection closed"
	}
	return "the NATS connection closed: " + e.err.Error()
}
