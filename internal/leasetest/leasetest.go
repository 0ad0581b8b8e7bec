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
	// With late, every registration is refused at once, and a withdrawal
	// is held until a registration comes after it (putLate), a few
	// seconds at most: a provider that asks to register again once it has
	// withdrawn, as it stops, has time to be seen doing so.
	late     bool
	putLate  chan struct{}
	lateOnce sync.Once
	mu       sync.Mutex
	log      []string      // "PUT 408", "RENEW 200", "DELETE 204", in order
	changed  chan struct{} // closed and replaced at each request
}

// RefusingFirst starts an Engine whose first registration and first
// renewal are answered status; it closes when t ends.
func RefusingFirst(t testing.TB, status int) *Engine { return start(t, status, false, false) }

// RefusingRegistrations starts an Engine that answers every
// registration status; it closes when t ends.
func RefusingRegistrations(t testing.TB, status int) *Engine { return start(t, status, true, false) }

// RefusingRegistrationsAtOnce starts an Engine that answers every
// registration status at once, and holds a withdrawal until a
// registration follows it (CheckNoRegistrationAfterWithdrawal); it
// closes when t ends.
func RefusingRegistrationsAtOnce(t testing.TB, status int) *Engine {
	return start(t, status, false, true)
}

func start(t testing.TB, status int, always, late bool) *Engine {
	e := &Engine{refuse: status, always: always, late: late, changed: make(chan struct{}), deleting: make(chan struct{}), refused: make(chan struct{}), putLate: make(chan struct{})}
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
	case first, (e.always || e.late) && what == "PUT":
		status = e.refuse
	}
	if e.late && what == "PUT" && slices.ContainsFunc(e.log, func(l string) bool { return strings.HasPrefix(l, "DELETE ") }) {
		e.lateOnce.Do(func() { close(e.putLate) })
	}
	e.log = append(e.log, fmt.Sprintf("%s %d", what, status))
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
	if e.always {
		e.inOrder(w, what)
	}
	if e.late && what == "DELETE" {
		select {
		case <-e.putLate:
		case <-time.After(5 * time.Second):
		}
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

// CheckNoRegistrationAfterWithdrawal runs cmd, a provider given e.URL as
// its engine (RefusingRegistrationsAtOnce), sends it SIGTERM once it has
// written waiting, the line it writes before it waits to ask to register
// again, and fails t unless it exits 0 without asking to register after
// its withdrawal: a registration then would be granted a lease, and the
// engine would send calls to a replica that is gone until the lease ends.
func (e *Engine) CheckNoRegistrationAfterWithdrawal(t testing.TB, cmd *exec.Cmd, waiting string) {
	t.Helper()
	out := &lineWatch{want: waiting, seen: make(chan struct{})}
	var werr error
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { werr = cmd.Wait(); close(exited) }()
	select {
	case <-out.seen:
	case <-exited:
		t.Fatalf("the provider stopped (%v) before it waited to ask again; the engine saw %q:\n%s", werr, e.Log(), out.String())
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	<-exited
	log := e.Log()
	if i := slices.IndexFunc(log, func(l string) bool { return strings.HasPrefix(l, "DELETE ") }); i < 0 || slices.ContainsFunc(log[i:], func(l string) bool { return strings.HasPrefix(l, "PUT ") }) || werr != nil {
		t.Fatalf("SIGTERM while waiting to register: %v, the engine saw %q; want exit 0, a withdrawal and no registration after it:\n%s", werr, log, out.String())
	}
}

// lineWatch is a provider's output, closing seen once it holds want.
type lineWatch struct {
	mu   sync.Mutex
	b    strings.Builder
	want string
	seen chan struct{}
	once sync.Once
}

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if strings.Contains(w.b.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *lineWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
