// Package otlp sends a command's traces to an OpenTelemetry collector over
// OTLP/HTTP: the flags that turn it on and the TracerProvider they make.
// flowgen serve uses it; an embedding program builds its own provider
// (docs/observability.md).
//
// Tracing is on when a traces endpoint is given, by the -otlp-traces flag
// or by the standard environment variables (OTEL_EXPORTER_OTLP_ENDPOINT,
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), which the exporter reads with the
// rest of its standard settings (OTEL_EXPORTER_OTLP_HEADERS for a
// collector's credentials, timeouts, compression). OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES name the service; it is "flowgen" otherwise.
//
// Bounds: the spans wait in the SDK's batch processor, at most MaxQueue of
// them (beyond, new spans are dropped: a slow or absent collector never
// holds up a run, nor grows the process); one goroutine exports them, in
// batches, over the exporter's own HTTP client.
//
// Errors: the SDK reports what fails (an export, each batch that the
// collector refuses or cannot be reached for) to OpenTelemetry's
// process-wide error handler, which writes them to stderr with the log
// package. Start sends them to the command's logger instead, at most one
// line per ErrorEvery, which counts those it held back.
package otlp

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowgen/flowgen/internal/urlpath"
)

// MaxQueue is how many ended spans wait for export at most.
const MaxQueue = sdktrace.DefaultMaxQueueSize

// FlushTimeout bounds the last export when the command stops: a collector
// that is down delays the exit by that much, not by the exporter's retries.
const FlushTimeout = 5 * time.Second

// ServiceName is the service.name of the spans when the environment does
// not set one.
const ServiceName = "flowgen"

// Config is where traces go and how many runs are traced.
type Config struct {
	// Traces is the URL spans are posted to, as
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ("http://127.0.0.1:4318/v1/traces");
	// empty: the environment's, if any.
	Traces string
	// Sample is the share of traces recorded, from 0 to 1, for traces that
	// start here (Flags defaults it to 1; the zero Config records only
	// the traces its callers sampled); a request that carries a sampled
	// (or unsampled) trace keeps its caller's decision.
	Sample float64
}

// Flags registers -otlp-traces and -trace-sample on fs.
func (c *Config) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Traces, "otlp-traces", "", "send traces over OTLP/HTTP to this `URL` (as OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, e.g. http://127.0.0.1:4318/v1/traces); default: the OTEL_EXPORTER_OTLP_* environment, else no tracing")
	fs.Float64Var(&c.Sample, "trace-sample", 1, "share of the traces starting here that are recorded, 0 to 1 (a request's traceparent keeps its caller's decision)")
}

// Check reports a flag value that cannot work, or, without -otlp-traces,
// an OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (else OTEL_EXPORTER_OTLP_ENDPOINT)
// that is no http(s) URL, and, with tracing on, headers variables the
// exporter cannot read (checkHeaders).
func (c Config) Check() error {
	// Written so that NaN, which the flag package parses and which no
	// comparison holds for, is refused too: the sampler would make of it
	// a share that depends on the platform's float-to-int conversion.
	if !(c.Sample >= 0 && c.Sample <= 1) {
		return fmt.Errorf("-trace-sample %v: give a share from 0 to 1", c.Sample)
	}
	if err := c.checkEndpoint(); err != nil {
		return err
	}
	if c.Enabled() {
		return checkHeaders()
	}
	return nil
}

// checkEndpoint checks -otlp-traces, or without it the environment's
// endpoint.
func (c Config) checkEndpoint() error {
	if c.Traces != "" {
		return checkTracesURL("-otlp-traces", c.Traces)
	}
	// The exporter does not refuse a bad endpoint from the environment: it
	// posts to "https:///" for "localhost:4318" (no scheme), to https for
	// ftp://, to its default endpoint for what does not parse, and each
	// batch then fails, at most one log line a minute. So the environment
	// is held to the flag's rule.
	if name, v := envEndpoint(); name == tracesEndpointEnv {
		return checkTracesURL(name, v)
	} else if name != "" {
		return checkURL(name, v, "http://127.0.0.1:4318")
	}
	return nil
}

// checkURL is the rule for where traces go, by flag or environment: an
// http or https URL with a host (the OTLP/HTTP exporter speaks nothing
// else), and no user's credentials or query, which the exporter drops
// (it posts to the URL's host and path alone): a collector that wants
// them would refuse every batch, one log line a minute, for a reason no
// line says. A collector's credentials go in OTEL_EXPORTER_OTLP_HEADERS,
// and the error shows the URL without its password.
func checkURL(name, v, example string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q: give an http or https URL, such as %s", name, urlpath.Shown(v), example)
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery {
		return fmt.Errorf("%s %q: the OTLP exporter sends no user:password nor query of the URL (give the collector's credentials in %s, such as %s=\"authorization=Bearer ...\")",
			name, urlpath.Shown(v), headersEnv, headersEnv)
	}
	return nil
}

// checkTracesURL is checkURL's rule for a traces endpoint (-otlp-traces,
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), which the exporter posts to as it
// is, path and all (it appends /v1/traces to OTEL_EXPORTER_OTLP_ENDPOINT
// alone), and one more: it has a path. "http://127.0.0.1:4318", the
// collector's address as the general variable takes it, had the spans
// posted to "/", which a collector answers 404 (its traces are at
// /v1/traces): every batch lost, said by one log line a minute, once the
// first batch went. A collector that does take them at "/" is given
// the URL with its slash.
func checkTracesURL(name, v string) error {
	const example = "http://127.0.0.1:4318/v1/traces"
	if err := checkURL(name, v, example); err != nil {
		return err
	}
	if u, _ := url.Parse(v); u.Path == "" {
		return fmt.Errorf("%s %q: no path: the spans are posted to this URL as it is, and a collector takes them at /v1/traces: give %s/v1/traces (one that takes them at /: end the URL with /)",
			name, v, v) // checkURL let no password nor query through
	}
	return nil
}

const (
	tracesEndpointEnv = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	endpointEnv       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	headersEnv        = "OTEL_EXPORTER_OTLP_HEADERS"
)

// envEndpoint returns the environment variable that says where traces go,
// and its value, read as the exporter reads them (trimmed; the traces
// variable over the general one); "" if neither is set.
func envEndpoint() (name, value string) {
	for _, name := range []string{tracesEndpointEnv, endpointEnv} {
		if v := strings.TrimSpace(os.Getenv(name)); v != "" {
			return name, v
		}
	}
	return "", ""
}

// Enabled reports whether traces are sent: an endpoint by flag or by the
// environment.
func (c Config) Enabled() bool {
	name, _ := envEndpoint()
	return c.Traces != "" || name != ""
}

// Start is Provider for a command: the function it returns stops the
// provider, flushing the spans still queued for at most FlushTimeout, and
// logs a failure to log. Call it last, once the spans have ended.
//
// It also makes log the process's OpenTelemetry error handler (what the
// SDK reports: each failed export, one per batch), through an errorLimiter
// that writes at most one line per ErrorEvery: a collector down for an hour
// writes some 60 lines, not one per batch. The function it returns logs
// the errors held back since the last line, if any.
func (c Config) Start(ctx context.Context, log *slog.Logger) (trace.TracerProvider, func(), error) {
	tp, stop, err := c.Provider(ctx)
	if err != nil {
		return nil, nil, err
	}
	errs := &errorLimiter{log: log, now: time.Now}
	handleErrors(errs)
	return tp, func() {
		sctx, cancel := context.WithTimeout(context.Background(), FlushTimeout)
		defer cancel()
		if err := stop(sctx); err != nil {
			log.Warn("flushing traces", "error", err)
		}
		errs.flush()
	}, nil
}

// ErrorEvery is the least time between two lines of OpenTelemetry errors
// that Start's logger writes.
const ErrorEvery = time.Minute

// The process's OpenTelemetry error handler is set once (otel.SetErrorHandler
// chains the first handler behind its default one for good), and forwards
// to the errorLimiter of the last Start.
var (
	errorsTo       atomic.Pointer[errorLimiter]
	setErrorsOnce  sync.Once
	errorForwarder = otel.ErrorHandlerFunc(func(err error) {
		if l := errorsTo.Load(); l != nil {
			l.Handle(err)
		}
	})
)

func handleErrors(l *errorLimiter) {
	errorsTo.Store(l)
	setErrorsOnce.Do(func() { otel.SetErrorHandler(errorForwarder) })
}

// errorLimiter logs an error at once, then holds back those that follow
// for ErrorEvery, counting them: the next line says how many it held back
// ("held_back"), and so does flush.
type errorLimiter struct {
	log *slog.Logger
	now func() time.Time

	mu       sync.Mutex
	last     time.Time // of the last line; zero: none yet
	heldBack int
}

func (l *errorLimiter) Handle(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.last.IsZero() && now.Sub(l.last) < ErrorEvery {
		l.heldBack++
		return
	}
	attrs := []any{"error", err}
	if l.heldBack > 0 {
		attrs = append(attrs, "held_back", l.heldBack)
	}
	l.log.Warn("OpenTelemetry error", append(attrs, "at_most_one_line_every", ErrorEvery)...)
	l.last, l.heldBack = now, 0
}

// flush logs how many errors were held back since the last line, if any.
func (l *errorLimiter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.heldBack > 0 {
		l.log.Warn("OpenTelemetry errors since the last line", "held_back", l.heldBack)
		l.heldBack = 0
	}
}

// Provider returns the TracerProvider that sends the spans, and the
// function that flushes and stops it (give it a deadline: it waits for the
// last export: FlushTimeout). Without an endpoint it returns nil and a
// no-op: no tracing.
func (c Config) Provider(ctx context.Context) (trace.TracerProvider, func(context.Context) error, error) {
	if !c.Enabled() {
		return nil, func(context.Context) error { return nil }, nil
	}
	if err := c.Check(); err != nil {
		return nil, nil, err
	}
	var opts []otlptracehttp.Option
	if c.Traces != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(c.Traces))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	// Later detectors win: the environment over the default name.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", ServiceName)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, nil, fmt.Errorf("OTLP trace resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithMaxQueueSize(MaxQueue)),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.Sample))),
	)
	return tp, tp.Shutdown, nil
}
