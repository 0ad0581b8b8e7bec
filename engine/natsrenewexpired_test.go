package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
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

// natsClockFixture is remoteFixture with providers over NATS, whose
// server's URL it returns, and the engine on a manual fake clock: a lease
// expires when the test moves it past its TTL.
func natsClockFixture(t *testing.T) (string, *runtime.FakeClock, *Engine, *httptest.Server) {
	t.Helper()
	url := natstest.URL(t)
	fx := newFixture(t)
	clock := runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	fx.clock = clock
	fx.remote = &ProviderOptions{NATS: natsprovider.NewTransport(natstest.Connect(t, url))}
	_, e, srv := startRemote(t, fx)
	return url, clock, e, srv
}

// A NATS provider written by hand, from the docs alone: it subscribes to
// its subjects in a queue group and registers them, with a TTL, through
// the API, then renews. Once its lease expired (by the engine's clock) it
// is gone, as an HTTP provider's is: its renewal answers 404 and revives
// nothing, whether it renews the lease whole or its replica, and it must
// register again.
func TestNATSHandBuiltProviderExpiredRenewal(t *testing.T) {
	url, clock, e, srv := natsClockFixture(t)

	nc := natstest.Connect(t, url)
	const subject = "flowgen_provider.billing.step.Check"
	sub, err := nc.QueueSubscribe(subject, "billing", func(m *nats.Msg) { _ = m.Respond([]byte(`{}`)) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	reg := `{"ttl": "10s", "handlers": [{"name": "Check", "outcomes": ["declined"], "subject": "` + subject + `"}]}`
	for _, path := range []string{"/providers/billing", "/providers/shared?replica=a"} {
		base, _, _ := strings.Cut(path, "?")
		query := strings.TrimPrefix(path, base)
		if status, out := putProvider(t, srv, base[len("/providers/"):]+query, reg); status != http.StatusOK {
			t.Fatalf("PUT %s: %d %s", path, status, out)
		}
		renew := base + "/renew" + query
		if status, _, out := send(t, srv, "POST", renew, "", "application/json", ""); status != http.StatusOK {
			t.Fatalf("POST %s while live: %d %s", renew, status, out)
		}
	}
	clock.Advance(10 * time.Second) // at expires itself: gone
	for _, renew := range []string{"/providers/billing/renew", "/providers/shared/renew?replica=a"} {
		if status, _, out := send(t, srv, "POST", renew, "", "application/json", ""); status != http.StatusNotFound || !strings.Contains(out, "no live lease") {
			t.Errorf("POST %s after its expiry: %d %s, want 404", renew, status, out)
		}
	}
	if ls := e.Providers(); len(ls) != 0 {
		t.Errorf("leases after the renewals of expired ones: %+v, want none", ls)
	}
}

// natsprovider, the library, takes that 404 as the docs say a provider
// must: its next renewal after the expiry (by the engine's clock) finds
// no lease, and it registers again, with a new call token, so its
// replica is live once more.
func TestNATSProviderRegistersAgainAfterExpiry(t *testing.T) {
	url, clock, e, srv := natsClockFixture(t)
	// Its registrations, counted on their way: a renewal that revived the
	// expired lease would leave one.
	var puts atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			puts.Add(1)
		}
		srv.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(api.Close)

	// The library renews every third of its TTL on its own clock: 3s
	// gives a renewal a second.
	p := provider.New(provider.Options{Name: "billing", Engine: api.URL, Replica: "r1", TTL: 3 * time.Second})
	p.Step("Bill.Check", func(ctx context.Context, c *provider.Call) (string, error) { return "", nil }, "declined")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- natsprovider.Serve(ctx, p, "billing", natstest.Connect(t, url)) }()
	t.Cleanup(func() { cancel(); <-done })
	expires := func() time.Time {
		for _, l := range e.Providers() {
			if l.Provider == "billing" {
				return l.Expires
			}
		}
		return time.Time{}
	}
	waitFor(t, "the replica to register", func() bool { return !expires().IsZero() })
	clock.Advance(time.Minute) // past its TTL by the engine's clock: gone
	if ls := e.Providers(); len(ls) != 0 {
		t.Fatalf("leases after the expiry: %+v, want none", ls)
	}
	waitFor(t, "the replica to register again", func() bool { return expires().After(clock.Now()) })
	if n := puts.Load(); n != 2 {
		t.Errorf("%d registrations, want 2: the first and the one after the 404", n)
	}
}
