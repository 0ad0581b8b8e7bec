// Command flowgen-temporal serves the flow engine's JSON flows on a
// Temporal cluster:
//
//	flowgen-temporal serve -temporal HOST:PORT [-namespace NS] [-task-queue Q] -flows DIR [-addr ADDR] [-tokens FILE | -insecure] [-service NAME=URL]... [-otlp-traces URL [-trace-sample R]]
//
// It is `flowgen serve` with Temporal as the executor: the same HTTP/JSON
// API, access control and JSON flows (package engine), but every run is a
// Temporal workflow that interprets the definition pinned when it started,
// and the process is a Temporal worker of every run on the task queue. Run
// as many as you like against one cluster: they share the runs. With
// -otlp-traces (or the OTEL_EXPORTER_OTLP_* environment) it sends traces
// over OTLP/HTTP, as flowgen serve does: a span per API request, and under
// it the Temporal SDK's spans of the run's workflow and its activities
// (their service calls under them), carried across workers in the
// workflow's headers. See docs/temporal.md.
//
// It lives in the Temporal module so that the flowgen command, and the
// core module, never link Temporal; it links the engine but not the .flow
// parser, the Go package loader or the code generator (deps_test.go), so
// it loads JSON flows (`flowgen json` converts a .flow file).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"
	// The IANA zone database, for schedules that name a zone: serve must
	// accept the zones flowgen check does, on a machine with no zone files
	// (a scratch or distroless image) too.
	_ "time/tzdata"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/engine/httpcall"
	"github.com/flowgen/flowgen/internal/flagerr"
	"github.com/flowgen/flowgen/internal/listen"
	"github.com/flowgen/flowgen/internal/otlp"
	"github.com/flowgen/flowgen/internal/urlpath"
	"github.com/flowgen/flowgen/observe"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
	"github.com/flowgen/flowgen/temporal/jsonflows"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `usage: flowgen-temporal serve -temporal HOST:PORT -flows DIR [flags]

Serve runs the flow engine's HTTP/JSON API (the routes of flowgen serve) for
the JSON flows of a directory (-flows, required: Temporal keeps the runs,
not their flows, so what PUT /flows defines is saved there), executing
every run as a Temporal workflow on the cluster at -temporal, namespace
-namespace, task queue -task-queue; this process is a worker of that
queue. Every serve process given the same cluster, namespace, task queue
and flows shares the runs: any of them answers for any run, and a run
whose worker dies goes on on another. Access: as flowgen serve (-tokens,
loopback by default, -insecure).
Traces: as flowgen serve (-otlp-traces, -trace-sample).
`

type config struct {
	temporal, namespace, taskQueue, flows string
	net                                   listen.Config // address, tokens, TLS, HTTP limits: flowgen serve's
	trace                                 otlp.Config   // where traces go, if anywhere: flowgen serve's
	services                              map[string]string
	maxBody                               int64
	payloadLimit                          int   // jsonflows.Options.PayloadLimit
	inboxBytes                            int64 // jsonflows.Options.InboxBytes
	stderr                                io.Writer
}

func run(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		fmt.Fprint(stderr, usage)
		return 2
	case args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help":
		// Help asked for is not a usage error, as under flowgen.
		fmt.Fprint(stderr, usage)
		return 0
	case args[0] != "serve":
		fmt.Fprintf(stderr, "flowgen-temporal: unknown command %q\n%s", args[0], usage)
		return 2
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	// -h prints the manual; a bad flag gets its error and where to look,
	// not the manual after it, which would scroll the error out of sight.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var cfg config
	var services httpcall.Static
	cfg.flags(fs, &services)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, usage)
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return 0
		}
		// A mistyped flag of its own gets the closest one, as under
		// flowgen; another unknown one is most likely flowgen serve's.
		fmt.Fprintf(stderr, "flowgen-temporal serve: %s\n", flagerr.Describe(err, fs))
		if _, unknown := flagerr.Unknown(err); unknown && flagerr.Closest(err, fs) == "" {
			fmt.Fprintln(stderr, "flowgen serve's flags of the embedded store, its broker, inbox, providers and run limits are not flags on Temporal, which keeps and schedules the runs (docs/temporal.md#json-flows-on-temporal)")
		}
		fmt.Fprintln(stderr, "run 'flowgen-temporal serve -h' for the flags")
		return 2
	}
	cfg.services, cfg.stderr = services, stderr
	addrErr := clusterAddrError(cfg.temporal)
	switch {
	case fs.NArg() != 0:
		fmt.Fprintf(stderr, "flowgen-temporal serve: unexpected arguments %q\n", fs.Args())
		return 2
	case cfg.temporal == "":
		fmt.Fprintln(stderr, "flowgen-temporal serve: -temporal HOST:PORT is required")
		return 2
	case addrErr != nil:
		fmt.Fprintf(stderr, "flowgen-temporal serve: %v\n", addrErr)
		return 2
	case cfg.flows == "":
		// Temporal keeps the runs and the schedules a flow starts, not the
		// flow: without a directory to save it in, PUT /flows answered 200
		// (warning memory-only) for a definition the next start forgot,
		// while its runs and schedules lived on. A 2xx means durable, so
		// the directory is required, as flowgen serve's store is.
		fmt.Fprintln(stderr, "flowgen-temporal serve: -flows DIR is required: Temporal keeps the runs, not their flows, so the flows PUT /flows defines are saved there and loaded at the next start")
		fmt.Fprintln(stderr, "give it a directory (made if missing), the same flows to every serve process of a deployment (docs/temporal.md#json-flows-on-temporal)")
		return 2
	case cfg.namespace == "":
		// The SDK would take "" for "default", while serve's check of the
		// namespace, its logs and its schedules would name "".
		fmt.Fprintln(stderr, "flowgen-temporal serve: -namespace must not be empty (Temporal's own is \"default\")")
		return 2
	case cfg.taskQueue == "":
		// jsonflows would start the runs on its default queue while this
		// worker polled "", which Temporal refuses: no run would move.
		fmt.Fprintln(stderr, "flowgen-temporal serve: -task-queue must not be empty")
		return 2
	case cfg.maxBody <= 0:
		fmt.Fprintf(stderr, "flowgen-temporal serve: -max-body must be positive, found %d\n", cfg.maxBody)
		return 2
	case cfg.payloadLimit <= 0:
		fmt.Fprintf(stderr, "flowgen-temporal serve: -payload-limit must be positive, found %d\n", cfg.payloadLimit)
		return 2
	case cfg.inboxBytes <= 0:
		fmt.Fprintf(stderr, "flowgen-temporal serve: -inbox-bytes must be positive, found %d\n", cfg.inboxBytes)
		return 2
	case cfg.inboxBytes >= int64(cfg.payloadLimit):
		// An inbox carries what it holds into its next run's input, which
		// the cluster refuses past its payload limit: it would terminate
		// the inbox, and the events it held (each answered 202) with it.
		fmt.Fprintf(stderr, "flowgen-temporal serve: -inbox-bytes %d must be below -payload-limit %d: an inbox carries what it holds into the input of its next run, which the cluster refuses past its payload limit\n", cfg.inboxBytes, cfg.payloadLimit)
		return 2
	}
	for _, err := range []error{cfg.net.Check(), cfg.trace.Check()} {
		if err != nil {
			fmt.Fprintf(stderr, "flowgen-temporal serve: %v\n", err)
			return 2
		}
	}
	ctx, stop := listen.StopContext()
	defer stop()
	if err := serve(ctx, cfg, func(addr string) { fmt.Fprintf(stdout, "listening on %s\n", addr) }); err != nil {
		fmt.Fprintf(stderr, "flowgen-temporal serve: %v\n", err)
		return 1
	}
	return 0
}

// flags defines serve's flags on fs, to be parsed into cfg and services.
func (cfg *config) flags(fs *flag.FlagSet, services *httpcall.Static) {
	fs.StringVar(&cfg.temporal, "temporal", "", "Temporal frontend `HOST:PORT` (required)")
	fs.StringVar(&cfg.namespace, "namespace", "default", "Temporal namespace `NS`")
	fs.StringVar(&cfg.taskQueue, "task-queue", jsonflows.DefaultTaskQueue, "Temporal task queue `Q` of the runs; every serve process of a deployment uses the same")
	flagerr.PathVar(fs, &cfg.flows, "flows", "directory `DIR` of JSON flows (required; created if missing), loaded at start; flows defined through the API are saved there")
	cfg.net.Flags(fs, "admin, client or viewer; provider and metrics lines, for a file shared with flowgen serve, are accepted but have no route here: no provider API, no GET /metrics")
	cfg.trace.Flags(fs)
	fs.Int64Var(&cfg.maxBody, "max-body", engine.MaxBody, "largest request body, in bytes (413 beyond)")
	fs.IntVar(&cfg.payloadLimit, "payload-limit", flowtemporal.DefaultMaxInput, "the cluster's payload limit, its limit.blobSize.error, in bytes: a step whose input (the run's state and its payload) is past it fails before it is scheduled")
	fs.Int64Var(&cfg.inboxBytes, "inbox-bytes", jsonflows.DefaultInboxBytes, "bytes an inbox holds of awaited events no run has taken (POST /events beyond answers 429); below -payload-limit")
	fs.Var(services, "service", "a service for rpc steps, as `NAME=URL` with an http(s) base URL (repeatable, once per NAME)")
}

// clusterAddrError says what is wrong with -temporal's value, nil for a
// HOST:PORT with a port, or for a gRPC target naming its resolver
// (dns:///HOST:PORT), which the SDK's HostPort takes too. The SDK takes a
// bare host for one on gRPC's default port, 443, not Temporal's 7233, so
// `-temporal localhost` failed as a cluster at 127.0.0.1:443 that
// cannot be reached, exit 1, rather than as a usage error.
func clusterAddrError(addr string) error {
	if strings.Contains(addr, ":///") {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if _, ok := urlpath.ParsePort(port); err == nil && !ok {
		err = fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	if err != nil {
		return fmt.Errorf("-temporal %q: want HOST:PORT, such as localhost:7233, Temporal's frontend port: %v", addr, err)
	}
	return nil
}

// dialError is what client.Dial's err says of the cluster at hostPort.
// One the SDK could not reach (gRPC's Unavailable) is said so plainly,
// with why when it is the host name that does not resolve: gRPC's own
// word for that is "no children to pick from". gRPC's detail follows.
func dialError(ctx context.Context, hostPort string, err error) error {
	var unavailable *serviceerror.Unavailable
	if !errors.As(err, &unavailable) {
		return fmt.Errorf("connecting to Temporal at %s: %w", hostPort, err)
	}
	host, _, splitErr := net.SplitHostPort(hostPort)
	if splitErr == nil && net.ParseIP(host) == nil {
		// Bounded: without a name server the lookup would wait for the
		// resolver's own timeouts and attempts.
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if _, lerr := net.DefaultResolver.LookupHost(lctx, host); lerr != nil {
			return fmt.Errorf("the Temporal cluster at %s cannot be reached: the host name %q does not resolve (%v); gRPC: %w", hostPort, host, lerr, err)
		}
	}
	return fmt.Errorf("the Temporal cluster at %s cannot be reached: %w", hostPort, err)
}

// checkNamespace says so of a namespace the cluster does not have, before
// anything is written: the worker's start said it too, but after -flows
// was made (created if missing) and the address bound. Any other error is
// left to the worker's start, which asks the same.
func checkNamespace(ctx context.Context, c client.Client, cfg config) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: cfg.namespace})
	var nf *serviceerror.NamespaceNotFound
	if errors.As(err, &nf) {
		return fmt.Errorf("the Temporal cluster at %s has no namespace %q (-namespace): %w", cfg.temporal, cfg.namespace, err)
	}
	return nil
}

// serve runs the API and the worker until ctx ends; ready gets the
// listening address.
func serve(ctx context.Context, cfg config, ready func(addr string)) error {
	log := slog.New(slog.NewTextHandler(cfg.stderr, nil))
	// Traces go to an OTLP collector when one is given; the provider is
	// stopped last, flushing the spans of the last requests and runs.
	tp, stopTracing, err := cfg.trace.Start(ctx, log)
	if err != nil {
		return err
	}
	defer stopTracing()
	copts := client.Options{HostPort: cfg.temporal, Namespace: cfg.namespace, Logger: log}
	if tp != nil {
		// The SDK's spans (start, workflow, activities) under the API
		// request's; the workers made from this client trace too.
		ti, err := opentelemetry.NewTracingInterceptor(opentelemetry.TracerOptions{Tracer: tp.Tracer("github.com/flowgen/flowgen/temporal")})
		if err != nil {
			return err
		}
		copts.Interceptors = []interceptor.ClientInterceptor{ti}
	}
	c, err := client.Dial(copts)
	if err != nil {
		return dialError(ctx, cfg.temporal, err)
	}
	defer c.Close()
	if err := checkNamespace(ctx, c, cfg); err != nil {
		return err
	}
	// The API requests' spans: flowgen serve's middleware (nil tp: none).
	tel, err := observe.New(observe.Options{TracerProvider: tp})
	if err != nil {
		return err
	}
	defer tel.Shutdown(context.Background())
	srv, err := listen.New(cfg.net, log)
	if err != nil {
		return err
	}
	// Gives SIGHUP its default action back, and closes the listener Bind
	// made if Serve never took it (a worker or an engine that failed to
	// start).
	defer srv.Close()
	// A request's calls to the cluster end in time for its 503 to be
	// written within -write-timeout, below the SDK's 10 s a call.
	x := jsonflows.New(c, executorOptions(cfg, tel.Link, srv.AnswerWithin(), log))
	eng, err := engine.New(engineOptions(cfg, x, srv.Auth(), log))
	if err != nil {
		return err
	}
	ds, err := eng.LoadFlowsDir()
	if err != nil {
		// The errors (a Go step is one here: NoGoHandlers), as flowgen
		// check prints them: with the source line and a caret.
		diag.Report(cfg.stderr, ds, diag.ReadFiles)
		return err
	}
	diag.LogWarnings(log, ds) // in the log, as flowgen serve's are
	// The address before the worker and the engine: started, they write
	// to the cluster (the engine makes its flows' schedules), and a start
	// refused then (the address taken) would leave that behind.
	if err := srv.Bind(); err != nil {
		return err
	}
	w := worker.New(c, cfg.taskQueue, flowtemporal.WorkerOptions(worker.Options{}))
	x.Register(w, eng)
	if err := w.Start(); err != nil {
		return fmt.Errorf("starting the Temporal worker: %w", err)
	}
	defer w.Stop()
	if err := eng.Start(ctx); err != nil {
		return err
	}
	err = srv.Serve(ctx, "flowgen-temporal serve", tel.Middleware(eng.Handler(), engine.Untraced), eng.EndWatches, ready,
		"temporal", cfg.temporal, "namespace", cfg.namespace, "task_queue", cfg.taskQueue, "flows", len(eng.Flows()), "tracing", tp != nil)
	cctx, cancel := context.WithTimeout(context.Background(), listen.ShutdownTimeout)
	defer cancel()
	_ = eng.Close(cctx)
	return err
}

// executorOptions are the executor's options of serve: link names an API
// request's span, answer bounds a call made for a request.
func executorOptions(cfg config, link func(context.Context) string, answer time.Duration, log *slog.Logger) jsonflows.Options {
	return jsonflows.Options{TaskQueue: cfg.taskQueue, PayloadLimit: cfg.payloadLimit, InboxBytes: cfg.inboxBytes,
		Link: link, Answer: answer, Logger: log}
}

// engineOptions are the engine's options of serve: x runs the runs, auth
// checks the requests (nil: none).
func engineOptions(cfg config, x engine.Executor, auth engine.Authorizer, log *slog.Logger) engine.Options {
	// No Go handler serves these flows: the command registers none, and
	// has no remote providers (PUT /providers answers 404). It links no
	// .flow parser, and says so of a .flow file in -flows, which flowgen
	// serve would load, rather than leave it unserved (engine.JSONOnly).
	opts := engine.Options{Executor: x, FlowsDir: cfg.flows, Logger: log, MaxBody: cfg.maxBody, Authorizer: auth,
		MaxWatchers: listen.MaxWatchers(cfg.net.Limits.MaxConns), NoGoHandlers: true, FlowFile: engine.JSONOnly}
	if len(cfg.services) > 0 {
		opts.Caller = httpcall.New(httpcall.Static(cfg.services), httpcall.WithLogger(log))
	}
	return opts
}
