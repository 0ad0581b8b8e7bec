package engine

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// An expired registration is no lease: withdrawing it answers 404, as
// renewing it does, whether it is a lease whole or one replica of a live
// lease (the docs' "404 when it has no lease (or no such replica)").
// Before, a DELETE of a lease that had expired answered 204 and logged
// "provider withdrawn", telling an operator who withdrew a provider that
// was gone that there had been one.
func TestWithdrawExpiredLease(t *testing.T) {
	_, e, srv := remoteFixture(t, ProviderOptions{})
	p, _ := countingProvider(t)
	do := func(method, path, body string) (int, string) {
		t.Helper()
		status, _, out := send(t, srv, method, path, "", "application/json", body)
		return status, out
	}
	for _, r := range []struct{ path, ttl string }{
		{"/providers/billing", "1s"},
		{"/providers/shared?replica=a", "1s"},
		{"/providers/shared?replica=b", "1m"},
	} {
		if status, out := do("PUT", r.path, billingReg(p.URL, r.ttl)); status != http.StatusOK {
			t.Fatalf("PUT %s: %d %s", r.path, status, out)
		}
	}
	time.Sleep(MinProviderTTL + 100*time.Millisecond)
	for _, r := range []struct{ method, path string }{
		{"POST", "/providers/billing/renew"},
		{"DELETE", "/providers/billing"},
		{"POST", "/providers/shared/renew?replica=a"},
		{"DELETE", "/providers/shared?replica=a"},
	} {
		if status, out := do(r.method, r.path, ""); status != http.StatusNotFound || !strings.Contains(out, "no live lease") {
			t.Errorf("%s %s after its expiry: %d %s, want 404", r.method, r.path, status, out)
		}
	}
	if ls := e.Providers(); len(ls) != 1 || ls[0].Provider != "shared" || strings.Join(ls[0].Replicas, " ") != "b" {
		t.Errorf("leases %+v, want shared with its replica b alone", ls)
	}
}
