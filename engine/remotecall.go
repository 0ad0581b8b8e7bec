package engine

// Calls of remote providers: the Go steps and Go rollbacks of JSON flows
// that no in-process handler serves go to a live provider, over HTTP (its
// callback URL) or NATS (its subject), with the request and response of
// package provider. The step's policy governs: the runtime's attempts and
// backoff retry a retryable error, a provider that does not answer within
// the attempt's timeout is an attempt that timed out, and a permanent
// error is runtime.Permanent.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/internal/jsonenc"
	"github.com/flowgen/flowgen/internal/neterr"
	"github.com/flowgen/flowgen/internal/snippet"
	"github.com/flowgen/flowgen/internal/urlpath"
	"github.com/flowgen/flowgen/runtime"
)

// has reports whether an in-process handler serves k.
func (r *Registry) has(k handlerKey) bool {
	if k.rollback {
		_, ok := r.rollback(k.flow, k.name)
		return ok
	}
	_, ok := r.step(k.flow, k.name)
	return ok
}

// remoteStep makes Go step s of fl served by providers: each attempt
// first waits, in the step's recorded waiting state, for a live handler
// (ProviderTopic; a retry goes back there: Await.EachAttempt), then calls
// one; an attempt that finds none live when it calls (its provider left
// since the wait ended, or the attempt runs again after a restart of the
// engine, which has no lease until the provider registers again) goes
// back to that wait (runtime.GateClosed). An in-process handler
// registered meanwhile wins. A branch of a parallel block has no waiting
// state (a branch cannot wait): each of its attempts waits for a provider
// in memory (await). blk is the block s is a branch of, nil for none.
func (rm *remote) remoteStep(fl *dsl.Flow, s, blk *dsl.Step, st *runtime.Step[State]) {
	k := handlerKey{flow: fl.Name, name: s.Name}
	outcomes := declaredOutcomes(s)
	gated := blk == nil
	if gated {
		st.Await = &runtime.Await[State]{Topic: ProviderTopic, Event: s.Name, EachAttempt: true}
	}
	st.Exec = func(ctx context.Context, state *State) (runtime.Outcome, error) {
		if h, ok := rm.e.reg.step(k.flow, k.name); ok {
			return h(ctx, state)
		}
		return rm.call(ctx, k, s.Name, outcomes, gated, state)
	}
}

// remoteRollback makes the Go rollback name of step s served by
// providers: each attempt first waits, recorded and without a goroutine,
// for a live handler (RollbackAwait on ProviderRollbackTopic, with no
// deadline: a compensation waits for its provider rather than fail), then
// calls one, or goes back to that wait if none is live then (as a step's
// attempt does). An in-process handler registered meanwhile wins.
func (rm *remote) remoteRollback(fl *dsl.Flow, s *dsl.Step, name string, st *runtime.Step[State]) {
	k := handlerKey{flow: fl.Name, name: name, rollback: true}
	st.RollbackAwait = &runtime.Await[State]{Topic: ProviderRollbackTopic, Event: name}
	st.Rollback = func(ctx context.Context, state *State) error {
		if h, ok := rm.e.reg.rollback(k.flow, k.name); ok {
			return h(ctx, state)
		}
		_, err := rm.call(ctx, k, s.Name, nil, true, state)
		return err
	}
}

// call runs one attempt on a live provider of k. With none live, an
// attempt that has a recorded wait to go back to (gated) goes back there,
// spending no attempt: it runs again, the same attempt under the same
// idempotency key, when a provider registers, within the step's deadline
// (the wait's); one that has none (a branch of a parallel block) waits in
// memory (await).
func (rm *remote) call(ctx context.Context, k handlerKey, step string, outcomes []string, gated bool, state *State) (runtime.Outcome, error) {
	var t target
	var err error
	if gated {
		t, err = rm.pick(k, outcomes)
	} else {
		t, err = rm.await(ctx, k, outcomes)
	}
	if err != nil {
		return "", err
	}
	raw, err := jsonenc.Marshal(state)
	if err != nil {
		return "", runtime.Permanent(err)
	}
	req := provider.Request{
		Version: provider.Version, RunID: runtime.RunID(ctx), Flow: k.flow, Step: step, Handler: t.h.Name,
		Rollback: k.rollback, IdempotencyKey: runtime.IdempotencyKey(ctx), Attempt: runtime.Attempt(ctx), State: raw,
	}
	if dl, ok := ctx.Deadline(); ok {
		// Cut down, never rounded up past the engine's own deadline: a
		// provider that keeps to it must answer while the engine waits.
		dl = dl.UTC().Truncate(time.Millisecond)
		req.Deadline = &dl
	}
	body, err := jsonenc.Marshal(req)
	if err != nil {
		return "", runtime.Permanent(err)
	}
	where := fmt.Sprintf("provider %q, handler %q", t.provider, t.h.Name)
	var out []byte
	if t.h.URL != "" {
		out, err = rm.post(ctx, t, req.IdempotencyKey, body)
		if na := (*noAnswerError)(nil); errors.As(err, &na) && na.unreachable {
			rm.passOver(t)
		}
	} else {
		out, err = rm.opts.NATS.CallProvider(ctx, t.h.Subject, body)
		if err != nil { // post logs its own
			rm.callFailed(ctx, t, err)
		}
		if provider.IsUnreachable(err) {
			rm.passOver(t)
		}
	}
	if provider.IsPermanent(err) {
		return "", runtime.Permanent(fmt.Errorf("%s: %w", where, err))
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	// An answer the engine does not take fails the attempt for good. The
	// run's history says why, without where the call went; the log says
	// where too, as for a call that got no answer: of several replicas of
	// the handler, the operator finds the one at fault.
	refused := func(err error) (runtime.Outcome, error) {
		rm.callFailed(ctx, t, err)
		return "", runtime.Permanent(fmt.Errorf("%s: %v", where, err))
	}
	// Strictly: an answer from something else than a provider (a JetStream
	// acknowledgement, a proxy's page) is not taken for a success.
	var rsp provider.Response
	if err := provider.DecodeStrict(out, &rsp); err != nil {
		return refused(fmt.Errorf("the answer is not a provider response: %v", err))
	}
	if err := rsp.Check(); err != nil {
		return refused(err)
	}
	// What the run records of an answer is bounded: an outcome is a name,
	// as the registration's are, and an error's message is cut, so that a
	// provider's answer of megabytes does not go into the history at each
	// attempt (an answer's state is the run's, bounded as a start body).
	// A rollback's outcome is ignored, whatever it is: it does not go to
	// the run, and a rollback that did its work is not failed for it.
	if rsp.Error == nil && rsp.Outcome != "" && !k.rollback {
		if err := checkName("outcome", rsp.Outcome); err != nil {
			return refused(err)
		}
	}
	if e := rsp.Error; e != nil {
		// An error answered once the deadline the call carried has
		// passed is the attempt timing out, as an in-process handler's
		// ctx.Err() is: engine/provider's handler context ends at that
		// deadline, which is the engine's cut down to the millisecond, so
		// a handler that keeps to its context answered as the attempt
		// timed out, and which came first, by under a millisecond, made
		// the attempt an error or a timeout: a step's `on timeout` route
		// was taken or not by chance. The engine takes no answer after
		// the deadline (docs/engine.md#the-protocol); ctx ends within
		// that millisecond.
		if req.Deadline != nil && !time.Now().Before(*req.Deadline) {
			<-ctx.Done()
			return "", ctx.Err()
		}
		e.Message = snippet.Cut(e.Message, MaxProviderErrorBytes)
		err := fmt.Errorf("%s: %w", where, e)
		if e.Class == provider.ClassPermanent {
			return "", runtime.Permanent(err)
		}
		return "", err
	}
	if len(rsp.State) > 0 && string(rsp.State) != "null" {
		if err := jsonUnfit(rsp.State); err != nil {
			return refused(fmt.Errorf("state: %v", err))
		}
		var next State
		if err := json.Unmarshal(rsp.State, &next); err != nil {
			return refused(fmt.Errorf("state: %v", err))
		}
		*state = next
	}
	// The outcome goes to the run as an in-process handler's would: one
	// the step does not route, or one of the runtime's own ("retry",
	// "error", "timeout"), fails the step at once there
	// (runtime.ReturnedOutcome, the route), rather than being an error
	// that "on error" routes. A rollback's outcome is ignored.
	if !k.rollback && !declares(outcomes, rsp.Outcome) {
		// The step's error says the outcome, not who answered it: of
		// several providers of the handler, the log names the one at fault.
		key, where := t.where()
		rm.e.log.WarnContext(ctx, "provider answered an outcome its step does not declare: the step fails",
			"provider", t.provider, "handler", t.h.Name, "run_id", req.RunID, "outcome", rsp.Outcome, key, where)
	}
	return rsp.Outcome, nil
}

// declares says whether out is ok ("" or "ok") or one of outcomes, the
// named outcomes a step declares and its providers registered.
func declares(outcomes []string, out string) bool {
	return out == "" || out == dsl.OutcomeOK || slices.Contains(outcomes, out)
}

// pick returns a live provider of k, or, with none, ErrNoProvider marked
// runtime.GateClosed: the attempt goes back to its recorded wait for one.
func (rm *remote) pick(k handlerKey, outcomes []string) (target, error) {
	rm.mu.Lock()
	t, ok := rm.pickLocked(k, outcomes, rm.e.clock.Now())
	rm.mu.Unlock()
	if !ok {
		return target{}, runtime.GateClosed(fmt.Errorf("%w for %s: the attempt waits for one", ErrNoProvider, k.what()))
	}
	return t, nil
}

// await returns a live provider of k, waiting for one up to
// ProviderOptions.Wait, and at most 9/10 of the time the attempt has left:
// the attempt then fails with ErrNoProvider, which its history records,
// before its timeout would end it as an attempt that timed out.
func (rm *remote) await(ctx context.Context, k handlerKey, outcomes []string) (target, error) {
	wait := rm.opts.Wait
	if dl, ok := ctx.Deadline(); ok {
		wait = branchWait(wait, dl.Sub(rm.e.clock.Now()))
	}
	expired, stop := runtime.ClockTimer(rm.e.clock, wait)
	defer stop()
	for {
		rm.mu.Lock()
		t, ok := rm.pickLocked(k, outcomes, rm.e.clock.Now())
		changed := rm.changed
		rm.mu.Unlock()
		if ok {
			return t, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return target{}, fmt.Errorf("%w for %s: %w", ErrNoProvider, k.what(), context.Cause(ctx))
		case <-expired:
			return target{}, fmt.Errorf("%w for %s (waited %v)", ErrNoProvider, k.what(), wait.Round(time.Millisecond))
		}
	}
}

// branchWait is how long an attempt with left time to run waits for a
// provider: wait (ProviderOptions.Wait), and at most 9/10 of left, so that
// the attempt fails with ErrNoProvider before its timeout ends it.
func branchWait(wait, left time.Duration) time.Duration {
	return min(wait, left*9/10)
}

// what names k in errors: `Go step "Reserve" of flow "Bill"`.
func (k handlerKey) what() string {
	what := "Go step"
	if k.rollback {
		what = "Go rollback"
	}
	return fmt.Sprintf("%s %q of flow %q", what, k.name, k.flow)
}

// providerClient is the HTTP client of provider calls: bounded
// connections, timeouts from the attempt's context, no redirects (a
// provider answers; a redirect could lead the state off the allow-list),
// and connections only to addresses the allow-list admits
// (callbackDialer).
func providerClient(al allowList) *http.Client {
	return providerClientResolving(al, nil)
}

// providerClientResolving is providerClient with a callbackDialer's
// resolve (tests: a lookup that leads a name elsewhere).
func providerClientResolving(al allowList, resolve func(host string) string) *http.Client {
	d := &callbackDialer{allow: al, resolve: resolve, Dialer: net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		MaxConnsPerHost:       providerHTTPConns,
		MaxIdleConnsPerHost:   providerHTTPConns,
		MaxIdleConns:          1024,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Go's default is 10 MiB, for each of the providerHTTPConns
		// answers a host may be sending.
		MaxResponseHeaderBytes: neterr.MaxResponseHeaderBytes,
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return errProviderRedirect
	}}
}

var errProviderRedirect = errors.New("a provider answered with a redirect, which the engine does not follow")

// callbackDialer connects to providers' callback URLs, and checks the
// address it connects to, once resolved (net.Dialer.Control, at each
// address it tries), against the allow-list (allowList.checkConn): the
// registration checked the URL's host by name, and a name leads where
// DNS says when the engine connects.
type callbackDialer struct {
	net.Dialer
	allow allowList
	// resolve, when set, stands for the lookup of a host name, in tests:
	// the address the engine connects to instead of the host.
	resolve func(host string) string
}

// DialContext is net.Dialer's, for addr "host:port" of a callback URL,
// and fails with errAddressNotAllowed (wrapped in a *net.OpError) before
// it connects to an address the allow-list does not admit.
func (d *callbackDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, _ := strconv.Atoi(p) // the Transport's: the URL's, checked when registered, or the scheme's
	nd := d.Dialer
	nd.Control = func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %v", errAddressNotAllowed, err)
		}
		return d.allow.checkConn(host, port, ap.Addr())
	}
	if d.resolve != nil {
		addr = net.JoinHostPort(d.resolve(host), p)
	}
	return nd.DialContext(ctx, network, addr)
}

// post sends a request to t, an HTTP provider, with the call credential
// of its pick (t.token) as a bearer token (none if ""). Connection errors, 5xx,
// 408, 429 and 401 are retryable; other statuses, a redirect and an
// answer over MaxProviderResponse are permanent. A request that found no
// server at its URL (neterr.Unreachable, before any answer and with time
// left) is a noAnswerError marked unreachable.
func (rm *remote) post(ctx context.Context, t target, key string, body []byte) ([]byte, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, t.h.URL, bytes.NewReader(body))
	if err != nil {
		return nil, runtime.Permanent(err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Idempotency-Key", key)
	rm.e.inject(ctx, r.Header) // the step attempt's span: the provider's work joins the run's trace
	if t.token != "" {
		r.Header.Set("Authorization", "Bearer "+t.token)
	}
	resp, err := rm.client.Do(r)
	if err != nil {
		// The client's error quotes the URL called, which the log shows
		// as the rest of the line does.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			ue.URL = urlpath.Shown(ue.URL)
		}
		na := rm.noAnswer(ctx, t, "", err)
		if errors.Is(err, errProviderRedirect) || errors.Is(err, errAddressNotAllowed) {
			// Calling again leads to the same place (the same lookup).
			return nil, runtime.Permanent(na)
		}
		// The attempt's end is no sign of the provider's: a slow one is there.
		na.unreachable = ctx.Err() == nil && neterr.Unreachable(err)
		return nil, na
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, MaxProviderResponse+1))
	if err != nil {
		na := rm.noAnswer(ctx, t, "reading the answer", err)
		if what, ok := neterr.CutShort(err, len(out), resp.ContentLength); ok {
			// Its status and headers came: the answer began, and the
			// connection closed before its end, not before the answer.
			na.what = "reading the answer: " + what
		}
		return nil, na
	}
	if len(out) > MaxProviderResponse {
		err := fmt.Errorf("the answer is larger than %d bytes", MaxProviderResponse)
		rm.callFailed(ctx, t, err)
		return nil, runtime.Permanent(err)
	}
	if resp.StatusCode != http.StatusOK {
		// The run's history, which every client reads, gets the status
		// alone; the operator's log gets the body. A provider answers its
		// errors with 200 (the protocol), so another status comes from
		// whatever serves the URL, which a provider token may aim at any
		// service the allow-list admits (by default every loopback port):
		// quoting that service's answer in the run would let a client
		// read it.
		rm.e.log.WarnContext(ctx, "provider call answered a status other than 200", "provider", t.provider, "handler", t.h.Name,
			"run_id", runtime.RunID(ctx), "url", urlpath.Shown(t.h.URL), "status", resp.StatusCode, "body", snippet.Body(out))
		err := fmt.Errorf("HTTP %d (a provider answers 200; the engine's log has the body)", resp.StatusCode)
		switch c := resp.StatusCode; {
		case c >= 500, c == http.StatusRequestTimeout, c == http.StatusTooManyRequests:
			return nil, err
		case c == http.StatusUnauthorized:
			// The call's token may be one the provider's registration
			// replaced between the pick and the call (it registered
			// again): the next attempt carries the current one.
			return nil, err
		}
		return nil, runtime.Permanent(err)
	}
	return out, nil
}

// noAnswerError is the error of a provider call that got no answer. Its
// text says what went wrong (neterr.Describe), doing what, never the
// callback URL or an address: the step records it in the run's history,
// which every client reads, and the addresses inside the operator's
// network are not theirs to see (as for rpc steps). Unwrap gives the
// whole error, which the engine logs.
type noAnswerError struct {
	what string
	err  error
	// unreachable: no server answered at all (post), so the replica
	// called is passed over (remote.passOver).
	unreachable bool
}

func (e *noAnswerError) Error() string { return e.what }
func (e *noAnswerError) Unwrap() error { return e.err }

// noAnswer logs err whole, with whom the call was for (the operator's
// way from a run's failed attempt to the provider's process), and returns
// it as a noAnswerError.
func (rm *remote) noAnswer(ctx context.Context, t target, doing string, err error) *noAnswerError {
	rm.callFailed(ctx, t, err)
	what := neterr.Describe(err)
	for _, known := range []error{errProviderRedirect, errAddressNotAllowed} {
		if errors.Is(err, known) {
			what = known.Error()
		}
	}
	if doing != "" {
		what = doing + ": " + what
	}
	return &noAnswerError{what: what, err: err}
}

// callFailed logs an attempt of a call to t that failed before the run
// had an answer it takes: where the call went (the callback URL or the
// NATS subject), which the run's history does not say, so that of several
// replicas of a handler the operator finds the one at fault.
func (rm *remote) callFailed(ctx context.Context, t target, err error) {
	key, where := t.where()
	rm.e.log.WarnContext(ctx, "provider call failed", "provider", t.provider, "handler", t.h.Name,
		"run_id", runtime.RunID(ctx), key, where, "error", err)
}

// where is where a call to t goes, as the engine's logs name it: the
// callback URL (urlpath.Shown) of an HTTP provider, the subject of a NATS
// one.
func (t target) where() (key, value string) {
	if t.h.URL != "" {
		return "url", urlpath.Shown(t.h.URL)
	}
	return "subject", t.h.Subject
}

// MaxProviderErrorBytes bounds the message of a provider's error answer
// that a run records: a longer one is cut there, with "...".
const MaxProviderErrorBytes = 4 << 10
