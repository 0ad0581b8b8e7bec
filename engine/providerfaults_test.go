package engine

// Remote providers under faults, as a service team running one meets
// them: answers that break the protocol, a provider slower than the
// step's timeout, one that leaves or whose lease ends with a call in
// flight, replicas that disagree.

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

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/runtime"
)

// An answer that is not the protocol's fails the attempt for good: one
// failed attempt of Reserve, saying why, and the run does not complete.
func TestProviderBrokenAnswers(t *testing.T) {
	for _, c := range []struct{ answer, says string }{
		{`{"state": {"A": 1}`, "the answer is not a provider response"},
		{`not json`, "the answer is not a provider response"},
		// A proxy's page: where its JSON goes wrong, as a registration's.
		{"<html>\n<body>502 Bad Gateway</body></html>", "the answer is not a provider response: invalid JSON at line 1, column 1: invalid character '<' looking for beginning of value"},
		{"{}\n<html>", "the answer is not a provider response: data after the JSON value, at line 2, column 1"},
		{`[{"state": {}}]`, "the answer is not a provider response: not a JSON object: found an array"},
		{`{"state": [1, 2]}`, "state is not a JSON object: found an array"},
		{`{"error": {"message": "m", "class": "fatal"}}`, `error class "fatal" is neither`},
		{`{"state": [1, 2]}`, "state is not a JSON object"},
		{`{"state": "s"}`, "state is not a JSON object: found a string"},
		{`{"state": 7}`, "state is not a JSON object: found a number"},
		{`{"state": true}`, "state is not a JSON object: found a boolean"},
		{`{"outcome": 7}`, "the answer is not a provider response"},
		{`{}{}`, "the answer is not a provider response"},
		{`null`, "the answer is not a provider response"},
		{``, "the answer is not a provider response"},
	} {
		reserveFailsOnce(t, c.answer, c.says)
	}
}

// slowBill is Bill with a short per-attempt timeout on Reserve, so that a
// provider that does not answer ends its attempt.
const slowBill = `{"version": 1, "flows": [{
  "name": "Slow", "state": "SlowState",
  "retry": {"attempts": 3, "initial": "1ms", "max": "2ms"},
  "steps": [
    {"name": "Reserve", "action": {"kind": "go"}, "timeout": "300ms"}
  ]}]}`

// A provider slower than the step's timeout: the engine cancels the call
// (the provider's request context ends), the next attempt comes under the
// same idempotency key, and the slow call's answer, written late, is not
// taken: the run's state is the second attempt's.
func TestProviderSlowPastTimeout(t *testing.T) {
	_, e, srv := remoteFixture(t, ProviderOptions{})
	if _, err := e.LoadFlows("slow.json", []byte(slowBill)); err != nil {
		t.Fatal(err)
	}
	type call struct {
		key string
		req provider.Request
	}
	var mu sync.Mutex
	var calls []call
	cancelled := make(chan struct{})
	prov := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req provider.Request
		_ = json.Unmarshal(body, &req)
		mu.Lock()
		n := len(calls)
		calls = append(calls, call{key: r.Header.Get("Idempotency-Key"), req: req})
		mu.Unlock()
		if n == 0 {
			<-r.Context().Done() // the engine gave up: the call is cancelled
			close(cancelled)
			// An answer written now reaches no one: the engine took none.
			_, _ = w.Write([]byte(`{"state": {"Late": true}}`))
			_ = http.NewResponseController(w).Flush()
			return
		}
		_, _ = w.Write([]byte(`{"state": {"Second": true}}`))
	}))
	defer prov.Close()
	if status, out := putProvider(t, srv, "slow", `{"handlers": [{"name": "Slow.Reserve", "url": "`+prov.URL+`/r"}]}`); status != 200 {
		t.Fatalf("register: %d %s", status, out)
	}
	st := runToEnd(t, e, "Slow")
	<-cancelled
	mu.Lock()
	defer mu.Unlock()
	if st.State != runtime.StateDone || len(calls) != 2 {
		t.Fatalf("run %s after %d calls, want done after 2", st.State, len(calls))
	}
	if calls[0].key == "" || calls[0].key != calls[1].key || calls[0].req.IdempotencyKey != calls[0].key || calls[1].req.IdempotencyKey != calls[1].key {
		t.Errorf("keys %q (body %q) then %q (body %q), want one key", calls[0].key, calls[0].req.IdempotencyKey, calls[1].key, calls[1].req.IdempotencyKey)
	}
	if calls[0].req.Attempt != 1 || calls[1].req.Attempt != 2 || calls[0].req.Deadline == nil {
		t.Errorf("attempts %d, %d, deadline %v; want 1, 2 and a deadline", calls[0].req.Attempt, calls[1].req.Attempt, calls[0].req.Deadline)
	}
	var state map[string]any
	_ = json.Unmarshal(st.Snapshot, &state)
	if state["Late"] != nil || state["Second"] != true {
		t.Errorf("state %v, want the second attempt's alone", state)
	}
}

// A call in flight when its provider's lease ends (it expired, or the
// provider withdrew) is answered, and the answer is taken: the lease
// governs which provider the next calls go to, not the calls sent under
// it. Charge's answer is the run's; Ship, the next step, then waits for
// a provider, and runs once one registers again.
func TestProviderAnswerAfterLeaseEnds(t *testing.T) {
	for _, how := range []string{"expired", "withdrawn"} {
		t.Run(how, func(t *testing.T) {
			clock := runtime.NewFakeClock(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
			inFlight, release := make(chan provider.Request, 1), make(chan struct{})
			tr := stubTransport{reqs: make(chan provider.Request, 64), answer: func(_ string, req provider.Request) []byte {
				if req.Handler == "Charge" {
					inFlight <- req
					<-release
					return []byte(`{"state": {"Charged": true}}`)
				}
				return []byte(`{}`)
			}}
			fx := newFixture(t)
			fx.clock = clock
			fx.remote = &ProviderOptions{NATS: tr}
			e := fx.start()
			defer fx.stop()
			if ds, err := e.LoadFlows("settle.json", []byte(settleFlow)); err != nil {
				t.Fatalf("load: %v\n%v", err, ds)
			}
			if _, err := e.RegisterProvider("billing", provider.Registration{TTL: "1s", Handlers: settleHandlers}); err != nil {
				t.Fatal(err)
			}
			id, err := e.StartRun(context.Background(), "Settle", json.RawMessage(`{}`), "")
			if err != nil {
				t.Fatal(err)
			}
			<-inFlight
			if how == "expired" {
				clock.Advance(2 * time.Second) // past the TTL, within Charge's 10s timeout
			} else if err := e.WithdrawProvider("billing", ""); err != nil {
				t.Fatal(err)
			}
			if len(e.Providers()) != 0 {
				t.Fatalf("providers %+v, want none live", e.Providers())
			}
			close(release)
			waitFor(t, "Ship to wait for a provider", func() bool {
				st, _ := e.Status(context.Background(), id)
				return st.Wait != nil && st.Wait.Event == "Ship"
			})
			if st, _ := e.Status(context.Background(), id); !strings.Contains(string(st.Snapshot), `"Charged":true`) {
				t.Fatalf("state %s, want Charge's answer taken", st.Snapshot)
			}
			if _, err := e.RegisterProvider("billing", provider.Registration{TTL: "1s", Handlers: settleHandlers}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the run to complete", func() bool { return runState(fx, id) == runtime.StateDone })
		})
	}
}

// A renewal and the lease's expiry agree on the instant: a renewal at
// the expiry itself, or after it, finds no lease (404: register again),
// and no call goes to it then; one an instant before extends it.
func TestProviderRenewalAtExpiry(t *testing.T) {
	clock := runtime.NewFakeClock(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
	fx := newFixture(t)
	fx.clock = clock
	fx.remote = &ProviderOptions{NATS: stubTransport{answer: func(string, provider.Request) []byte { return []byte(`{}`) }}}
	e := fx.start()
	defer fx.stop()
	if ds, err := e.LoadFlows("settle.json", []byte(settleFlow)); err != nil {
		t.Fatalf("load: %v\n%v", err, ds)
	}
	k := handlerKey{flow: "Settle", name: "Charge"}
	if _, err := e.RegisterProvider("billing", provider.Registration{TTL: "2s", Handlers: settleHandlers}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2*time.Second - time.Nanosecond)
	if _, err := e.remote.renew("billing", "", operator); err != nil {
		t.Fatalf("renewal an instant before expiry: %v", err)
	}
	clock.Advance(2 * time.Second)
	if _, ok := e.remote.pickOK(k); ok {
		t.Error("a call goes to the lease at its expiry")
	}
	if _, err := e.remote.renew("billing", "", operator); !errors.Is(err, ErrNoLease) {
		t.Errorf("renewal at the expiry: %v, want ErrNoLease", err)
	}
}

func (rm *remote) pickOK(k handlerKey) (target, bool) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return rm.pickLocked(k, nil, rm.e.clock.Now())
}

// Two replicas of one provider that register a handler with different
// outcomes: while a flow declares the step, the one that differs from it
// is refused (409) and registers nothing; the calls go to the one that
// matches.
func TestProviderReplicasDisagreeOnOutcomes(t *testing.T) {
	_, e, srv := remoteFixture(t, ProviderOptions{})
	reg := func(outcomes string) string {
		return `{"handlers": [{"name": "Check", "outcomes": ` + outcomes + `, "url": "http://127.0.0.1:9/c"}]}`
	}
	if status, out := putProvider(t, srv, "billing?replica=a", reg(`["declined"]`)); status != 200 {
		t.Fatalf("replica a: %d %s", status, out)
	}
	status, out := putProvider(t, srv, "billing?replica=b", reg(`["declined", "lost"]`))
	if status != http.StatusConflict || !strings.Contains(out, `Go step "Check" of flow "Bill" declares ["declined"]`) {
		t.Errorf("replica b with other outcomes: %d %s, want 409", status, out)
	}
	ls := e.Providers()
	if len(ls) != 1 || fmt.Sprint(ls[0].Replicas) != "[a]" {
		t.Errorf("leases %+v, want replica a alone", ls)
	}
}

// An answer whose status and headers came, and whose body the connection
// cut short (a provider killed while it writes, a proxy that drops it),
// says so, and how much came, in the run's history: before, it said
// "reading the answer: connection closed before the answer", which
// contradicts itself and sent the operator looking for a provider that
// never answered.
func TestProviderAnswerCutShortSaysSo(t *testing.T) {
	fx, _ := providerFixtureLogged(t)
	e := fx.start()
	t.Cleanup(fx.stop)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"st`))
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.Close()
	}))
	defer srv.Close()
	to := target{provider: "billing", h: provider.Handler{Name: "Bill.Check", URL: srv.URL}}
	_, err := e.remote.post(t.Context(), to, "k", []byte(`{}`))
	const want = "reading the answer: the connection closed after 4 of its 100 bytes"
	if err == nil || err.Error() != want {
		t.Errorf("post: %v, want %q", err, want)
	}
	if na := (*noAnswerError)(nil); !errors.As(err, &na) || na.unreachable || provider.IsPermanent(err) {
		t.Errorf("post: %v: want a retryable failure, the replica not passed over", err)
	}
}
