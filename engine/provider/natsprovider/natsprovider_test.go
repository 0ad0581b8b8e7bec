package natsprovider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/internal/natstest"
)

func natsServer(t *testing.T) *nats.Conn { return natstest.Connect(t, natstest.URL(t)) }

// leases is the engine's lease API as far as Serve uses it: the
// registrations it got and whether the lease is live.
type leases struct {
	mu     sync.Mutex
	regs   []provider.Registration
	leased map[string]bool
	// renewed, if set, runs at each renewal, under mu.
	renewed func()
}

func (l *leases) server(t testing.TB) *httptest.Server {
	l.leased = map[string]bool{}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		defer l.mu.Unlock()
		name := strings.TrimPrefix(r.URL.Path, "/providers/")
		switch r.Method {
		case http.MethodPut:
			var reg provider.Registration
			b, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(b, &reg); err != nil {
				t.Errorf("registration %s: %v", b, err)
			}
			l.regs = append(l.regs, reg)
			l.leased[name] = true
		case http.MethodDelete:
			l.leased[name] = false
			w.WriteHeader(http.StatusNoContent)
			return
		case http.MethodPost:
			if l.renewed != nil {
				l.renewed()
			}
		}
		_, _ = io.WriteString(w, `{}`)
	}))
}

func (l *leases) get() ([]provider.Registration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]provider.Registration(nil), l.regs...), l.leased["bill-ing"]
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

// Serve registers each handler's subject (the provider's and handler's
// names escaped to one token each), answers the engine's Transport on
// them, shares the calls between replicas of one name (a queue group: one
// answer per call), and at the end withdraws the lease and unsubscribes,
// after which a call finds no provider.
func TestServeAndTransport(t *testing.T) {
	nc := natsServer(t)
	var l leases
	eng := l.server(t)
	defer eng.Close()

	var mu sync.Mutex
	served := map[int]int{} // replica -> calls
	start := func(ctx context.Context, replica int) chan error {
		p := provider.New(provider.Options{Name: "bill-ing", Engine: eng.URL, TTL: time.Minute})
		p.Step("Billing.Reconcile", func(ctx context.Context, c *provider.Call) (string, error) {
			mu.Lock()
			served[replica]++
			mu.Unlock()
			var n int
			_ = c.Get("N", &n)
			return "disputed", c.Set("N", n+1)
		}, "disputed")
		p.Rollback("Un.do", func(ctx context.Context, c *provider.Call) error { return provider.Permanent(io.EOF) })
		done := make(chan error, 1)
		go func() { done <- Serve(ctx, p, "bill-ing", nc) }()
		return done
	}
	ctx, cancel := context.WithCancel(context.Background())
	done1, done2 := start(ctx, 1), start(ctx, 2)
	waitFor(t, "both replicas to register", func() bool { regs, _ := l.get(); return len(regs) == 2 })

	regs, _ := l.get()
	subjects := map[string]string{}
	for _, h := range regs[0].Handlers {
		if h.URL != "" {
			t.Errorf("handler %+v has a URL", h)
		}
		subjects[h.Name] = h.Subject
	}
	if subjects["Billing.Reconcile"] != "flowgen_provider.bill-ing.step.Billing%2EReconcile" ||
		subjects["Un.do"] != "flowgen_provider.bill-ing.rollback.Un%2Edo" {
		t.Fatalf("subjects %v", subjects)
	}

	tr := NewTransport(nc)
	const calls = 40
	for i := range calls {
		body, _ := json.Marshal(provider.Request{Version: provider.Version, Handler: "Billing.Reconcile", State: json.RawMessage(fmt.Sprintf(`{"N": %d}`, i))})
		out, err := tr.CallProvider(context.Background(), subjects["Billing.Reconcile"], body)
		if err != nil {
			t.Fatal(err)
		}
		var rsp provider.Response
		if err := json.Unmarshal(out, &rsp); err != nil || rsp.Outcome != "disputed" || string(rsp.State) != fmt.Sprintf(`{"N":%d}`, i+1) {
			t.Fatalf("call %d: %s %v", i, out, err)
		}
	}
	body, _ := json.Marshal(provider.Request{Version: provider.Version, Handler: "Un.do", Rollback: true, State: json.RawMessage(`{}`)})
	out, err := tr.CallProvider(context.Background(), subjects["Un.do"], body)
	var rsp provider.Response
	if err != nil || json.Unmarshal(out, &rsp) != nil || rsp.Error == nil || rsp.Error.Class != provider.ClassPermanent {
		t.Fatalf("rollback: %s %v, want a permanent error", out, err)
	}
	mu.Lock()
	if served[1]+served[2] != calls {
		t.Errorf("served %v, want %d calls, each once", served, calls)
	}
	mu.Unlock()

	cancel()
	for _, d := range []chan error{done1, done2} {
		if err := <-d; err != nil {
			t.Fatal(err)
		}
	}
	if _, leased := l.get(); leased {
		t.Error("the lease was not withdrawn")
	}
	// Unsubscribed: the engine's call finds nobody at once (retryable,
	// not a wait until its deadline).
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	if _, err := tr.CallProvider(cctx, subjects["Billing.Reconcile"], body); err == nil || !strings.Contains(err.Error(), "no provider subscribed to") ||
		!provider.IsUnreachable(err) || provider.IsPermanent(err) {
		t.Errorf("call after stop: %v, want no provider subscribed, marked unreachable, not permanent", err)
	}
	if cctx.Err() != nil {
		t.Error("the call waited for its deadline")
	}
}

// serveBilling serves provider "bill-ing", with the handlers setup gives
// it, on nc until the test ends, and returns once it registered.
func serveBilling(t *testing.T, nc *nats.Conn, setup func(p *provider.Provider)) {
	t.Helper()
	var l leases
	eng := l.server(t)
	t.Cleanup(eng.Close) // after Serve's end: its withdrawal reaches it
	p := provider.New(provider.Options{Name: "bill-ing", Engine: eng.URL, TTL: time.Minute})
	setup(p)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, p, "bill-ing", nc) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "the registration", func() bool { regs, _ := l.get(); return len(regs) == 1 })
}

// callBilling calls the step handler of serveBilling's provider with state, as
// the engine's Transport does, and decodes its answer.
func callBilling(t *testing.T, nc *nats.Conn, handler, state string) (provider.Response, []byte) {
	t.Helper()
	body, _ := json.Marshal(provider.Request{Version: provider.Version, Handler: handler, State: json.RawMessage(state)})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := NewTransport(nc).CallProvider(ctx, Subject("bill-ing", provider.Handler{Name: handler}), body)
	var rsp provider.Response
	if err == nil {
		err = json.Unmarshal(out, &rsp)
	}
	if err != nil {
		t.Fatalf("calling %s: %.200s, %v", handler, out, err)
	}
	return rsp, out
}

// An answer larger than the NATS server's max payload (1 MiB by default)
// cannot be sent: the engine gets a permanent error saying so, at once,
// rather than wait for the attempt's deadline with nothing said.
func TestServeAnswerTooLargeForNATS(t *testing.T) {
	nc := natsServer(t)
	serveBilling(t, nc, func(p *provider.Provider) {
		p.Step("Big", func(ctx context.Context, c *provider.Call) (string, error) {
			return "", c.Set("Blob", strings.Repeat("x", int(nc.MaxPayload())+1))
		})
	})
	rsp, out := callBilling(t, nc, "Big", `{}`)
	if rsp.Error == nil || rsp.Error.Class != provider.ClassPermanent || !strings.Contains(rsp.Error.Message, "could not send its answer over NATS") {
		t.Fatalf("answer %.200s; want a permanent error saying the answer could not be sent", out)
	}
}

// A request larger than the server's max_payload can never be sent: the
// error is marked permanent (provider.IsPermanent), so the engine does not
// send it again.
func TestTransportRequestTooLarge(t *testing.T) {
	nc := natsServer(t)
	big := make([]byte, nc.MaxPayload()+1)
	_, err := NewTransport(nc).CallProvider(context.Background(), "flowgen_provider.x.step.Big", big)
	if !provider.IsPermanent(err) || !strings.Contains(fmt.Sprint(err), "max_payload") {
		t.Fatalf("err %v, want a permanent error naming max_payload", err)
	}
}

// A handler that does not answer within the call's context: the call ends
// with the context.
func TestTransportDeadline(t *testing.T) {
	nc := natsServer(t)
	sub, err := nc.Subscribe("slow", func(m *nats.Msg) {}) // never answers
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := NewTransport(nc).CallProvider(ctx, "slow", []byte(`{}`)); err == nil || ctx.Err() == nil {
		t.Fatalf("err %v, want the context's end", err)
	}
}

func TestSubjectEscapes(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    provider.Handler
		want string
	}{
		{"billing", provider.Handler{Name: "Reconcile"}, "flowgen_provider.billing.step.Reconcile"},
		{"a.b", provider.Handler{Name: "F.S", Rollback: true}, "flowgen_provider.a%2Eb.rollback.F%2ES"},
		{"x y*>", provider.Handler{Name: "é"}, "flowgen_provider.x%20y%2A%3E.step.%C3%A9"},
	} {
		if got := Subject(tc.name, tc.h); got != tc.want {
			t.Errorf("Subject(%q, %+v) = %q, want %q", tc.name, tc.h, got, tc.want)
		}
	}
}

// A call in flight when Serve's context ends is answered, not cut short:
// Serve withdraws the replica's registration at once (the engine sends
// it no more calls), then waits for the call before it unsubscribes and
// returns.
func TestServeAnswersCallsInFlight(t *testing.T) {
	nc := natsServer(t)
	var l leases
	eng := l.server(t)
	defer eng.Close()
	started, release := make(chan struct{}), make(chan struct{})
	p := provider.New(provider.Options{Name: "bill-ing", Engine: eng.URL, TTL: time.Minute})
	p.Step("Slow", func(ctx context.Context, c *provider.Call) (string, error) {
		close(started)
		select {
		case <-release:
			return "", c.Set("Done", true)
		case <-ctx.Done():
			return "", ctx.Err()
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, p, "bill-ing", nc) }()
	waitFor(t, "the registration", func() bool { _, leased := l.get(); return leased })

	type result struct {
		out []byte
		err error
	}
	answer := make(chan result, 1)
	go func() {
		body, _ := json.Marshal(provider.Request{Version: provider.Version, Handler: "Slow", State: json.RawMessage(`{}`)})
		cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer ccancel()
		out, err := NewTransport(nc).CallProvider(cctx, Subject("bill-ing", provider.Handler{Name: "Slow"}), body)
		answer <- result{out, err}
	}()
	<-started
	cancel()
	waitFor(t, "the withdrawal", func() bool { _, leased := l.get(); return !leased })
	select {
	case err := <-done:
		t.Fatalf("Serve returned (%v) with a call in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	r := <-answer
	var rsp provider.Response
	if r.err != nil || json.Unmarshal(r.out, &rsp) != nil || rsp.Error != nil || string(rsp.State) != `{"Done":true}` {
		t.Fatalf("the call in flight: %s %v, want its answer", r.out, r.err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Serve runs at most MaxInFlight calls at once (docs/engine.md#limits);
// the others wait, and are answered as places free up.
func TestServeRunsAtMostMaxInFlight(t *testing.T) {
	nc := natsServer(t)
	var l leases
	eng := l.server(t)
	defer eng.Close()
	var mu sync.Mutex
	running, most := 0, 0
	release := make(chan struct{})
	p := provider.New(provider.Options{Name: "bill-ing", Engine: eng.URL, TTL: time.Minute})
	p.Step("Slow", func(ctx context.Context, c *provider.Call) (string, error) {
		mu.Lock()
		running++
		most = max(most, running)
		mu.Unlock()
		<-release
		mu.Lock()
		running--
		mu.Unlock()
		return "", nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, p, "bill-ing", nc) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the registration", func() bool { _, leased := l.get(); return leased })

	const calls = MaxInFlight + 36
	errs := make(chan error, calls)
	body, _ := json.Marshal(provider.Request{Version: provider.Version, Handler: "Slow", State: json.RawMessage(`{}`)})
	for range calls {
		go func() {
			cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer ccancel()
			_, err := NewTransport(nc).CallProvider(cctx, Subject("bill-ing", provider.Handler{Name: "Slow"}), body)
			errs <- err
		}()
	}
	waitFor(t, "MaxInFlight calls running", func() bool { mu.Lock(); defer mu.Unlock(); return running == MaxInFlight })
	close(release)
	for range calls {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if most != MaxInFlight {
		t.Fatalf("%d calls ran at once, want at most %d", most, MaxInFlight)
	}
}

// ServeWith sends progress notices only to a sender that asks for them:
// an engine built before notices sends a request and takes its first
// reply, which is still the answer; one that asks gets a notice at once,
// announcing the interval, then one each interval until the answer.
func TestServeProgressNotices(t *testing.T) {
	nc := natsServer(t)
	var l leases
	eng := l.server(t)
	defer eng.Close()
	release := make(chan struct{})
	held := make(chan struct{}, 2)
	p := provider.New(provider.Options{Name: "bill-ing", Engine: eng.URL, TTL: time.Minute})
	p.Step("Reconcile", func(ctx context.Context, c *provider.Call) (string, error) {
		held <- struct{}{}
		<-release
		return "", nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeWith(ctx, p, "bill-ing", nc, Options{Progress: MinProgressInterval}) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the registration", func() bool { regs, _ := l.get(); return len(regs) == 1 })
	subject := Subject("bill-ing", provider.Handler{Name: "Reconcile"})
	body, _ := json.Marshal(provider.Request{Version: provider.Version, Handler: "Reconcile", State: json.RawMessage(`{}`)})
	send := func(progress bool) *nats.Subscription {
		sub, err := nc.SubscribeSync(nc.NewInbox())
		if err != nil {
			t.Fatal(err)
		}
		m := nats.NewMsg(subject)
		m.Reply, m.Data = sub.Subject, body
		if progress {
			m.Header.Set(ProgressHeader, "1")
		}
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
		<-held
		return sub
	}
	next := func(sub *nats.Subscription) *nats.Msg {
		m, err := sub.NextMsg(20 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	old, asked := send(false), send(true)
	// Two notices on the call that asked: at least one interval passed
	// with both calls in flight.
	for i := range 2 {
		if m := next(asked); m.Header.Get(ProgressHeader) != MinProgressInterval.String() || len(m.Data) != 0 {
			t.Fatalf("reply %d to a call that asks for notices: %q %s, want a notice of %v", i, m.Header, m.Data, MinProgressInterval)
		}
	}
	close(release)
	if m := next(old); m.Header.Get(ProgressHeader) != "" || len(m.Data) == 0 {
		t.Fatalf("first reply to a call without %s: %q %s, want the answer", ProgressHeader, m.Header, m.Data)
	}
	for {
		m := next(asked)
		if _, ok := notice(m); !ok {
			if len(m.Data) == 0 {
				t.Fatalf("answer %q %s", m.Header, m.Data)
			}
			break
		}
	}
}

// The Transport fails a call whose replica announced notices and then
// went silent (ErrSilent, not the end of ctx: the attempt's deadline is
// far), and waits for the answer of a provider that sends none, as it
// always did, however long it takes.
func TestTransportSilentReplica(t *testing.T) {
	nc := natsServer(t)
	answer := make(chan struct{})
	subscribe := func(subject string, h nats.MsgHandler) {
		if _, err := nc.Subscribe(subject, h); err != nil {
			t.Fatal(err)
		}
	}
	subscribe(Prefix+".x.step.Silent", func(m *nats.Msg) {
		n := nats.NewMsg(m.Reply)
		n.Header.Set(ProgressHeader, "1ms") // below MinProgressInterval: read as it
		_ = m.RespondMsg(n)
	})
	subscribe(Prefix+".x.step.Old", func(m *nats.Msg) {
		go func() {
			<-answer
			_ = m.Respond([]byte(`{}`))
		}()
	})
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	tr := NewTransport(nc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	_, err := tr.CallProvider(ctx, Prefix+".x.step.Silent", []byte(`{}`))
	if !errors.Is(err, ErrSilent) || !strings.Contains(err.Error(), (ProgressMissed*MinProgressInterval).String()) || provider.IsPermanent(err) {
		t.Fatalf("a replica silent after its notice: %v, want ErrSilent after %v, retryable", err, ProgressMissed*MinProgressInterval)
	}
	got := make(chan error, 1)
	go func() {
		out, err := tr.CallProvider(ctx, Prefix+".x.step.Old", []byte(`{}`))
		if err == nil && string(out) != `{}` {
			err = fmt.Errorf("answer %s", out)
		}
		got <- err
	}()
	// The old provider's call is still waiting after the silent one's
	// bound has passed many times over.
	for range 3 {
		if _, err := tr.CallProvider(ctx, Prefix+".x.step.Silent", []byte(`{}`)); !errors.Is(err, ErrSilent) {
			t.Fatal(err)
		}
	}
	select {
	case err := <-got:
		t.Fatalf("a provider without notices: the call ended (%v) before it answered", err)
	default:
	}
	close(answer)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

// Calls in flight together on one Transport share its reply subscription:
// each gets its own answer, never another call's, and a notice of one call
// does not arm another's bound.
func TestTransportConcurrentCalls(t *testing.T) {
	nc := natsServer(t)
	var l leases
	eng := l.server(t)
	defer eng.Close()
	p := provider.New(provider.Options{Name: "bill-ing", Engine: eng.URL, TTL: time.Minute})
	p.Step("Echo", func(ctx context.Context, c *provider.Call) (string, error) {
		var n int
		_ = c.Get("N", &n)
		return "", c.Set("N", n*2)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, p, "bill-ing", nc) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the registration", func() bool { regs, _ := l.get(); return len(regs) == 1 })
	subject := Subject("bill-ing", provider.Handler{Name: "Echo"})
	tr := NewTransport(natsServerConn(t, nc))
	const calls = 200
	errs := make(chan error, calls)
	for i := range calls {
		go func() {
			body, _ := json.Marshal(provider.Request{Version: provider.Version, Handler: "Echo", State: json.RawMessage(fmt.Sprintf(`{"N": %d}`, i))})
			out, err := tr.CallProvider(context.Background(), subject, body)
			var rsp provider.Response
			if err == nil {
				err = json.Unmarshal(out, &rsp)
			}
			if err == nil && string(rsp.State) != fmt.Sprintf(`{"N":%d}`, 2*i) {
				err = fmt.Errorf("call %d got %s", i, rsp.State)
			}
			errs <- err
		}()
	}
	for range calls {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// natsServerConn is a second connection to nc's server: the engine's side
// of a call, apart from the provider's.
func natsServerConn(t *testing.T, nc *nats.Conn) *nats.Conn {
	return natstest.Connect(t, nc.ConnectedUrl())
}
