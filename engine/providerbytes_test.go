package engine

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/engine/provider"
)

// The registrations held are bounded by their bytes in all
// (ProviderOptions.MaxBytes), whatever their count: beyond, a
// registration answers 409 and changes nothing; one that replaces a
// registration counts in its place; a withdrawal gives its room back.
// Before, MaxProviders providers of MaxProviderReplicas replicas each
// could hold a request body apiece: 1024 × 256 MiB at the default
// -max-body.
func TestProviderRegistrationsBoundedByBytes(t *testing.T) {
	url := "http://127.0.0.1:9/step/" + strings.Repeat("u", 200)
	handlers := func(n int) (string, int64) {
		var hs []string
		var ph []provider.Handler
		for i := range n {
			name := fmt.Sprintf("H%d", i)
			hs = append(hs, fmt.Sprintf(`{"name": %q, "url": %q}`, name, url))
			ph = append(ph, provider.Handler{Name: name, URL: url})
		}
		return `{"handlers": [` + strings.Join(hs, ",") + `]}`, registrationBytes(ph)
	}
	ten, size := handlers(10)
	_, e, srv := remoteFixture(t, ProviderOptions{MaxBytes: 2 * size})
	for _, p := range []string{"a", "b"} {
		if status, out := putProvider(t, srv, p, ten); status != http.StatusOK {
			t.Fatalf("provider %s within the bound: %d %s", p, status, out)
		}
	}
	one, _ := handlers(1)
	// Beyond what is held now: 429, taken once leases go.
	if status, out := putProvider(t, srv, "c", one); status != http.StatusTooManyRequests || !strings.Contains(out, "more than the") {
		t.Fatalf("a third provider beyond the bytes held: %d %s, want 429", status, out)
	}
	if status, out := putProvider(t, srv, "a?replica=r2", one); status != http.StatusTooManyRequests {
		t.Fatalf("a replica beyond the bytes held: %d %s, want 429", status, out)
	}
	// One that alone takes more than the bound is never taken: 409.
	thirty, _ := handlers(30)
	if status, out := putProvider(t, srv, "d", thirty); status != http.StatusConflict || !strings.Contains(out, "the registration takes") {
		t.Fatalf("a registration larger than the bound: %d %s, want 409", status, out)
	}
	if status, out := putProvider(t, srv, "a", ten); status != http.StatusOK {
		t.Fatalf("a registration again, replacing its own: %d %s", status, out)
	}
	if got := len(e.Providers()); got != 2 {
		t.Fatalf("%d leases after the refusals, want 2", got)
	}
	if status, _, out := send(t, srv, "DELETE", "/providers/b", "", "", ""); status != http.StatusNoContent {
		t.Fatalf("withdraw b: %d %s", status, out)
	}
	if status, out := putProvider(t, srv, "c", one); status != http.StatusOK {
		t.Fatalf("c once b gave its room back: %d %s", status, out)
	}
}
