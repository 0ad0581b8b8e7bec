package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/internal/bearer"
)

// fakeEngine is the engine's side of the lease protocol, recording what
// a provider sends; forget makes it answer renewals 404, as an engine that
// restarted does.
type fakeEngine struct {
	mu       sync.Mutex
	log      []string // "PUT", "RENEW", "DELETE", in order
	regs     []Registration
	auth     []string
	replicas []string // each request's ?replica=
	leased   bool
	refuse   int // a status the next PUT answers instead of 200
	forgotAt int // renewals before the engine forgets the lease (0: never)
	renews   int
	// beforeAnswer, if set, runs before a registration is answered with
	// its call token, as the engine calls the handlers of a registration
	// it granted before its answer reaches the provider.
	beforeAnswer func(token string, reg Registration)
	// warnings are the answer's to each registration.
	warnings []string
}

// fakeExpires is when the fake engine says each lease it grants expires.
var fakeExpires = time.Date(2026, 12, 7, 14, 0, 30, 0, time.UTC)

// callToken is the call token of the fake engine's nth registration.
func callToken(n int) string { return fmt.Sprintf("ct-%d", n) }

func (f *fakeEngine) handler(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.replicas = append(f.replicas, r.URL.Query().Get("replica"))
		name, suffix, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/providers/"), "/")
		if name != "billing" {
			t.Errorf("request for provider %q", name)
		}
		switch {
		case r.Method == http.MethodPut && suffix == "":
			f.log = append(f.log, "PUT")
			if f.refuse != 0 {
				w.WriteHeader(f.refuse)
				_, _ = io.WriteString(w, `{"error": "engine: invalid provider registration: no"}`)
				return
			}
			var reg Registration
			if err := json.NewDecoder(r.Body).Decode(&reg); err != nil {
				t.Errorf("registration: %v", err)
			}
			f.regs = append(f.regs, reg)
			f.leased = true
			token := callToken(len(f.regs))
			if f.beforeAnswer != nil {
				f.beforeAnswer(token, reg)
			}
			_ = json.NewEncoder(w).Encode(Lease{Provider: "billing", Replica: r.URL.Query().Get("replica"),
				Expires: fakeExpires, CallToken: token, Warnings: f.warnings})
		case r.Method == http.MethodPost && suffix == "renew":
			f.log = append(f.log, "RENEW")
			f.renews++
			if f.forgotAt > 0 && f.renews == f.forgotAt {
				f.leased = false
			}
			if !f.leased {
				w.WriteHeader(http.StatusNotFound)
				_, _ = io.WriteString(w, `{"error": "engine: no live lease for this provider"}`)
				return
			}
			_, _ = io.WriteString(w, `{"provider": "billing"}`)
		case r.Method == http.MethodDelete && suffix == "":
			f.log = append(f.log, "DELETE")
			f.leased = false
			w.WriteHeader(http.StatusNoContent)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})
}

func (f *fakeEngine) snapshot() (log []string, regs []Registration, leased bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...), append([]Registration(nil), f.regs...), f.leased
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newBilling(engineURL string, ttl time.Duration) *Provider {
	return newBillingWith(Options{Engine: engineURL + "/", TTL: ttl})
}

// newBillingWith is newBilling with more options: its name and token are
// the fake engine's.
func newBillingWith(o Options) *Provider {
	o.Name, o.Token = "billing", "tok"
	p := New(o)
	p.Step("Billing.Reconcile", func(ctx context.Context, c *Call) (string, error) { return "", nil }, "disputed")
	p.Rollback("Unreconcile", func(ctx context.Context, c *Call) error { return nil })
	return p
}

// keepLeaseUntil runs p.KeepLease(hs) until the requests f got hold
// seq ("PUT RENEW"), then ends its context: it must return nil.
func keepLeaseUntil(t *testing.T, p *Provider, hs []Handler, f *fakeEngine, seq string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.KeepLease(ctx, hs) }()
	waitFor(t, "requests "+seq, func() bool {
		log, _, _ := f.snapshot()
		return strings.Contains(strings.Join(log, " "), seq)
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("KeepLease: %v", err)
	}
}

// KeepLease registers the handlers with the asked TTL and the token,
// renews the lease, registers again when the engine forgets it (a renewal
// answered 404, after a restart of the engine), and withdraws it at the
// end of its context.
func TestKeepLeaseRenewsReregistersAndWithdraws(t *testing.T) {
	f := &fakeEngine{forgotAt: 2}
	eng := httptest.NewServer(f.handler(t))
	defer eng.Close()
	p := newBilling(eng.URL, 300*time.Millisecond)
	hs := p.Handlers(func(h *Handler) { h.URL = "http://127.0.0.1:9/" + h.Name })

	keepLeaseUntil(t, p, hs, f, "PUT RENEW RENEW PUT RENEW")
	log, regs, leased := f.snapshot()
	if leased || log[len(log)-1] != "DELETE" {
		t.Errorf("the lease was not withdrawn at the end: %v", log)
	}
	if len(regs) < 2 {
		t.Fatalf("registrations %v: want the first and the one after the 404", regs)
	}
	want := []Handler{
		{Name: "Billing.Reconcile", Outcomes: []string{"disputed"}, URL: "http://127.0.0.1:9/Billing.Reconcile"},
		{Name: "Unreconcile", Rollback: true, URL: "http://127.0.0.1:9/Unreconcile"},
	}
	for _, reg := range regs {
		got, _ := json.Marshal(reg)
		exp, _ := json.Marshal(Registration{TTL: "300ms", Handlers: want})
		if string(got) != string(exp) {
			t.Errorf("registration %s, want %s", got, exp)
		}
	}
	f.mu.Lock()
	for _, a := range f.auth {
		if a != "Bearer tok" {
			t.Errorf("Authorization %q, want the provider's bearer token", a)
		}
	}
	for _, r := range f.replicas {
		if r != p.opts.Replica {
			t.Errorf("?replica=%q, want the provider's replica %q on every request", r, p.opts.Replica)
		}
	}
	f.mu.Unlock()
}

// A Provider is a replica of its name: Options.Replica, or an ID of its
// own, which the engine takes (1 to 128 bytes).
func TestReplicaID(t *testing.T) {
	a, b := New(Options{Name: "billing"}), New(Options{Name: "billing"})
	for _, id := range []string{a.opts.Replica, b.opts.Replica} {
		if id == "" || len(id) > 128 || strings.HasPrefix(id, "-") {
			t.Errorf("replica ID %q", id)
		}
	}
	if a.opts.Replica == b.opts.Replica {
		t.Errorf("two providers have replica ID %q", a.opts.Replica)
	}
	if c := New(Options{Name: "billing", Replica: "pod-7"}); c.opts.Replica != "pod-7" {
		t.Errorf("replica %q, want the one given", c.opts.Replica)
	}
}

// A registration the engine refuses (a 4xx other than 404, 408 and 429) ends
// KeepLease with the engine's message; nothing is withdrawn, since nothing
// was granted.
func TestKeepLeaseRefused(t *testing.T) {
	f := &fakeEngine{refuse: http.StatusConflict}
	eng := httptest.NewServer(f.handler(t))
	defer eng.Close()
	p := newBilling(eng.URL, time.Second)
	err := p.KeepLease(context.Background(), p.Handlers(func(h *Handler) { h.Subject = "s." + h.Name }))
	var re *refused
	if !errors.As(err, &re) || re.code != http.StatusConflict || !strings.Contains(err.Error(), "invalid provider registration: no") {
		t.Fatalf("KeepLease: %v, want the engine's 409 and its message", err)
	}
	if log, _, _ := f.snapshot(); strings.Join(log, " ") != "PUT" {
		t.Errorf("requests %v, want one PUT", log)
	}
}

// A token no header can carry (two tokens of a file on two lines, as awk
// reads a token file with two lines of the role) ends KeepLease at once,
// saying so: net/http refuses to send it, and retrying the registration
// until ctx ends would refuse it again each time.
func TestKeepLeaseTokenNotPrintable(t *testing.T) {
	f := &fakeEngine{}
	eng := httptest.NewServer(f.handler(t))
	defer eng.Close()
	p := New(Options{Name: "billing", Engine: eng.URL, Token: "provider-token-0123456789\nprovider-token-9876543210", TTL: time.Second})
	err := keepLeaseEnds(t, p, "a token no header can carry")
	if !errors.Is(err, bearer.ErrNotPrintable) || !strings.Contains(err.Error(), "Options.Token") {
		t.Fatalf("KeepLease: %v, want bearer.ErrNotPrintable naming Options.Token", err)
	}
	if log, _, _ := f.snapshot(); len(log) != 0 {
		t.Errorf("requests %v, want none", log)
	}
}

// A renewal answered 429 or 408 (the engine's, or a proxy's in front of
// it: a load balancer answers 408 to a request it timed out) is tried
// again at the next turn, as a registration answered so is: it does not
// end KeepLease, which would stop a provider that is still wanted. A 408
// stopped it for good, where the engine's calls and rpc steps retry one.
func TestKeepLeaseRenewalTooManyRequests(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusRequestTimeout} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			f := &fakeEngine{}
			var renewals atomic.Int32
			eng := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/renew") && renewals.Add(1) == 1 {
					w.WriteHeader(status)
					return
				}
				f.handler(t).ServeHTTP(w, r)
			}))
			defer eng.Close()
			p := newBilling(eng.URL, 300*time.Millisecond)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- p.KeepLease(ctx, p.Handlers(func(h *Handler) { h.Subject = "s." + h.Name })) }()
			waitFor(t, "a renewal after the refusal, or the end of KeepLease", func() bool {
				log, _, _ := f.snapshot()
				return strings.Contains(strings.Join(log, " "), "RENEW") || len(done) > 0
			})
			select {
			case err := <-done:
				t.Fatalf("KeepLease ended at a renewal answered %d: %v", status, err)
			default:
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// An engine that is not up yet is retried until it answers.
func TestKeepLeaseWaitsForTheEngine(t *testing.T) {
	f := &fakeEngine{}
	calls := 0
	var mu sync.Mutex
	eng := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		f.handler(t).ServeHTTP(w, r)
	}))
	defer eng.Close()
	p := newBilling(eng.URL, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.KeepLease(ctx, p.Handlers(func(h *Handler) { h.Subject = "s" })) }()
	waitFor(t, "the registration", func() bool { _, _, leased := f.snapshot(); return leased })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func request(t *testing.T, req Request) []byte {
	t.Helper()
	req.Version = Version
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func response(t *testing.T, body []byte) Response {
	t.Helper()
	var rsp Response
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rsp); err != nil {
		t.Fatalf("response %s: %v", body, err)
	}
	if err := rsp.Check(); err != nil {
		t.Fatalf("response %s breaks the protocol: %v", body, err)
	}
	return rsp
}

// Handle: the state goes to the handler and comes back with its changes,
// with the outcome; errors are classed retryable or permanent; a panic or
// an unknown handler is retryable, a request that is not one permanent;
// the deadline is the handler's context's.
func TestHandle(t *testing.T) {
	p := New(Options{Name: "billing"})
	deadline := time.Now().Add(time.Hour).UTC().Round(time.Millisecond)
	var sawDeadline time.Time
	var sawReq Request
	p.Step("Reconcile", func(ctx context.Context, c *Call) (string, error) {
		sawDeadline, _ = ctx.Deadline()
		sawReq = c.Request
		var amount float64
		if err := c.Get("Amount", &amount); err != nil {
			return "", Permanent(err)
		}
		var missing string
		if err := c.Get("Missing", &missing); err != nil || missing != "" {
			t.Errorf("a missing field: %q %v", missing, err)
		}
		c.Delete("Scratch")
		if err := c.Set("Reconciled", map[string]any{"by": "billing"}); err != nil {
			return "", err
		}
		if amount > 1000 {
			return "disputed", nil
		}
		return "", nil
	}, "disputed")
	p.Step("Flaky", func(ctx context.Context, c *Call) (string, error) { return "", errors.New("ledger down") })
	p.Step("Broken", func(ctx context.Context, c *Call) (string, error) {
		return "", fmt.Errorf("billing: %w", Permanent(errors.New("invoice gone"))) // wrapped: still permanent
	})
	p.Step("Panics", func(ctx context.Context, c *Call) (string, error) { panic("boom") })
	p.Rollback("Reconcile", func(ctx context.Context, c *Call) error {
		c.Delete("Reconciled")
		return nil
	})

	body := p.Handle(context.Background(), request(t, Request{
		RunID: "r-1", Flow: "Billing", Step: "Reconcile", Handler: "Reconcile", IdempotencyKey: "r-1/Reconcile",
		Attempt: 2, Deadline: &deadline, State: json.RawMessage(`{"Amount": 12.5, "Scratch": [1], "Keep": "x"}`),
	}))
	rsp := response(t, body)
	if rsp.Error != nil || rsp.Outcome != "" || string(rsp.State) != `{"Amount":12.5,"Keep":"x","Reconciled":{"by":"billing"}}` {
		t.Errorf("step: %s", body)
	}
	if !sawDeadline.Equal(deadline) {
		t.Errorf("the handler's context has deadline %v, want the request's %v", sawDeadline, deadline)
	}
	if sawReq.RunID != "r-1" || sawReq.IdempotencyKey != "r-1/Reconcile" || sawReq.Attempt != 2 || sawReq.Flow != "Billing" {
		t.Errorf("the handler saw %+v", sawReq)
	}
	if rsp := response(t, p.Handle(context.Background(), request(t, Request{Handler: "Reconcile", State: json.RawMessage(`{"Amount": 5000}`)}))); rsp.Outcome != "disputed" {
		t.Errorf("outcome %q, want disputed", rsp.Outcome)
	}
	// No deadline in the request: none in the context.
	p.Step("NoDeadline", func(ctx context.Context, c *Call) (string, error) {
		if _, ok := ctx.Deadline(); ok {
			t.Error("a deadline without one in the request")
		}
		return "", nil
	})
	response(t, p.Handle(context.Background(), request(t, Request{Handler: "NoDeadline", State: json.RawMessage(`null`)})))
	// A rollback is the rollback of that name, not the step.
	rsp = response(t, p.Handle(context.Background(), request(t, Request{Handler: "Reconcile", Rollback: true, State: json.RawMessage(`{"Reconciled": true, "A": 1}`)})))
	if rsp.Error != nil || string(rsp.State) != `{"A":1}` {
		t.Errorf("rollback: %+v %s", rsp.Error, rsp.State)
	}

	for _, tc := range []struct {
		name, body, class, msg string
	}{
		{"retryable", string(request(t, Request{Handler: "Flaky", State: json.RawMessage(`{}`)})), ClassRetryable, "ledger down"},
		{"permanent", string(request(t, Request{Handler: "Broken", State: json.RawMessage(`{}`)})), ClassPermanent, "invoice gone"},
		{"bad state field", string(request(t, Request{Handler: "Reconcile", State: json.RawMessage(`{"Amount": "lots"}`)})), ClassPermanent, `state field "Amount"`},
		{"panic", string(request(t, Request{Handler: "Panics", State: json.RawMessage(`{}`)})), ClassRetryable, `handler "Panics" panicked: boom (the provider's log has the stack)`},
		{"unknown handler", string(request(t, Request{Handler: "Nope", State: json.RawMessage(`{}`)})), ClassRetryable, `no handler "Nope"`},
		{"unknown rollback", string(request(t, Request{Handler: "Flaky", Rollback: true, State: json.RawMessage(`{}`)})), ClassRetryable, `no handler "Flaky"`},
		{"not a request", `{"version": `, ClassPermanent, "not a provider request"},
		{"state not an object", string(request(t, Request{Handler: "Flaky", State: json.RawMessage(`[1]`)})), ClassPermanent, "state is not a JSON object"},
	} {
		rsp := response(t, p.Handle(context.Background(), []byte(tc.body)))
		if rsp.Error == nil || rsp.Error.Class != tc.class || !strings.Contains(rsp.Error.Message, tc.msg) || rsp.State != nil || rsp.Outcome != "" {
			t.Errorf("%s: %+v, want class %s with %q and no state", tc.name, rsp.Error, tc.class, tc.msg)
		}
	}
}

// A deadline that has passed reaches the handler as a done context.
func TestHandleDeadlinePassed(t *testing.T) {
	p := New(Options{Name: "billing"})
	p.Step("Slow", func(ctx context.Context, c *Call) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	})
	past := time.Now().Add(-time.Second)
	rsp := response(t, p.Handle(context.Background(), request(t, Request{Handler: "Slow", Deadline: &past, State: json.RawMessage(`{}`)})))
	if rsp.Error == nil || rsp.Error.Class != ClassRetryable || !strings.Contains(rsp.Error.Message, "deadline exceeded") {
		t.Errorf("%+v, want a retryable deadline error", rsp.Error)
	}
}

// ListenAndServe serves POST /step/{name} and /rollback/{name} at the URLs
// it registers, refuses other methods, and withdraws the lease when it
// stops.
func TestListenAndServe(t *testing.T) {
	f := &fakeEngine{}
	eng := httptest.NewServer(f.handler(t))
	defer eng.Close()
	p := newBilling(eng.URL, time.Minute)
	p.Step("Billing.Reconcile", func(ctx context.Context, c *Call) (string, error) {
		return "disputed", c.Set("Seen", c.Handler)
	}, "disputed")
	p.Rollback("Unreconcile", func(ctx context.Context, c *Call) error { return c.Set("Undone", true) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.ListenAndServe(ctx, "127.0.0.1:0", "") }()
	waitFor(t, "the registration", func() bool { _, regs, _ := f.snapshot(); return len(regs) == 1 })
	_, regs, _ := f.snapshot()
	urls := map[string]string{}
	for _, h := range regs[0].Handlers {
		if h.Subject != "" || !strings.HasPrefix(h.URL, "http://127.0.0.1:") {
			t.Fatalf("handler %+v: want a loopback URL", h)
		}
		urls[h.Name] = h.URL
	}
	if !strings.HasSuffix(urls["Billing.Reconcile"], "/step/Billing.Reconcile") || !strings.HasSuffix(urls["Unreconcile"], "/rollback/Unreconcile") {
		t.Fatalf("URLs %v", urls)
	}
	post := func(url string, req Request) Response {
		res := postCall(t, url, "Bearer "+callToken(1), req)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("POST %s: %d %s", url, res.StatusCode, b)
		}
		return response(t, b)
	}
	if rsp := post(urls["Billing.Reconcile"], Request{Handler: "Billing.Reconcile", State: json.RawMessage(`{}`)}); rsp.Outcome != "disputed" || string(rsp.State) != `{"Seen":"Billing.Reconcile"}` {
		t.Errorf("step over HTTP: %+v %s", rsp, rsp.State)
	}
	if rsp := post(urls["Unreconcile"], Request{Handler: "Unreconcile", Rollback: true, State: json.RawMessage(`{}`)}); rsp.Error != nil || string(rsp.State) != `{"Undone":true}` {
		t.Errorf("rollback over HTTP: %+v %s", rsp.Error, rsp.State)
	}
	res, err := http.Get(urls["Unreconcile"])
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", res.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, _, leased := f.snapshot(); leased {
		t.Error("the lease was not withdrawn")
	}
	if _, err := http.Post(urls["Unreconcile"], "application/json", strings.NewReader("{}")); err == nil {
		t.Error("the provider still serves after it stopped")
	}
}

// Response.Check refuses an unknown error class and a state that is not
// an object.
func TestResponseCheck(t *testing.T) {
	for body, ok := range map[string]bool{
		`{"state": {"a": 1}, "outcome": "x"}`: true,
		`{"state": null}`:                     true,
		`{}`:                                  true,
		`{"error": {"message": "m"}}`:         true,
		`{"error": {"message": "m", "class": "permanent"}}`: true,
		`{"error": {"message": "m", "class": "sometimes"}}`: false,
		`{"state": [1, 2]}`: false,
		`{"state": "text"}`: false,
		`{"error": {"message": "m"}, "state": "ignored-too"}`: true,
	} {
		var r Response
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatal(err)
		}
		if err := r.Check(); (err == nil) != ok {
			t.Errorf("%s: Check = %v, want ok %v", body, err, ok)
		}
	}
}

// listenAndServe runs p.ListenAndServe on loopback until the test ends,
// and checks that it returns nil then.
func listenAndServe(t *testing.T, p *Provider) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.ListenAndServe(ctx, "127.0.0.1:0", "") }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

// postCall POSTs req to url with Authorization auth (none if "").
func postCall(t *testing.T, url, auth string, req Request) *http.Response {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(request(t, req))))
	r.Header.Set("Content-Type", "application/json")
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Over HTTP a provider serves only the calls that carry its
// registration's call token (the engine's), compared whole: a call with
// none, another, or a prefix of it is refused 401 before the handler
// runs. A call that comes before the registration's answer (the engine
// calls as soon as it grants it) waits for the answer and is served;
// once the provider registered again (its lease forgotten, after a
// restart of the engine), the new token is the one.
func TestCallToken(t *testing.T) {
	var served sync.Map // call token -> the status of the call sent before the registration's answer
	f := &fakeEngine{forgotAt: 1}
	f.beforeAnswer = func(token string, reg Registration) {
		for _, h := range reg.Handlers {
			if h.Name == "Billing.Reconcile" {
				go func() {
					res := postCall(t, h.URL, "Bearer "+token, Request{Handler: h.Name, State: json.RawMessage(`{}`)})
					res.Body.Close()
					served.Store(token, res.StatusCode)
				}()
			}
		}
		time.Sleep(50 * time.Millisecond) // the call reaches the provider before the answer
	}
	eng := httptest.NewServer(f.handler(t))
	defer eng.Close()
	var runs atomic.Int32
	p := newBilling(eng.URL, 300*time.Millisecond)
	p.Step("Billing.Reconcile", func(ctx context.Context, c *Call) (string, error) { runs.Add(1); return "", nil }, "disputed")
	listenAndServe(t, p)
	waitFor(t, "a registration again after the engine forgot the lease", func() bool { _, regs, _ := f.snapshot(); return len(regs) >= 2 })
	for _, tok := range []string{callToken(1), callToken(2)} {
		waitFor(t, "the call sent before the answer", func() bool { _, ok := served.Load(tok); return ok })
		if code, _ := served.Load(tok); code != http.StatusOK {
			t.Errorf("a call with token %s sent before its registration's answer: %d, want 200", tok, code)
		}
	}
	_, regs, _ := f.snapshot()
	url := regs[0].Handlers[0].URL
	req := Request{Handler: "Billing.Reconcile", State: json.RawMessage(`{}`)}
	before := runs.Load()
	for _, auth := range []string{"", "Bearer " + callToken(1), "Bearer ct-", "Bearer " + callToken(2) + "x", callToken(2), "Basic eDp5"} {
		res := postCall(t, url, auth, req)
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("a call with Authorization %q: %d, want 401 with WWW-Authenticate", auth, res.StatusCode)
		}
	}
	if runs.Load() != before {
		t.Errorf("refused calls ran the handler %d times", runs.Load()-before)
	}
	res := postCall(t, url, "Bearer "+callToken(2), req)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || runs.Load() != before+1 {
		t.Errorf("a call with the current token: %d, handler runs %d, want 200 and one run", res.StatusCode, runs.Load()-before)
	}
}

// KeepLeaseWhile sends no renewal while serving says the replica cannot
// serve, and renews again once it can. serving answers on the test's
// cue, so that the ticks it skips are counted rather than waited out.
func TestKeepLeaseWhileSkipsRenewals(t *testing.T) {
	f := &fakeEngine{}
	eng := httptest.NewServer(f.handler(t))
	defer eng.Close()
	p := newBilling(eng.URL, 30*time.Millisecond)
	hs := p.Handlers(func(h *Handler) { h.URL = "http://127.0.0.1:9/" + h.Name })
	asked := make(chan bool) // the test's answer to each tick's question
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.KeepLeaseWhile(ctx, hs, func() bool { return <-asked }) }()
	for range 4 { // three ticks skipped whole: the fourth asks
		asked <- false
	}
	if log, _, _ := f.snapshot(); strings.Join(log, " ") != "PUT" {
		t.Fatalf("requests while not serving: %v, want the registration alone", log)
	}
	asked <- true
	waitFor(t, "a renewal once serving", func() bool {
		log, _, _ := f.snapshot()
		return strings.Join(log, " ") == "PUT RENEW"
	})
	cancel()
	for {
		select {
		case asked <- true: // a tick that came before the end
		case err := <-done:
			if err != nil {
				t.Fatalf("KeepLease: %v", err)
			}
			return
		}
	}
}

// An engine URL without its scheme (-engine 127.0.0.1:8080), or an empty
// name, ends KeepLease at once, saying which option: before, the first
// was retried until ctx ended with `first path segment in URL cannot
// contain colon` logged at each turn, and the second sent PUT
// /providers/, which the engine does not serve (404), as if the lease
// were to register again.
func TestKeepLeaseOptionsNotUsable(t *testing.T) {
	f := &fakeEngine{}
	eng := httptest.NewServer(f.handler(t))
	defer eng.Close()
	for _, c := range []struct{ name, engine, says string }{
		{"billing", strings.TrimPrefix(eng.URL, "http://"), "Options.Engine"},
		{"billing", "", "Options.Engine"},
		{"billing", "ftp" + strings.TrimPrefix(eng.URL, "http"), "Options.Engine"},
		{"billing", eng.URL + "/?x=1", "Options.Engine"},
		{"", eng.URL, "Options.Name"},
	} {
		p := New(Options{Name: c.name, Engine: c.engine, TTL: time.Second})
		err := keepLeaseEnds(t, p, fmt.Sprintf("Engine %q, Name %q", c.engine, c.name))
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("Engine %q, Name %q: KeepLease: %v, want an error naming %s", c.engine, c.name, err, c.says)
		}
	}
	if log, _, _ := f.snapshot(); len(log) != 0 {
		t.Errorf("requests %v, want none", log)
	}
	// A trailing slash is the same base URL.
	p := New(Options{Name: "billing", Engine: eng.URL + "/", TTL: time.Second})
	if err := checkEngineURL(p.opts.Engine); err != nil {
		t.Errorf("Engine %q: %v", eng.URL+"/", err)
	}
}

// keepLeaseEnds runs KeepLease of p, serving one step, and returns its
// error once it ends by itself; what says what it was given that should
// end it at once.
func keepLeaseEnds(t *testing.T, p *Provider, what string) error {
	t.Helper()
	p.Step("Billing.Reconcile", func(ctx context.Context, c *Call) (string, error) { return "", nil })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.KeepLease(ctx, p.Handlers(func(h *Handler) { h.Subject = "s." + h.Name })) }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute): // not a timed assertion: before, it retried until ctx ended
		cancel()
		t.Fatalf("KeepLease still retrying %s (then %v)", what, <-done)
		return nil
	}
}
