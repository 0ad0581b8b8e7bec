package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/runtime"
)

// The callback allow-list: loopback only by default; a host (any port),
// host:port or URL prefix otherwise, and then only those; no userinfo;
// ".." (plain or escaped) cannot leave a prefix. A port left to the scheme
// is the scheme's (https://h is https://h:443), and a port outside
// 1-65535 is refused, in a URL or an entry.
func TestProviderAllowList(t *testing.T) {
	for _, tc := range []struct {
		allow []string
		ok    []string
		no    []string
	}{
		{
			allow: nil,
			ok: []string{"http://127.0.0.1:9000/step/X", "http://localhost/x", "https://LOCALHOST:8443/x",
				"http://[::1]:9000/x", "http://127.9.8.7/x", "http://[::ffff:127.0.0.1]:80/x"},
			no: []string{"http://127.0.0.1:99999/x", "http://localhost:0/x", "http://[::1]:65536/x",
				"http://10.0.0.7/x", "http://localhost.evil.example/x", "http://127.0.0.1.nip.io/x",
				"http://user:pw@127.0.0.1/x", "http://user@localhost/x", "ftp://127.0.0.1/x", "127.0.0.1:9000",
				"http:///x", "http://127.0.0.1/x#frag", "http://[::2]/x", "http://0.0.0.0/x", "http://169.254.169.254/latest"},
		},
		{
			allow: []string{"billing.internal", "10.0.0.7:9000", "[::1]:7000"},
			ok: []string{"http://billing.internal/x", "https://BILLING.internal:8443/y", "http://10.0.0.7:9000/x",
				"http://[::1]:7000/x"},
			// A list replaces the default: loopback is no longer allowed
			// unless listed.
			no: []string{"http://billing.internal:99999/x", "http://billing.internal.evil/x", "http://evil/billing.internal", "http://10.0.0.7:9001/x",
				"http://10.0.0.7/x", "http://127.0.0.1:9000/x", "http://[::1]:7001/x", "http://a@billing.internal/x"},
		},
		{
			// An IPv6 host, bracketed or not, allows any port of it, as
			// any other host does.
			allow: []string{"[::1]", "fd00::7"},
			ok:    []string{"http://[::1]:9000/x", "http://[::1]/x", "http://[fd00::7]:8080/x", "http://[FD00::7]/x"},
			no:    []string{"http://[::2]:9000/x", "http://127.0.0.1:9000/x", "http://[fd00::8]/x"},
		},
		{
			// An IP address is one host however it is written, in the
			// entry and in the URL; an IPv4-mapped address is not the
			// IPv4 one, nor is a spelling that is no IP address.
			allow: []string{"fd00:0:0:0:0:0:0:7", "[0:0::1]:7000", "10.0.0.7", "https://[fd00::9]/flowgen/"},
			ok: []string{"http://[fd00::7]:9000/x", "http://[fd00:0::7]/x", "http://[::1]:7000/x",
				"https://[FD00:0:0:0:0:0:0:9]/flowgen/x"},
			no: []string{"http://[fd00::8]/x", "http://[::1]:7001/x", "http://[::ffff:10.0.0.7]/x", "http://010.0.0.7/x",
				"https://[fd00::9]/other", "http://[fd00::9]/flowgen/x"},
		},
		{
			allow: []string{"https://billing.internal/flowgen"},
			ok: []string{"https://billing.internal/flowgen/step/X", "https://billing.internal/flowgen",
				"https://billing.internal:443/flowgen/x", "https://BILLING.internal:0443/flowgen/x",
				"https://billing.internal/flowgen/a/../b", "https://billing.internal/flowgen/a%2Fb?x=1"},
			no: []string{"http://billing.internal/flowgen/x", "https://billing.internal/flowgenx/y",
				"https://billing.internal/flowgen/../admin", "https://billing.internal/flowgen/./../admin",
				"https://billing.internal/flowgen/%2e%2e/admin", "https://billing.internal/flowgen%2F..%2Fadmin",
				"https://billing.internal:444/flowgen/x", "https://other.internal/flowgen/x", "https://billing.internal/",
				"https://u@billing.internal/flowgen/x", "https://billing.internal:80/flowgen/x",
				"https://billing.internal:99999/flowgen/x",
				// Read as leaving /flowgen/ by some servers (urlpath.Within).
				"https://billing.internal/flowgen/..;/admin", "https://billing.internal/flowgen/..%5cadmin",
				"https://billing.internal/flowgen/%252e%252e/admin"},
		},
		{
			// An entry's explicit port is its scheme's: the same origin.
			allow: []string{"https://billing.internal:443/flowgen/", "http://10.0.0.7:80/", "billing.internal:443"},
			ok: []string{"https://billing.internal/flowgen/x", "http://10.0.0.7/x", "http://10.0.0.7:80/x",
				"https://billing.internal/other"},
			no: []string{"http://billing.internal/x", "https://10.0.0.7/x", "http://10.0.0.7:8080/x"},
		},
	} {
		al, err := parseAllowList(tc.allow)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range tc.ok {
			if err := al.check(u); err != nil {
				t.Errorf("allow %q: %s refused: %v", tc.allow, u, err)
			}
		}
		for _, u := range tc.no {
			if err := al.check(u); err == nil {
				t.Errorf("allow %q: %s allowed", tc.allow, u)
			}
		}
	}
	for _, bad := range []string{"", " ", "ftp://h/", "https://u:p@h/", "https://h/?q=1", "https://h/#f", "h/path", "u@h", "https:///p", "h:", ":80", "[]", "[h",
		"h:99999", "h:0", "h:+80", "[::1]:65536", "https://h:99999/p", "http://h:0/",
		// No wildcard or range: they would match no host, and every
		// registration would be refused.
		"*.internal", "*", "billing.*:9000", "[*]", "https://*.internal/flowgen", "http://billing%2a.internal/",
		// A path that servers read differently has no URL under it.
		`https://h/flowgen\x/..`, "https://h/flowgen%5cx/..", "https://h/flowgen/..;/x"} {
		if _, err := parseAllowList([]string{bad}); err == nil {
			t.Errorf("allow-list entry %q accepted", bad)
		}
	}
}

// billFlow has Go steps that no in-process handler serves: Reserve (with
// the rollback Release) and Check, which may return "declined".
const billFlow = `{"version": 1, "flows": [{
  "name": "Bill", "state": "BillState",
  "triggers": [{"kind": "rpc", "endpoint": "Bill.Start"}],
  "retry": {"attempts": 3, "initial": "10ms", "max": "20ms"},
  "timeout": "5s",
  "steps": [
    {"name": "Reserve", "action": {"kind": "go"}, "rollback": {"name": "Release"}},
    {"name": "Check", "action": {"kind": "go"}, "outcomes": ["declined"], "irreversible": true,
     "on": [{"on": "declined", "target": "fail"}]}
  ]}]}`

// remoteFixture is the signup fixture with remote providers on and the
// Bill flow loaded.
func remoteFixture(t *testing.T, opts ProviderOptions) (*fixture, *Engine, *httptest.Server) {
	t.Helper()
	return remoteFixtureAuth(t, opts, nil)
}

// remoteFixtureAuth is remoteFixture with an Authorizer (nil: none).
func remoteFixtureAuth(t *testing.T, opts ProviderOptions, auth Authorizer) (*fixture, *Engine, *httptest.Server) {
	t.Helper()
	fx := newFixture(t)
	fx.remote = &opts
	fx.auth = auth
	return startRemote(t, fx)
}

// startRemote starts fx, whose remote providers are on, and loads the Bill
// flow.
func startRemote(t *testing.T, fx *fixture) (*fixture, *Engine, *httptest.Server) {
	t.Helper()
	e := fx.start()
	t.Cleanup(fx.stop)
	ds, err := e.LoadFlows("bill.json", []byte(billFlow))
	if err != nil {
		t.Fatalf("load: %v\n%v", err, ds)
	}
	if !strings.Contains(fmt.Sprint(ds), `no provider serves Go step "Check" of flow "Bill" yet`) ||
		!strings.Contains(fmt.Sprint(ds), `no provider serves Go rollback "Release" of flow "Bill" yet`) {
		t.Errorf("loading warnings:\n%v", ds)
	}
	return fx, e, httptestServer(t, e)
}

func putProvider(t *testing.T, srv *httptest.Server, name, body string) (int, string) {
	t.Helper()
	status, _, out := send(t, srv, "PUT", "/providers/"+name, "", "application/json", body)
	var e struct{ Error string }
	if json.Unmarshal([]byte(out), &e) == nil && e.Error != "" {
		return status, e.Error // unquoted
	}
	return status, out
}

// Registrations are checked: the TTL and the counts within bounds, names,
// one of url and subject, the allow-list, outcomes; each refusal is a 400
// that says what is wrong, and nothing is registered.
func TestProviderRegistrationChecks(t *testing.T) {
	_, e, srv := remoteFixture(t, ProviderOptions{MaxTTL: 5 * MinProviderTTL, MaxProviders: 2})
	url := func(n string) string { return "http://127.0.0.1:9/step/" + n }
	handlers := func(n int) string {
		var hs []string
		for i := range n {
			hs = append(hs, fmt.Sprintf(`{"name": "H%d", "url": %q}`, i, url("x")))
		}
		return `{"handlers": [` + strings.Join(hs, ",") + `]}`
	}
	outcomes := func(n int) string {
		var os []string
		for i := range n {
			os = append(os, fmt.Sprintf(`"o%d"`, i))
		}
		return strings.Join(os, ",")
	}
	for _, tc := range []struct {
		name, body, want string
	}{
		{"ttl too short", `{"ttl": "999ms", "handlers": [{"name": "Reserve", "url": "` + url("r") + `"}]}`, "ttl 999ms is outside [1s, 5s]"},
		{"ttl too long", `{"ttl": "6s", "handlers": [{"name": "Reserve", "url": "` + url("r") + `"}]}`, "ttl 6s is outside [1s, 5s]"},
		{"ttl negative", `{"ttl": "-1s", "handlers": [{"name": "Reserve", "url": "` + url("r") + `"}]}`, "outside"},
		{"ttl not a duration", `{"ttl": "30", "handlers": [{"name": "Reserve", "url": "` + url("r") + `"}]}`, `ttl "30" is not a Go duration`},
		// A long one is shown cut, as a path is: not echoed whole.
		{"ttl long", `{"ttl": "` + strings.Repeat("9", 100000) + `", "handlers": [{"name": "Reserve", "url": "` + url("r") + `"}]}`, `ttl "` + strings.Repeat("9", 50)},
		{"no handlers", `{"handlers": []}`, "1 to 256 handlers, found 0"},
		{"too many handlers", handlers(MaxProviderHandlers + 1), "1 to 256 handlers, found 257"},
		{"empty handler name", `{"handlers": [{"name": "", "url": "` + url("r") + `"}]}`, "handlers[0]: engine: invalid name: empty handler name"},
		{"control character", `{"handlers": [{"name": "Re\u0001serve", "url": "` + url("r") + `"}]}`, "control character"},
		{"format character", `{"handlers": [{"name": "Re\u202eserve", "url": "` + url("r") + `"}]}`, "format character U+202E"},
		{"twice", `{"handlers": [{"name": "Reserve", "url": "` + url("a") + `"}, {"name": "Reserve", "url": "` + url("b") + `"}]}`, `handlers[1]: handler "Reserve" is registered twice`},
		{"rollback with outcomes", `{"handlers": [{"name": "Release", "rollback": true, "outcomes": ["x"], "url": "` + url("r") + `"}]}`, "a rollback has none"},
		{"engine outcome", `{"handlers": [{"name": "Check", "outcomes": ["timeout"], "url": "` + url("r") + `"}]}`, `outcome "timeout" is the engine's`},
		// As a flow's step cannot declare it: it was taken and ignored.
		{"ok outcome", `{"handlers": [{"name": "Check", "outcomes": ["declined", "ok"], "url": "` + url("r") + `"}]}`, `handlers[0]: outcome "ok" is implicit, a handler cannot declare it`},
		{"bad outcome", `{"handlers": [{"name": "Check", "outcomes": [""], "url": "` + url("r") + `"}]}`, "empty outcome"},
		{"outcome too long", `{"handlers": [{"name": "Check", "outcomes": ["` + strings.Repeat("o", MaxNameLen+1) + `"], "url": "` + url("r") + `"}]}`, "longer than 128"},
		{"too many outcomes", `{"handlers": [{"name": "Other", "outcomes": [` + outcomes(MaxProviderOutcomes+1) + `], "url": "` + url("r") + `"}]}`, `handler "Other" declares 257 outcomes, more than the 256`},
		{"neither", `{"handlers": [{"name": "Reserve"}]}`, "needs a url (HTTP) or a subject (NATS), exactly one"},
		{"both", `{"handlers": [{"name": "Reserve", "url": "` + url("r") + `", "subject": "s"}]}`, "exactly one"},
		{"subject without NATS", `{"handlers": [{"name": "Reserve", "subject": "billing.reserve"}]}`, "no NATS connection"},
		{"off the allow-list", `{"handlers": [{"name": "Reserve", "url": "http://10.1.2.3/r"}]}`, "is not on loopback"},
		{"userinfo", `{"handlers": [{"name": "Reserve", "url": "http://me@127.0.0.1/r"}]}`, "without user"},
		{"unknown field", `{"handlers": [{"name": "Reserve", "url": "` + url("r") + `", "retries": 3}]}`, `handlers[0]: unknown member "retries"`},
		{"not JSON", `{"handlers": `, "invalid provider registration"},
		{"data after it", `{"handlers": [{"name": "Reserve", "url": "` + url("r") + `"}]} {"ttl": "1s"}`, "data after the JSON value"},
	} {
		status, out := putProvider(t, srv, "billing", tc.body)
		if status != http.StatusBadRequest || !strings.Contains(out, tc.want) || len(out) > 2000 {
			t.Errorf("%s: %d %s, want 400 with %q", tc.name, status, out, tc.want)
		}
	}
	for _, name := range []string{"%01bad", "bill%C2%ADing", strings.Repeat("p", MaxNameLen+1)} {
		if status, out := putProvider(t, srv, name, handlers(1)); status != http.StatusBadRequest || !strings.Contains(out, "provider name") {
			t.Errorf("provider name %q: %d %s, want 400", name, status, out)
		}
	}
	if len(e.Providers()) != 0 {
		t.Fatalf("refused registrations left leases: %+v", e.Providers())
	}

	// At the bounds: accepted. The TTL's default applies when none is given.
	if status, out := putProvider(t, srv, "a", `{"handlers": [{"name": "Other", "outcomes": [`+outcomes(MaxProviderOutcomes)+`], "url": "`+url("o")+`"}]}`); status != 200 {
		t.Fatalf("256 outcomes: %d %s", status, out)
	}
	if status, out := putProvider(t, srv, "a", handlers(MaxProviderHandlers)); status != 200 || !strings.Contains(out, `"ttl":"5s"`) {
		t.Fatalf("256 handlers: %d %s", status, out)
	}
	if status, out := putProvider(t, srv, "b", `{"ttl": "1s", "handlers": [{"name": "Reserve", "url": "`+url("r")+`"}]}`); status != 200 || !strings.Contains(out, `"ttl":"1s"`) {
		t.Fatalf("ttl 1s: %d %s", status, out)
	}
	// MaxProviders: a third provider is refused for now (429), the first
	// renews.
	if status, out := putProvider(t, srv, "c", handlers(1)); status != http.StatusTooManyRequests || !strings.Contains(out, "2 providers are registered") {
		t.Errorf("a provider over MaxProviders: %d %s, want 429", status, out)
	}
	if status, out := putProvider(t, srv, "a", handlers(1)); status != 200 {
		t.Errorf("registering a known provider again at MaxProviders: %d %s", status, out)
	}
	// The unused handlers are named in the lease's warnings.
	if _, out := putProvider(t, srv, "a", handlers(1)); !strings.Contains(out, `no registered flow has a Go step that handler \"H0\" serves (yet)`) {
		t.Errorf("no warning about an unused handler: %s", out)
	}
	// Renewing or withdrawing an unknown provider: 404.
	if status, _, out := send(t, srv, "POST", "/providers/nobody/renew", "", "application/json", ""); status != 404 || !strings.Contains(out, "register it again") {
		t.Errorf("renew of an unknown provider: %d %s", status, out)
	}
	if status, _, _ := send(t, srv, "DELETE", "/providers/nobody", "", "", ""); status != 404 {
		t.Errorf("delete of an unknown provider: %d", status)
	}
	// A name no provider can have is a 400 that quotes its start, as
	// registering it is, not a 404 echoing all of it.
	long := strings.Repeat("p", 20000)
	for _, method := range []string{"POST", "DELETE"} {
		path := "/providers/" + long
		if method == "POST" {
			path += "/renew"
		}
		if status, _, out := send(t, srv, method, path, "", "application/json", ""); status != 400 || !strings.Contains(out, "provider name") || len(out) > 1000 {
			t.Errorf("%s of a provider name of %d bytes: %d %.300s (%d bytes), want 400", method, len(long), status, out, len(out))
		}
	}
}

// A registration whose outcomes differ from those of a registered flow's
// Go step of that name (qualified or plain) is refused with 409, naming
// the flow, the step and both sets; the same set in another order, or a
// rollback of that name, is not.
func TestProviderOutcomeConflict(t *testing.T) {
	_, e, srv := remoteFixture(t, ProviderOptions{})
	for _, tc := range []struct{ body, want string }{
		{`{"handlers": [{"name": "Bill.Check", "url": "http://127.0.0.1:9/c"}]}`,
			`handler "Bill.Check" declares outcomes none (ok only), but Go step "Check" of flow "Bill" declares ["declined"]`},
		{`{"handlers": [{"name": "Check", "outcomes": ["declined", "lost"], "url": "http://127.0.0.1:9/c"}]}`,
			`handler "Check" declares outcomes ["declined","lost"], but Go step "Check" of flow "Bill" declares ["declined"]`},
		{`{"handlers": [{"name": "Reserve", "outcomes": ["x"], "url": "http://127.0.0.1:9/r"}]}`,
			`Go step "Reserve" of flow "Bill" declares none (ok only)`},
	} {
		status, out := putProvider(t, srv, "billing", tc.body)
		if status != http.StatusConflict || !strings.Contains(out, tc.want) {
			t.Errorf("%s: %d %s, want 409 with %s", tc.body, status, out, tc.want)
		}
	}
	if len(e.Providers()) != 0 {
		t.Fatal("a refused registration left a lease")
	}
	for _, body := range []string{
		`{"handlers": [{"name": "Check", "outcomes": ["declined", "declined"], "url": "http://127.0.0.1:9/c"}]}`,
		`{"handlers": [{"name": "Check", "rollback": true, "url": "http://127.0.0.1:9/c"}]}`,
	} {
		if status, out := putProvider(t, srv, "billing", body); status != 200 {
			t.Errorf("%s: %d %s, want 200", body, status, out)
		}
	}
}

// The provider role registers, renews and withdraws providers, and does
// nothing else; a client cannot register one (the full matrix is
// TestEveryRouteNeedsItsRole).
func TestProviderRoleScope(t *testing.T) {
	fx := newFixture(t)
	fx.auth = newTokenAuth(t, "client "+clientToken+"\nprovider "+providerToken+"\n")
	fx.remote = &ProviderOptions{}
	e := fx.start()
	defer fx.stop()
	srv := httptestServer(t, e)
	reg := `{"handlers": [{"name": "Signup.Activate", "url": "http://127.0.0.1:9/a"}]}`
	if status, _, body := send(t, srv, "PUT", "/providers/billing", clientToken, "application/json", reg); status != http.StatusForbidden {
		t.Errorf("client registers: %d %s", status, body)
	}
	for _, step := range []struct{ method, path, body string }{
		{"PUT", "/providers/billing", reg},
		{"POST", "/providers/billing/renew", ""},
		{"DELETE", "/providers/billing", ""},
	} {
		if status, _, body := send(t, srv, step.method, step.path, providerToken, "application/json", step.body); status/100 != 2 {
			t.Errorf("provider %s %s: %d %s", step.method, step.path, status, body)
		}
	}
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/rpc/Signup.Start", `{}`},
		{"GET", "/runs?flow=Signup", ""},
		{"GET", "/flows/Signup", ""},
		{"GET", "/flows/Signup/handlers", ""},
		{"GET", "/providers", ""},
		{"PUT", "/flows", `{"version": 1, "flows": []}`},
		{"POST", "/events/payments/payment.succeeded", `{}`},
	} {
		if status, _, body := send(t, srv, r.method, r.path, providerToken, "application/json", r.body); status != http.StatusForbidden {
			t.Errorf("provider %s %s: %d %s, want 403", r.method, r.path, status, body)
		}
	}
}

// A provider that answers with a redirect is not followed: the target
// gets nothing (not the state, not the idempotency key), and the attempt
// fails permanently.
func TestProviderRedirectNotFollowed(t *testing.T) {
	var reached atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		_, _ = w.Write([]byte(`{"state": {"Stolen": true}}`))
	}))
	defer target.Close()
	for _, code := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/steal", code)
		}))
		_, h := runReserveAt(t, redirect.URL+"/r")
		attempts := 0
		for _, ev := range h {
			if ev.Step == "Reserve" && strings.Contains(ev.Error, "redirect, which the engine does not follow") {
				attempts++
			}
			if strings.Contains(ev.Error, "127.0.0.1") || strings.Contains(ev.Error, "/steal") {
				t.Errorf("%d: the history names an address: %q", code, ev.Error)
			}
		}
		if attempts != 1 {
			t.Errorf("%d: %d failed attempts with the redirect error, want 1 (permanent: no retry); history %+v", code, attempts, h)
		}
		redirect.Close()
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("the redirect target was called %d times", n)
	}
}

// A provider call that gets no answer records what went wrong, never the
// callback URL or an address (the history is every client's to read, as
// for rpc steps), and is retried: the provider found gone, the retry
// waits for one (TestProviderDeadOnlyReplicaCostsOneAttempt).
func TestProviderNoAnswerNamesNoAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	callback := "http://" + ln.Addr().String() + "/step/Reserve?route=secret"
	ln.Close() // nothing listens there: connection refused
	_, e, srv := remoteFixture(t, ProviderOptions{})
	if status, out := putProvider(t, srv, "billing", `{"handlers": [{"name": "Reserve", "url": "`+callback+`"}]}`); status != 200 {
		t.Fatalf("register: %d %s", status, out)
	}
	id, err := e.StartRun(context.Background(), "Bill", json.RawMessage(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the retry to wait for a provider", func() bool { return reserveWaits(e) > 0 })
	h, _ := e.History(context.Background(), id)
	refused := 0
	for _, ev := range h {
		if strings.Contains(ev.Error, `provider "billing", handler "Reserve": connection refused`) {
			refused++
		}
		if strings.Contains(ev.Error, "127.0.0.1") || strings.Contains(ev.Error, "secret") {
			t.Errorf("the history names the callback: %q", ev.Error)
		}
	}
	if st, _ := e.Status(context.Background(), id); refused != 1 || st.State.Terminal() {
		t.Errorf("%d attempts refused, run %s; want 1, retried (waiting); history %+v", refused, st.State, h)
	}
}

// post: 5xx, 408, 429 and 401 (a call token replaced meanwhile) are
// retryable; other statuses, an oversized answer are permanent.
func TestProviderPostErrorClasses(t *testing.T) {
	_, e, _ := remoteFixture(t, ProviderOptions{})
	for code, permanent := range map[int]bool{500: false, 503: false, 408: false, 429: false, 400: true, 404: true, 403: true, 401: false} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }))
		_, err := e.remote.post(context.Background(), target{h: provider.Handler{URL: srv.URL}}, "k", []byte(`{}`))
		srv.Close()
		if err == nil || runtime.IsPermanent(err) != permanent {
			t.Errorf("HTTP %d: %v, permanent %v, want %v", code, err, runtime.IsPermanent(err), permanent)
		}
	}
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(make([]byte, MaxProviderResponse+1))
	}))
	defer big.Close()
	if _, err := e.remote.post(context.Background(), target{h: provider.Handler{URL: big.URL}}, "k", []byte(`{}`)); !runtime.IsPermanent(err) {
		t.Errorf("an oversized answer: %v, want permanent", err)
	}
	_, err := e.remote.post(context.Background(), target{h: provider.Handler{URL: "http://127.0.0.1:1/nothing"}}, "k", []byte(`{}`))
	if err == nil || runtime.IsPermanent(err) || errors.Is(err, errProviderRedirect) {
		t.Errorf("connection refused: %v, want retryable", err)
	}
}

// ProviderOptions are checked when the engine is built: a bad allow-list
// entry or lease bounds that cannot hold are errors of New; a MaxTTL below
// the default TTL lowers the default.
func TestProviderOptionsChecked(t *testing.T) {
	fx := newFixture(t)
	for _, tc := range []struct {
		opts ProviderOptions
		want string
	}{
		{ProviderOptions{Allow: []string{"https://u@h/"}}, "allow-list entry"},
		{ProviderOptions{MaxTTL: MinProviderTTL / 2}, "must be at least 1s"},
		{ProviderOptions{DefaultTTL: time.Minute, MaxTTL: 30 * time.Second}, "DefaultTTL at most MaxTTL"},
		{ProviderOptions{DefaultTTL: time.Millisecond}, "must be at least 1s"},
	} {
		_, err := New(Options{Store: fx.st, Broker: fx.broker, Caller: fx.caller, Providers: &tc.opts})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: New: %v, want %q", tc.opts, err, tc.want)
		}
	}
	e, err := New(Options{Store: fx.st, Broker: fx.broker, Caller: fx.caller, Providers: &ProviderOptions{MaxTTL: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := e.RegisterProvider("p", provider.Registration{Handlers: []provider.Handler{{Name: "X", URL: "http://127.0.0.1:9/x"}}})
	if err != nil || l.TTL != "5s" {
		t.Fatalf("a registration without a TTL under MaxTTL 5s: %+v %v", l, err)
	}
}

// GET /flows/{flow}?handlers=true: the definition, the document GET
// /flows/{flow} gives (compacted) and PUT /flows takes back unchanged, beside who
// serves each Go step and rollback, which follows the leases.
func TestGetFlowWithHandlers(t *testing.T) {
	_, e, srv := remoteFixture(t, ProviderOptions{})
	get := func(path string) (int, string) {
		t.Helper()
		status, _, body := send(t, srv, "GET", path, "", "", "")
		return status, body
	}
	status, plain := get("/flows/Bill")
	if status != 200 {
		t.Fatalf("GET /flows/Bill: %d %s", status, plain)
	}
	if status, body := get("/flows/Bill?handlers=false"); status != 200 || body != plain {
		t.Errorf("handlers=false: %d %s, want the definition", status, body)
	}
	if status, body := get("/flows/Bill?handlers=maybe"); status != 400 || !strings.Contains(body, "want true or false") {
		t.Errorf("handlers=maybe: %d %s, want 400", status, body)
	}
	if status, body := get("/flows/Nope?handlers=true"); status != 404 {
		t.Errorf("an unknown flow: %d %s, want 404", status, body)
	}
	read := func() FlowWithHandlers {
		t.Helper()
		status, body := get("/flows/Bill?handlers=1")
		var fw FlowWithHandlers
		dec := json.NewDecoder(strings.NewReader(body))
		dec.DisallowUnknownFields()
		if status != 200 || dec.Decode(&fw) != nil {
			t.Fatalf("GET /flows/Bill?handlers=1: %d %s", status, body)
		}
		return fw
	}
	fw := read()
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(plain)); err != nil {
		t.Fatal(err)
	}
	if fw.Flow != "Bill" || string(fw.Definition) != compact.String() {
		t.Errorf("definition %s, want the one of GET /flows/Bill: %s", fw.Definition, plain)
	}
	summary := func(hs []HandlerInfo) string {
		var out []string
		for _, h := range hs {
			s := fmt.Sprintf("%s rollback=%v outcomes=%v provided=%v", h.Name, h.Rollback, h.Outcomes, h.Provided)
			for _, p := range h.Providers {
				s += fmt.Sprintf(" by %s as %s", p.Provider, p.Handler)
			}
			out = append(out, s)
		}
		return strings.Join(out, "; ")
	}
	if got, want := summary(fw.Handlers), "Reserve rollback=false outcomes=[] provided=false; Release rollback=true outcomes=[] provided=false; Check rollback=false outcomes=[declined] provided=false"; got != want {
		t.Errorf("before any provider:\n got %s\nwant %s", got, want)
	}
	if status, out := putProvider(t, srv, "billing", `{"handlers": [{"name": "Bill.Check", "outcomes": ["declined"], "url": "http://127.0.0.1:9/c"}, {"name": "Release", "rollback": true, "subject": "x"}]}`); status != 400 {
		t.Fatalf("a subject without NATS: %d %s", status, out)
	}
	if status, out := putProvider(t, srv, "billing", `{"handlers": [{"name": "Bill.Check", "outcomes": ["declined"], "url": "http://127.0.0.1:9/c"}, {"name": "Release", "rollback": true, "url": "http://127.0.0.1:9/r"}]}`); status != 200 {
		t.Fatalf("register: %d %s", status, out)
	}
	fw = read()
	if got, want := summary(fw.Handlers), "Reserve rollback=false outcomes=[] provided=false; Release rollback=true outcomes=[] provided=true by billing as Release; Check rollback=false outcomes=[declined] provided=true by billing as Bill.Check"; got != want {
		t.Errorf("after a registration:\n got %s\nwant %s", got, want)
	}
	// The definition goes back through PUT /flows as it is: nothing changes.
	before, _ := e.FlowJSON("Bill")
	if status, _, body := send(t, srv, "PUT", "/flows", "", "application/json", string(fw.Definition)); status != 200 {
		t.Fatalf("PUT /flows with the definition: %d %s", status, body)
	}
	if after, _ := e.FlowJSON("Bill"); string(after) != string(before) {
		t.Errorf("the definition changed on its way back:\n%s\n%s", before, after)
	}
	// A flow with in-process handlers.
	_, body := get("/flows/Signup?handlers=true")
	if !strings.Contains(body, `{"name":"Activate","in_process":true,"providers":[],"provided":true}`) {
		t.Errorf("Signup: %s", body)
	}
	if status, _, body := send(t, srv, "DELETE", "/providers/billing", "", "", ""); status != 204 {
		t.Fatalf("withdraw: %d %s", status, body)
	}
	if got := summary(read().Handlers); strings.Contains(got, "provided=true") {
		t.Errorf("after the lease was withdrawn: %s", got)
	}
}

// An attempt that finds no live provider waits for one within 9/10 of the
// time it has left, then fails with ErrNoProvider (what its history
// records), not with its timeout; a provider that registers meanwhile ends
// the wait at once.
func TestProviderAwaitWithinAttempt(t *testing.T) {
	// The engine's clock is fake, so that the wait ends when the test says:
	// with a deadline of 2 s on the wall clock, the wait's 1.8 s ended, but
	// under load the deadline had passed too when the test looked.
	clock := runtime.NewFakeClock(time.Now())
	fx := newFixture(t)
	fx.clock = clock
	fx.remote = &ProviderOptions{Wait: time.Hour}
	_, e, _ := startRemote(t, fx)
	k := handlerKey{flow: "Bill", name: "Release", rollback: true}
	// The attempt has 2 minutes left (on the wall clock, a hang guard): the
	// fake clock passes 9/10 of them, not all.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	timers := clock.Pending()
	awaited := make(chan error, 1)
	go func() { _, err := e.remote.await(ctx, k, nil); awaited <- err }()
	clock.BlockUntil(timers + 1)
	clock.Advance(2*time.Minute*9/10 + 6*time.Second)
	err := <-awaited
	if !errors.Is(err, ErrNoProvider) || runtime.IsPermanent(err) || ctx.Err() != nil {
		t.Fatalf("await: %v (ctx %v), want a retryable ErrNoProvider before the attempt's deadline", err, ctx.Err())
	}
	got := make(chan error, 1)
	go func() {
		tg, err := e.remote.await(context.Background(), k, nil)
		if err == nil && tg.provider != "late" {
			err = fmt.Errorf("served by %q", tg.provider)
		}
		got <- err
	}()
	if _, err := e.RegisterProvider("late", provider.Registration{Handlers: []provider.Handler{{Name: "Release", Rollback: true, URL: "http://127.0.0.1:9/r"}}}); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("a wait when a provider registers: %v", err)
	}
}

// stubTransport is a NATS transport whose provider is a function.
type stubTransport struct {
	answer func(subject string, req provider.Request) []byte
	reqs   chan provider.Request
	// fail, if set, is the transport's error for req (nil: answer it).
	fail func(req provider.Request) error
}

func (s stubTransport) CallProvider(ctx context.Context, subject string, body []byte) ([]byte, error) {
	var req provider.Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, err
	}
	select {
	case s.reqs <- req:
	default:
	}
	if s.fail != nil {
		if err := s.fail(req); err != nil {
			return nil, err
		}
	}
	return s.answer(subject, req), nil
}

// Subjects are checked (no wildcards, no empty token); the engine sends
// the documented request (state, key, attempt, deadline) and decodes the
// answer strictly: what is not a provider response (a JetStream
// acknowledgement, an object followed by something else, null), a permanent error or an outcome the step does not
// declare fail the step without retries; a retryable error is retried.
func TestProviderCallOverTransport(t *testing.T) {
	answers := map[string]string{}
	tr := stubTransport{reqs: make(chan provider.Request, 64), answer: func(subject string, req provider.Request) []byte {
		var st struct{ Mode string }
		_ = json.Unmarshal(req.State, &st)
		if req.Handler == "Release" {
			return []byte(`{}`)
		}
		if a, ok := answers[st.Mode]; ok {
			if st.Mode == "flaky" && req.Attempt == 2 {
				return []byte(`{"state": {"Mode": "flaky", "Reserved": 2}}`)
			}
			return []byte(a)
		}
		return []byte(`{"state": {"Mode": "` + st.Mode + `", "Reserved": true}, "outcome": "ok"}`)
	}}
	answers["ack"] = `{"stream": "flowgen", "seq": 7}`
	answers["trailing"] = `{"outcome": "ok"} <html>a proxy's page</html>`
	// null decodes into a struct as nothing at all: a handler that
	// returned nothing (Python's None, a nil pointer) is no success.
	answers["null"] = ` null `
	// The engine's own outcomes are none of the step's: "retry" would
	// record a retry without an error (a history no resume reads), and
	// "error" or "timeout" route a failure that never happened. The run
	// fails the step, as for an in-process handler's.
	for _, o := range []string{"retry", "error", "timeout"} {
		answers["outcome-"+o] = `{"outcome": "` + o + `"}`
	}
	answers["permanent"] = `{"error": {"message": "invoice gone", "class": "permanent"}}`
	answers["flaky"] = `{"error": {"message": "ledger busy"}}`
	answers["outcome"] = `{"outcome": "lost"}`
	answers["class"] = `{"error": {"message": "m", "class": "sometimes"}}`
	answers["nomessage"] = `{"error": {"class": "permanent"}}`
	// A request the transport can never carry (over NATS max_payload) is
	// not sent again; one it could not send this time is.
	tr.fail = func(req provider.Request) error {
		switch {
		case strings.Contains(string(req.State), `"Mode":"toolarge"`):
			return provider.Permanent(errors.New("the request is larger than max_payload"))
		case strings.Contains(string(req.State), `"Mode":"unsent"`) && req.Attempt == 1:
			return errors.New("connection lost")
		}
		return nil
	}
	_, e, srv := remoteFixture(t, ProviderOptions{NATS: tr})
	for _, bad := range []string{"a.*", "a.>", "a..b", ".a", "a.", "a b", strings.Repeat("s", MaxProviderSubject+1)} {
		if status, out := putProvider(t, srv, "billing", `{"handlers": [{"name": "Reserve", "subject": "`+bad+`"}]}`); status != 400 || !strings.Contains(out, "is not a NATS subject") {
			t.Errorf("subject %q: %d %s", bad, status, out)
		}
	}
	// A subject outside the providers' would make the engine publish a
	// run's state anywhere its NATS connection may: an event into the
	// broker's stream, a request to the JetStream API.
	for _, bad := range []string{"flowgen.payments.succeeded", "$JS.API.STREAM.PURGE.FLOWGEN", "billing.step.Reserve", "flowgen_provider", "flowgen_providerx.a"} {
		if status, out := putProvider(t, srv, "billing", `{"handlers": [{"name": "Reserve", "subject": "`+bad+`"}]}`); status != 400 || !strings.Contains(out, `is not under "flowgen_provider."`) {
			t.Errorf("subject %q: %d %s", bad, status, out)
		}
	}
	if status, out := putProvider(t, srv, "billing", `{"handlers": [
		{"name": "Reserve", "subject": "flowgen_provider.billing.step.Reserve"},
		{"name": "Release", "rollback": true, "subject": "flowgen_provider.billing.rollback.Release"},
		{"name": "Check", "outcomes": ["declined"], "subject": "flowgen_provider.billing.step.Check"}]}`); status != 200 {
		t.Fatalf("register: %d %s", status, out)
	}
	run := func(mode string) (string, RunStatus, []runtime.Event) {
		t.Helper()
		id, err := e.StartRun(context.Background(), "Bill", json.RawMessage(`{"Mode": "`+mode+`"}`), "")
		if err != nil {
			t.Fatal(err)
		}
		var st RunStatus
		waitFor(t, mode+" run to end", func() bool {
			st, _ = e.Status(context.Background(), id)
			return st.State.Terminal()
		})
		h, _ := e.History(context.Background(), id)
		return id, st, h
	}
	reserveAttempts := func(h []runtime.Event) (n int, last string) {
		for _, ev := range h {
			if ev.From == "Reserve:running" {
				n++
				last = ev.Error
			}
		}
		return n, last
	}

	id, st, _ := run("ok")
	if st.State != runtime.StateDone || !strings.Contains(string(st.Snapshot), `"Reserved":true`) {
		t.Errorf("ok: %s %s", st.State, st.Snapshot)
	}
	for len(tr.reqs) > 0 {
		req := <-tr.reqs
		if req.Version != provider.Version || req.RunID != id || req.Flow != "Bill" || req.Attempt != 1 || req.Deadline == nil ||
			!strings.HasPrefix(req.IdempotencyKey, id+"/") || !strings.Contains(string(req.State), `"Mode":"ok"`) {
			t.Errorf("request %+v", req)
		}
	}
	for _, tc := range []struct{ mode, err string }{
		{"ack", "the answer is not a provider response"},
		{"trailing", "the answer is not a provider response"},
		{"null", "the answer is not a provider response"},
		{"outcome-retry", `runtime: unknown outcome "retry"`},
		{"outcome-error", `runtime: unknown outcome "error"`},
		{"outcome-timeout", `runtime: unknown outcome "timeout"`},
		{"permanent", "invoice gone"},
		{"class", `error class "sometimes"`},
		{"nomessage", `handler "Reserve": an error without a message`},
		{"toolarge", "larger than max_payload"},
	} {
		_, st, h := run(tc.mode)
		if n, last := reserveAttempts(h); st.State != runtime.StateFailed || n != 1 || !strings.Contains(last, tc.err) {
			t.Errorf("%s: %s after %d attempts (%q), want failed after 1 with %q", tc.mode, st.State, n, last, tc.err)
		}
	}
	_, st, h := run("flaky")
	if n, _ := reserveAttempts(h); st.State != runtime.StateDone || n != 2 || !strings.Contains(string(st.Snapshot), `"Reserved":2`) {
		t.Errorf("flaky: %s after %d attempts, %s; want done after 2 with the second answer's state", st.State, n, st.Snapshot)
	}
	_, st, h = run("unsent")
	if n, _ := reserveAttempts(h); st.State != runtime.StateDone || n != 2 {
		t.Errorf("unsent: %s after %d attempts, want done after 2 (a transport error is retried)", st.State, n)
	}
	_, st, h = run("outcome")
	if st.State != runtime.StateFailed {
		t.Errorf("an undeclared outcome: %s, want failed; history %+v", st.State, h)
	}
}

// A flow loaded after a provider registered other outcomes for its Go
// step loads, with a warning naming the provider; the provider does not
// serve it (GET /flows/{flow}?handlers=true shows the mismatch).
func TestProviderOutcomesOfAFlowLoadedLater(t *testing.T) {
	_, e, srv := remoteFixture(t, ProviderOptions{})
	if status, out := putProvider(t, srv, "billing", `{"handlers": [{"name": "Check", "outcomes": ["declined"], "url": "http://127.0.0.1:9/c"}]}`); status != 200 {
		t.Fatalf("register: %d %s", status, out)
	}
	const audit = `{"version": 1, "flows": [{"name": "Audit", "triggers": [{"kind": "rpc", "endpoint": "Audit.Start"}],
	  "steps": [{"name": "Check", "action": {"kind": "go"}, "irreversible": true}]}]}`
	ds, err := e.LoadFlows("audit.json", []byte(audit))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if got := fmt.Sprint(ds); !strings.Contains(got, `provider "billing" serves "Check" with outcomes ["declined"], but Go step "Check" of flow "Audit" declares none (ok only)`) ||
		!strings.Contains(got, `no provider serves Go step "Check" of flow "Audit" yet`) {
		t.Errorf("warnings: %s", got)
	}
	hs, err := e.FlowHandlers("Audit")
	if err != nil || len(hs) != 1 || hs[0].Provided || len(hs[0].Providers) != 1 || fmt.Sprint(hs[0].Providers[0].Mismatch) != "[declined]" {
		t.Errorf("handlers of Audit: %+v %v", hs, err)
	}
}

// A Go rollback with no live provider waits for one in the step's
// rollback state, recorded and parked: no attempt fails meanwhile, the run
// holds no goroutine and no slot of the runs in flight, and the provider's
// registration runs the rollback, which completes the compensation.
func TestRemoteRollbackWaitsParked(t *testing.T) {
	tr := stubTransport{reqs: make(chan provider.Request, 64), answer: func(_ string, req provider.Request) []byte {
		if req.Handler == "Check" {
			return []byte(`{"outcome": "declined"}`)
		}
		return []byte(`{}`)
	}}
	_, e, srv := remoteFixture(t, ProviderOptions{NATS: tr})
	steps := `{"name": "Reserve", "subject": "flowgen_provider.billing.step.Reserve"}, {"name": "Check", "outcomes": ["declined"], "subject": "flowgen_provider.billing.step.Check"}`
	if status, out := putProvider(t, srv, "billing", `{"handlers": [`+steps+`]}`); status != 200 {
		t.Fatalf("register the steps: %d %s", status, out)
	}
	id, err := e.StartRun(context.Background(), "Bill", json.RawMessage(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rollback parked, waiting for its provider", func() bool {
		st, err := e.Status(context.Background(), id)
		return err == nil && st.Machine == "Reserve:rollback" && st.Wait != nil && e.Stats().Waiting == 1 && e.Stats().Running == 0
	})
	st, _ := e.Status(context.Background(), id)
	if st.State != runtime.StateRollingBack || st.Wait.Topic != ProviderRollbackTopic || st.Wait.Event != "Release" || !st.Wait.Deadline.IsZero() {
		t.Fatalf("status while the rollback waits: %s, wait %+v", st.State, st.Wait)
	}
	h, _ := e.History(context.Background(), id)
	for _, ev := range h {
		if ev.From == "Reserve:rollback" {
			t.Fatalf("an attempt of the rollback ended while no provider serves it: %+v", ev)
		}
	}
	if status, out := putProvider(t, srv, "billing", `{"handlers": [`+steps+`, {"name": "Release", "rollback": true, "subject": "flowgen_provider.billing.rollback.Release"}]}`); status != 200 {
		t.Fatalf("register the rollback: %d %s", status, out)
	}
	waitFor(t, "the run compensated", func() bool {
		st, err := e.Status(context.Background(), id)
		return err == nil && st.State == runtime.StateCompensated
	})
	// The provider's coming is recorded before the call: the status shows
	// no wait while the provider works.
	h, _ = e.History(context.Background(), id)
	gates := 0
	for _, ev := range h {
		if ev.From == "Reserve:rollback" && ev.To == ev.From {
			gates++
			if ev.Outcome != "" || ev.Wait != nil || string(ev.Payload) != `{"provider":"billing"}` {
				t.Errorf("the event recording the provider: %+v", ev)
			}
		}
	}
	if gates != 1 {
		t.Errorf("%d events record the provider's coming, want 1", gates)
	}
	var handlers []string
	for len(tr.reqs) > 0 {
		req := <-tr.reqs
		handlers = append(handlers, req.Handler)
		if req.Handler == "Release" && (req.Attempt != 1 || req.IdempotencyKey != id+"/Reserve/rollback") {
			t.Errorf("Release called with attempt %d, key %q", req.Attempt, req.IdempotencyKey)
		}
	}
	if got := strings.Join(handlers, " "); got != "Reserve Check Release" {
		t.Errorf("provider calls %q", got)
	}
}

// An in-process handler registered while runs wait for a provider of it
// serves them: the step's wait and the rollback's end at once.
func TestInProcessHandlerEndsProviderWaits(t *testing.T) {
	tr := stubTransport{reqs: make(chan provider.Request, 64), answer: func(string, provider.Request) []byte {
		return []byte(`{"outcome": "declined"}`)
	}}
	_, e, srv := remoteFixture(t, ProviderOptions{NATS: tr})
	if status, out := putProvider(t, srv, "billing", `{"handlers": [{"name": "Check", "outcomes": ["declined"], "subject": "flowgen_provider.billing.step.Check"}]}`); status != 200 {
		t.Fatalf("register Check: %d %s", status, out)
	}
	id, err := e.StartRun(context.Background(), "Bill", json.RawMessage(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waits := func(machine, topic string) func() bool {
		return func() bool {
			st, err := e.Status(context.Background(), id)
			return err == nil && st.Machine == machine && st.Wait != nil && st.Wait.Topic == topic && e.Stats().Waiting == 1
		}
	}
	waitFor(t, "Reserve waiting for a provider", waits("Reserve:waiting", ProviderTopic))
	e.Registry().Step("Bill.Reserve", func(context.Context, *State) (runtime.Outcome, error) { return "", nil })
	waitFor(t, "Release waiting for a provider", waits("Reserve:rollback", ProviderRollbackTopic))
	released := make(chan string, 1)
	e.Registry().Rollback("Bill.Release", func(ctx context.Context, _ *State) error {
		released <- runtime.IdempotencyKey(ctx)
		return nil
	})
	waitFor(t, "the run compensated", func() bool {
		st, err := e.Status(context.Background(), id)
		return err == nil && st.State == runtime.StateCompensated
	})
	if key := <-released; key != id+"/Reserve/rollback" {
		t.Errorf("Release ran under key %q", key)
	}
}

// The calls of a handler that two providers serve go to them in turn,
// though each step asks first whether it is served (its provider wait):
// asking takes no turn.
func TestProviderCallsSpread(t *testing.T) {
	_, e, srv := remoteFixture(t, ProviderOptions{})
	// Each handler's calls go to the providers in turn, whatever the
	// calls of other handlers in between: a run calls Reserve then Check,
	// and one turn shared by both would send every Reserve to one
	// provider and every Check to the other.
	var mu sync.Mutex
	calls := map[string]int{} // provider and path
	for _, name := range []string{"billing-a", "billing-b"} {
		p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			calls[name+r.URL.Path]++
			mu.Unlock()
			_, _ = w.Write([]byte(`{}`))
		}))
		t.Cleanup(p.Close)
		if status, out := putProvider(t, srv, name, billingReg(p.URL, "1m")); status != http.StatusOK {
			t.Fatalf("register %s: %d %s", name, status, out)
		}
	}
	for range 4 {
		runBill(t, e, 20*time.Second)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, k := range []string{"billing-a/r", "billing-a/c", "billing-b/r", "billing-b/c"} {
		if calls[k] != 2 {
			t.Errorf("calls %v; want 2 of each handler to each provider", calls)
			break
		}
	}
}

// runBill starts a run of the Bill flow, waits, at most within, until it
// is done, and returns its ID.
func runBill(t *testing.T, e *Engine, within time.Duration) string {
	t.Helper()
	id, err := e.StartRun(context.Background(), "Bill", json.RawMessage(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(within)
	for {
		st, _ := e.Status(context.Background(), id)
		if st.State == runtime.StateDone {
			return id
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s is %s after %v, want done (wait %+v)", id, st.State, within, st.Wait)
		}
		time.Sleep(time.Millisecond)
	}
}

// A provider's answer whose state nests deeper than MaxJSONDepth fails
// the attempt for good, as a start or an event that deep is refused: the
// run could not record such a state later.
func TestProviderStateTooDeep(t *testing.T) {
	deep := strings.Repeat(`{"a":`, MaxJSONDepth+1) + "1" + strings.Repeat("}", MaxJSONDepth+1)
	prov := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"state": {"Nest": ` + deep + `}}`))
	}))
	defer prov.Close()
	st, h := runReserveAt(t, prov.URL+"/r")
	attempts := 0
	for _, ev := range h {
		if ev.Step == "Reserve" && strings.Contains(ev.Error, "nested more than 1000 levels deep") {
			attempts++
		}
	}
	if st.State == runtime.StateDone || attempts != 1 {
		t.Fatalf("run %s, %d attempts failing on the depth (want 1, permanent); history %+v", st.State, attempts, h)
	}
}

// A provider's answer whose state is not UTF-8, or holds a number out of
// a float64's range, fails the attempt for good, as one too deep does:
// GET /runs/{id} would give the bytes back, and whatever decodes the
// number later would fail.
func TestProviderStateUnfit(t *testing.T) {
	for _, c := range []struct{ state, says string }{
		{"{\"Note\": \"\xff\"}", "state: invalid UTF-8 at byte offset 10"},
		{`{"Amount": 1e999}`, "state: the number 1e999 at byte offset 11 is out of the range of a float64"},
	} {
		reserveFailsOnce(t, `{"state": `+c.state+`}`, c.says)
	}
}

// reserveFailsOnce runs flow Bill with Reserve served by a provider that
// answers answer, and checks that it fails the attempt for good: one
// failed attempt, its error saying says, and the run not done.
func reserveFailsOnce(t *testing.T, answer, says string) {
	t.Helper()
	prov := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(answer))
	}))
	defer prov.Close()
	st, h := runReserveAt(t, prov.URL+"/r")
	attempts := 0
	for _, ev := range h {
		if ev.Step == "Reserve" && strings.Contains(ev.Error, says) {
			attempts++
		}
	}
	if st.State == runtime.StateDone || attempts != 1 {
		t.Errorf("answer %q: run %s, %d attempts failing with %q (want 1, permanent); history %+v", answer, st.State, attempts, says, h)
	}
}

// runReserveAt runs flow Bill with its Go step Reserve served by a
// provider at callback, to its end: its status and history.
func runReserveAt(t *testing.T, callback string) (RunStatus, []runtime.Event) {
	t.Helper()
	_, e, srv := remoteFixture(t, ProviderOptions{})
	if status, out := putProvider(t, srv, "billing", `{"handlers": [{"name": "Reserve", "url": "`+callback+`"}]}`); status != 200 {
		t.Fatalf("register: %d %s", status, out)
	}
	st := runToEnd(t, e, "Bill")
	h, _ := e.History(context.Background(), st.RunID)
	return st, h
}

// runToEnd starts a run of flow with an empty state and waits until it
// ends: its status.
func runToEnd(t *testing.T, e *Engine, flow string) RunStatus {
	t.Helper()
	id, err := e.StartRun(context.Background(), flow, json.RawMessage(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	var st RunStatus
	waitFor(t, "the run to end", func() bool {
		st, _ = e.Status(context.Background(), id)
		return st.State.Terminal()
	})
	return st
}

// A registration that names a member in another case ("Handlers") is
// refused and registers nothing, as an unknown member is: the protocol's
// names are case-sensitive, where encoding/json alone would match them.
func TestRegistrationNamesExact(t *testing.T) {
	_, e, srv := remoteFixture(t, ProviderOptions{})
	for _, body := range []string{
		`{"Handlers": [{"name": "Reserve", "url": "http://127.0.0.1:1/r"}]}`,
		`{"handlers": [{"Name": "Reserve", "url": "http://127.0.0.1:1/r"}]}`,
		`{"handlers": [{"name": "Reserve", "url": "http://127.0.0.1:1/r"}], "handlers": []}`,
	} {
		if status, out := putProvider(t, srv, "billing", body); status != 400 || !strings.Contains(out, "member") {
			t.Errorf("register %s: %d %s, want 400 naming the member", body, status, out)
		}
	}
	if ls := e.Providers(); len(ls) != 0 {
		t.Errorf("the refused registrations left leases: %+v", ls)
	}
}

// A registration with a value of the wrong JSON type is a 400 that names
// the member by its JSON path and says what it should be, which a
// provider in any language can act on, not encoding/json's Go struct
// field and type ("Go struct field Registration.ttl of type string").
func TestRegistrationTypeErrorsNameJSON(t *testing.T) {
	_, e, srv := remoteFixture(t, ProviderOptions{})
	for body, want := range map[string]string{
		`{"ttl": 30, "handlers": [{"name": "Reserve", "url": "http://127.0.0.1:1/r"}]}`:                                 `ttl: expected string, found number`,
		`{"handlers": [{"name": "Reserve", "url": "http://127.0.0.1:1/r"}, {"name": "Check", "outcomes": "declined"}]}`: `handlers[1].outcomes: expected array, found string`,
		`{"handlers": [{"name": "Release", "rollback": 1, "url": "http://127.0.0.1:1/r"}]}`:                             `handlers[0].rollback: expected boolean, found number`,
	} {
		status, out := putProvider(t, srv, "billing", body)
		if status != 400 || !strings.Contains(out, want) || strings.Contains(out, "Go ") || strings.Contains(out, "provider.") {
			t.Errorf("register %s: %d %s, want 400 with %q", body, status, out, want)
		}
	}
	if ls := e.Providers(); len(ls) != 0 {
		t.Errorf("the refused registrations left leases: %+v", ls)
	}
}
