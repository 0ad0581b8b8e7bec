package engine

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine/provider"
)

// A provider refused because the engine holds as many providers as it
// keeps is registered once one of them goes: the refusal is 429, which
// engine/provider tries again, not a 409, which ended its KeepLease (and,
// as the examples use it, the provider process) for a condition that
// clears by itself as leases expire or are withdrawn.
func TestProviderRegistersOnceTheEngineHasRoom(t *testing.T) {
	_, e, srv := remoteFixture(t, ProviderOptions{MaxProviders: 1})
	if status, out := putProvider(t, srv, "first", `{"handlers": [{"name": "Reserve", "url": "http://127.0.0.1:1/r"}]}`); status != 200 {
		t.Fatalf("the first provider: %d %s", status, out)
	}
	refused := &countRefusals{next: http.DefaultTransport}
	p := provider.New(provider.Options{Name: "billing", Engine: srv.URL, TTL: 3 * time.Second, Client: &http.Client{Transport: refused}})
	p.Step("Reserve", func(ctx context.Context, c *provider.Call) (string, error) { return "", nil })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.ListenAndServe(ctx, "127.0.0.1:0", "") }()
	// Refused meanwhile, and still trying.
	waitFor(t, "two registrations refused", func() bool { return refused.n.Load() >= 2 })
	select {
	case err := <-done:
		t.Fatalf("the provider stopped at the engine's refusal: %v", err)
	default:
	}
	if _, ok := leaseOf(e, "billing"); ok {
		t.Fatal("billing registered beyond MaxProviders")
	}
	if err := e.WithdrawProvider("first", ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "billing registered once the engine has room", func() bool {
		_, ok := leaseOf(e, "billing")
		return ok
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// leaseOf is the engine's lease of provider name, if it holds one.
func leaseOf(e *Engine, name string) (provider.Lease, bool) {
	for _, l := range e.Providers() {
		if l.Provider == name {
			return l, true
		}
	}
	return provider.Lease{}, false
}

// countRefusals counts the registrations answered 429.
type countRefusals struct {
	next http.RoundTripper
	n    atomic.Int32
}

func (c *countRefusals) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err == nil && r.Method == http.MethodPut && resp.StatusCode == http.StatusTooManyRequests {
		c.n.Add(1)
	}
	return resp, err
}
