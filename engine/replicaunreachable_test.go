package engine

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/runtime"
)

// stoppableProvider is an HTTP provider on loopback that answers every
// call with ok and counts them, and whose server stops and starts again
// at the same address, as a process that dies and comes back.
type stoppableProvider struct {
	t     *testing.T
	addr  string
	srv   *httptest.Server
	calls atomic.Int32
}

func newStoppableProvider(t *testing.T) *stoppableProvider {
	p := &stoppableProvider{t: t}
	p.start()
	p.addr = p.srv.Listener.Addr().String()
	t.Cleanup(func() {
		if p.srv != nil {
			p.srv.Close()
		}
	})
	return p
}

func (p *stoppableProvider) url() string { return "http://" + p.addr }

func (p *stoppableProvider) start() {
	p.t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.calls.Add(1)
		_, _ = w.Write([]byte(`{}`))
	}))
	if p.addr != "" {
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			p.t.Fatalf("listen again on %s: %v", p.addr, err)
		}
		srv.Listener.Close()
		srv.Listener = ln
	}
	srv.Start()
	p.srv = srv
}

func (p *stoppableProvider) stop() {
	p.srv.Close()
	p.srv = nil
}

// failedAttempts returns the errors of the failed attempts of run id.
func failedAttempts(t *testing.T, e *Engine, id string) []string {
	t.Helper()
	h, err := e.History(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range h {
		if ev.Outcome == runtime.OutcomeRetry {
			out = append(out, ev.Error)
		}
	}
	return out
}

// Two HTTP replicas of one provider; one's server stops (its process
// died: connection refused). The first call that finds it gone fails, and
// the step's retry records it; after that no call goes to it while the
// other serves the handlers. Once it is back and renews, the calls go to
// it in turn again. A replica that a call found gone serves no call even
// when it is the only one left of a handler: the run waits for a provider
// until it renews.
func TestProviderUnreachableReplicaPassedOver(t *testing.T) {
	_, e, srv := remoteFixture(t, ProviderOptions{})
	a := newStoppableProvider(t)
	b, bCalls := countingProvider(t)
	for replica, base := range map[string]string{"a": a.url(), "b": b.URL} {
		if status, out := putProvider(t, srv, "billing?replica="+replica, billingReg(base, "1m")); status != http.StatusOK {
			t.Fatalf("register replica %s: %d %s", replica, status, out)
		}
	}
	runBill(t, e, 20*time.Second)
	runBill(t, e, 20*time.Second)
	if a.calls.Load() == 0 || bCalls.Load() == 0 {
		t.Fatalf("calls: %d to a, %d to b; want both replicas called", a.calls.Load(), bCalls.Load())
	}

	a.stop()
	var failed []string
	for range 5 {
		failed = append(failed, failedAttempts(t, e, runBill(t, e, 20*time.Second))...)
	}
	if len(failed) != 1 || !strings.Contains(failed[0], `provider "billing"`) || !strings.Contains(failed[0], "connection") {
		t.Errorf("failed attempts after a stopped: %q; want one, a connection failure (after it, no call goes to a)", failed)
	}
	unreachable := func() []string {
		for _, l := range e.Providers() {
			if l.Provider == "billing" {
				return l.Unreachable
			}
		}
		return nil
	}
	if got := unreachable(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("GET /providers says unreachable %q, want [a]", got)
	}

	a.start()
	if status, _, out := send(t, srv, "POST", "/providers/billing/renew?replica=a", "", "application/json", ""); status != http.StatusOK {
		t.Fatalf("a renews: %d %s", status, out)
	}
	before := a.calls.Load()
	runBill(t, e, 20*time.Second)
	runBill(t, e, 20*time.Second)
	if a.calls.Load() == before {
		t.Errorf("a got no call after it renewed")
	}
	if got := unreachable(); got != nil {
		t.Errorf("after a renewed, GET /providers says unreachable %q, want none", got)
	}

	// a is gone again, found so, and b leaves: a, the only replica left,
	// is not called; the run waits until a renews.
	a.stop()
	for i := 0; len(failedAttempts(t, e, runBill(t, e, 20*time.Second))) == 0; i++ {
		if i == 5 {
			t.Fatal("no call went to a in 5 runs after it stopped again")
		}
	}
	if status, _, out := send(t, srv, "DELETE", "/providers/billing?replica=b", "", "application/json", ""); status != http.StatusNoContent {
		t.Fatalf("b withdraws: %d %s", status, out)
	}
	id, err := e.StartRun(t.Context(), "Bill", []byte(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the run to wait for a provider", func() bool { return reserveWaits(e) > 0 })
	if got := failedAttempts(t, e, id); len(got) != 0 {
		t.Errorf("with a alone, found gone, the run's attempts failed: %q; want none (it waits)", got)
	}
	a.start()
	if status, _, out := send(t, srv, "POST", "/providers/billing/renew?replica=a", "", "application/json", ""); status != http.StatusOK {
		t.Fatalf("a renews: %d %s", status, out)
	}
	waitFor(t, "the run to be done", func() bool { st, _ := e.Status(context.Background(), id); return st.State == runtime.StateDone })
}

// post marks unreachable only a call that found no server: refused, or
// reset before any answer; not a 5xx, not an attempt's timeout with a
// slow provider, not a connection lost in the middle of the answer.
func TestProviderPostUnreachable(t *testing.T) {
	fx, logs := providerFixtureLogged(t)
	e := fx.start()
	t.Cleanup(fx.stop)
	reset := func(w http.ResponseWriter) { // the process dies: RST, no answer
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		_ = conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	}
	for _, tc := range []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request)
		timeout time.Duration
		want    bool
	}{
		{"reset before the answer", func(w http.ResponseWriter, r *http.Request) { reset(w) }, 0, true},
		{"HTTP 503", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }, 0, false},
		{"slow", func(w http.ResponseWriter, r *http.Request) { time.Sleep(300 * time.Millisecond) }, 50 * time.Millisecond, false},
		{"lost in the answer", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"st`))
			w.(http.Flusher).Flush()
			reset(w)
		}, 0, false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(tc.handler))
		ctx := t.Context()
		if tc.timeout > 0 {
			var cancel func()
			ctx, cancel = context.WithTimeout(ctx, tc.timeout)
			defer cancel()
		}
		to := target{provider: "billing", h: provider.Handler{Name: "Bill.Check", URL: srv.URL}}
		_, err := e.remote.post(ctx, to, "k", []byte(`{}`))
		srv.Close()
		na := (*noAnswerError)(nil)
		if got := errors.As(err, &na) && na.unreachable; got != tc.want {
			t.Errorf("%s: %v, unreachable %v, want %v", tc.name, err, got, tc.want)
		}
	}
	refused := target{provider: "billing", h: provider.Handler{Name: "Bill.Check", URL: "http://127.0.0.1:1/nothing"}}
	_, err := e.remote.post(t.Context(), refused, "k", []byte(`{}`))
	if na := (*noAnswerError)(nil); !errors.As(err, &na) || !na.unreachable {
		t.Errorf("connection refused: %v, want unreachable", err)
	}
	// The log, which the operator reads, says whose call failed: the run's
	// history says it too, but not where the call went.
	if got := logs.String(); !strings.Contains(got, `msg="provider call failed" provider=billing handler=Bill.Check`) ||
		!strings.Contains(got, "url=http://127.0.0.1:1/nothing") {
		t.Errorf("log:\n%s\nwant each failed call with its provider, handler and URL", got)
	}
}

// A provider URL answering a status other than 200 fails the attempt with
// the status alone in the run's history, which every client reads, and the
// body in the operator's log: a provider token may aim a handler's URL at
// any service the allow-list admits (by default every loopback port), and
// the run quoted that service's answer to whoever reads the run.
func TestProviderStatusBodyNotInHistory(t *testing.T) {
	fx, logs := providerFixtureLogged(t)
	e := fx.start()
	t.Cleanup(fx.stop)
	if _, err := e.LoadFlows("bill.json", []byte(billFlow)); err != nil {
		t.Fatal(err)
	}
	srv := httptestServer(t, e)
	var answered atomic.Bool
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if answered.CompareAndSwap(false, true) {
			http.Error(w, "admin-session=SECRET-OF-ANOTHER-SERVICE", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(p.Close)
	if status, out := putProvider(t, srv, "billing", billingReg(p.URL, "1m")); status != http.StatusOK {
		t.Fatalf("register: %d %s", status, out)
	}
	id := runBill(t, e, 20*time.Second)
	failed := failedAttempts(t, e, id)
	if len(failed) != 1 || !strings.Contains(failed[0], "HTTP 503") || strings.Contains(failed[0], "SECRET") {
		t.Errorf("failed attempts %q, want the one answered 503, saying the status and not the body", failed)
	}
	if got := logs.String(); !strings.Contains(got, "SECRET-OF-ANOTHER-SERVICE") || !strings.Contains(got, "status=503") {
		t.Errorf("log:\n%s\nwant the answer's status and body for the operator", got)
	}
}

// A provider whose only replica died without withdrawing (kill -9, or a
// process stopped while its registration was on its way: its lease lives
// until its TTL) costs a run one attempt, the one that finds it gone: the
// next attempts wait for a provider, recorded, as when there is none,
// rather than each fail against the dead address until the run fails and
// is compensated. The replica back and renewing wakes them.
func TestProviderDeadOnlyReplicaCostsOneAttempt(t *testing.T) {
	_, e, srv := remoteFixture(t, ProviderOptions{})
	a := newStoppableProvider(t)
	if status, out := putProvider(t, srv, "billing?replica=a", billingReg(a.url(), "1m")); status != http.StatusOK {
		t.Fatalf("register: %d %s", status, out)
	}
	a.stop()
	id, err := e.StartRun(t.Context(), "Bill", []byte(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	var st RunStatus
	waitFor(t, "the run to wait for a provider after a failed attempt, or to end", func() bool {
		st, _ = e.Status(context.Background(), id)
		return st.State.Terminal() || st.Wait != nil && st.Wait.Topic == ProviderTopic && len(failedAttempts(t, e, id)) > 0 && reserveWaits(e) > 0
	})
	if st.State.Terminal() {
		t.Fatalf("the run ended %s (%q): its attempts were spent on the dead replica; failed attempts %q", st.State, st.Err, failedAttempts(t, e, id))
	}
	// The handlers view says what the run sees: no one serves Reserve now,
	// though the lease that names it is live.
	reserve := func() HandlerInfo {
		hs, err := e.FlowHandlers("Bill")
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hs {
			if h.Name == "Reserve" {
				return h
			}
		}
		t.Fatal("no handler Reserve")
		return HandlerInfo{}
	}
	if h := reserve(); h.Provided || len(h.Providers) != 1 {
		t.Errorf("while the run waits, the handlers view says %+v; want Reserve not provided, its provider listed", h)
	}
	a.start()
	if status, _, out := send(t, srv, "POST", "/providers/billing/renew?replica=a", "", "application/json", ""); status != http.StatusOK {
		t.Fatalf("a renews: %d %s", status, out)
	}
	waitFor(t, "the run to end", func() bool {
		st, _ = e.Status(context.Background(), id)
		return st.State.Terminal()
	})
	if failed := failedAttempts(t, e, id); st.State != runtime.StateDone || len(failed) != 1 || !strings.Contains(failed[0], "connection") {
		t.Errorf("run %s, failed attempts %q; want done after one failed attempt, a connection failure", st.State, failed)
	}
	if h := reserve(); !h.Provided {
		t.Errorf("after the replica renewed, the handlers view says %+v; want Reserve provided", h)
	}
}

// reserveWaits is the number of runs waiting for a provider of the Bill
// flow's Go step Reserve.
func reserveWaits(e *Engine) int {
	e.remote.mu.Lock()
	defer e.remote.mu.Unlock()
	return len(e.remote.waits[handlerKey{flow: "Bill", name: "Reserve"}])
}
