package provider

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/flowgen/flowgen/internal/bearer"
	"github.com/flowgen/flowgen/internal/jsonenc"
	"github.com/flowgen/flowgen/internal/ratelog"
)

// StepFunc serves a Go step: it reads and writes the call's state and
// returns "" (ok) or one of the step's declared outcomes. An error is
// retried by the step's policy unless Permanent.
type StepFunc func(ctx context.Context, c *Call) (outcome string, err error)

// RollbackFunc serves a Go rollback.
type RollbackFunc func(ctx context.Context, c *Call) error

// Call is one call of a handler: the Request, and the run's state, which
// the handler changes with Set and Delete.
type Call struct {
	Request
	state map[string]json.RawMessage
}

// Get decodes state field name into v; a missing field leaves v alone.
func (c *Call) Get(name string, v any) error {
	raw, ok := c.state[name]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("state field %q: %w", name, err)
	}
	return nil
}

// Set encodes v into state field name. A value is encoded through a
// pointer to a copy of it (jsonenc.Addressed), so that a field whose JSON
// methods have pointer receivers (a math/big.Int) keeps them.
func (c *Call) Set(name string, v any) error {
	b, err := jsonenc.Marshal(jsonenc.Addressed(v))
	if err != nil {
		return fmt.Errorf("state field %q: %w", name, err)
	}
	c.state[name] = b
	return nil
}

// Delete removes state field name.
func (c *Call) Delete(name string) { delete(c.state, name) }

// permanent marks an error that a retry cannot fix.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as permanent: the engine does not retry the step.
// A ProviderTransport marks with it the errors of a call that cannot
// succeed when sent again.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err is marked by Permanent.
func IsPermanent(err error) bool {
	var pe permanent
	return errors.As(err, &pe)
}

// unreachable marks an error of a call that found no provider there.
type unreachable struct{ err error }

func (u unreachable) Error() string { return u.err.Error() }
func (u unreachable) Unwrap() error { return u.err }

// Unreachable marks err as that of a call that reached no provider:
// nothing serves where it was sent (a NATS subject with no subscriber:
// every process of the provider died). A ProviderTransport marks such
// errors: the attempt is retried, and the engine calls the providers that
// registered that handler there no more until they renew or register
// again (docs/engine.md#replicas).
func Unreachable(err error) error {
	if err == nil {
		return nil
	}
	return unreachable{err}
}

// IsUnreachable reports whether err is marked by Unreachable.
func IsUnreachable(err error) bool {
	var u unreachable
	return errors.As(err, &u)
}

// Options configure a Provider.
type Options struct {
	// Name is the provider's name at the engine (its lease). Replicas that
	// share a NATS queue group share a name (and a Token); HTTP replicas
	// may too, or each have one.
	Name string
	// Replica names this process among the replicas of Name: its
	// registration, renewals and withdrawal are its own, and the lease
	// lives while any replica's registration does, so that a replica that
	// stops takes no handler away from the others (default: the host name
	// and a random suffix, unique to this Provider).
	Replica string
	// Engine is the base URL of the flow service's API
	// ("http://127.0.0.1:8080"); one that is not an http(s) URL (no
	// scheme: "127.0.0.1:8080") fails KeepLease at once, as an empty
	// Name does.
	Engine string
	// Token is a bearer token of the provider role (none: no header):
	// printable ASCII, as the engine's token file holds it
	// (bearer.Check); another fails KeepLease at once.
	Token string
	// TTL is the lease asked for (default 30s); it is renewed every TTL/3.
	TTL time.Duration
	// Client calls the engine (default: one with a 10s timeout).
	Client *http.Client
	// Logger gets each granted registration (Info: the first, and one
	// again after the engine lost the lease; not a renewal), lease
	// failures, and the engine's warnings of a granted registration: a
	// handler no registered flow uses yet (the flow is not loaded yet, or
	// the handler's name is misspelt), and its handlers' panics with
	// their stacks, at most PanicLogBurst a PanicLogInterval (default:
	// slog.Default()).
	Logger *slog.Logger
	// MaxConns caps the connections ListenAndServe serves at once, idle
	// keep-alive ones included (default DefaultMaxConns): each holds a
	// goroutine and its buffers. Beyond it the server accepts no more
	// until one closes; new connections wait in the kernel's backlog.
	MaxConns int
	// Extract, if set, gives a handler's context what the call's headers
	// (HTTP's, or the NATS message's) carry of the engine's step attempt:
	// tracectx.Extract puts its W3C trace context there, so that the
	// spans a handler starts are children of the attempt's. Nil: none
	// (this package links no OpenTelemetry, as the engine links none).
	Extract func(ctx context.Context, h http.Header) context.Context
}

// Provider serves Go steps and rollbacks of the engine's JSON flows.
type Provider struct {
	opts      Options
	mu        sync.Mutex
	steps     map[string]step
	rollbacks map[string]RollbackFunc
	auth      callAuth        // the call credential of its registration
	panics    *ratelog.Logger // its handlers' panics (panicked)
}

type step struct {
	fn       StepFunc
	outcomes []string
}

// New returns a provider with no handlers.
func New(opts Options) *Provider {
	if opts.TTL <= 0 {
		opts.TTL = 30 * time.Second
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Logger == nil {
		// Not discarded: a provider written as the docs show it, with no
		// Logger, would retry an engine it cannot reach for ever in
		// silence, and its handlers' panics would leave no stack.
		opts.Logger = slog.Default()
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.Replica == "" {
		opts.Replica = newReplicaID()
	}
	opts.Engine = strings.TrimRight(opts.Engine, "/")
	return &Provider{opts: opts, steps: map[string]step{}, rollbacks: map[string]RollbackFunc{}, panics: newPanicLog(opts)}
}

// Step serves Go step name ("Flow.Step" or "Step"), which may return the
// given named outcomes (as the flow declares them).
func (p *Provider) Step(name string, fn StepFunc, outcomes ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.steps[name] = step{fn, outcomes}
}

// Rollback serves Go rollback name ("Flow.Name" or "Name").
func (p *Provider) Rollback(name string, fn RollbackFunc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rollbacks[name] = fn
}

// Handlers lists the provider's handlers, with where calls reach them:
// where(name, rollback) fills URL or Subject.
func (p *Provider) Handlers(where func(h *Handler)) []Handler {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Handler
	for name, s := range p.steps {
		out = append(out, Handler{Name: name, Outcomes: s.outcomes})
	}
	for name := range p.rollbacks {
		out = append(out, Handler{Name: name, Rollback: true})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return !out[i].Rollback
	})
	for i := range out {
		where(&out[i])
	}
	return out
}

// CallContext is the context a call with headers h runs its handler
// under: ctx, with what Options.Extract reads from h.
func (p *Provider) CallContext(ctx context.Context, h http.Header) context.Context {
	if p.opts.Extract == nil {
		return ctx
	}
	return p.opts.Extract(ctx, h)
}

// Handle serves one request body of the protocol and returns the
// response body. A panic in a handler is a retryable error, whose stack
// goes to Options.Logger (at most PanicLogBurst a PanicLogInterval), not
// into the answer.
func (p *Provider) Handle(ctx context.Context, body []byte) []byte {
	rsp := p.handle(ctx, body)
	b, err := jsonenc.Marshal(rsp)
	if err != nil {
		b, _ = json.Marshal(Response{Error: &Error{Message: "encoding the response: " + err.Error(), Class: ClassPermanent}})
	}
	return b
}

func (p *Provider) handle(ctx context.Context, body []byte) (rsp Response) {
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		return Response{Error: &Error{Message: "not a provider request: " + err.Error(), Class: ClassPermanent}}
	}
	c := &Call{Request: req, state: map[string]json.RawMessage{}}
	if len(req.State) > 0 && string(req.State) != "null" {
		if err := json.Unmarshal(req.State, &c.state); err != nil {
			return Response{Error: &Error{Message: "state is not a JSON object", Class: ClassPermanent}}
		}
	}
	if req.Deadline != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, *req.Deadline)
		defer cancel()
	}
	p.mu.Lock()
	s, okStep := p.steps[req.Handler]
	rb, okRB := p.rollbacks[req.Handler]
	p.mu.Unlock()
	defer func() {
		if v := recover(); v != nil {
			rsp = p.panicked(req, v)
		}
	}()
	var out string
	var err error
	switch {
	case req.Rollback && okRB:
		err = rb(ctx, c)
	case !req.Rollback && okStep:
		out, err = s.fn(ctx, c)
	default:
		return Response{Error: &Error{Message: fmt.Sprintf("this provider has no handler %q", req.Handler), Class: ClassRetryable}}
	}
	if err != nil {
		class := ClassRetryable
		if IsPermanent(err) {
			class = ClassPermanent
		}
		return Response{Error: &Error{Message: err.Error(), Class: class}}
	}
	st, err := jsonenc.Marshal(c.state)
	if err != nil {
		return Response{Error: &Error{Message: "encoding the state: " + err.Error(), Class: ClassPermanent}}
	}
	return Response{State: st, Outcome: out}
}

// httpPath is where an HTTP provider serves a handler.
func httpPath(h *Handler) string {
	kind := "step"
	if h.Rollback {
		kind = "rollback"
	}
	return "/" + kind + "/" + url.PathEscape(h.Name)
}

// ServeHTTP serves the protocol: POST /step/{name} and /rollback/{name}
// with a Request body of at most MaxCallBytes (413 beyond), and the
// engine's call credential: a call without the CallToken of this
// Provider's registration (KeepLease) is answered 401, before its body is
// read. A request refused before its body is read closes its connection:
// who is not the engine keeps no idle connection, which would hold a
// place of Options.MaxConns.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Connection", "close")
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if !p.auth.allows(r) {
		w.Header().Set("Connection", "close")
		w.Header().Set("WWW-Authenticate", `Bearer realm="flowgen-provider"`)
		http.Error(w, "not the engine's call credential", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxCallBytes))
	if err != nil {
		status := http.StatusBadRequest
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			status = http.StatusRequestEntityTooLarge
		}
		http.Error(w, "reading the call: "+err.Error(), status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(p.Handle(p.CallContext(r.Context(), r.Header), body))
}

// KeepLease registers hs with the engine as this replica (Options.Replica),
// renews its registration every TTL/3 (registering again when the engine
// no longer knows it, after a restart of the engine), and withdraws it
// when ctx ends: the lease goes with its last replica. A registration on
// its way when ctx ends is waited for (up to 5s) before the withdrawal, so
// that the withdrawal comes after it. It returns nil once ctx ends,
// whether or not the first registration was through, or the engine's
// refusal of the registration (a 4xx other than 404, 408 and 429, which
// are tried again).
func (p *Provider) KeepLease(ctx context.Context, hs []Handler) error {
	return p.KeepLeaseWhile(ctx, hs, nil)
}

// KeepLeaseWhile is KeepLease for a replica that serves hs only while
// serving says so (nil: always): natsprovider's, while its NATS
// connection is up. A renewal tells the engine that the replica serves:
// it makes callable again a replica that a call found unreachable
// (docs/engine.md#replicas). While serving is false, no renewal is sent
// (each one skipped is logged), and once it is true again, within
// ServingPoll, one is: a replica that cannot take calls but
// renewed would have each run waiting for its handlers spend an attempt,
// failing, at each renewal. Its lease expires once it has not renewed
// for its TTL, and the next renewal, once it serves again, registers it
// anew (the engine answers 404).
func (p *Provider) KeepLeaseWhile(ctx context.Context, hs []Handler, serving func() bool) error {
	reg := Registration{TTL: p.opts.TTL.String(), Handlers: hs}
	if err := p.register(ctx, reg, "provider registered"); err != nil {
		if ctx.Err() != nil {
			p.withdraw() // the registration may have reached the engine
			return nil
		}
		return err
	}
	defer p.withdraw()
	tick := time.NewTicker(p.opts.TTL / 3)
	defer tick.Stop()
	// Armed once a renewal was skipped: the replica renews as soon as it
	// serves again, not a third of the TTL later, while it may have been
	// passed over (a call found it gone) or its lease may have expired.
	var poll <-chan time.Time
	for {
		ticked := false
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			ticked = true
		case <-poll:
		}
		if serving != nil && !serving() {
			if ticked { // once a turn, not at each look
				p.opts.Logger.Warn("provider lease not renewed: it cannot serve now", "provider", p.opts.Name)
			}
			poll = time.After(min(ServingPoll, p.opts.TTL/3))
			continue
		}
		poll = nil
		code, err := p.send(ctx, http.MethodPost, "/renew", nil, nil)
		if code == http.StatusNotFound {
			err = p.register(ctx, reg, "provider registered again: the engine had lost its lease")
		}
		if err != nil && ctx.Err() == nil {
			p.opts.Logger.Warn("provider lease not renewed", "provider", p.opts.Name, "error", err)
			var re *refused
			if errors.As(err, &re) && !re.later() {
				return err
			}
		}
	}
}

// ServingPoll is how often KeepLeaseWhile asks whether a replica that
// skipped a renewal, as it could not serve, serves again: it then renews
// at once rather than at its next turn.
const ServingPoll = 250 * time.Millisecond

// newReplicaID is a replica ID unique to this process and Provider: the
// host name (which tells an operator reading GET /providers where it
// runs), cut to keep within the engine's 128 bytes, and 8 random bytes.
func newReplicaID() string {
	host, _ := os.Hostname()
	if len(host) > 64 {
		host = host[:64]
	}
	return strings.Trim(host+"-"+rand.Text()[:16], "-")
}

// refused is the engine's 4xx answer to a registration, a renewal or a
// withdrawal (what).
type refused struct {
	what string
	code int
	msg  string
}

func (r *refused) Error() string {
	return fmt.Sprintf("engine refused the %s (%d): %s", r.what, r.code, r.msg)
}

// later says whether the refusal is for now only (429: too many requests;
// 408: a request timed out, which a load balancer in front of the engine
// answers; both are retried by the engine's calls too): the registration
// or renewal is sent again, as when the engine does not answer, rather
// than end KeepLease.
func (r *refused) later() bool {
	return r.code == http.StatusTooManyRequests || r.code == http.StatusRequestTimeout
}

// register sends the registration, retrying failures to reach the engine
// until ctx ends; a 4xx answer is returned. The answer's call credential
// is the one ServeHTTP checks from then on. A granted registration is
// logged (Info) as msg says, once: who starts a provider sees it
// registered, and what with; a renewal is not logged.
func (p *Provider) register(ctx context.Context, reg Registration, msg string) (err error) {
	// A token no header can carry, an engine URL no request can go to
	// (127.0.0.1:8080 without its scheme) and an empty name (a path the
	// engine does not serve: 404, which reads as a lease to register
	// again) fail every attempt the same way: said at once, not retried
	// until ctx ends.
	if err := bearer.Check(p.opts.Token); err != nil {
		return fmt.Errorf("provider %s: Options.Token: %w", p.opts.Name, err)
	}
	if err := checkEngineURL(p.opts.Engine); err != nil {
		return fmt.Errorf("provider %s: Options.Engine: %w", p.opts.Name, err)
	}
	if p.opts.Name == "" {
		return errors.New("provider: Options.Name is empty: it names the provider's lease")
	}
	body, err := json.Marshal(reg)
	if err != nil {
		return err
	}
	var lease Lease
	p.auth.begin()
	defer func() { p.auth.end(err == nil, lease.CallToken) }()
	// A registration on its way when ctx ends is waited for, up to
	// withdrawTimeout more: its bytes may reach the engine whether or not
	// this process waits for the answer, and a withdrawal sent before it
	// is granted withdraws nothing (404), leaving a lease live for its
	// TTL whose calls all fail against a closed port.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(withdrawTimeout, cancel) })
	defer stop()
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, p.opts.TTL/3) {
		if err := ctx.Err(); err != nil { // no new registration once stopped
			return err
		}
		_, err := p.send(sctx, http.MethodPut, "", body, &lease)
		if err == nil {
			p.opts.Logger.Info(msg, "provider", p.opts.Name, "replica", p.opts.Replica,
				"handlers", handlerNames(reg.Handlers), "expires", lease.Expires)
			// The engine's word on handlers no registered flow uses yet:
			// expected while the flow is not loaded, a misspelt name
			// otherwise, whose runs would wait with nothing said here.
			for _, w := range lease.Warnings {
				p.opts.Logger.Warn("provider registered, with a warning", "provider", p.opts.Name, "warning", w)
			}
			return nil
		}
		if re := (*refused)(nil); errors.As(err, &re) && !re.later() {
			return err
		}
		p.opts.Logger.Warn("provider not registered yet", "provider", p.opts.Name, "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// handlerNames names hs as a log line lists them: a rollback's name
// says it is one, as a step and a rollback may share a name.
func handlerNames(hs []Handler) []string {
	names := make([]string, len(hs))
	for i, h := range hs {
		names[i] = h.Name
		if h.Rollback {
			names[i] += " (rollback)"
		}
	}
	return names
}

// checkEngineURL reports an Options.Engine that is not the base URL of
// an API: the registration's path and query are added to it.
func checkEngineURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q is not an http(s) base URL such as \"http://127.0.0.1:8080\" (with its scheme, and no query or fragment)", raw)
	}
	return nil
}

// withdrawTimeout bounds a withdrawal, and the wait for a registration's
// answer that comes before it.
const withdrawTimeout = 5 * time.Second

func (p *Provider) withdraw() {
	ctx, cancel := context.WithTimeout(context.Background(), withdrawTimeout)
	defer cancel()
	_, _ = p.send(ctx, http.MethodDelete, "", nil, nil)
}

// send calls /providers/{name}{suffix}?replica={replica} and decodes a
// 2xx answer into answer (if not nil); an answer other than 2xx is an
// error (*refused for a 4xx).
func (p *Provider) send(ctx context.Context, method, suffix string, body []byte, answer any) (int, error) {
	u := p.opts.Engine + "/providers/" + url.PathEscape(p.opts.Name) + suffix + "?replica=" + url.QueryEscape(p.opts.Replica)
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, err
	}
	if method != http.MethodDelete {
		r.Header.Set("Content-Type", "application/json")
	}
	if p.opts.Token != "" {
		r.Header.Set("Authorization", "Bearer "+p.opts.Token)
	}
	resp, err := p.opts.Client.Do(r)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20)) // a lease of 256 handlers, with their warnings
	if resp.StatusCode/100 == 2 {
		if answer != nil {
			if err := json.Unmarshal(out, answer); err != nil {
				return resp.StatusCode, fmt.Errorf("the engine's answer: %w", err)
			}
		}
		return resp.StatusCode, nil
	}
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(out))
	if json.Unmarshal(out, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	if resp.StatusCode >= 400 && resp.StatusCode < 500 {
		what := map[string]string{http.MethodPut: "registration", http.MethodPost: "renewal", http.MethodDelete: "withdrawal"}[method]
		return resp.StatusCode, &refused{what, resp.StatusCode, msg}
	}
	return resp.StatusCode, fmt.Errorf("engine answered %d: %s", resp.StatusCode, msg)
}
