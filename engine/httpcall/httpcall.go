// Package httpcall is a runtime.Caller over HTTP/JSON: an rpc step's
// request is POSTed as JSON to <base URL of the service>/<endpoint>, and a
// 2xx response's JSON body is decoded into the step's response.
//
// Errors follow what a retry can fix: connection errors, timeouts, 5xx, 408
// and 429 are returned as they are, so the step's retry policy retries
// them; other 4xx answers and bodies that do not decode are
// runtime.Permanent, so the step fails at once. Each request carries the
// step's runtime.IdempotencyKey in the Idempotency-Key header: the same
// across retries and after a restart, so a service can drop duplicates.
// Timeouts come from ctx (the runtime sets the step's per-attempt
// deadline on it).
//
// A Caller owns one HTTP client, shared by all its calls: share the Caller
// (an engine has one). Its transport bounds the connections to each host
// (Limits, WithLimits). It follows a redirect only to the same scheme and
// host (a redirect elsewhere is a permanent error, ErrRedirect: the body
// and the Idempotency-Key never reach another host) and with the same
// method (307, 308: one that would resend the call as a GET without its
// body is ErrRedirectMethod), and an endpoint is one
// escaped path segment under the service's base URL: it cannot leave it
// (".." and "." are refused, "/", "?" and "#" are escaped).
//
// A call's error names the service and the endpoint, never the address
// the Resolver gave (CallError): the address goes to the log.
package httpcall

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flowgen/flowgen/internal/neterr"
	"github.com/flowgen/flowgen/internal/option"
	"github.com/flowgen/flowgen/internal/ratelog"
	"github.com/flowgen/flowgen/internal/snippet"
	"github.com/flowgen/flowgen/internal/urlpath"
	"github.com/flowgen/flowgen/observe/tracectx"
	"github.com/flowgen/flowgen/runtime"
)

// Resolver maps a service name to the base URL of one of its instances
// ("http://customers:8080/rpc"). Implement it over DNS, Consul, Kubernetes
// endpoints...; Static is a fixed map.
type Resolver interface {
	Resolve(ctx context.Context, service string) (baseURL string, err error)
}

// Static resolves services from a map. As a flag.Value (the -service
// flag of the serve commands) it reads name=URL, once per service.
type Static map[string]string

// String lists the services as name=URL, by name, comma-separated.
func (s *Static) String() string {
	if s == nil {
		return ""
	}
	out := make([]string, 0, len(*s))
	for k, v := range *s {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// Set adds a service given as name=URL. The URL is the base URL of rpc
// steps' calls: http or https, with a host, without a query or a fragment
// (an endpoint is appended to its path). A service given twice, or a URL
// that is not such a base, is refused here, when the command starts,
// rather than failing every call of its steps later.
func (s *Static) Set(v string) error {
	name, base, ok := strings.Cut(v, "=")
	if !ok || name == "" || base == "" {
		return fmt.Errorf("want name=URL, found %q", v)
	}
	if _, dup := (*s)[name]; dup {
		return fmt.Errorf("service %q given twice", name)
	}
	if err := checkBaseURL(base); err != nil {
		return fmt.Errorf("service %q: %w", name, err)
	}
	if *s == nil {
		*s = Static{}
	}
	(*s)[name] = base
	return nil
}

// checkBaseURL refuses a base URL that no call could use.
func checkBaseURL(base string) error {
	u, err := url.Parse(base)
	switch {
	case err != nil:
		return fmt.Errorf("URL %q: %v", base, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("URL %q: want an http or https URL, such as http://customers:8080/rpc", base)
	case u.Host == "":
		return fmt.Errorf("URL %q has no host", base)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return fmt.Errorf("URL %q: a base URL has no query or fragment (the endpoint is appended to its path)", base)
	}
	return nil
}

// ErrUnknownService is returned (permanent) for a service the resolver
// does not know.
var ErrUnknownService = errors.New("httpcall: unknown service")

// Resolve implements Resolver.
func (s Static) Resolve(_ context.Context, service string) (string, error) {
	u, ok := s[service]
	if !ok {
		return "", runtime.Permanent(fmt.Errorf("%w %q", ErrUnknownService, service))
	}
	return u, nil
}

// Knows reports whether s has a URL for service: the engine warns when a
// flow it loads calls a service the Caller cannot reach (Caller.Knows).
func (s Static) Knows(service string) bool {
	_, ok := s[service]
	return ok
}

// Caller is the HTTP/JSON runtime.Caller.
type Caller struct {
	resolver Resolver
	client   *http.Client
	limits   Limits
	path     func(endpoint string) string
	header   http.Header
	targets  targetCache
	log      *slog.Logger    // where failed calls are logged whole
	fails    *ratelog.Logger // log, FailLogBurst failed calls an interval
}

// Limits bound a Caller's connections and waits. A zero field takes its
// default (DefaultLimits); a negative one means no limit.
type Limits struct {
	// MaxConnsPerHost caps the connections open to one host (a service's
	// instance, host:port), in use or idle; calls beyond wait for one.
	// Default 64.
	MaxConnsPerHost int
	// MaxIdleConnsPerHost is how many idle connections to one host are
	// kept for reuse. Default 64.
	MaxIdleConnsPerHost int
	// MaxIdleConns caps the idle connections to all hosts. Default 1024.
	MaxIdleConns int
	// IdleConnTimeout closes a connection idle that long. Default 90s.
	IdleConnTimeout time.Duration
	// DialTimeout bounds opening a TCP connection. Default 5s.
	DialTimeout time.Duration
	// TLSHandshakeTimeout bounds a TLS handshake. Default 5s.
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the response's headers
	// once the request is sent. Default: none (-1), the step's
	// per-attempt timeout bounds the call.
	ResponseHeaderTimeout time.Duration
	// MaxResponseBytes caps the response body read. Default 16 MiB.
	MaxResponseBytes int64
}

// DefaultLimits are the limits of a Caller made without WithLimits.
var DefaultLimits = Limits{
	MaxConnsPerHost:       64,
	MaxIdleConnsPerHost:   64,
	MaxIdleConns:          1024,
	IdleConnTimeout:       90 * time.Second,
	DialTimeout:           5 * time.Second,
	TLSHandshakeTimeout:   5 * time.Second,
	ResponseHeaderTimeout: -1,
	MaxResponseBytes:      16 << 20,
}

// withDefaults fills the zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	or := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	ord := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	or(&l.MaxConnsPerHost, d.MaxConnsPerHost)
	or(&l.MaxIdleConnsPerHost, d.MaxIdleConnsPerHost)
	or(&l.MaxIdleConns, d.MaxIdleConns)
	ord(&l.IdleConnTimeout, d.IdleConnTimeout)
	ord(&l.DialTimeout, d.DialTimeout)
	ord(&l.TLSHandshakeTimeout, d.TLSHandshakeTimeout)
	ord(&l.ResponseHeaderTimeout, d.ResponseHeaderTimeout)
	if l.MaxResponseBytes == 0 {
		l.MaxResponseBytes = d.MaxResponseBytes
	}
	return l
}

// nonNeg maps "no limit" (negative) to the zero the http package takes
// for it.
func nonNeg[T int | time.Duration](v T) T { return max(v, 0) }

// Client returns an HTTP client whose transport has the limits l (zero
// fields: the defaults) and that follows redirects only to the same scheme
// and host. New makes its client so, unless WithClient gives another.
func Client(l Limits) *http.Client {
	l = l.withDefaults()
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: nonNeg(l.DialTimeout), KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxConnsPerHost:       nonNeg(l.MaxConnsPerHost),
		MaxIdleConnsPerHost:   nonNeg(l.MaxIdleConnsPerHost),
		MaxIdleConns:          nonNeg(l.MaxIdleConns),
		IdleConnTimeout:       nonNeg(l.IdleConnTimeout),
		TLSHandshakeTimeout:   nonNeg(l.TLSHandshakeTimeout),
		ResponseHeaderTimeout: nonNeg(l.ResponseHeaderTimeout),
		ExpectContinueTimeout: time.Second,
		// Go's default is 10 MiB, for each of the MaxConnsPerHost
		// answers a host may be sending.
		MaxResponseHeaderBytes: neterr.MaxResponseHeaderBytes,
	}
	return &http.Client{Transport: tr, CheckRedirect: SameHostRedirect}
}

// ErrRedirect is returned (permanent) for a redirect to another scheme or
// host than the request's, which the Caller does not follow.
var ErrRedirect = errors.New("httpcall: redirect to another host refused")

// ErrRedirectMethod is returned (permanent) for a redirect that would
// send the call again as a GET, without its body: a 301, 302 or 303
// answer to the POST, which Go's client follows so. The answer to that
// GET is no answer to the call (a step took the service's page for its
// response, after a 301 or 302 while the service never took the call);
// 307 and 308 keep the POST and its body, and are followed.
var ErrRedirectMethod = errors.New("httpcall: redirect that would resend the call as a GET without its body refused")

// SameHostRedirect is an http.Client CheckRedirect that follows at most 10
// redirects, each to the scheme and host of the first request and with its
// method (307, 308), and refuses any other (ErrRedirect, ErrRedirectMethod)
// before anything is sent there.
func SameHostRedirect(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	if req.URL.Scheme != first.Scheme || !strings.EqualFold(req.URL.Host, first.Host) {
		return fmt.Errorf("%w: %s redirects to %s://%s", ErrRedirect, first.Redacted(), req.URL.Scheme, req.URL.Host)
	}
	if req.Method != via[0].Method {
		return fmt.Errorf("%w: %s answered %d, a redirect to a %s of %s", ErrRedirectMethod, via[len(via)-1].URL.Redacted(), req.Response.StatusCode, req.Method, req.URL.Redacted())
	}
	if len(via) >= 10 {
		return errors.New("httpcall: stopped after 10 redirects")
	}
	return nil
}

// Option configures a Caller. A nil Option sets nothing, as the runtime's
// options.
type Option func(*Caller)

// WithClient sets the HTTP client (default: Client(limits); timeouts come
// from the step's context either way). Its transport and CheckRedirect are
// then its own: use Client or SameHostRedirect to keep the defaults' bounds.
func WithClient(c *http.Client) Option { return func(x *Caller) { x.client = c } }

// WithLimits sets the limits of the Caller's client and responses (zero
// fields: DefaultLimits).
func WithLimits(l Limits) Option { return func(x *Caller) { x.limits = l } }

// WithPath sets how an endpoint becomes the URL path under the base URL
// (default: "/" + the endpoint, escaped as one path segment:
// "Customer.Create" -> "/Customer.Create", "a/b" -> "/a%2Fb"). Whatever it
// returns, a URL whose path leaves the base URL's path, or whose scheme or
// host differ, is refused (permanent).
func WithPath(fn func(endpoint string) string) Option { return func(x *Caller) { x.path = fn } }

// WithLogger sets where failed calls are logged, with the service's URL
// and addresses their errors leave out (CallError); default
// slog.Default().
func WithLogger(l *slog.Logger) Option { return func(x *Caller) { x.log = l } }

// WithHeader adds a header to every request (authentication, tracing).
func WithHeader(key, value string) Option {
	return func(x *Caller) { x.header.Add(key, value) }
}

// Knows reports whether the Caller can reach service: false only when
// its Resolver says which services it knows (Static does) and service is
// not one of them.
func (c *Caller) Knows(service string) bool {
	if k, ok := c.resolver.(interface{ Knows(string) bool }); ok {
		return k.Knows(service)
	}
	return true
}

// New returns a Caller that finds services through r.
func New(r Resolver, opts ...Option) *Caller {
	c := &Caller{resolver: r, header: http.Header{},
		path: func(ep string) string { return "/" + url.PathEscape(ep) }}
	option.Apply(c, opts)
	c.limits = c.limits.withDefaults()
	if c.log == nil {
		c.log = slog.Default()
	}
	c.fails = &ratelog.Logger{Bound: ratelog.Bound{Burst: FailLogBurst, Interval: FailLogInterval},
		Log: c.log, Now: time.Now, Suppressed: "rpc calls failed, not logged"}
	if c.client == nil {
		c.client = Client(c.limits)
	}
	return c
}

// ErrEndpoint is returned (permanent) for an endpoint that would leave the
// service's base URL.
var ErrEndpoint = errors.New("httpcall: endpoint outside the service's base URL")

// target returns the URL of endpoint under base, or ErrEndpoint if it
// would not be under it.
func (c *Caller) target(base, endpoint string) (string, error) {
	switch endpoint {
	case "", ".", "..":
		return "", fmt.Errorf("%w: %q", ErrEndpoint, endpoint)
	}
	bu, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("base URL %q: %w", base, err)
	}
	u := strings.TrimSuffix(base, "/") + c.path(endpoint)
	pu, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	if !urlpath.Below(pu, bu) {
		return "", fmt.Errorf("%w: %q is %s, outside %s", ErrEndpoint, endpoint, pu.Redacted(), bu.Redacted())
	}
	return u, nil
}

// StatusError is the error of a non-2xx answer.
type StatusError struct {
	Service, Endpoint string
	Status            int
	Body              string // the start of the response body, quoted (snippet.Body); "" for none
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d %s", e.Service, e.Endpoint, e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// ErrorType is the error's class (runtime.ErrorTyper): its status, as
// OpenTelemetry's conventions for HTTP clients give it ("503"), on the
// call's span and on the span of the step that failed of it.
func (e *StatusError) ErrorType() string { return strconv.Itoa(e.Status) }

// Retryable reports whether a retry may succeed: 5xx, 408 and 429.
func (e *StatusError) Retryable() bool {
	return e.Status >= 500 || e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests
}

// Call implements runtime.Caller.
// Under a traced step the call is a client span of its own, with the
// attributes of an HTTP client span (callSpan), and the request carries
// its W3C trace context (traceparent).
func (c *Caller) Call(ctx context.Context, service, endpoint string, req, rsp any) (err error) {
	var span callSpan
	ctx, span.span = tracectx.ClientSpan(ctx, "call "+service+" "+endpoint, "github.com/flowgen/flowgen/engine/httpcall",
		tracectx.KeyRPCService.String(service), tracectx.KeyRPCMethod.String(endpoint))
	defer func() { span.end(err) }()
	base, err := c.resolver.Resolve(ctx, service)
	if err != nil {
		return err
	}
	body, err := json.Marshal(runtime.Addressed(req)) // a value: its pointer methods too
	if err != nil {
		return runtime.Permanent(fmt.Errorf("encoding request to %s %s: %w", service, endpoint, err))
	}
	u, err := c.targets.get(base, endpoint, c.target)
	if err != nil {
		return runtime.Permanent(c.failed(ctx, service, endpoint, "", err))
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return runtime.Permanent(c.failed(ctx, service, endpoint, "", err))
	}
	for k, vs := range c.header {
		hr.Header[k] = append([]string(nil), vs...)
	}
	// Canonical keys, set directly: Header.Set would canonicalise them on
	// every call.
	hr.Header["Content-Type"] = jsonType
	hr.Header["Accept"] = jsonType
	if key := runtime.IdempotencyKey(ctx); key != "" {
		hr.Header["Idempotency-Key"] = []string{key}
	}
	tracectx.Inject(ctx, hr.Header)
	span.request(u)
	res, err := c.client.Do(hr)
	if err != nil {
		// Connection refused, reset, DNS, deadline: worth another attempt.
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return fmt.Errorf("%s %s: %w", service, endpoint, context.Cause(ctx))
		}
		if errors.Is(err, ErrRedirect) || errors.Is(err, ErrRedirectMethod) {
			return runtime.Permanent(c.failed(ctx, service, endpoint, "", err))
		}
		return c.failed(ctx, service, endpoint, "", err)
	}
	defer res.Body.Close()
	span.response(res.StatusCode)
	var r io.Reader = res.Body
	if c.limits.MaxResponseBytes > 0 {
		// One byte more than the bound tells a body over it from one
		// that fills it.
		r = io.LimitReader(r, c.limits.MaxResponseBytes+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		ce := c.failed(ctx, service, endpoint, "reading the response", err)
		if what, ok := neterr.CutShort(err, len(data), res.ContentLength); ok {
			// The answer began (its status came): it was cut short, not
			// missing, which "closed before the answer" would say.
			ce.What = "reading the response: " + what
		}
		return ce
	}
	tooLarge := c.limits.MaxResponseBytes > 0 && int64(len(data)) > c.limits.MaxResponseBytes
	if tooLarge {
		data = data[:c.limits.MaxResponseBytes]
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		se := &StatusError{Service: service, Endpoint: endpoint, Status: res.StatusCode}
		// An answer without a body (a proxy's 502, a bare 503) has none to
		// quote: Error would add `: ""`.
		if len(bytes.TrimSpace(data)) > 0 {
			se.Body = snippet.Body(data)
		}
		if se.Retryable() {
			return se
		}
		return runtime.Permanent(se)
	}
	if rsp == nil {
		return nil // the step keeps no response: its size does not matter
	}
	if tooLarge {
		// Cut, it would not decode: say why, not what the decoder sees.
		return runtime.Permanent(runtime.WithErrorType(errTypeTooLarge, fmt.Errorf("%s %s: the response is larger than %d bytes (httpcall.Limits.MaxResponseBytes)", service, endpoint, c.limits.MaxResponseBytes)))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if raw, ok := rsp.(*json.RawMessage); ok {
		// What json.Unmarshal would store, without its second pass and
		// copy: data is this call's own.
		if !json.Valid(data) {
			return runtime.Permanent(runtime.WithErrorType(errTypeInvalid, fmt.Errorf("%s %s: decoding response: %w", service, endpoint, json.Unmarshal(data, new(any)))))
		}
		*raw = bytes.TrimSpace(data)
		return nil
	}
	if err := json.Unmarshal(data, rsp); err != nil {
		return runtime.Permanent(runtime.WithErrorType(errTypeInvalid, fmt.Errorf("%s %s: decoding response: %w", service, endpoint, err)))
	}
	return nil
}

// jsonType is the value of the Content-Type and Accept headers; the
// transport only reads it.
var jsonType = []string{"application/json"}
