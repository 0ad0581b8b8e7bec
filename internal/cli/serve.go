package cli

// The serve verb: an engine (package engine) with the embedded durable
// store and the JSON flows of a directory, behind the engine's HTTP/JSON
// API. Owned with engine/; registered by the init below.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/engine/httpcall"
	"github.com/flowgen/flowgen/engine/natsbus"
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
publish events (POST /events/{topic}/{event}).

Runs that were in progress when the server stopped resume when it starts;
runs waiting for an event stay parked in the store. rpc steps call the
services named with -service name=URL (POST URL/<endpoint>, JSON). Events
go through an in-process broker, or NATS JetStream with -nats URL.
POST /echo/{endpoint} answers with its request body: a stand-in service
for trying flows (-service NAME=http://localhost:8080/echo). Flows
with Go steps need handlers from a Go program embedding the engine; serve
has none, so it rejects them. SIGINT or SIGTERM stops the server
gracefully: runs stop at a step boundary and resume at the next start.`,
	flags: func(fs *flag.FlagSet) func(*env, []string) int {
		dir := fs.String("store", "", "store directory (required; created if missing)")
		flows := fs.String("flows", "", "directory of JSON flows, loaded at start; flows defined through the API are saved there")
		addr := fs.String("addr", ":8080", "HTTP listen address")
		natsURL := fs.String("nats", "", "NATS server URL: use JetStream as the broker instead of the in-process one")
		id := fs.String("id", "serve", "engine ID (names its durable event consumer)")
		var services serviceFlags
		fs.Var(&services, "service", "a service for rpc steps, as name=URL (repeatable)")
		return func(e *env, args []string) int {
			if len(args) != 0 {
				return usageError(e, "unexpected arguments %q", args)
			}
			if *dir == "" {
				return usageError(e, "-store is required")
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			err := serve(ctx, serveConfig{
				store: *dir, flows: *flows, addr: *addr, nats: *natsURL, id: *id,
				services: services, stderr: e.stderr,
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

type serviceFlags map[string]string

func (s *serviceFlags) String() string {
	var out []string
	for k, v := range *s {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func (s *serviceFlags) Set(v string) error {
	name, url, ok := strings.Cut(v, "=")
	if !ok || name == "" || url == "" {
		return fmt.Errorf("want name=URL, found %q", v)
	}
	if *s == nil {
		*s = serviceFlags{}
	}
	(*s)[name] = url
	return nil
}

type serveConfig struct {
	store, flows, addr, nats, id string
	services                     map[string]string
	stderr                       io.Writer
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
	if err := os.MkdirAll(cfg.store, 0o755); err != nil {
		return err
	}
	st, err := store.Open(cfg.store, store.Options{})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	// The store keeps the inbox too (flowgen inbox -store DIR).
	opts := engine.Options{Store: st, ID: cfg.id, FlowsDir: cfg.flows, Logger: log,
		// .flow files load too (-flows, PUT /flows?name=x.flow), as the
		// command links the parser anyway; an embedded engine loads JSON.
		FlowFile: func(name string, src []byte) (*dsl.File, diag.List) {
			return flowfile.Load(name, src, dsl.CheckOptions{})
		}}
	if len(cfg.services) > 0 {
		opts.Caller = httpcall.New(httpcall.Static(cfg.services))
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
	}
	if err := eng.Start(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		_ = eng.Close(context.Background())
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", eng.Handler())
	// A stand-in service for trying flows out: it answers every endpoint
	// with the request it got (-service NAME=http://ADDR/echo).
	mux.HandleFunc("POST /echo/{endpoint}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.Copy(w, http.MaxBytesReader(w, r.Body, engine.MaxBody))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("flowgen serve", "addr", ln.Addr().String(), "store", cfg.store, "flows", len(eng.Flows()))
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
