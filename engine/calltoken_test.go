package engine

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine/provider"
)

// Each registration gets a call credential in the answer to its PUT (and
// to Engine.RegisterProvider), which every HTTP call of its handlers
// carries as a bearer token; a renewal keeps it, a registration again
// replaces it; neither GET /providers, the renewal's answer, nor the
// handlers views show it.
func TestProviderCallToken(t *testing.T) {
	_, e, srv := remoteFixture(t, ProviderOptions{})
	var mu sync.Mutex
	var auths []string
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(p.Close)
	register := func() string {
		t.Helper()
		status, out := putProvider(t, srv, "billing", billingReg(p.URL, "1m"))
		var l provider.Lease
		if status != http.StatusOK || json.Unmarshal([]byte(out), &l) != nil || len(l.CallToken) != 43 {
			t.Fatalf("register: %d %s, want a lease with a call_token of 32 bytes in base64url", status, out)
		}
		return l.CallToken
	}
	// callsCarry runs the Bill flow and checks that each of its calls
	// carried token.
	callsCarry := func(what, token string) {
		t.Helper()
		mu.Lock()
		auths = nil
		mu.Unlock()
		runBill(t, e, 20*time.Second)
		mu.Lock()
		defer mu.Unlock()
		if len(auths) == 0 {
			t.Fatalf("%s: no call", what)
		}
		for _, a := range auths {
			if a != "Bearer "+token {
				t.Fatalf("%s: a call's Authorization is %q, want the registration's call token", what, a)
			}
		}
	}
	notShown := func(what, token string) {
		t.Helper()
		for _, path := range []string{"/providers", "/flows/Bill/handlers", "/flows/Bill?handlers=true"} {
			status, _, out := send(t, srv, "GET", path, "", "", "")
			if status != http.StatusOK || strings.Contains(out, token) || strings.Contains(out, "call_token") {
				t.Errorf("%s: GET %s: %d %s, want no call token", what, path, status, out)
			}
		}
	}

	first := register()
	callsCarry("registered", first)
	notShown("registered", first)

	status, _, out := send(t, srv, "POST", "/providers/billing/renew", "", "application/json", "")
	if status != http.StatusOK || strings.Contains(out, "call_token") {
		t.Fatalf("renew: %d %s, want the lease without its call token", status, out)
	}
	callsCarry("renewed", first)

	second := register()
	if second == first {
		t.Fatal("registering again kept the call token")
	}
	callsCarry("registered again", second)
	notShown("registered again", second)

	l, err := e.RegisterProvider("billing", provider.Registration{TTL: "1m", Handlers: []provider.Handler{
		{Name: "Reserve", URL: p.URL + "/r"}, {Name: "Check", Outcomes: []string{"declined"}, URL: p.URL + "/c"}}})
	if err != nil || len(l.CallToken) != 43 || l.CallToken == second {
		t.Fatalf("RegisterProvider: %+v %v, want a new call token", l, err)
	}
	callsCarry("registered in Go", l.CallToken)
	for _, ls := range e.Providers() {
		if ls.CallToken != "" {
			t.Errorf("Engine.Providers shows a call token: %+v", ls)
		}
	}
}

// A provider of engine/provider over loopback HTTP serves the engine's
// calls, which carry its registration's call token, and refuses a call
// without it or with another token (401), without running the handler.
func TestProviderLibraryRefusesCallsWithoutToken(t *testing.T) {
	_, e, srv := remoteFixture(t, ProviderOptions{})
	var served atomic.Int32
	p := provider.New(provider.Options{Name: "billing", Engine: srv.URL, TTL: time.Minute})
	p.Step("Reserve", func(ctx context.Context, c *provider.Call) (string, error) { served.Add(1); return "", nil })
	p.Step("Check", func(ctx context.Context, c *provider.Call) (string, error) { served.Add(1); return "", nil }, "declined")
	p.Rollback("Release", func(ctx context.Context, c *provider.Call) error { return nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.ListenAndServe(ctx, "127.0.0.1:0", "") }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ListenAndServe: %v", err)
		}
	})
	waitFor(t, "the registration", func() bool { return len(e.Providers()) == 1 })

	runBill(t, e, 20*time.Second)
	if served.Load() != 2 {
		t.Fatalf("%d calls served, want Reserve and Check", served.Load())
	}

	var url string
	for _, h := range e.Providers()[0].Handlers {
		if h.Name == "Reserve" {
			url = h.URL
		}
	}
	for _, auth := range []string{"", "Bearer ", "Bearer wrong", "Basic eDp5"} {
		req, _ := http.NewRequest("POST", url, strings.NewReader(`{"version": 1, "handler": "Reserve", "state": {}}`))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("a call with Authorization %q: %d, want 401", auth, res.StatusCode)
		}
	}
	if served.Load() != 2 {
		t.Errorf("a call without the call token ran a handler (%d calls served)", served.Load())
	}
}

// A provider that refuses a call's credential (401) is retried, not
// failed for good: the registration may have replaced its token between
// the pick and the call (the provider registered again), and the next
// attempt carries the current one.
func TestProviderUnauthorizedIsRetried(t *testing.T) {
	_, e, srv := remoteFixture(t, ProviderOptions{})
	var refused atomic.Bool
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refused.CompareAndSwap(false, true) {
			http.Error(w, "the call token is not this registration's", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(p.Close)
	if status, out := putProvider(t, srv, "billing", billingReg(p.URL, "1m")); status != http.StatusOK {
		t.Fatalf("register: %d %s", status, out)
	}
	id := runBill(t, e, 20*time.Second)
	if failed := failedAttempts(t, e, id); len(failed) != 1 || !strings.Contains(failed[0], "HTTP 401") {
		t.Errorf("failed attempts %q, want the one refused with 401, retried", failed)
	}
}
