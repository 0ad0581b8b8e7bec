// Package leasetest stands in for the lease routes of the engine's
// provider API (PUT /providers/{name}, POST /providers/{name}/renew,
// DELETE /providers/{name}; docs/engine.md#remote-providers) in tests of
// the providers written in other languages (examples/provider-python,
// examples/provider-node): it answers the first registration and the
// first renewal with a status of the test's choosing, a refusal for now
// such as a load balancer's 408, and grants the others, logging each
// request with its answer. Or it refuses every registration, for a
// provider stopped while it registers.
package leasetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Engine is the stand-in; URL is its base URL.
type Engine struct {
	URL    string
	refuse int
	always bool // every registration refused, not the first only
	// With always, a registration's refusal waits for a withdrawal to
	// come (deleting), and the withdrawal's answer for that refusal to be
	// sent (refused): the provider hears it while it stops.
	deleting, refused chan struct{}
	once              [2]sync.Once
	mu                sync.Mutex
	log               []string      // "PUT 408", "RENEW 200", "DELETE 204", in order
	changed           chan struct{} // closed and replaced at each request
}

// RefusingFirst starts an Engine whose first registration and first
// renewal are answered status; it closes when t ends.
func RefusingFirst(t testing.TB, status int) *Engine { return start(t, status, false) }

// RefusingRegistrations starts an Engine that answers every
// registration status; it closes when t ends.
func RefusingRegistrations(t testing.TB, status int) *Engine { return start(t, status, true) }

func start(t testing.TB, status int, always bool) *Engine {
	e := &Engine{refuse: status, always: always, changed: make(chan struct{}), deleting: make(chan struct{}), refused: make(chan struct{})}
	mux := http.NewServeMux()
	for pattern, what := range map[string]string{"PUT /providers/{name}": "PUT", "POST /providers/{name}/renew": "RENEW", "DELETE /providers/{name}": "DELETE"} {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { e.serve(w, r, what) })
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e.URL = srv.URL
	return e
}

// serve answers request r of kind what ("PUT", "RENEW", "DELETE").
func (e *Engine) serve(w http.ResponseWriter, r *http.Request, what string) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	e.mu.Lock()
	first := !slices.ContainsFunc(e.log, func(l string) bool { return strings.HasPrefix(l, what+" ") })
	status := http.StatusOK
	switch {
	case what == "DELETE":
		status = http.StatusNoContent
	case first, e.always && what == "PUT":
		status = e.refuse
	}
	e.log = append(e.log, fmt.Sprintf("%s %d", what, status))
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
	if e.always {
		e.inOrder(w, what)
	}
	if status != http.StatusOK {
		w.WriteHeader(status)
		if e.always && what == "PUT" {
			w.(http.Flusher).Flush()
			e.once[1].Do(func() { close(e.refused) })
		}
		return
	}
	var reg struct {
		TTL      string            `json:"ttl"`
		Handlers []json.RawMessage `json:"handlers"`
	}
	_ = json.Unmarshal(body, &reg)
	ttl, err := time.ParseDuration(reg.TTL)
	if err != nil {
		ttl = 30 * time.Second
	}
	lease := map[string]any{"provider": r.PathValue("name"), "replica": r.URL.Query().Get("replica"), "ttl": ttl.String(),
		"expires": time.Now().Add(ttl).UTC().Format(time.RFC3339Nano)}
	if what == "PUT" {
		lease["call_token"] = "leasetest-call-token"
		lease["handlers"] = reg.Handlers
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(lease)
}

// inOrder holds a request of kind what so that a refused registration is
// answered while the provider stops: the registration until a withdrawal
// comes, the withdrawal until a refusal was sent. Each waits a few
// seconds at most, for a provider that does not do both.
func (e *Engine) inOrder(w http.ResponseWriter, what string) {
	var wait <-chan struct{}
	switch what {
	case "PUT":
		wait = e.deleting
	case "DELETE":
		e.once[0].Do(func() { close(e.deleting) })
		wait = e.refused
	default:
		return
	}
	select {
	case <-wait:
	case <-time.After(5 * time.Second):
	}
}

// Log returns the requests so far, each with its answer's status.
func (e *Engine) Log() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.log)
}

// Await waits until the log holds want, and reports whether it does; it
// stops waiting, false, when stop is closed first (the provider's
// process ended).
func (e *Engine) Await(want string, stop <-chan struct{}) bool {
	for {
		e.mu.Lock()
		has, changed := slices.Contains(e.log, want), e.changed
		e.mu.Unlock()
		if has {
			return true
		}
		select {
		case <-changed:
		case <-stop:
			return slices.Contains(e.Log(), want)
		}
	}
}

// CheckRenewsAfterRefusal runs cmd, a provider given e.URL as its engine
// and a TTL short enough to renew soon, and fails t unless it registers,
// renews after the refusals of e (its first registration and first
// renewal), then withdraws its replica and exits 0 at SIGTERM.
func (e *Engine) CheckRenewsAfterRefusal(t testing.TB, cmd *exec.Cmd) {
	t.Helper()
	var out strings.Builder
	var werr error
	exited := startProvider(t, cmd, &out, &werr)
	if !e.Await("RENEW 200", exited) {
		<-exited
		t.Fatalf("the provider stopped (%v) before renewing after a %d; the engine saw %q:\n%s", werr, e.refuse, e.Log(), out.String())
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	<-exited
	if werr != nil || !slices.Contains(e.Log(), "DELETE 204") {
		t.Fatalf("after SIGTERM: %v, the engine saw %q; want exit 0 and a withdrawal:\n%s", werr, e.Log(), out.String())
	}
}

// CheckStopsWhileRegistering runs cmd, a provider given e.URL as its
// engine (RefusingRegistrations), and fails t unless it exits 0 at a
// SIGTERM sent while it is still asking to register: stopping then is
// what the operator asked for, not a failure.
func (e *Engine) CheckStopsWhileRegistering(t testing.TB, cmd *exec.Cmd) {
	t.Helper()
	var out strings.Builder
	var werr error
	exited := startProvider(t, cmd, &out, &werr)
	if !e.Await(fmt.Sprintf("PUT %d", e.refuse), exited) {
		<-exited
		t.Fatalf("the provider stopped (%v) before asking to register; the engine saw %q:\n%s", werr, e.Log(), out.String())
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	<-exited
	if werr != nil {
		t.Fatalf("SIGTERM while registering: %v, want exit 0; the engine saw %q:\n%s", werr, e.Log(), out.String())
	}
}

// startProvider starts cmd, its output into out, and returns a channel
// closed once it exited, with its error in *werr.
func startProvider(t testing.TB, cmd *exec.Cmd, out *strings.Builder, werr *error) <-chan struct{} {
	t.Helper()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { *werr = cmd.Wait(); close(exited) }()
	return exited
}
