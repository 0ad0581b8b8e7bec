package engine

// Access control of the HTTP API: the one table of routes and the role
// each needs, the Authorizer hook that Handler applies, and the JSON-only
// rule for request bodies.

import (
	"errors"
	"fmt"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/flowgen/flowgen/internal/snippet"
)

// Role is what a caller of the HTTP API may do. A caller with RoleAdmin may
// do everything RoleClient, RoleViewer, RoleProvider and RoleMetrics may;
// one with RoleClient may do what RoleViewer and RoleMetrics may; one with
// RoleViewer may do what RoleMetrics may (Allows).
type Role string

// The roles of the HTTP API.
const (
	// RoleClient starts runs and posts events, and does what RoleViewer
	// does.
	RoleClient Role = "client"
	// RoleViewer reads runs (their status, history, children and
	// diagrams), flows and their diagrams, and follows them live (GET
	// /watch, the web view), and nothing else: an operator's or a support
	// desk's token that looks, and cannot start, abort or resume runs,
	// post events or define flows. It reads the metrics too (Allows).
	RoleViewer Role = "viewer"
	// RoleAdmin may also define flows, abort runs, read the dead letters
	// and the providers' leases, and do what RoleProvider does.
	RoleAdmin Role = "admin"
	// RoleProvider registers, renews and withdraws remote providers
	// (docs/engine.md#remote-providers), and nothing else: a service's
	// token to serve handlers cannot start runs or read them.
	RoleProvider Role = "provider"
	// RoleMetrics reads the metrics (GET /metrics), and nothing else: a
	// Prometheus scraper's token, kept in its configuration, cannot
	// start runs, post events or read them. A viewer, a client and an
	// admin may read the metrics too.
	RoleMetrics Role = "metrics"
	// RolePublic is the need of the web view's files (GET /ui/): anyone
	// may fetch them, without credentials, as they hold no data and do
	// nothing; what the page shows it reads from the routes that need a
	// role, with the user's token. The Authorizer is not asked.
	RolePublic Role = "public"
)

// Allows reports whether a caller with role r may use a route that needs
// need.
func (r Role) Allows(need Role) bool {
	switch {
	case need == RolePublic || r == need:
		return true
	case r == RoleAdmin:
		return need == RoleClient || need == RoleViewer || need == RoleProvider || need == RoleMetrics
	case r == RoleClient:
		return need == RoleViewer || need == RoleMetrics
	case r == RoleViewer:
		// Metrics count runs by flow and state, which a viewer may
		// read run by run already; they change nothing.
		return need == RoleMetrics
	}
	return false
}

// Route is a route of the HTTP API, the role it needs and the query
// parameters it takes.
type Route struct {
	Pattern string // a net/http.ServeMux pattern: "METHOD /path/{wildcard}"
	Need    Role
	// Params are the query parameters the route reads, each at most once;
	// a request with another one, or one of them twice, answers 400
	// (checkQuery). A public route (the web view's files) reads none and
	// takes any.
	Params []string
	// Untraced: a request of the route starts no trace of its own
	// (Untraced, which tracing middleware asks, observe.Telemetry's):
	// Prometheus scrapes GET /metrics every few seconds, a browser reads
	// the web view's files and keeps GET /watch open for as long as a
	// page is, and each would be a trace of one span burying the runs'.
	// One that carries a traceparent is traced all the same: its caller
	// asked for it.
	Untraced bool
}

// route is a Route with its handler.
type route struct {
	Route
	serve func(*Engine, http.ResponseWriter, *http.Request)
}

// routes is the HTTP API: every route, the role it needs and its handler.
// Handler serves exactly these, and applies Options.Authorizer with the
// role given here: this table is the one place that decides who may call
// what.
var routes = []route{
	{Route{Pattern: "POST /flows/{flow}/runs", Need: RoleClient, Params: []string{"run_id"}}, (*Engine).httpStartFlow},
	{Route{Pattern: "POST /rpc/{endpoint}", Need: RoleClient, Params: []string{"run_id"}}, (*Engine).httpStartRPC},
	{Route{Pattern: "GET /runs/{id}", Need: RoleViewer}, (*Engine).httpStatus},
	{Route{Pattern: "GET /runs/{id}/history", Need: RoleViewer, Params: []string{"after", "limit", "state"}}, (*Engine).httpHistory},
	{Route{Pattern: "GET /runs/{id}/children", Need: RoleViewer, Params: []string{"order", "limit", "cursor"}}, (*Engine).httpChildren},
	{Route{Pattern: "GET /runs", Need: RoleViewer, Params: []string{"flow", "status", "since", "until", "correlation", "order", "limit", "cursor"}}, (*Engine).httpList},
	{Route{Pattern: "POST /runs/{id}/abort", Need: RoleAdmin}, (*Engine).httpAbort},
	{Route{Pattern: "PUT /flows", Need: RoleAdmin, Params: []string{"name"}}, (*Engine).httpPutFlows},
	{Route{Pattern: "POST /flows", Need: RoleAdmin, Params: []string{"name"}}, (*Engine).httpPutFlows},
	{Route{Pattern: "GET /flows", Need: RoleViewer}, (*Engine).httpFlows},
	{Route{Pattern: "GET /flows/{flow}", Need: RoleViewer, Params: []string{"handlers"}}, (*Engine).httpGetFlow},
	{Route{Pattern: "POST /events/{topic}/{event}", Need: RoleClient, Params: []string{"id"}}, (*Engine).httpPublish},
	// Dead letters hold the payloads of every publisher: the operator's.
	{Route{Pattern: "GET /deadletters", Need: RoleAdmin, Params: []string{"topic", "event", "order", "limit", "cursor"}}, (*Engine).httpDeadLetters},
	// Metrics have a role of their own, so that a Prometheus scraper's
	// token may read them and nothing else; a viewer, a client and an
	// admin may too (Allows).
	{Route{Pattern: "GET /metrics", Need: RoleMetrics, Untraced: true}, (*Engine).httpMetrics},
	// Remote providers (remotehttp.go): registering one decides where the
	// engine sends run state, a role of its own.
	{Route{Pattern: "PUT /providers/{name}", Need: RoleProvider, Params: []string{"replica"}}, (*Engine).httpPutProvider},
	{Route{Pattern: "POST /providers/{name}/renew", Need: RoleProvider, Params: []string{"replica"}}, (*Engine).httpRenewProvider},
	{Route{Pattern: "DELETE /providers/{name}", Need: RoleProvider, Params: []string{"replica"}}, (*Engine).httpDeleteProvider},
	{Route{Pattern: "GET /providers", Need: RoleAdmin}, (*Engine).httpProviders},
	{Route{Pattern: "GET /flows/{flow}/handlers", Need: RoleViewer}, (*Engine).httpFlowHandlers},
	// The web view (webview.go, package engine/ui): its files are public;
	// it reads the rest with the user's token, as any viewer.
	{Route{Pattern: "GET /ui/", Need: RolePublic, Untraced: true}, (*Engine).serveUI},
	{Route{Pattern: "GET /ui", Need: RolePublic, Untraced: true}, (*Engine).serveUI},
	{Route{Pattern: sessionRoute, Need: RoleViewer}, (*Engine).httpSession},
	{Route{Pattern: "GET /watch", Need: RoleViewer, Params: []string{"run", "flow", "kind", "children", "state"}, Untraced: true}, (*Engine).httpWatch},
	{Route{Pattern: "GET /flows/{flow}/diagram", Need: RoleViewer}, (*Engine).httpFlowDiagram},
	{Route{Pattern: "GET /runs/{id}/diagram", Need: RoleViewer}, (*Engine).httpRunDiagram},
}

// routeNeeds is the role each route of the table needs, by pattern, for a
// handler that asks the Authorizer again after the guard (reauthorize). It
// is filled by init: a handler of the table that read routes itself would
// make an initialization cycle.
var routeNeeds map[string]Role

func init() { routeNeeds = needsByPattern(routes) }

func needsByPattern(rs []route) map[string]Role {
	m := make(map[string]Role, len(rs))
	for _, rt := range rs {
		m[rt.Pattern] = rt.Need
	}
	return m
}

// reauthorize asks the Authorizer again, with the role the table gives the
// route r came by (r.Pattern), whether r may still use it: a long-lived
// answer (GET /watch) asks before each write, so that credentials revoked
// meanwhile end it. A request that came by no route of the table is
// refused.
func (e *Engine) reauthorize(r *http.Request) error {
	need, ok := routeNeeds[r.Pattern]
	if !ok {
		return fmt.Errorf("%w: %q is not a route of the API", ErrForbidden, r.Pattern)
	}
	return e.authorize(r, need)
}

// authorize asks the Authorizer, if any, whether r may use a route that
// needs need; a public route asks nobody.
func (e *Engine) authorize(r *http.Request, need Role) error {
	_, err := e.identify(r, need)
	return err
}

// identify is authorize that also returns who the caller is, when the
// Authorizer is an IdentityAuthorizer (else no identity).
func (e *Engine) identify(r *http.Request, need Role) (Identity, error) {
	if e.opts.Authorizer == nil || need == RolePublic {
		return Identity{}, nil
	}
	if ia, ok := e.opts.Authorizer.(IdentityAuthorizer); ok {
		return ia.AuthorizeIdentity(r, need)
	}
	return Identity{}, e.opts.Authorizer.Authorize(r, need)
}

// Routes returns the routes of the HTTP API (Handler) and the role each
// needs.
func Routes() []Route {
	out := make([]Route, len(routes))
	for i, rt := range routes {
		out[i] = rt.Route
		out[i].Params = slices.Clone(rt.Params)
	}
	return out
}

// An Authorizer decides whether a request may use a route of the HTTP API
// that needs the given role (r.Pattern is the route's pattern). It returns
// nil to let the request through; an error wrapping ErrForbidden answers
// 403 (the caller is known, its role is not enough); any other error
// answers 401 with a WWW-Authenticate: Bearer challenge (no credentials, or
// wrong ones). The error's text is sent to the client. Options.Authorizer
// sets it; NewTokenAuth is a ready one.
type Authorizer interface {
	Authorize(r *http.Request, need Role) error
}

// AuthorizerFunc is a function that is an Authorizer.
type AuthorizerFunc func(r *http.Request, need Role) error

// Authorize calls f.
func (f AuthorizerFunc) Authorize(r *http.Request, need Role) error { return f(r, need) }

// Errors of an Authorizer.
var (
	// ErrUnauthenticated: the request has no valid credentials (401).
	ErrUnauthenticated = errors.New("engine: no valid bearer token")
	// ErrForbidden: the caller's role does not allow the route (403).
	ErrForbidden = errors.New("engine: forbidden")
	// errInvalidToken: a bearer token was given but is not known (401).
	errInvalidToken = fmt.Errorf("%w: the bearer token is not valid", ErrUnauthenticated)
)

// guard is the middleware of every route: the authorizer, if any, then the
// JSON-only rule for bodies, then the query rule, then the route's handler,
// which finds the caller's identity, if the authorizer tells one, with
// identityOf.
func (e *Engine) guard(rt route) http.Handler {
	h := RequireJSON(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkQuery(r.URL.RawQuery, rt.Route); err != nil {
			writeError(w, http.StatusBadRequest, err, nil)
			return
		}
		if err := e.unserved(rt.Pattern); err != nil {
			writeError(w, http.StatusNotFound, err, nil)
			return
		}
		rt.serve(e, w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := e.identify(r, rt.Need)
		if err != nil {
			e.refusals.refused(r, rt.Route, err)
			refuse(w, err)
			return
		}
		h.ServeHTTP(w, withIdentity(r, id))
	})
}

// unserved is why this engine answers 404 on a route of the table that
// Handler mounts (nil when it serves the route): GET /metrics without
// Options.Telemetry (errNoMetrics), GET /watch with an Options.Executor
// (errNoWatch). The guard answers by it, and GET /session lists only the
// routes it lets through, so that a client such as the web view is told
// only what this process serves.
func (e *Engine) unserved(pattern string) error {
	switch {
	case pattern == "GET /metrics" && e.opts.Telemetry == nil:
		return errNoMetrics
	case pattern == "GET /watch" && e.opts.Executor != nil:
		return errNoWatch
	}
	return nil
}

// refusalStatus is the status of an Authorizer's error: 403 for
// ErrForbidden (the caller is known, the route is not its role's), else
// 401. refuse answers by it, and the refusal log says it.
func refusalStatus(err error) int {
	if errors.Is(err, ErrForbidden) {
		return http.StatusForbidden
	}
	return http.StatusUnauthorized
}

// refuse answers an Authorizer's error with its refusalStatus.
func refuse(w http.ResponseWriter, err error) {
	if refusalStatus(err) == http.StatusForbidden {
		writeError(w, http.StatusForbidden, err, nil)
		return
	}
	challenge := `Bearer realm="flowgen"`
	if errors.Is(err, errInvalidToken) {
		challenge += `, error="invalid_token"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	// A caller without credentials keeps no connection: it would hold one
	// of the listener's (-max-conns) for as long as it sent a request
	// within each idle timeout, each refused. One that has them connects
	// again, once.
	w.Header().Set("Connection", "close")
	writeError(w, http.StatusUnauthorized, err, nil)
}

// RequireJSON refuses with 415 a POST, PUT or PATCH request whose
// Content-Type is not application/json (parameters such as charset are
// allowed), with a body or without one, and passes the others to h. A
// cross-site HTML form or a no-CORS fetch can only send text/plain, form
// or multipart bodies, or none; sending application/json from another
// origin takes a CORS preflight, which the API never grants. Handler
// applies it to every route.
func RequireJSON(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			ct := r.Header.Get("Content-Type")
			if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
				if ct == "" {
					ct = "none"
				}
				writeError(w, http.StatusUnsupportedMediaType, fmt.Errorf("request Content-Type must be application/json, found %s", snippet.Cut(ct, shownBytes)), nil)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// LoopbackOnly refuses with 403 a request whose Host header names another
// host than this machine (IsLoopbackHost: "localhost" or a loopback IP,
// with any port), and passes the others to h. An API open to whoever
// reaches it is open, on loopback, to every page a browser on this machine
// shows too, by DNS rebinding: a page of attacker.example whose name the
// attacker's DNS then resolves to 127.0.0.1 sends its requests (with a
// JSON body, which RequireJSON cannot tell from the user's) to its own
// origin as far as the browser knows, and reads the answers; but its Host
// header still names attacker.example. A request without a Host header
// (HTTP/1.0) comes from no browser and passes. flowgen serve applies it
// when it serves without -tokens on a loopback address (-insecure or not).
func LoopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if hn, _, err := net.SplitHostPort(host); err == nil {
			host = hn
		}
		if r.Host != "" && !IsLoopbackHost(host) {
			writeError(w, http.StatusForbidden, fmt.Errorf("%w: Host %s is not this machine: the API is open on loopback only, to requests for localhost or a loopback IP (a name of another host may be a web page's, resolved to this machine); give the server tokens to serve other names (flowgen serve -tokens)", ErrForbidden, quoteParam(r.Host)), nil)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// RefuseCrossSite refuses with 403 a request that a browser sent for a page
// of another site (Sec-Fetch-Site: cross-site), and passes the others to h:
// same-origin, same-site, none (an address typed or bookmarked) and no
// header at all (a client that is not a browser). An open API cannot tell
// such a request from its user's: another site's page cannot read the
// answers, but it can send GETs (an <img> of /watch), each of which holds
// one of the MaxWatchers streams for as long as the page stays open, until
// the web view has none left. Tokens need no such guard: a browser sends
// no bearer token for another site's page. A top-level navigation (a link
// followed from another site, Sec-Fetch-Mode: navigate and Sec-Fetch-Dest:
// document, GET or HEAD) passes, so that a link to the web view still
// opens it: a page can make one of those only by leaving itself or with a
// click of its user. flowgen serve applies it when it serves without
// -tokens.
func RefuseCrossSite(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Sec-Fetch-Site"), "cross-site") && !isTopLevelNavigation(r) {
			writeError(w, http.StatusForbidden, fmt.Errorf("%w: a request from another site's page (Sec-Fetch-Site: cross-site): the API is open, without tokens, to this machine's own pages and programs only; give the server tokens to serve other sites (flowgen serve -tokens)", ErrForbidden), nil)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// isTopLevelNavigation reports whether r opens a page in a tab: a link
// followed, an address typed.
func isTopLevelNavigation(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		strings.EqualFold(r.Header.Get("Sec-Fetch-Mode"), "navigate") &&
		strings.EqualFold(r.Header.Get("Sec-Fetch-Dest"), "document")
}

// ErrBadQuery: a request's query string does not parse, names a parameter
// its route does not take, or names one twice (400).
var ErrBadQuery = errors.New("engine: invalid query")

// checkQuery is the query rule of every route: the query string parses,
// and names only parameters of rt.Params, each once. net/url drops what
// it cannot parse (?run_id=50%off, ?id=a;b) and a handler reads the first
// of repeated values; a misspelt parameter is no value at all. Each would
// make a request mean something its client did not ask: a start without
// its run ID starts a new run at every retry, a registration without its
// replica replaces every replica's.
func checkQuery(raw string, rt Route) error {
	if rt.Need == RolePublic {
		// The web view's files read nothing and change nothing: a link
		// that carries parameters of its own (a campaign's, a login
		// proxy's) still opens the page.
		return nil
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadQuery, err)
	}
	for _, k := range slices.Sorted(maps.Keys(q)) {
		switch {
		case !slices.Contains(rt.Params, k):
			takes := "no query parameter"
			if len(rt.Params) > 0 {
				takes = "only " + strings.Join(rt.Params, ", ")
			}
			return fmt.Errorf("%w: unknown parameter %s: %s takes %s", ErrBadQuery, quoteParam(k), rt.Pattern, takes)
		case len(q[k]) > 1:
			return fmt.Errorf("%w: parameter %s given %d times", ErrBadQuery, quoteParam(k), len(q[k]))
		}
	}
	return nil
}
