package engine

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/engine/provider/natsprovider"
	"github.com/flowgen/flowgen/internal/natstest"
	"github.com/flowgen/flowgen/runtime"
)

// handlersProvided reports whether every Go step and rollback of the Bill
// flow is provided, as GET /flows/Bill/handlers says.
func handlersProvided(t *testing.T, do func(method, path, body string) (int, string)) bool {
	t.Helper()
	status, body := do("GET", "/flows/Bill/handlers", "")
	var out struct{ Handlers []HandlerInfo }
	if status != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil || len(out.Handlers) == 0 {
		t.Fatalf("GET /flows/Bill/handlers: %d %s", status, body)
	}
	for _, h := range out.Handlers {
		if !h.Provided {
			return false
		}
	}
	return true
}

// replicaReg is billingReg with the Bill flow's rollback too: every Go
// method of the flow.
func replicaReg(base, ttl string) string {
	return strings.Replace(billingReg(base, ttl), `"handlers": [`, `"handlers": [{"name": "Release", "rollback": true, "url": "`+base+`/rb"}, `, 1)
}

// Replicas of one provider (?replica=ID) share its lease, each with its
// own registration: the lease lives while any replica's does, and a
// replica's withdrawal, or its registration's expiry, takes away only its
// own; the calls go to the replicas' URLs in turn. Without a replica, a
// request is about the lease whole, as before replicas: a registration
// replaces every replica's, a withdrawal ends the lease. A replica of
// another token is refused while the lease is live, and a replica ID
// outside the limits of names is 400.
func TestProviderReplicas(t *testing.T) {
	tokens := "admin " + adminToken + "\nprovider " + providerToken + "\nprovider " + otherProviderToken + "\n"
	_, e, srv := remoteFixtureAuth(t, ProviderOptions{}, newTokenAuth(t, tokens))
	a, aCalls := countingProvider(t)
	b, bCalls := countingProvider(t)
	as := func(token string) func(method, path, body string) (int, string) {
		return func(method, path, body string) (int, string) {
			t.Helper()
			status, _, out := send(t, srv, method, path, token, "application/json", body)
			return status, out
		}
	}
	do, admin := as(providerToken), as(adminToken)
	must := func(want int, method, path, body string) {
		t.Helper()
		if status, out := do(method, path, body); status != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, status, out, want)
		}
	}
	replicas := func() string {
		t.Helper()
		ls := e.Providers()
		if len(ls) == 0 {
			return "none"
		}
		return strings.Join(ls[0].Replicas, " ")
	}

	must(200, "PUT", "/providers/billing?replica=a", replicaReg(a.URL, "1s"))
	status, out := do("PUT", "/providers/billing?replica=b", replicaReg(b.URL, "1m"))
	if status != 200 || !strings.Contains(out, `"replica":"b"`) || !strings.Contains(out, `"ttl":"1m0s"`) {
		t.Fatalf("the second replica registers: %d %s, want its own registration", status, out)
	}
	if got := replicas(); got != "a b" {
		t.Fatalf("replicas %q, want a b", got)
	}
	if status, out := as(otherProviderToken)("PUT", "/providers/billing?replica=c", replicaReg(b.URL, "1m")); status != http.StatusForbidden {
		t.Errorf("a replica of another token: %d %s, want 403", status, out)
	}
	for _, q := range []string{"?replica=", "?replica=%00"} {
		if status, _ := do("POST", "/providers/billing/renew"+q, ""); status != http.StatusBadRequest {
			t.Errorf("renew%s: %d, want 400", q, status)
		}
	}
	runBill(t, e, 20*time.Second)
	runBill(t, e, 20*time.Second)
	if aCalls.Load() == 0 || bCalls.Load() == 0 {
		t.Errorf("calls: %d to a, %d to b; want both replicas called", aCalls.Load(), bCalls.Load())
	}

	// a's registration expires; b's lives on, and serves every call.
	time.Sleep(MinProviderTTL + 100*time.Millisecond)
	must(404, "POST", "/providers/billing/renew?replica=a", "")
	if !handlersProvided(t, admin) || replicas() != "b" {
		t.Fatalf("after a expired: replicas %q; the handlers should stay provided by b", replicas())
	}
	// a comes back, and withdraws: b stays.
	must(200, "PUT", "/providers/billing?replica=a", replicaReg(a.URL, "1m"))
	must(204, "DELETE", "/providers/billing?replica=a", "")
	must(404, "DELETE", "/providers/billing?replica=a", "")
	must(200, "POST", "/providers/billing/renew?replica=b", "")
	if !handlersProvided(t, admin) || replicas() != "b" {
		t.Fatalf("after a withdrew: replicas %q; the handlers should stay provided by b", replicas())
	}
	before := aCalls.Load()
	runBill(t, e, 20*time.Second)
	if aCalls.Load() != before {
		t.Errorf("a was called after it withdrew")
	}

	// Without a replica: the lease whole.
	must(200, "PUT", "/providers/billing?replica=a", replicaReg(a.URL, "1m"))
	must(200, "POST", "/providers/billing/renew", "")
	must(200, "PUT", "/providers/billing", replicaReg(b.URL, "1m"))
	if got := replicas(); got != "" {
		t.Errorf("after a registration without a replica, replicas %q, want none", got)
	}
	must(404, "POST", "/providers/billing/renew?replica=a", "")
	must(200, "PUT", "/providers/billing?replica=a", replicaReg(a.URL, "1m"))
	must(204, "DELETE", "/providers/billing", "")
	if ls := e.Providers(); len(ls) != 0 || handlersProvided(t, admin) {
		t.Errorf("a withdrawal without a replica left %+v", ls)
	}

	// The last replica's withdrawal ends the lease.
	must(200, "PUT", "/providers/billing?replica=a", replicaReg(a.URL, "1m"))
	must(204, "DELETE", "/providers/billing?replica=a", "")
	if ls := e.Providers(); len(ls) != 0 || handlersProvided(t, admin) {
		t.Errorf("the last replica's withdrawal left %+v", ls)
	}
	must(404, "POST", "/providers/billing/renew", "")
}

// Two NATS replicas of one provider (one name, one token, one queue
// group, engine/provider's library): one stops gracefully, and the
// handlers stay provided; a run started right after is served by the
// other at once, not after the other's next renewal (a minute away)
// finds the lease gone and registers again. The last one's stop ends the
// lease.
func TestProviderNATSReplicaStops(t *testing.T) {
	url := natstest.URL(t)
	auth := newTokenAuth(t, "admin "+adminToken+"\nprovider "+providerToken+"\n")
	_, e, srv := remoteFixtureAuth(t, ProviderOptions{NATS: natsprovider.NewTransport(natstest.Connect(t, url))}, auth)
	admin := func(method, path, body string) (int, string) {
		t.Helper()
		status, _, out := send(t, srv, method, path, adminToken, "application/json", body)
		return status, out
	}
	var served [2]atomic.Int32
	type replica struct {
		stop context.CancelFunc
		done chan error
	}
	start := func(i int) replica {
		p := provider.New(provider.Options{Name: "billing", Engine: srv.URL, Token: providerToken, TTL: 3 * time.Minute})
		p.Step("Reserve", func(ctx context.Context, c *provider.Call) (string, error) { served[i].Add(1); return "", nil })
		p.Step("Check", func(ctx context.Context, c *provider.Call) (string, error) { served[i].Add(1); return "", nil }, "declined")
		p.Rollback("Release", func(ctx context.Context, c *provider.Call) error { return nil })
		ctx, cancel := context.WithCancel(context.Background())
		r := replica{cancel, make(chan error, 1)}
		nc := natstest.Connect(t, url)
		go func() { r.done <- natsprovider.Serve(ctx, p, "billing", nc) }()
		t.Cleanup(func() { cancel(); <-r.done })
		return r
	}
	stop := func(r replica) {
		t.Helper()
		r.stop()
		if err := <-r.done; err != nil {
			t.Fatalf("Serve: %v", err)
		}
		r.done <- nil // for the cleanup
	}
	r0, r1 := start(0), start(1)
	waitFor(t, "both replicas to register", func() bool {
		ls := e.Providers()
		return len(ls) == 1 && len(ls[0].Replicas) == 2
	})
	if !handlersProvided(t, admin) {
		t.Fatal("the handlers are not provided")
	}

	stop(r0)
	if ls := e.Providers(); len(ls) != 1 || len(ls[0].Replicas) != 1 {
		t.Fatalf("after one replica stopped, the leases are %+v, want billing with one replica", ls)
	}
	if !handlersProvided(t, admin) {
		t.Fatal("after one replica stopped, the handlers are not provided")
	}
	before := served[0].Load()
	runBill(t, e, 10*time.Second) // the other's renewal is a minute away
	if served[0].Load() != before || served[1].Load() == 0 {
		t.Errorf("calls: %d to the stopped replica after it stopped, %d to the other", served[0].Load()-before, served[1].Load())
	}

	stop(r1)
	if ls := e.Providers(); len(ls) != 0 || handlersProvided(t, admin) {
		t.Errorf("after the last replica stopped, the leases are %+v, want none", ls)
	}
}

// In Go, Engine.RegisterProvider registers a replica with
// Registration.Replica (as ?replica= does), and Engine.WithdrawProvider
// withdraws it: two replicas under one name share the calls; one
// withdrawn, the other serves every call. A replica ID outside the limits
// of names is refused; the body of PUT /providers/{name} cannot carry one
// (the query does).
func TestRegisterProviderReplica(t *testing.T) {
	_, e, srv := remoteFixture(t, ProviderOptions{})
	a, aCalls := countingProvider(t)
	b, bCalls := countingProvider(t)
	reg := func(replica, base string) provider.Registration {
		t.Helper()
		var r provider.Registration
		if err := json.Unmarshal([]byte(billingReg(base, "1m")), &r); err != nil {
			t.Fatal(err)
		}
		r.Replica = replica
		return r
	}
	for replica, base := range map[string]string{"a": a.URL, "b": b.URL} {
		l, err := e.RegisterProvider("billing", reg(replica, base))
		if err != nil || l.Replica != replica {
			t.Fatalf("register replica %s: %+v, %v", replica, l, err)
		}
	}
	if ls := e.Providers(); len(ls) != 1 || strings.Join(ls[0].Replicas, " ") != "a b" {
		t.Fatalf("leases %+v, want billing with replicas a b", ls)
	}
	runBill(t, e, 20*time.Second)
	runBill(t, e, 20*time.Second)
	if aCalls.Load() == 0 || bCalls.Load() == 0 {
		t.Errorf("calls: %d to a, %d to b; want both replicas called", aCalls.Load(), bCalls.Load())
	}

	if err := e.WithdrawProvider("billing", "a"); err != nil {
		t.Fatalf("withdraw a: %v", err)
	}
	if err := e.WithdrawProvider("billing", "a"); !errors.Is(err, ErrNoLease) {
		t.Errorf("withdraw a again: %v, want ErrNoLease", err)
	}
	if ls := e.Providers(); len(ls) != 1 || strings.Join(ls[0].Replicas, " ") != "b" {
		t.Fatalf("after a withdrew, leases %+v, want billing with replica b", ls)
	}
	before, beforeB := aCalls.Load(), bCalls.Load()
	runBill(t, e, 20*time.Second)
	if aCalls.Load() != before || bCalls.Load() != beforeB+2 {
		t.Errorf("after a withdrew: %d calls to a, %d to b; want 0 and 2", aCalls.Load()-before, bCalls.Load()-beforeB)
	}

	if _, err := e.RegisterProvider("billing", reg("x\x00", b.URL)); !errors.Is(err, ErrRegistration) {
		t.Errorf("replica ID with a NUL: %v, want ErrRegistration", err)
	}
	body := strings.Replace(billingReg(b.URL, "1m"), `{"ttl"`, `{"replica": "c", "ttl"`, 1)
	if status, out := putProvider(t, srv, "billing", body); status != http.StatusBadRequest {
		t.Errorf("a registration body with a replica: %d %s, want 400", status, out)
	}
}

// A NATS provider whose every process died without withdrawing (kill -9:
// the NATS server drops their subscriptions, their lease lives on until
// its TTL) costs a run one attempt, the one that finds no subscriber: the
// next attempts wait for a provider, as for an HTTP replica found gone
// (TestProviderDeadOnlyReplicaCostsOneAttempt), rather than each fail at
// once until the run fails and is compensated. Its renewal, once it
// serves again, wakes them.
func TestProviderNATSDeadCostsOneAttempt(t *testing.T) {
	url := natstest.URL(t)
	_, e, srv := remoteFixture(t, ProviderOptions{NATS: natsprovider.NewTransport(natstest.Connect(t, url))})
	reg := provider.Registration{Replica: "a", TTL: "1m", Handlers: []provider.Handler{
		{Name: "Reserve", Subject: "flowgen_provider.billing.step.Reserve"},
		{Name: "Check", Outcomes: []string{"declined"}, Subject: "flowgen_provider.billing.step.Check"}}}
	if _, err := e.RegisterProvider("billing", reg); err != nil {
		t.Fatal(err)
	}
	serve := func() *nats.Conn {
		nc := natstest.Connect(t, url)
		for _, h := range reg.Handlers {
			if _, err := nc.QueueSubscribe(h.Subject, "billing", func(m *nats.Msg) { _ = m.Respond([]byte(`{}`)) }); err != nil {
				t.Fatal(err)
			}
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		return nc
	}
	serve().Close() // the process dies: no withdrawal
	probe := natstest.Connect(t, url)
	waitFor(t, "the NATS server to drop the dead subscriptions", func() bool {
		_, err := probe.Request(reg.Handlers[0].Subject, nil, 5*time.Second)
		return errors.Is(err, nats.ErrNoResponders)
	})
	id, err := e.StartRun(t.Context(), "Bill", []byte(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	var st RunStatus
	waitFor(t, "the run to wait for a provider after a failed attempt, or to end", func() bool {
		st, _ = e.Status(context.Background(), id)
		return st.State.Terminal() || len(failedAttempts(t, e, id)) > 0 && reserveWaits(e) > 0
	})
	if st.State.Terminal() {
		t.Fatalf("the run ended %s (%q): its attempts were spent on the dead provider; failed attempts %q", st.State, st.Err, failedAttempts(t, e, id))
	}
	serve()
	if status, _, out := send(t, srv, "POST", "/providers/billing/renew?replica=a", "", "application/json", ""); status != http.StatusOK {
		t.Fatalf("renew: %d %s", status, out)
	}
	waitFor(t, "the run to end", func() bool {
		st, _ = e.Status(context.Background(), id)
		return st.State.Terminal()
	})
	if failed := failedAttempts(t, e, id); st.State != runtime.StateDone || len(failed) != 1 || !strings.Contains(failed[0], "no provider subscribed") {
		t.Errorf("run %s, failed attempts %q; want done after one failed attempt, with no subscriber", st.State, failed)
	}
}
