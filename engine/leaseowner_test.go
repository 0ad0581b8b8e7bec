package engine

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const otherProviderToken = "provider2-0123456789abcdef"

// countingProvider is an HTTP provider that answers every call with ok and
// counts them.
func countingProvider(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// billingReg is a registration of the Bill flow's Go steps at base.
func billingReg(base, ttl string) string {
	return `{"ttl": "` + ttl + `", "handlers": [{"name": "Reserve", "url": "` + base + `/r"},
	  {"name": "Check", "outcomes": ["declined"], "url": "` + base + `/c"}]}`
}

// A live lease belongs to the token that registered it: another provider
// token can neither replace, renew nor withdraw it (403, and nothing
// changes: the calls still go to the first); its own token can, and an
// admin's; once it expired, or after its owner withdrew it, another
// provider token may take the name. A token removed from the file (SIGHUP)
// can renew nothing.
func TestProviderLeaseOwner(t *testing.T) {
	tokens := "admin " + adminToken + "\nprovider " + providerToken + "\nprovider " + otherProviderToken + "\n"
	auth := newTokenAuth(t, tokens)
	_, e, srv := remoteFixtureAuth(t, ProviderOptions{}, auth)
	first, firstCalls := countingProvider(t)
	second, secondCalls := countingProvider(t)
	do := func(token, method, path, body string) int {
		t.Helper()
		status, _, _ := send(t, srv, method, path, token, "application/json", body)
		return status
	}
	leaseOf := func() string {
		t.Helper()
		b, _ := json.Marshal(e.Providers())
		return string(b)
	}

	if s := do(providerToken, "PUT", "/providers/billing", billingReg(first.URL, "1m")); s != http.StatusOK {
		t.Fatalf("the first registers: %d", s)
	}
	held := leaseOf()
	for _, r := range []struct{ method, path, body string }{
		{"PUT", "/providers/billing", billingReg(second.URL, "1m")},
		{"POST", "/providers/billing/renew", ""},
		{"DELETE", "/providers/billing", ""},
	} {
		status, _, body := send(t, srv, r.method, r.path, otherProviderToken, "application/json", r.body)
		if status != http.StatusForbidden || !strings.Contains(body, "another credential") {
			t.Errorf("another provider token %s %s: %d %s, want 403", r.method, r.path, status, body)
		}
		if got := leaseOf(); got != held {
			t.Errorf("after the refused %s %s the lease is %s, want %s", r.method, r.path, got, held)
		}
	}
	runBill(t, e, 20*time.Second)
	if firstCalls.Load() != 2 || secondCalls.Load() != 0 {
		t.Errorf("calls: %d to the first, %d to the second; want 2 and 0", firstCalls.Load(), secondCalls.Load())
	}

	// The owner renews, replaces and withdraws; an admin withdraws.
	for _, r := range []struct{ token, method, path, body string }{
		{providerToken, "POST", "/providers/billing/renew", ""},
		{providerToken, "PUT", "/providers/billing", billingReg(first.URL, "1m")},
		{providerToken, "DELETE", "/providers/billing", ""},
		{providerToken, "PUT", "/providers/billing", billingReg(first.URL, "1m")},
		{adminToken, "POST", "/providers/billing/renew", ""},
		{adminToken, "DELETE", "/providers/billing", ""},
	} {
		if s := do(r.token, r.method, r.path, r.body); s/100 != 2 {
			t.Errorf("%s %s by %s: %d", r.method, r.path, strings.SplitN(r.token, "-", 2)[0], s)
		}
	}
	// Withdrawn: the other token takes the name, and then it is its own.
	if s := do(otherProviderToken, "PUT", "/providers/billing", billingReg(second.URL, "1m")); s != http.StatusOK {
		t.Errorf("another token registers a withdrawn name: %d", s)
	}
	if s := do(providerToken, "POST", "/providers/billing/renew", ""); s != http.StatusForbidden {
		t.Errorf("the former owner renews the other's lease: %d, want 403", s)
	}
	// An admin replaces a lease: it is the admin's then.
	if s := do(adminToken, "PUT", "/providers/billing", billingReg(first.URL, "1m")); s != http.StatusOK {
		t.Errorf("an admin replaces a lease: %d", s)
	}
	if s := do(otherProviderToken, "POST", "/providers/billing/renew", ""); s != http.StatusForbidden {
		t.Errorf("the former owner renews the admin's lease: %d, want 403", s)
	}

	// Expired: anyone with the provider role may take the name.
	if s := do(providerToken, "PUT", "/providers/expiring", billingReg(first.URL, "1s")); s != http.StatusOK {
		t.Fatalf("register expiring: %d", s)
	}
	time.Sleep(MinProviderTTL + 100*time.Millisecond)
	if s := do(otherProviderToken, "PUT", "/providers/expiring", billingReg(second.URL, "1m")); s != http.StatusOK {
		t.Errorf("another token registers an expired name: %d", s)
	}

	// A token removed from the file (Reload, as on SIGHUP) renews nothing.
	if err := os.WriteFile(auth.path, []byte("admin "+adminToken+"\nprovider "+providerToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := auth.Reload(); err != nil {
		t.Fatal(err)
	}
	if s := do(otherProviderToken, "POST", "/providers/expiring/renew", ""); s != http.StatusUnauthorized {
		t.Errorf("a removed token renews: %d, want 401", s)
	}
	// A token that moved to another line of the file is the same owner.
	if err := os.WriteFile(auth.path, []byte("provider "+providerToken+"\nprovider "+otherProviderToken+"\nadmin "+adminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := auth.Reload(); err != nil {
		t.Fatal(err)
	}
	if s := do(otherProviderToken, "POST", "/providers/expiring/renew", ""); s != http.StatusOK {
		t.Errorf("the owner renews after the file changed: %d, want 200", s)
	}
	if s := do(providerToken, "POST", "/providers/expiring/renew", ""); s != http.StatusForbidden {
		t.Errorf("another token renews after the file changed: %d, want 403", s)
	}
}
