package httpcall

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/flowgen/flowgen/internal/neterr"
	"github.com/flowgen/flowgen/runtime"
)

func TestCallerClassifiesAnswers(t *testing.T) {
	var keys atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys.Store(r.Header.Get("Idempotency-Key"))
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/Echo":
			w.Write(body)
		case "/NoContent":
			w.WriteHeader(http.StatusNoContent)
		case "/Bad":
			http.Error(w, "bad customer", http.StatusBadRequest)
		case "/Busy":
			http.Error(w, "slow down", http.StatusTooManyRequests)
		case "/Broken":
			http.Error(w, "oops", http.StatusInternalServerError)
		case "/Spaced":
			w.Write([]byte(" \n {\"a\": [1, 2]} \n"))
		case "/Garbage":
			w.Write([]byte("not json"))
		case "/Slow":
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}
	}))
	defer srv.Close()
	c := New(Static{"svc": srv.URL})
	ctx := context.Background()

	var out map[string]int
	if err := c.Call(ctx, "svc", "Echo", map[string]int{"a": 1}, &out); err != nil || out["a"] != 1 {
		t.Fatalf("Echo: %v %v", out, err)
	}
	if err := c.Call(ctx, "svc", "NoContent", nil, &out); err != nil {
		t.Fatalf("NoContent: %v", err)
	}
	cases := []struct {
		endpoint  string
		permanent bool
		status    int
	}{
		{"Bad", true, 400},
		{"Busy", false, 429},
		{"Broken", false, 500},
		{"Garbage", true, 0},
	}
	for _, tc := range cases {
		err := c.Call(ctx, "svc", tc.endpoint, nil, &out)
		if err == nil {
			t.Fatalf("%s: no error", tc.endpoint)
		}
		if runtime.IsPermanent(err) != tc.permanent {
			t.Errorf("%s: permanent = %v, want %v (%v)", tc.endpoint, runtime.IsPermanent(err), tc.permanent, err)
		}
		var se *StatusError
		if tc.status != 0 && (!errors.As(err, &se) || se.Status != tc.status) {
			t.Errorf("%s: %v, want status %d", tc.endpoint, err, tc.status)
		}
	}
	// Into a json.RawMessage (what the engine's rpc steps take), the
	// response's JSON value as json.Unmarshal gives it, or the same
	// permanent error.
	var raw json.RawMessage
	if err := c.Call(ctx, "svc", "Spaced", nil, &raw); err != nil || string(raw) != `{"a": [1, 2]}` {
		t.Fatalf("Echo into a RawMessage: %s %v", raw, err)
	}
	if err := c.Call(ctx, "svc", "Garbage", nil, &raw); !runtime.IsPermanent(err) || !strings.Contains(err.Error(), "decoding response: invalid character") {
		t.Fatalf("Garbage into a RawMessage: %v", err)
	}
	// A deadline on ctx bounds the call, and the error is retryable.
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := c.Call(tctx, "svc", "Slow", nil, nil); err == nil || runtime.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Slow: %v", err)
	}
	// Unknown services are permanent.
	if err := c.Call(ctx, "nope", "Echo", nil, nil); !runtime.IsPermanent(err) || !errors.Is(err, ErrUnknownService) {
		t.Fatalf("unknown service: %v", err)
	}
}

// A non-2xx answer's error quotes the start of its body as the engine's
// other errors quote a foreign body (snippet.Body): cut at a rune's start,
// so that a body of multi-byte characters leaves no half of one in the
// message, which the run's history would show as U+FFFD (a strict JSON
// client refuses it), and on one line.
func TestStatusErrorQuotesBodyAsUTF8(t *testing.T) {
	body := "x\ny" + strings.Repeat("€", 100) // "€" is 3 bytes: byte 200 is inside one
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, body)
	}))
	defer srv.Close()
	err := New(Static{"svc": srv.URL}).Call(context.Background(), "svc", "Op", nil, nil)
	var se *StatusError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want a StatusError", err)
	}
	want := `"x\ny` + strings.Repeat("€", 65) + `"...`
	if se.Body != want || !utf8.ValidString(err.Error()) || !strings.HasSuffix(err.Error(), ": "+want) {
		t.Errorf("error %q, Body %q; want the Body %q", err, se.Body, want)
	}
}

// An answer without a body, or with white space alone (a proxy's bare
// 502), has nothing to quote: its error ends at the status, as before
// bodies were quoted, not with an empty quote.
func TestStatusErrorWithoutBody(t *testing.T) {
	for _, body := range []string{"", " \r\n"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, body)
		}))
		err := New(Static{"svc": srv.URL}).Call(context.Background(), "svc", "Op", nil, nil)
		srv.Close()
		var se *StatusError
		if !errors.As(err, &se) {
			t.Fatalf("body %q: got %v, want a StatusError", body, err)
		}
		if se.Body != "" || !strings.HasSuffix(err.Error(), "svc Op: HTTP 502 Bad Gateway") {
			t.Errorf("body %q: error %q, Body %q; want it to end at the status, Body empty", body, err, se.Body)
		}
	}
}

// The idempotency key of the step reaches the service, the same on every
// retry: a flow with a retried rpc step against a service that fails once.
func TestCallerSendsIdempotencyKeyAcrossRetries(t *testing.T) {
	var calls atomic.Int32
	seen := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Get("Idempotency-Key")
		if calls.Add(1) == 1 {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		json.NewEncoder(w).Encode("cus-1")
	}))
	defer srv.Close()
	type S struct{ ID string }
	f := runtime.New[S]("F", runtime.WithCaller(New(Static{"customers": srv.URL})), runtime.WithIDs(func() string { return "run1" }))
	if err := f.Register(runtime.NewRPC[S]("customers", "Customer.Create", nil,
		runtime.WithResponse(func(s *S) any { return &s.ID }),
		runtime.WithRetry[S](runtime.RetryPolicy{Attempts: 3}))); err != nil {
		t.Fatal(err)
	}
	res, err := f.Execute(context.Background(), S{})
	if err != nil || res.State.ID != "cus-1" {
		t.Fatalf("%+v %v", res, err)
	}
	a, b := <-seen, <-seen
	if a != "run1/Customer.Create" || a != b {
		t.Fatalf("keys %q %q", a, b)
	}
}

// A redirect to another host is refused before anything is sent there; one
// to the same host is followed.
func TestCallerRefusesRedirectToAnotherHost(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.Write([]byte(`{}`))
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/Away":
			http.Redirect(w, r, other.URL+"/Steal", http.StatusTemporaryRedirect)
		case "/Moved":
			http.Redirect(w, r, "/Here", http.StatusPermanentRedirect)
		case "/Here":
			if r.Header.Get("Idempotency-Key") != "k" {
				http.Error(w, "no key", http.StatusBadRequest)
				return
			}
			io.Copy(w, r.Body)
		}
	}))
	defer srv.Close()
	c := New(Static{"svc": srv.URL}, WithHeader("Idempotency-Key", "k"))
	ctx := context.Background()
	err := c.Call(ctx, "svc", "Away", map[string]int{"secret": 1}, nil)
	if !errors.Is(err, ErrRedirect) || !runtime.IsPermanent(err) {
		t.Fatalf("redirect to another host: %v, want a permanent ErrRedirect", err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the other host got %d requests", n)
	}
	var out map[string]int
	if err := c.Call(ctx, "svc", "Moved", map[string]int{"a": 1}, &out); err != nil || out["a"] != 1 {
		t.Fatalf("redirect on the same host: %v %v", out, err)
	}
}

// An endpoint is one path segment under the service's base path: ".."
// cannot climb out of it, even escaped (a server that decodes and cleans
// the path would), and "/", "?", "#" are escaped.
func TestCallerEndpointStaysUnderBasePath(t *testing.T) {
	var mu sync.Mutex
	var uris []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		uris = append(uris, r.RequestURI)
		mu.Unlock()
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c := New(Static{"svc": srv.URL + "/api/v1/"})
	for _, ep := range []string{"..", ".", "", "../admin", "a/../../b"} {
		err := c.Call(context.Background(), "svc", ep, nil, nil)
		if !errors.Is(err, ErrEndpoint) || !runtime.IsPermanent(err) {
			t.Errorf("endpoint %q: %v, want a permanent ErrEndpoint", ep, err)
		}
	}
	for _, ep := range []string{"a/b", "x?y=1#z", "Customer.Create"} {
		if err := c.Call(context.Background(), "svc", ep, nil, nil); err != nil {
			t.Errorf("endpoint %q: %v", ep, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"/api/v1/a%2Fb", "/api/v1/x%3Fy=1%23z", "/api/v1/Customer.Create"}
	if strings.Join(uris, " ") != strings.Join(want, " ") {
		t.Fatalf("requests went to %q, want %q", uris, want)
	}
	// A WithPath that climbs out is refused too.
	c = New(Static{"svc": srv.URL + "/api"}, WithPath(func(ep string) string { return "/../" + ep }))
	if err := c.Call(context.Background(), "svc", "X", nil, nil); !errors.Is(err, ErrEndpoint) {
		t.Fatalf("WithPath out of the base: %v", err)
	}
}

// N concurrent calls to a slow server open at most MaxConnsPerHost
// connections.
func TestCallerConnectionLimit(t *testing.T) {
	var conns, inFlight, peak atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(50 * time.Millisecond)
		inFlight.Add(-1)
		w.Write([]byte(`{}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := New(Static{"svc": srv.URL}, WithLimits(Limits{MaxConnsPerHost: 3}))
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for range 30 {
		wg.Go(func() { errs <- c.Call(context.Background(), "svc", "Slow", nil, nil) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n > 3 {
		t.Fatalf("%d connections opened, want at most 3", n)
	}
	if p := peak.Load(); p > 3 {
		t.Fatalf("%d calls at once at the server, want at most 3", p)
	}
}

// A response over MaxResponseBytes fails the call for good, saying so (cut,
// it failed to decode with "unexpected end of JSON input"); one that fills
// the bound exactly decodes, and a step that keeps no response ignores
// the size.
func TestResponseLimit(t *testing.T) {
	const limit = 64
	body := func(n int) []byte { return []byte(`"` + strings.Repeat("x", n-2) + `"`) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := limit
		if r.URL.Path == "/Big" {
			n = limit + 1
		}
		w.Write(body(n))
	}))
	defer srv.Close()
	c := New(Static{"svc": srv.URL}, WithLimits(Limits{MaxResponseBytes: limit}))
	var got string
	if err := c.Call(context.Background(), "svc", "Full", nil, &got); err != nil || len(got) != limit-2 {
		t.Fatalf("a response of exactly the bound: %v, %d bytes decoded", err, len(got))
	}
	err := c.Call(context.Background(), "svc", "Big", nil, &got)
	if !runtime.IsPermanent(err) || !strings.Contains(err.Error(), "larger than 64 bytes") {
		t.Fatalf("a response over the bound: %v, want a permanent error saying it is larger than 64 bytes", err)
	}
	if err := c.Call(context.Background(), "svc", "Big", nil, nil); err != nil {
		t.Fatalf("a response over the bound that the step does not keep: %v", err)
	}
}

// An answer's headers are bounded (neterr.MaxResponseHeaderBytes, 64
// KiB), as the provider client bounds them: an answer with more fails the
// call as a broken connection does, retryable. They were bounded only by
// net/http's default, 10 MiB held in memory for each of the
// MaxConnsPerHost answers one service host may be sending, which
// docs/engine.md#limits did not count.
func TestResponseHeadersBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := neterr.MaxResponseHeaderBytes / 2
		if r.URL.Path == "/Big" {
			n = 1 << 20
		}
		w.Header().Set("X-Padding", strings.Repeat("a", n))
		w.Write([]byte(`"ok"`))
	}))
	defer srv.Close()
	c := New(Static{"svc": srv.URL}, WithLogger(slog.New(slog.DiscardHandler)))
	var got string
	if err := c.Call(context.Background(), "svc", "Small", nil, &got); err != nil || got != "ok" {
		t.Fatalf("an answer with headers within the bound: %q %v", got, err)
	}
	err := c.Call(context.Background(), "svc", "Big", nil, &got)
	ce, ok := errors.AsType[*CallError](err)
	if !ok || runtime.IsPermanent(err) || !strings.Contains(ce.Err.Error(), "headers exceeded") {
		t.Fatalf("an answer with 1 MiB of headers: %v, want a retryable CallError about its headers", err)
	}
}

// A redirect that would send the call again as a GET, without its body (a
// 301, 302 or 303 answer to the POST: Go's client follows them so), is
// refused: the answer to that GET is no answer to the call, and taken as
// one, a step succeeded with the service's page for a response (after a
// 301 or 302, while the service never took the call). 307 and 308 keep
// the POST and its body.
func TestCallerRefusesRedirectThatDropsTheBody(t *testing.T) {
	var gets atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/Found":
			http.Redirect(w, r, "/Page", http.StatusFound)
		case "/Moved":
			http.Redirect(w, r, "/Page", http.StatusMovedPermanently)
		case "/SeeOther":
			http.Redirect(w, r, "/Page", http.StatusSeeOther)
		case "/Page":
			if r.Method == http.MethodGet {
				gets.Add(1)
			}
			w.Write([]byte(`{"id": "not the call's"}`))
		}
	}))
	defer srv.Close()
	c := New(Static{"svc": srv.URL}, WithLogger(slog.New(slog.DiscardHandler)))
	for _, ep := range []string{"Found", "Moved", "SeeOther"} {
		var out json.RawMessage
		err := c.Call(context.Background(), "svc", ep, map[string]int{"a": 1}, &out)
		if !errors.Is(err, ErrRedirectMethod) || !runtime.IsPermanent(err) {
			t.Errorf("%s: %v (answer %s), want a permanent ErrRedirectMethod", ep, err, out)
		} else if !strings.Contains(err.Error(), "svc "+ep+": redirect") {
			t.Errorf("%s: error %q does not say what went wrong", ep, err)
		}
	}
	if n := gets.Load(); n != 0 {
		t.Fatalf("the redirects were followed with %d GETs", n)
	}
}
