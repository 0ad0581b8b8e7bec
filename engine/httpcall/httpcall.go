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
package httpcall

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/flowgen/flowgen/runtime"
)

// Resolver maps a service name to the base URL of one of its instances
// ("http://customers:8080/rpc"). Implement it over DNS, Consul, Kubernetes
// endpoints...; Static is a fixed map.
type Resolver interface {
	Resolve(ctx context.Context, service string) (baseURL string, err error)
}

// Static resolves services from a map.
type Static map[string]string

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

// Caller is the HTTP/JSON runtime.Caller.
type Caller struct {
	resolver Resolver
	client   *http.Client
	path     func(endpoint string) string
	header   http.Header
}

// Option configures a Caller.
type Option func(*Caller)

// WithClient sets the HTTP client (default: http.DefaultClient; timeouts
// come from the step's context either way).
func WithClient(c *http.Client) Option { return func(x *Caller) { x.client = c } }

// WithPath sets how an endpoint becomes the URL path under the base URL
// (default: "/" + the endpoint, escaped: "Customer.Create" ->
// "/Customer.Create").
func WithPath(fn func(endpoint string) string) Option { return func(x *Caller) { x.path = fn } }

// WithHeader adds a header to every request (authentication, tracing).
func WithHeader(key, value string) Option {
	return func(x *Caller) { x.header.Add(key, value) }
}

// New returns a Caller that finds services through r.
func New(r Resolver, opts ...Option) *Caller {
	c := &Caller{resolver: r, client: http.DefaultClient, header: http.Header{},
		path: func(ep string) string { return "/" + url.PathEscape(ep) }}
	for _, o := range opts {
		o(c)
	}
	return c
}

// StatusError is the error of a non-2xx answer.
type StatusError struct {
	Service, Endpoint string
	Status            int
	Body              string // the start of the response body
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d %s", e.Service, e.Endpoint, e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Retryable reports whether a retry may succeed: 5xx, 408 and 429.
func (e *StatusError) Retryable() bool {
	return e.Status >= 500 || e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests
}

// Call implements runtime.Caller.
func (c *Caller) Call(ctx context.Context, service, endpoint string, req, rsp any) error {
	base, err := c.resolver.Resolve(ctx, service)
	if err != nil {
		return err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return runtime.Permanent(fmt.Errorf("encoding request to %s %s: %w", service, endpoint, err))
	}
	u := strings.TrimSuffix(base, "/") + c.path(endpoint)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return runtime.Permanent(fmt.Errorf("%s %s: %w", service, endpoint, err))
	}
	for k, vs := range c.header {
		hr.Header[k] = append([]string(nil), vs...)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	if key := runtime.IdempotencyKey(ctx); key != "" {
		hr.Header.Set("Idempotency-Key", key)
	}
	res, err := c.client.Do(hr)
	if err != nil {
		// Connection refused, reset, DNS, deadline: worth another attempt.
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return fmt.Errorf("%s %s: %w", service, endpoint, context.Cause(ctx))
		}
		return fmt.Errorf("%s %s: %w", service, endpoint, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading response: %w", service, endpoint, err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		se := &StatusError{Service: service, Endpoint: endpoint, Status: res.StatusCode, Body: snippet(data)}
		if se.Retryable() {
			return se
		}
		return runtime.Permanent(se)
	}
	if rsp == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, rsp); err != nil {
		return runtime.Permanent(fmt.Errorf("%s %s: decoding response: %w", service, endpoint, err))
	}
	return nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
