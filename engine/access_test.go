package engine

import (
	"bufio"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine/provider"
)

const (
	adminToken    = "admin-0123456789abcdef"
	clientToken   = "client-0123456789abcdef"
	providerToken = "provider-0123456789abcdef"
	metricsToken  = "metrics-0123456789abcdef"
	viewerToken   = "viewer-0123456789abcdef"
)

// writeTokens writes a token file and returns its path.
func writeTokens(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func newTokenAuth(t *testing.T, src string) *TokenAuth {
	t.Helper()
	a, err := NewTokenAuth(writeTokens(t, src))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// send makes a request with a bearer token (none if "") and a
// Content-Type (none if "") and headers (name, value, ...), and returns
// the status, the headers and the body.
func send(t *testing.T, srv *httptest.Server, method, path, token, contentType, body string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 { // name, value, ...
		req.Header.Add(header[i], header[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("Content-Type") == "text/event-stream" {
		return res.StatusCode, res.Header, "" // GET /watch: a stream that does not end
	}
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// apiRequest is a request that a route answers with a 2xx when it is let
// through.
type apiRequest struct{ method, path, body string }

// exampleRequests returns, for every route of the API, a request it
// answers with a 2xx on the signup fixture. A route without one fails
// TestEveryRouteNeedsItsRole.
func exampleRequests(t *testing.T, e *Engine) map[string]func() apiRequest {
	run := func() string {
		id, err := e.StartRun(context.Background(), "Signup", json.RawMessage(`{"Customer":{"Email":"ann"}}`), "")
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	existing := run()
	flows := string(readTestdata(t, "signup.json"))
	const registration = `{"ttl": "1m", "handlers": [{"name": "Signup.Activate", "url": "http://127.0.0.1:9/step/Signup.Activate"}]}`
	var puts int64
	register := func() {
		var reg provider.Registration
		_ = json.Unmarshal([]byte(registration), &reg)
		if _, err := e.RegisterProvider("billing", reg); err != nil {
			t.Fatal(err)
		}
	}
	return map[string]func() apiRequest{
		"POST /flows/{flow}/runs": func() apiRequest { return apiRequest{"POST", "/flows/Signup/runs", `{"Customer":{"Email":"bob"}}`} },
		"POST /rpc/{endpoint}":    func() apiRequest { return apiRequest{"POST", "/rpc/Signup.Start", `{"Customer":{"Email":"eve"}}`} },
		"GET /runs/{id}":          func() apiRequest { return apiRequest{"GET", "/runs/" + existing, ""} },
		"GET /runs/{id}/history":  func() apiRequest { return apiRequest{"GET", "/runs/" + existing + "/history", ""} },
		"GET /runs/{id}/children": func() apiRequest { return apiRequest{"GET", "/runs/" + existing + "/children", ""} },
		"GET /runs":               func() apiRequest { return apiRequest{"GET", "/runs?flow=Signup", ""} },
		"POST /runs/{id}/abort":   func() apiRequest { return apiRequest{"POST", "/runs/" + run() + "/abort", ""} },
		"PUT /flows":              func() apiRequest { return apiRequest{"PUT", "/flows", flows} },
		"POST /flows":             func() apiRequest { return apiRequest{"POST", "/flows", flows} },
		"GET /flows":              func() apiRequest { return apiRequest{"GET", "/flows", ""} },
		"GET /flows/{flow}":       func() apiRequest { return apiRequest{"GET", "/flows/Signup", ""} },
		"POST /events/{topic}/{event}": func() apiRequest {
			return apiRequest{"POST", "/events/payments/payment.succeeded", `{"correlation_id":"nobody-yet"}`}
		},
		"GET /deadletters": func() apiRequest { return apiRequest{"GET", "/deadletters", ""} },
		"GET /metrics":     func() apiRequest { return apiRequest{"GET", "/metrics", ""} },
		// A name of its own each time: a live lease is its registrant's.
		"PUT /providers/{name}": func() apiRequest {
			puts++
			return apiRequest{"PUT", "/providers/billing-" + itoa(puts), registration}
		},
		"POST /providers/{name}/renew": func() apiRequest { register(); return apiRequest{"POST", "/providers/billing/renew", ""} },
		"DELETE /providers/{name}":     func() apiRequest { register(); return apiRequest{"DELETE", "/providers/billing", ""} },
		"GET /providers":               func() apiRequest { return apiRequest{"GET", "/providers", ""} },
		"GET /flows/{flow}/handlers":   func() apiRequest { return apiRequest{"GET", "/flows/Signup/handlers", ""} },
		"GET /ui/":                     func() apiRequest { return apiRequest{"GET", "/ui/", ""} },
		"GET /ui":                      func() apiRequest { return apiRequest{"GET", "/ui", ""} },
		"GET /session":                 func() apiRequest { return apiRequest{"GET", "/session", ""} },
		"GET /watch":                   func() apiRequest { return apiRequest{"GET", "/watch?run=" + existing, ""} },
		"GET /flows/{flow}/diagram":    func() apiRequest { return apiRequest{"GET", "/flows/Signup/diagram", ""} },
		"GET /runs/{id}/diagram":       func() apiRequest { return apiRequest{"GET", "/runs/" + existing + "/diagram", ""} },
	}
}

// serveEveryRoute serves, until the test ends, an engine that answers
// every route of the table (telemetry and remote providers on), behind a
// token of each role, and returns the example requests of its routes.
func serveEveryRoute(t *testing.T) (*httptest.Server, map[string]func() apiRequest) {
	fx := newFixture(t)
	fx.auth = newTokenAuth(t, "admin "+adminToken+"\nclient "+clientToken+"\nprovider "+providerToken+"\nmetrics "+metricsToken+"\nviewer "+viewerToken+"\n")
	fx.tel = &stubTelemetry{}
	fx.remote = &ProviderOptions{}
	e := fx.start()
	t.Cleanup(fx.stop)
	return httptestServer(t, e), exampleRequests(t, e)
}

// Every route of the one table, with every kind of caller: no token or a
// wrong one is 401 with a Bearer challenge, a client on an admin route is
// 403, and an allowed role gets through to the handler (2xx).
func TestEveryRouteNeedsItsRole(t *testing.T) {
	srv, examples := serveEveryRoute(t)
	callers := []struct {
		name, token string
		role        Role
	}{
		{"no token", "", ""},
		{"unknown token", "not-a-token-0123456789", ""},
		{"client", clientToken, RoleClient},
		{"admin", adminToken, RoleAdmin},
		{"provider", providerToken, RoleProvider},
		{"metrics", metricsToken, RoleMetrics},
		{"viewer", viewerToken, RoleViewer},
	}
	if len(Routes()) != len(examples) {
		t.Errorf("%d routes, %d example requests", len(Routes()), len(examples))
	}
	for _, rt := range Routes() {
		example, ok := examples[rt.Pattern]
		if !ok {
			t.Errorf("route %s has no example request: add one to exampleRequests", rt.Pattern)
			continue
		}
		for _, c := range callers {
			req := example()
			status, h, body := send(t, srv, req.method, req.path, c.token, "application/json", req.body)
			what := fmt.Sprintf("%s (needs %s) as %s: %d %s", rt.Pattern, rt.Need, c.name, status, body)
			switch {
			case rt.Need == RolePublic:
				if status < 200 || status > 299 {
					t.Errorf("%s; want 2xx: a public route needs no token", what)
				}
			case c.role == "":
				if status != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s, WWW-Authenticate %q; want 401 with a Bearer challenge", what, h.Get("WWW-Authenticate"))
				}
			case !c.role.Allows(rt.Need):
				if status != http.StatusForbidden || !strings.Contains(body, "needs the "+string(rt.Need)+" role") {
					t.Errorf("%s; want 403", what)
				}
			default:
				if status < 200 || status > 299 {
					t.Errorf("%s; want 2xx", what)
				}
			}
		}
	}
	// The table's roles are those of the issue: a client may start runs
	// and post events; a viewer (and so a client) read runs and flows; a
	// scraper's token the metrics alone; defining flows, aborting runs
	// and reading dead letters are the admin's, and so is reading the
	// providers' leases (their callback URLs are addresses in the
	// operator's network); registering providers is the provider's (and
	// the admin's: Allows).
	for _, rt := range Routes() {
		if public := strings.HasPrefix(rt.Pattern, "GET /ui"); public != (rt.Need == RolePublic) {
			t.Errorf("%s needs %s: only the web view's files are public", rt.Pattern, rt.Need)
		}
		admin := rt.Pattern == "PUT /flows" || rt.Pattern == "POST /flows" || strings.HasSuffix(rt.Pattern, "/abort") || rt.Pattern == "GET /deadletters" || rt.Pattern == "GET /providers"
		prov := strings.HasPrefix(rt.Pattern, "PUT /providers/") || strings.HasPrefix(rt.Pattern, "POST /providers/") || strings.HasPrefix(rt.Pattern, "DELETE /providers/")
		metrics := rt.Pattern == "GET /metrics"
		client := rt.Pattern == "POST /flows/{flow}/runs" || rt.Pattern == "POST /rpc/{endpoint}" || rt.Pattern == "POST /events/{topic}/{event}"
		viewer := strings.HasPrefix(rt.Pattern, "GET /") && !admin && !metrics && rt.Need != RolePublic
		if admin != (rt.Need == RoleAdmin) || prov != (rt.Need == RoleProvider) || metrics != (rt.Need == RoleMetrics) ||
			client != (rt.Need == RoleClient) || viewer != (rt.Need == RoleViewer) {
			t.Errorf("%s needs %s", rt.Pattern, rt.Need)
		}
	}
	if RoleViewer.Allows(RoleClient) || RoleViewer.Allows(RoleAdmin) || RoleViewer.Allows(RoleProvider) || !RoleViewer.Allows(RoleMetrics) ||
		!RoleClient.Allows(RoleViewer) || !RoleAdmin.Allows(RoleViewer) || RoleProvider.Allows(RoleViewer) || RoleMetrics.Allows(RoleViewer) {
		t.Error("viewer: the reading routes and the metrics; client and admin: the reading routes too")
	}
	if RoleProvider.Allows(RoleClient) || RoleClient.Allows(RoleProvider) || !RoleAdmin.Allows(RoleProvider) {
		t.Error("provider: its own routes only; admin: every route")
	}
	if RoleMetrics.Allows(RoleClient) || RoleMetrics.Allows(RoleProvider) || RoleProvider.Allows(RoleMetrics) || !RoleClient.Allows(RoleMetrics) || !RoleAdmin.Allows(RoleMetrics) {
		t.Error("metrics: its own route only; client and admin: the metrics too")
	}
}

// asEveryRoute sends the example request of every route of the table with
// token, and gives check the route and the answer's status and body.
func asEveryRoute(t *testing.T, srv *httptest.Server, examples map[string]func() apiRequest, token string, check func(rt Route, status int, body string)) {
	t.Helper()
	for _, rt := range Routes() {
		example, ok := examples[rt.Pattern]
		if !ok {
			t.Errorf("route %s has no example request: add one to exampleRequests", rt.Pattern)
			continue
		}
		req := example()
		status, _, body := send(t, srv, req.method, req.path, token, "application/json", req.body)
		check(rt, status, body)
	}
}

// A metrics token (a Prometheus scraper's) reads GET /metrics and nothing
// else: every other route of the table, whatever its role, answers it 403
// (the web view's public files aside, which need no token), while a client
// and an admin still read the metrics. Said here route by route rather
// than through Allows, which decides what the server does.
func TestMetricsTokenReadsMetricsOnly(t *testing.T) {
	srv, examples := serveEveryRoute(t)
	asEveryRoute(t, srv, examples, metricsToken, func(rt Route, status int, body string) {
		switch {
		case rt.Pattern == "GET /metrics":
			if status != http.StatusOK {
				t.Errorf("%s with a metrics token: %d %s, want 200", rt.Pattern, status, body)
			}
		case rt.Need == RolePublic:
			if status != http.StatusOK {
				t.Errorf("%s with a metrics token: %d, want what anyone gets", rt.Pattern, status)
			}
		case status != http.StatusForbidden:
			t.Errorf("%s with a metrics token: %d %s, want 403", rt.Pattern, status, body)
		}
	})
	// A client and an admin read the metrics still, and their session
	// says their own role and lists the route.
	for _, c := range []struct {
		token string
		role  Role
	}{{clientToken, RoleClient}, {adminToken, RoleAdmin}} {
		if status, _, body := send(t, srv, "GET", "/metrics", c.token, "", ""); status != http.StatusOK {
			t.Errorf("GET /metrics as %s: %d %s, want 200", c.role, status, body)
		}
		_, _, body := send(t, srv, "GET", "/session", c.token, "", "")
		var got struct {
			Role   Role     `json:"role"`
			Routes []string `json:"routes"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil || got.Role != c.role || !slices.Contains(got.Routes, "GET /metrics") {
			t.Errorf("GET /session as %s: %v %s; want its role and GET /metrics listed", c.role, err, body)
		}
	}
}

// A viewer token (issue 9's roles, read-only) reads runs, their history,
// children and diagrams, flows and their diagrams, follows them (GET
// /watch), reads its session and the metrics, and nothing else: starting
// runs, posting events, aborting, defining flows, the dead letters and
// the providers answer it 403 and change nothing. Said here route by
// route rather than through Allows, which decides what the server does.
func TestViewerTokenReadsOnly(t *testing.T) {
	srv, examples := serveEveryRoute(t)
	reads := []string{
		"GET /runs/{id}", "GET /runs/{id}/history", "GET /runs/{id}/children", "GET /runs",
		"GET /flows", "GET /flows/{flow}", "GET /flows/{flow}/handlers", "GET /session", "GET /watch",
		"GET /flows/{flow}/diagram", "GET /runs/{id}/diagram", "GET /metrics",
	}
	asEveryRoute(t, srv, examples, viewerToken, func(rt Route, status int, body string) {
		switch {
		case slices.Contains(reads, rt.Pattern) || rt.Need == RolePublic:
			if status < 200 || status > 299 {
				t.Errorf("%s with a viewer token: %d %s, want 2xx", rt.Pattern, status, body)
			}
		case status != http.StatusForbidden || !strings.Contains(body, "the token's role is viewer"):
			t.Errorf("%s with a viewer token: %d %s, want 403", rt.Pattern, status, body)
		}
	})
	// Its session says its role, and lists the routes it may use: the
	// web view offers by them (no Abort, no dead letters).
	reads = append(reads, "GET /ui", "GET /ui/")
	_, _, body := send(t, srv, "GET", "/session", viewerToken, "", "")
	var got struct {
		Role   Role     `json:"role"`
		Routes []string `json:"routes"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || got.Role != RoleViewer {
		t.Fatalf("GET /session as viewer: %v %s; want the role viewer", err, body)
	}
	slices.Sort(reads)
	if !slices.Equal(got.Routes, reads) {
		t.Errorf("GET /session as viewer lists %v, want %v", got.Routes, reads)
	}
}

// docs/engine.md lists the role and the query parameters of every route,
// as the table says.
func TestDocsListEveryRouteRole(t *testing.T) {
	b, err := os.ReadFile("../docs/engine.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range Routes() {
		params := "none"
		switch {
		case rt.Need == RolePublic:
			params = "any (ignored)"
		case len(rt.Params) > 0:
			params = "`" + strings.Join(rt.Params, "`, `") + "`"
		}
		row := fmt.Sprintf("| `%s` | %s | %s |", rt.Pattern, rt.Need, params)
		if !strings.Contains(string(b), row) {
			t.Errorf("docs/engine.md lacks the row %q", row)
		}
	}
}

// Without an Authorizer the embedded handler is open, as before.
func TestNoAuthorizerIsOpen(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	srv := httptestServer(t, e)
	if status, _, body := send(t, srv, "POST", "/flows/Signup/runs", "", "application/json", `{}`); status != http.StatusCreated {
		t.Fatalf("open start: %d %s", status, body)
	}
}

// A custom Authorizer: ErrForbidden answers 403, another error 401, and
// the request it sees carries the route's pattern.
func TestAuthorizerFunc(t *testing.T) {
	fx := newFixture(t)
	var patterns []string
	fx.auth = AuthorizerFunc(func(r *http.Request, need Role) error {
		patterns = append(patterns, r.Pattern)
		switch r.Header.Get("X-User") {
		case "ops":
			return nil
		case "app":
			if need == RoleClient {
				return nil
			}
			return fmt.Errorf("%w: app is a client", ErrForbidden)
		}
		return errors.New("who are you?")
	})
	e := fx.start()
	defer fx.stop()
	srv := httptestServer(t, e)
	for _, tc := range []struct {
		user   string
		status int
	}{{"", 401}, {"app", 403}, {"ops", 200}} {
		req, _ := http.NewRequest("PUT", srv.URL+"/flows", strings.NewReader(string(readTestdata(t, "signup.json"))))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-User", tc.user)
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.status {
			t.Errorf("user %q: %d %s, want %d", tc.user, res.StatusCode, b, tc.status)
		}
	}
	if strings.Join(patterns, ",") != "PUT /flows,PUT /flows,PUT /flows" {
		t.Errorf("patterns seen: %v", patterns)
	}
}

// POST and PUT bodies must be application/json: a cross-site form
// (text/plain, urlencoded, multipart) or a request without a Content-Type
// gets 415 and changes nothing, with or without an Authorizer; the
// Authorizer answers first.
func TestBodiesMustBeJSON(t *testing.T) {
	for _, withAuth := range []bool{false, true} {
		fx := newFixture(t)
		token := ""
		if withAuth {
			fx.auth = newTokenAuth(t, "admin "+adminToken+"\n")
			token = adminToken
		}
		e := fx.start()
		srv := httptestServer(t, e)
		const evil = `{"version": 1, "flows": [{"name": "Evil", "steps": [{"name": "A", "action": {"kind": "publish", "topic": "t", "event": "e"}, "irreversible": true}]}]}`
		for _, rt := range Routes() {
			method, _, _ := strings.Cut(rt.Pattern, " ")
			if method != "POST" && method != "PUT" {
				continue
			}
			path := strings.NewReplacer("{flow}", "Signup", "{endpoint}", "Signup.Start", "{id}", "nope", "{topic}", "t", "{event}", "e").Replace(rt.Pattern[len(method)+1:])
			for _, ct := range []string{"", "text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "application/json;;"} {
				status, _, body := send(t, srv, method, path, token, ct, evil)
				if status != http.StatusUnsupportedMediaType || !strings.Contains(body, "must be application/json") {
					t.Errorf("auth %v: %s %s with Content-Type %q: %d %s, want 415", withAuth, method, path, ct, status, body)
				}
			}
		}
		if withAuth {
			if status, _, _ := send(t, srv, "POST", "/flows", "", "text/plain", evil); status != http.StatusUnauthorized {
				t.Errorf("no token and text/plain: %d, want 401", status)
			}
		}
		if _, err := e.FlowJSON("Evil"); err == nil {
			t.Errorf("auth %v: a refused body defined a flow", withAuth)
		}
		if status, _, body := send(t, srv, "PUT", "/flows", token, "Application/JSON; charset=utf-8", evil); status != http.StatusOK {
			t.Errorf("auth %v: application/json with a charset: %d %s", withAuth, status, body)
		}
		fx.stop()
	}
}

func TestTokenFile(t *testing.T) {
	good := "# tokens\r\n\r\n  admin\t" + adminToken + "  \r\n   # client below\nclient " + clientToken + "\n"
	a := newTokenAuth(t, good)
	if a.Len() != 2 {
		t.Fatalf("%d tokens, want 2", a.Len())
	}
	secret := "s3cret-s3cret-s3cret"
	for _, tc := range []struct{ src, want string }{
		{"admin " + secret + " extra\n", "tokens:1: want ROLE TOKEN, found 3 fields"},
		// A comment after a token, as many config files take: the error
		// says where a comment goes.
		{"admin " + secret + " # laptop\n", "tokens:1: want ROLE TOKEN, found 4 fields: a comment (`#`) takes a line of its own"},
		{"admin " + secret + " #laptop\n", "tokens:1: want ROLE TOKEN, found 3 fields: a comment (`#`) takes a line of its own"},
		{"\nadmin\n", "tokens:2: want ROLE TOKEN, found 1 fields"},
		{"root " + secret + "\n", `tokens:1: unknown role "root": want admin, client, viewer, provider or metrics, then the token`},
		{"metric " + secret + "\n", `tokens:1: unknown role "metric": want admin, client, viewer, provider or metrics, then the token; did you mean "metrics"?`},
		{"viwer " + secret + "\n", `tokens:1: unknown role "viwer": want admin, client, viewer, provider or metrics, then the token; did you mean "viewer"?`},
		{secret + " admin\n", "tokens:1: unknown role: want admin, client, viewer, provider or metrics, then the token"},
		{"admin short\n", "tokens:1: the token has 5 characters, fewer than 16"},
		{"admin " + secret + "\u00e9\n", "not printable ASCII"},
		{"admin " + secret + "\nclient " + secret + "\n", "tokens:2: the token of line 1 again"},
		{"# nothing\n\n", "no tokens"},
		// Fields are apart by spaces or tabs, not by other white space.
		{"admin\v" + secret + "\n", "tokens:1: want ROLE TOKEN, found 1 fields"},
		{"admin\u00a0" + secret + "\n", "tokens:1: want ROLE TOKEN, found 1 fields"},
		{"admin " + secret + "\f\r\n", "tokens:1: the token has a character that is not printable ASCII"},
	} {
		_, err := NewTokenAuth(writeTokens(t, tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.src, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%q: the error shows the token: %v", tc.src, err)
		}
	}
	if _, err := NewTokenAuth(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing file is no error")
	}
	// A line of any length: a comment of 70,000 characters is skipped, and
	// a long line that is not ROLE TOKEN is refused saying which line and
	// why. Before, both stopped at "bufio.Scanner: token too long".
	long := strings.Repeat("x", 70000)
	if a, err := NewTokenAuth(writeTokens(t, "# "+long+"\nadmin "+adminToken+"\n")); err != nil || a.Len() != 1 {
		t.Errorf("a long comment: %v", err)
	}
	if _, err := NewTokenAuth(writeTokens(t, "admin "+adminToken+"\nclient "+secret+" "+long+"\n")); err == nil || !strings.Contains(err.Error(), "tokens:2: want ROLE TOKEN, found 3 fields") {
		t.Errorf("a long bad line: %v", err)
	}
	// A file beyond MaxTokenFileBytes (a path given by mistake) is refused
	// rather than read whole.
	big := "admin " + adminToken + "\n# " + strings.Repeat("x", MaxTokenFileBytes) + "\n"
	if _, err := NewTokenAuth(writeTokens(t, big)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a file of %d bytes: %v", len(big), err)
	}
}

// Tokens are compared with crypto/subtle, every token of the file on every
// request, wherever the match is: the time does not tell which token, or
// how much of one, matched.
func TestTokensComparedInConstantTime(t *testing.T) {
	if reflect.ValueOf(compareTokens).Pointer() != reflect.ValueOf(subtle.ConstantTimeCompare).Pointer() {
		t.Fatal("tokens are not compared with subtle.ConstantTimeCompare")
	}
	var calls int
	compareTokens = func(x, y []byte) int {
		calls++
		if len(x) != 32 || len(y) != 32 {
			t.Errorf("compared %d and %d bytes, want two SHA-256 digests", len(x), len(y))
		}
		return subtle.ConstantTimeCompare(x, y)
	}
	defer func() { compareTokens = subtle.ConstantTimeCompare }()
	a := newTokenAuth(t, "admin "+adminToken+"\nclient "+clientToken+"\nclient other-0123456789abcdef\n")
	for _, tc := range []struct {
		token string
		ok    bool
	}{{adminToken, true}, {"other-0123456789abcdef", true}, {"nobody-0123456789abcdef", false}, {adminToken[:5], false}} {
		calls = 0
		r := httptest.NewRequest("GET", "/runs", nil)
		r.Header.Set("Authorization", "Bearer "+tc.token)
		if err := a.Authorize(r, RoleClient); (err == nil) != tc.ok {
			t.Errorf("token %q: %v", tc.token, err)
		}
		if calls != 3 {
			t.Errorf("token %q: %d comparisons, want 3 (every token)", tc.token, calls)
		}
	}
}

// Reload takes a new file; a bad one keeps the tokens in use and says why.
func TestTokenReload(t *testing.T) {
	path := writeTokens(t, "admin "+adminToken+"\n")
	a, err := NewTokenAuth(path)
	if err != nil {
		t.Fatal(err)
	}
	allowed := func(token string) bool {
		r := httptest.NewRequest("GET", "/runs", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		return a.Authorize(r, RoleClient) == nil
	}
	os.WriteFile(path, []byte("client "+clientToken+"\n"), 0o600)
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	if allowed(adminToken) || !allowed(clientToken) {
		t.Fatal("reload did not replace the tokens")
	}
	os.WriteFile(path, []byte("client short\n"), 0o600)
	if err := a.Reload(); err == nil || !strings.Contains(err.Error(), "fewer than 16") {
		t.Fatalf("bad file: %v", err)
	}
	os.Remove(path)
	if err := a.Reload(); err == nil {
		t.Fatal("missing file: no error")
	}
	if !allowed(clientToken) {
		t.Fatal("a failed reload dropped the tokens in use")
	}
	for _, h := range []string{"", "Basic " + clientToken, "Bearer", "bearer " + clientToken} {
		r := httptest.NewRequest("GET", "/runs", nil)
		r.Header.Set("Authorization", h)
		err := a.Authorize(r, RoleClient)
		if ok := err == nil; ok != strings.HasPrefix(h, "bearer ") {
			t.Errorf("Authorization %q: %v", h, err)
		}
	}
}

// A request with two Authorization headers is refused whichever of them
// is valid: a proxy in front may have checked the other one. Before, the
// first one was taken, an admin's behind a client's check.
func TestTwoAuthorizationHeaders(t *testing.T) {
	a := newTokenAuth(t, "admin "+adminToken+"\nclient "+clientToken+"\n")
	for _, hs := range [][]string{{adminToken, clientToken}, {clientToken, adminToken}, {adminToken, adminToken}} {
		r := httptest.NewRequest("GET", "/runs", nil)
		for _, tok := range hs {
			r.Header.Add("Authorization", "Bearer "+tok)
		}
		err := a.Authorize(r, RoleClient)
		if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "one header") {
			t.Errorf("two Authorization headers: %v, want ErrUnauthenticated saying to send one", err)
		}
	}
}

// The routes that read no body (an abort, a provider's renewal and leave)
// refuse one that says something, 400, changing nothing: a reason sent
// with an abort would otherwise be dropped unread. No body, {} and null
// are none.
func TestBodylessRoutesRefuseABody(t *testing.T) {
	fx := newFixture(t)
	fx.remote = &ProviderOptions{}
	e := fx.start()
	defer fx.stop()
	srv := httptestServer(t, e)
	examples := exampleRequests(t, e)
	for _, pattern := range []string{"POST /runs/{id}/abort", "POST /providers/{name}/renew", "DELETE /providers/{name}"} {
		for _, body := range []string{`{"reason": "duplicate order"}`, `garbage`, `[]`, `"x"`} {
			req := examples[pattern]()
			var before provider.Lease
			if strings.Contains(pattern, "providers") {
				before = liveLease(t, e, "billing")
			}
			status, _, out := send(t, srv, req.method, req.path, "", "application/json", body)
			if status != http.StatusBadRequest || !strings.Contains(out, pattern+" takes no request body") {
				t.Errorf("%s with body %s: %d %s, want 400 naming the route", pattern, body, status, out)
			}
			if strings.HasSuffix(pattern, "/abort") {
				id := strings.TrimSuffix(strings.TrimPrefix(req.path, "/runs/"), "/abort")
				if status, _, out := send(t, srv, "GET", "/runs/"+id, "", "", ""); status != http.StatusOK || strings.Contains(out, `"abort_requested"`) || strings.Contains(out, `"state":"abort`) {
					t.Errorf("%s refused: GET /runs/%s: %d %s, want a run that no abort reached", pattern, id, status, out)
				}
			} else if after := liveLease(t, e, "billing"); !after.Expires.Equal(before.Expires) {
				t.Errorf("%s refused: the lease changed: expires %v, was %v", pattern, after.Expires, before.Expires)
			}
		}
		for _, body := range []string{"", "{}", " null\n"} {
			req := examples[pattern]()
			if status, _, out := send(t, srv, req.method, req.path, "", "application/json", body); status < 200 || status > 299 {
				t.Errorf("%s with body %q: %d %s, want 2xx", pattern, body, status, out)
			}
		}
	}
}

// liveLease is provider name's live lease, as GET /providers lists it.
func liveLease(t *testing.T, e *Engine, name string) provider.Lease {
	t.Helper()
	for _, l := range e.Providers() {
		if l.Provider == name {
			return l
		}
	}
	t.Fatalf("provider %s has no live lease", name)
	return provider.Lease{}
}

// A 401 closes the connection: a caller without credentials cannot keep
// one of the listener's connections by sending a refused request within
// each idle timeout. A 403 (a caller known, its role short) keeps it.
func TestUnauthorizedClosesTheConnection(t *testing.T) {
	fx := newFixture(t)
	fx.auth = AuthorizerFunc(func(r *http.Request, need Role) error {
		if r.Header.Get("X-User") == "app" {
			return fmt.Errorf("%w: app is a client", ErrForbidden)
		}
		return errors.New("who are you?")
	})
	e := fx.start()
	defer fx.stop()
	srv := httptestServer(t, e)
	for _, tc := range []struct {
		user   string
		status int
		closed bool
	}{{"", 401, true}, {"app", 403, false}} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// Two requests on one connection: the second is answered only
		// if the first left the connection open.
		req := "GET /runs HTTP/1.1\r\nHost: x\r\nX-User: " + tc.user + "\r\n\r\n"
		if _, err := io.WriteString(conn, req+req); err != nil {
			t.Fatal(err)
		}
		if err := conn.SetReadDeadline(time.Now().Add(time.Minute)); err != nil { // a hang guard
			t.Fatal(err)
		}
		rd := bufio.NewReader(conn)
		answered := 0
		for {
			res, err := http.ReadResponse(rd, nil)
			if err != nil {
				break // the connection closed
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != tc.status {
				t.Fatalf("user %q: %d, want %d", tc.user, res.StatusCode, tc.status)
			}
			if answered++; answered == 2 {
				break
			}
		}
		if closed := answered == 1; closed != tc.closed {
			t.Errorf("user %q (%d): %d of 2 requests on one connection answered; want the connection closed after the first: %v", tc.user, tc.status, answered, tc.closed)
		}
	}
}
