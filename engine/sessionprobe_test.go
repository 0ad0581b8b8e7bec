package engine

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/runtime/store"
)

// TestSessionProbeNotLogged: the web view, opened signed out, asks GET
// /session without a token to learn whether the server needs one. That
// refusal is every page opened, no token guessed nor client
// misconfigured, so it is not logged; before, each tab opened on /ui/
// wrote a warning "API request refused" (and used one of the
// RefusalLogBurst lines a minute that guesses are seen by). GET /session
// with a token it refuses, and other routes without one, are still
// logged.
func TestSessionProbeNotLogged(t *testing.T) {
	var buf logtest.Buffer
	e, err := New(Options{Store: store.NewMemory(),
		Authorizer: newTokenAuth(t, "admin "+adminToken+"\n"),
		Logger:     slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path, token string) {
		t.Helper()
		r := httptest.NewRequest("GET", path, nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		e.Handler().ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("GET %s: %d, want 401", path, w.Code)
		}
	}
	get("/session", "")
	if s := buf.String(); s != "" {
		t.Fatalf("GET /session without a token logged %q, want nothing", s)
	}
	for _, tc := range []struct{ path, token string }{{"/session", "guess-0123456789abcdef"}, {"/runs", ""}} {
		n := len(buf.String())
		get(tc.path, tc.token)
		if len(buf.String()) == n {
			t.Errorf("GET %s (token %q) logged nothing, want its refusal", tc.path, tc.token)
		}
	}
}
