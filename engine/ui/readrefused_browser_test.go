package ui_test

// Every request of the page goes through one place that answers a 403:
// the page reads its session again, and shows itself in the rights the
// token has now, saying what was refused and why. A token's role lowered
// below the one that reads runs (the tokens file written anew and
// reloaded) is refused the session too: the page signs out, the form
// saying why, whichever read was refused (a run's, the runs list's, the
// live stream, ended at the reload), rather than show a bare error, or a view
// left stale with its stream tried again for ever.

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestBrowserReadRefusedRereadsSession(t *testing.T) {
	streams := &holder{}
	v := newEnvWith(t, true, 0, streams.wrap)
	ctx := browser(t)
	id := v.start("Order", `{"Item": "lamp"}`)
	// Two pages of runs, so that the list has a Next to press.
	for i := range 25 {
		v.start("Payment", fmt.Sprintf(`{"OrderID": "o-%d"}`, i))
	}

	// signedOut waits until the page has read the session again and signed
	// out, then checks that the form says which read was refused and why,
	// and that nothing of the session is left.
	signedOut := func(step, refused string) {
		t.Helper()
		run(t, ctx, step+": signed out", chromedp.WaitVisible(chromedp.CSS("#login-form")),
			poll(`document.querySelector("#login-error").textContent !== ""`))
		shot(t, ctx, step)
		said := get(t, ctx, step+": the reason", textOf("#login-error"))
		for _, want := range []string{"The server refused to " + refused, "provider", "Sign in with another"} {
			if !strings.Contains(said, want) {
				t.Errorf("%s: the form says %q, want it to say %q", step, said, want)
			}
		}
		left := get(t, ctx, step+": what is left", chromedp.Evaluate[bool](
			`!document.querySelector("#view").hidden || !document.querySelector("#nav").hidden || !document.querySelector("#notice").hidden || !document.querySelector("#live").hidden || document.querySelector("#who").textContent !== ""`))
		if left {
			t.Errorf("%s: signed out, the page still shows the view, the navigation, a notice, the live badge or the role", step)
		}
	}

	// A run's page: the role lowered would end the page's stream (the
	// engine asks the authorizer again at the reload), which would be the
	// refusal the page answers first; the server has no stream for it
	// (busy: the page waits as Retry-After says), so that the read refused
	// first is the page's: an event's state, picked in the timeline.
	streams.busy.Store(true)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, false)
	run(t, ctx, "Reserve lit", chromedp.WaitReady(chromedp.CSS(current("Reserve"))), chromedp.WaitReady(chromedp.CSS(`#timeline tr[data-seq="1"]`)),
		chromedp.WaitReady(chromedp.CSS("#live.paused")))
	v.roles("admin", "provider")
	run(t, ctx, "pick the first event", chromedp.Click(chromedp.CSS(`#timeline tr[data-seq="1"]`)))
	signedOut("1-run", "read the run's history (GET /runs/{id}/history)")

	// The runs list: its next page's read is refused.
	v.roles("admin", "client")
	signIn(t, ctx, v.url+"/ui/#/runs", clientToken, false)
	run(t, ctx, "a next page", chromedp.WaitEnabled(chromedp.CSS("#next")), chromedp.WaitReady(chromedp.CSS("#live.paused")))
	v.roles("admin", "provider")
	run(t, ctx, "Next", chromedp.Click(chromedp.CSS("#next")))
	signedOut("2-runs", "list the runs (GET /runs)")
	streams.busy.Store(false)

	// The flows page: its stream, ended by the reload (event:
	// unauthorized), is the refusal.
	v.roles("admin", "client")
	signIn(t, ctx, v.url+"/ui/#/flows", clientToken, true)
	run(t, ctx, "the flows", flowShows("Order", "svg"))
	v.roles("admin", "provider")
	signedOut("3-stream", "follow the live updates (GET /watch)")
}

// A token taken out of the tokens file ends the page's live stream at
// once, with event: unauthorized (the engine asks the authorizer again at
// each reload). That event is the refusal: the page answers it then, as
// it answers any request refused, not only once the stream, opened again
// after its pause, is refused in turn. The stream's opening again is held
// here, as a slow proxy would hold it (or a server that asked the page to
// wait, Retry-After), so that a page that waited for it would say nothing.
func TestBrowserStreamRefusalSaidAtOnce(t *testing.T) {
	streams := &holder{}
	v := newEnvWith(t, true, 0, streams.wrap)
	t.Cleanup(func() {
		streams.mu.Lock()
		held := streams.gate != nil
		streams.mu.Unlock()
		if held {
			streams.release()
		}
	})
	ctx := browser(t)
	id := v.start("Order", `{"Item": "lamp"}`)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, true)
	run(t, ctx, "Reserve lit", chromedp.WaitReady(chromedp.CSS(current("Reserve"))), chromedp.WaitReady(chromedp.CSS("#live.on")))

	streams.hold()
	if err := os.WriteFile(v.tokens, []byte("admin "+adminToken+"\nprovider "+providerToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := v.auth.Reload(); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "signed out", chromedp.WaitVisible(chromedp.CSS("#login-form")),
		poll(`document.querySelector("#login-error").textContent !== ""`))
	shot(t, ctx, "signed-out")
	said := get(t, ctx, "the reason", textOf("#login-error"))
	for _, want := range []string{"follow the live updates", "no valid bearer token"} {
		if !strings.Contains(said, want) {
			t.Errorf("the form says %q, want it to say %q", said, want)
		}
	}
	if left := get(t, ctx, "the signed-out page", chromedp.Evaluate[[]string](signedOut)); len(left) > 0 {
		t.Errorf("with its token refused, the page still shows: %s", strings.Join(left, ", "))
	}
}

// holder holds the GET /watch requests that come while it holds (hold,
// until release), as a slow proxy would: a stream ended does not open
// again meanwhile. While busy, it answers them as a server at its bound of
// streams does: 503, Retry-After: 60.
type holder struct {
	mu   sync.Mutex
	gate chan struct{} // nil: not held
	busy atomic.Bool
}

func (h *holder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/watch" && h.busy.Load() {
			w.Header().Set("Retry-After", "60")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error": "engine: too many watchers"}`))
			return
		}
		if r.URL.Path == "/watch" {
			h.mu.Lock()
			gate := h.gate
			h.mu.Unlock()
			if gate != nil {
				select {
				case <-gate:
				case <-r.Context().Done():
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (h *holder) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gate = make(chan struct{})
}

func (h *holder) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.gate)
	h.gate = nil
}

// A 403 to one request of a role that may still use its route (an
// authorizer of the operator's own that keeps a run's history from some
// callers, here a proxy in front of the API standing for it): the page
// reads the session again, keeps the view as it is (drawn anew, it would
// read and be refused again, in a loop), and says what was refused and
// why, until a read succeeds.
func TestBrowserReadRefusedRoleStillMay(t *testing.T) {
	var sessions atomic.Int32
	var refuse atomic.Bool
	v := newEnvWith(t, true, 0, func(h http.Handler) http.Handler {
		h = forbidding(h, func(r *http.Request) bool { return refuse.Load() && strings.HasSuffix(r.URL.Path, "/history") },
			"engine: forbidden: this run's history is not yours")
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/session" {
				sessions.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := browser(t)
	id := v.start("Order", `{"Item": "lamp"}`)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, true)
	run(t, ctx, "Reserve lit", chromedp.WaitReady(chromedp.CSS(current("Reserve"))), chromedp.WaitReady(chromedp.CSS(`#timeline tr[data-seq="1"]`)))
	read := sessions.Load()
	refuse.Store(true)
	run(t, ctx, "pick the first event", chromedp.Click(chromedp.CSS(`#timeline tr[data-seq="1"]`)))
	run(t, ctx, "the reason", poll(`document.querySelector("#notice").textContent.includes("this run's history is not yours")`))
	shot(t, ctx, "1-refused")
	if n := sessions.Load(); n != read+1 {
		t.Errorf("the page read the session %d times after the refusal, want once", n-read)
	}
	want := "The server refused to read the run's history (GET /runs/{id}/history): engine: forbidden: this run's history is not yours"
	if got := get(t, ctx, "the notice", textOf("#notice")); got != want {
		t.Errorf("the notice says %q, want %q", got, want)
	}
	if kept := get(t, ctx, "the view", chromedp.Evaluate[bool](`!document.querySelector("#view").hidden && !document.querySelector("#nav").hidden && document.querySelector("#who").textContent === "signed in: client" && !!document.querySelector("#run-head[data-state]")`)); !kept {
		t.Error("the page did not keep the run's view and the session")
	}
	// A read that succeeds (the run moves on) takes the notice away.
	refuse.Store(false)
	v.gates.release("Stock.Reserve")
	run(t, ctx, "Charge lit", chromedp.WaitReady(chromedp.CSS(current("Charge"))), poll(`document.querySelector("#notice").hidden`))
}
