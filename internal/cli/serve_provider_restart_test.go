package cli

// Leases live in the server's memory: after a restart of the server (kill
// -9, same address), the provider's next renewal answers 404 and the
// library registers again, without a restart of the provider.

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestServeRestartProviderRegistersAgain(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	srv := startServeProc(t, "-store", store)
	addr := strings.TrimPrefix(srv.url, "http://")
	startProvider(t, "http", srv.url, "billing", filepath.Join(dir, "calls"))
	registered := func(url string) bool {
		code, out := call(t, "GET", url+"/providers", "")
		ps, _ := out["providers"].([]any)
		return code == 200 && len(ps) == 1 && ps[0].(map[string]any)["provider"] == "billing"
	}
	waitUntil(t, "the provider to register", func() bool { return registered(srv.url) })
	srv.kill9()

	srv = startServeProc(t, "-store", store, "-addr", addr) // the last -addr wins
	if srv.url != "http://"+addr {
		t.Fatalf("serve listens on %s, want %s", srv.url, addr)
	}
	waitUntil(t, "the provider to register again", func() bool { return registered(srv.url) })
	// The new process knew no lease: the provider registered with it. Its
	// log reaches the test through a pipe, after the API may have answered.
	waitUntil(t, "serve to log the registration", func() bool {
		return strings.Contains(srv.logs.String(), `msg="provider registered" provider=billing`)
	})
}
