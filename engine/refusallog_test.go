package engine

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// A request the Authorizer refuses (401: no token, or an invalid one;
// 403: a role that is not enough) is logged at Warn with its method,
// path, remote address, the role it needed and why, never the token: an
// operator saw nothing of a token being guessed or of a client
// misconfigured. Whoever reaches the API can make refusals at will, so
// at most RefusalLogBurst are logged an interval, and the count of the
// others with the first refusal of a later one.
func TestRefusalsLoggedBounded(t *testing.T) {
	var buf logtest.Buffer
	clock := runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	e, err := New(Options{Store: store.NewMemory(), Clock: clock,
		Authorizer: newTokenAuth(t, "admin "+adminToken+"\nclient "+clientToken+"\n"),
		Logger:     slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h := e.Handler()
	const guess = "guess-0123456789abcdef"
	do := func(method, path, token string) int {
		r := httptest.NewRequest(method, path, nil)
		r.RemoteAddr = "192.0.2.7:40000"
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	lines := func() []string {
		s := strings.TrimSpace(buf.String())
		if s == "" {
			return nil
		}
		return strings.Split(s, "\n")
	}
	for _, tc := range []struct {
		method, path, token string
		status              int
		want                string
	}{
		{"GET", "/runs", "", 401, `need=viewer reason="missing token"`},
		{"GET", "/runs", guess, 401, `need=viewer reason="invalid token"`},
		{"GET", "/deadletters", clientToken, 403, `need=admin reason="wrong role"`},
	} {
		if got := do(tc.method, tc.path, tc.token); got != tc.status {
			t.Fatalf("%s %s: %d, want %d", tc.method, tc.path, got, tc.status)
		}
		ls := lines()
		if len(ls) == 0 {
			t.Fatalf("%s %s (%d) logged nothing", tc.method, tc.path, tc.status)
		}
		last := ls[len(ls)-1]
		for _, w := range []string{"level=WARN", `msg="API request refused"`, "method=" + tc.method, "path=" + tc.path, "remote=192.0.2.7:40000", tc.want} {
			if !strings.Contains(last, w) {
				t.Errorf("%s %s logged %q, want %q in it", tc.method, tc.path, last, w)
			}
		}
	}
	if do("GET", "/runs", clientToken) != 200 || len(lines()) != 3 {
		t.Fatalf("a request let through is not logged: %q", lines())
	}

	// A burst: the rest of the interval's lines, then nothing.
	for range 2 * RefusalLogBurst {
		do("GET", "/runs", guess)
	}
	if n := len(lines()); n != RefusalLogBurst {
		t.Fatalf("%d lines after a burst, want %d", n, RefusalLogBurst)
	}
	// Within the interval, still nothing; after it, the count, then the
	// refusal.
	clock.Advance(RefusalLogInterval - time.Second)
	do("GET", "/runs", guess)
	if n := len(lines()); n != RefusalLogBurst {
		t.Fatalf("%d lines before the interval ends, want %d", n, RefusalLogBurst)
	}
	clock.Advance(time.Second)
	do("GET", "/runs", "")
	ls := lines()
	if len(ls) != RefusalLogBurst+2 || !strings.Contains(ls[len(ls)-2], "suppressed=24") || !strings.Contains(ls[len(ls)-1], `reason="missing token"`) {
		t.Fatalf("after the interval: %q, want the count of 24 suppressed then the refusal", ls[RefusalLogBurst-1:])
	}
	if out := buf.String(); strings.Contains(out, guess) || strings.Contains(out, clientToken) || strings.Contains(out, "0123456789") {
		t.Fatalf("the log holds a token: %s", out)
	}
}

// A refused request's path is its sender's, up to -max-header-bytes long:
// the log line and the 403's answer show at most shownBytes of it (as
// every other error answer does), so that a flood of refusals within the
// burst writes lines of a few hundred bytes, not of 64 KiB each.
func TestRefusalsCutLongPaths(t *testing.T) {
	var buf logtest.Buffer
	e, err := New(Options{Store: store.NewMemory(),
		Authorizer: newTokenAuth(t, "admin "+adminToken+"\nclient "+clientToken+"\n"),
		Logger:     slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	long := "/runs/" + strings.Repeat("x", 30000)
	for _, tc := range []struct {
		method, path, token string
		status              int
	}{
		{"GET", long, "", http.StatusUnauthorized},
		{"POST", long + "/abort", clientToken, http.StatusForbidden},
	} {
		r := httptest.NewRequest(tc.method, tc.path, strings.NewReader("{}"))
		r.Header.Set("Content-Type", "application/json")
		if tc.token != "" {
			r.Header.Set("Authorization", "Bearer "+tc.token)
		}
		w := httptest.NewRecorder()
		e.Handler().ServeHTTP(w, r)
		if w.Code != tc.status {
			t.Fatalf("%s %.20s...: %d, want %d", tc.method, tc.path, w.Code, tc.status)
		}
		if n := w.Body.Len(); n > 2*shownBytes {
			t.Errorf("%s %.20s... answered %d bytes, want the path cut to %d", tc.method, tc.path, n, shownBytes)
		}
		ls := strings.Split(strings.TrimSpace(buf.String()), "\n")
		line := ls[len(ls)-1]
		if !strings.Contains(line, `msg="API request refused"`) || len(line) > 2*shownBytes || !strings.Contains(line, "...") {
			t.Errorf("%s %.20s... logged %d bytes (%.200q), want the path cut to %d bytes and ...", tc.method, tc.path, len(line), line, shownBytes)
		}
	}
}
