package ui_test

// The web view in a real browser: headless Chromium driven by chromedp,
// against an engine with bearer tokens. The tests skip when Chromium is
// not installed, unless FLOWGEN_REQUIRE_CHROMIUM is set (.ci/run sets it
// and installs the Debian package "chromium"): in CI they must run.
//
// Screenshots are written for review to -screenshots DIR (default
// $TMPDIR/flowgen-ui-screenshots), one PNG per step, named after the
// test; the directory is logged.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/internal/tooltest"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

var screenshots = flag.String("screenshots", filepath.Join(os.TempDir(), "flowgen-ui-screenshots"), "`DIR` where the browser tests save their screenshots")

// chromium returns the browser's path, or skips the test (fails it with
// FLOWGEN_REQUIRE_CHROMIUM set).
func chromium(t *testing.T) string {
	t.Helper()
	return tooltest.Look(t, "FLOWGEN_REQUIRE_CHROMIUM", "Debian: apt-get install chromium",
		"chromium", "chromium-browser", "google-chrome", "headless-shell")
}

const (
	adminToken    = "admin-0123456789abcdef"
	clientToken   = "client-0123456789abcdef"
	providerToken = "provider-0123456789abcdef" // a role that may not read runs
	metricsToken  = "metrics-0123456789abcdef"  // a scraper's: GET /metrics only
	viewerToken   = "viewer-0123456789abcdef"   // reads runs and flows, does nothing
)

const flows = `
// Order reserves stock, charges, ships: each rpc waits for the test.
flow Order {
    state OrderState
    trigger rpc "Order.Place"
    retry 1
    timeout 5m

    step Reserve {
        rpc stock "Stock.Reserve" (Item) -> Reservation
        rollback rpc stock "Stock.Release" (Reservation)
    }
    step Charge {
        rpc pay "Pay.Charge" (Item) -> Receipt
    }
    step Ship {
        publish shipping "ship" (Item)
        irreversible
    }
}

// Refund gives a charge back once the bank confirms it.
flow Refund {
    state RefundState

    step Confirmed {
        await payments "refunded" correlate OrderID timeout 1h
        irreversible
    }
}

// Checkout charges, then fails to ship: the charge's rollback runs Refund.
flow Checkout {
    state CheckoutState
    trigger rpc "Checkout.Start"

    step Charge {
        rpc pay "Pay.Charge" (Item) -> Receipt
        rollback call Refund (Refund)
    }
    step Ship {
        rpc shipping "Ship.Now" (Item)
        irreversible
    }
}

// Parent runs Refund as a child run: its diagram links to Refund's.
flow Parent {
    state ParentState

    step Give {
        call Refund (Refund)
        irreversible
    }
}

// Long takes many steps, so that its diagram is taller than its box on
// the run's page: the page must bring the step the run is at into view.
flow Long {
    state LongState
    trigger rpc "Long.Start"

    step P1 {
        publish log "p1" (K)
        irreversible
    }
    step P2 {
        publish log "p2" (K)
        irreversible
    }
    step P3 {
        publish log "p3" (K)
        irreversible
    }
    step P4 {
        publish log "p4" (K)
        irreversible
    }
    step P5 {
        publish log "p5" (K)
        irreversible
    }
    step First {
        await go "first" correlate K timeout 1h
        irreversible
    }
    step Q1 {
        publish log "q1" (K)
        irreversible
    }
    step Q2 {
        publish log "q2" (K)
        irreversible
    }
    step Q3 {
        publish log "q3" (K)
        irreversible
    }
    step Q4 {
        publish log "q4" (K)
        irreversible
    }
    step Q5 {
        publish log "q5" (K)
        irreversible
    }
    step Second {
        await go "second" correlate K timeout 1h
        irreversible
    }
}

// Split packs and labels at the same time, then fails to ship: the
// branch that packed is undone.
flow Split {
    state SplitState
    trigger rpc "Split.Start"

    parallel Prepare {
        step Pack {
            rpc stock "Stock.Reserve" (Item) -> Packed
            rollback rpc stock "Stock.Release" (Packed)
        }
        step Label {
            rpc stock "Stock.Release" (Item)
            irreversible
        }
    }
    step Ship {
        rpc shipping "Ship.Now" (Item)
        irreversible
    }
}

// Fork's branches have long names, and one fails: the run's page lists
// them in a column a third of the page wide.
flow Fork {
    state ForkState
    trigger rpc "Fork.Start"

    parallel PrepareEverything {
        step ReserveTheWholeWarehouseStock {
            rpc stock "Stock.Release" (Item)
            irreversible
        }
        step ShipToTheFarAwayDestination {
            rpc shipping "Ship.Now" (Item)
            irreversible
        }
    }
}

// Race packs and ships at the same time: shipping fails while packing
// waits for the test, which cancels the packing.
flow Race {
    state RaceState
    trigger rpc "Race.Start"

    parallel Prepare {
        step Pack {
            rpc stock "Stock.Reserve" (Item) -> Packed
            rollback rpc stock "Stock.Release" (Packed)
        }
        step Ship {
            rpc shipping "Ship.Now" (Item)
            irreversible
        }
    }
}

// Brittle books, fails to ship, and cannot give the booking back.
flow Brittle {
    state BrittleState
    trigger rpc "Brittle.Start"

    step Book {
        rpc stock "Stock.Release" (Item) -> Booking
        rollback rpc shipping "Ship.Now" (Booking)
    }
    step Ship {
        rpc shipping "Ship.Now" (Item)
        irreversible
    }
}

// Hold takes an item from a service that finishes what it started,
// cancelled or not: an abort waits for the step in flight to return.
flow Hold {
    state HoldState
    trigger rpc "Hold.Start"
    retry 1
    timeout 5m

    step Grab {
        rpc stock "Stock.Hold" (Item) -> Held
        rollback rpc stock "Stock.Release" (Held)
    }
}

// Wide's step has a name near the 128 bytes a name may take.
flow Wide {
    state WideState
    trigger rpc "Wide.Start"

    step ReserveTheWholeWarehouseStockForTheCustomerWhoOrderedEverythingAndThenShipItToTheFarAwayDestinationBeforeTheEndOfTheWeek {
        publish log "wide" (K)
        irreversible
    }
}

// Payment waits for its order's payment.
flow Payment {
    state PaymentState
    trigger rpc "Payment.Start"

    step AwaitPaid {
        await payments "paid" -> Paid correlate OrderID timeout 1h
    }
}
`

// gates holds each rpc endpoint's calls until the test opens it.
type gates struct {
	mu   sync.Mutex
	open map[string]chan struct{}
}

func (g *gates) gate(endpoint string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open[endpoint] == nil {
		g.open[endpoint] = make(chan struct{})
	}
	return g.open[endpoint]
}

func (g *gates) release(endpoint string) { close(g.gate(endpoint)) }

// env is an engine behind bearer tokens, served over HTTP.
type env struct {
	t     *testing.T
	e     *engine.Engine
	st    envStore
	url   string
	gates *gates
	// tokens is the file of the engine's tokens, auth what reads it (nil
	// for an open API): a test changes a role mid-session by writing the
	// file anew and calling auth.Reload.
	tokens string
	auth   *engine.TokenAuth
}

// envStore is what the tests ask of an env's store, beside what the
// engine does: store.Memory, or store.Store.
type envStore interface {
	engine.Store
	Get(runID string) (store.RunInfo, bool)
	DeadLetter(ctx context.Context, m store.Message, reason string, at time.Time) error
}

func newEnv(t *testing.T) *env { return newEnvAuth(t, true) }

// newEnvAuth is newEnv, with or without tokens (an open API).
func newEnvAuth(t *testing.T, withTokens bool) *env { return newEnvWith(t, withTokens, 0, nil) }

// newEnvWith is newEnvAuth with an engine's bound of GET /watch streams
// (Options.MaxWatchers; 0: the default), and its API served through wrap
// (nil: as it is).
func newEnvWith(t *testing.T, withTokens bool, maxWatchers int, wrap func(http.Handler) http.Handler) *env {
	t.Helper()
	return newEnvOn(t, store.NewMemory(), withTokens, maxWatchers, wrap)
}

// newEnvOn is newEnvWith on the store st.
func newEnvOn(t *testing.T, st envStore, withTokens bool, maxWatchers int, wrap func(http.Handler) http.Handler) *env {
	t.Helper()
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("admin "+adminToken+"\nclient "+clientToken+"\nprovider "+providerToken+"\nmetrics "+metricsToken+"\nviewer "+viewerToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	auth, err := engine.NewTokenAuth(tokens)
	if err != nil {
		t.Fatal(err)
	}
	g := &gates{open: map[string]chan struct{}{}}
	caller := runtime.NewMemoryCaller()
	for service, ep := range map[string]string{"stock": "Stock.Reserve", "pay": "Pay.Charge"} {
		caller.Handle(service, ep, func(ctx context.Context, req json.RawMessage) (any, error) {
			select {
			case <-g.gate(ep):
				return ep + "-ok", nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		})
	}
	// Stock.Hold ignores its context: it returns only once the test opens it.
	caller.Handle("stock", "Stock.Hold", func(context.Context, json.RawMessage) (any, error) {
		<-g.gate("Stock.Hold")
		return "held", nil
	})
	caller.Handle("stock", "Stock.Release", func(context.Context, json.RawMessage) (any, error) { return nil, nil })
	// Count.Next answers the number after the one it is given (0 for none).
	caller.Handle("count", "Count.Next", func(_ context.Context, in json.RawMessage) (any, error) {
		var n int
		if err := json.Unmarshal(in, &n); err != nil {
			return nil, runtime.Permanent(err)
		}
		return n + 1, nil
	})
	caller.Handle("shipping", "Ship.Now", func(_ context.Context, in json.RawMessage) (any, error) {
		// An item that asks for it fails as an HTTP call does, its error
		// holding a long URL (no space to wrap at).
		if strings.Contains(string(in), "long-url") {
			return nil, runtime.Permanent(errors.New(`Post "https://shipping.internal.example.com/v1/parcels/` + strings.Repeat("0123456789abcdef", 8) + `?expand=labels&notify=true": dial tcp: connection refused`))
		}
		return nil, runtime.Permanent(errors.New("no parcel service"))
	})
	opts := engine.Options{Store: st, Caller: caller, MaxWatchers: maxWatchers,
		FlowFile: func(name string, src []byte, opts dsl.CheckOptions) (*dsl.File, diag.List) {
			return flowfile.Load(name, src, opts)
		}}
	if withTokens {
		opts.Authorizer = auth
	} else {
		auth = nil
	}
	e, err := engine.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e.LoadFlows("shop.flow", []byte(flows)); err != nil {
		t.Fatalf("%v\n%v", err, ds)
	}
	h := e.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	return &env{t: t, e: e, st: st, url: serveHandler(t, e, h), gates: g, tokens: tokens, auth: auth}
}

// serve starts e and serves its API over HTTP until the test ends; it
// returns the server's URL.
func serve(t *testing.T, e *engine.Engine) string { return serveHandler(t, e, e.Handler()) }

// serveHandler is serve, with h the handler of e's API.
func serveHandler(t *testing.T, e *engine.Engine, h http.Handler) string {
	t.Helper()
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		e.EndWatches()
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Close(ctx)
	})
	return srv.URL
}

// start starts a run through the HTTP API, as a client would.
func (v *env) start(flow, body string) string {
	v.t.Helper()
	req, _ := http.NewRequest("POST", v.url+"/flows/"+flow+"/runs", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+clientToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		RunID string `json:"run_id"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusCreated {
		v.t.Fatalf("start %s: %d %v", flow, res.StatusCode, err)
	}
	return out.RunID
}

// publish posts an event through the HTTP API, as a client would.
func (v *env) publish(topic, event, body string) {
	v.t.Helper()
	req, _ := http.NewRequest("POST", v.url+"/events/"+topic+"/"+event, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+clientToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		v.t.Fatalf("publish %s %s: %d", topic, event, res.StatusCode)
	}
}

// startHold starts a run of Hold, whose step Grab stays in flight, its
// cancellation ignored, until free releases its service (at the latest when
// the test ends, before the engine closes, should the test stop early).
func (v *env) startHold() (id string, free func()) {
	var once sync.Once
	free = func() { once.Do(func() { v.gates.release("Stock.Hold") }) }
	v.t.Cleanup(free)
	return v.start("Hold", `{"Item": "crate"}`), free
}

// await waits until run id is in state s.
func (v *env) await(id string, s runtime.RunState) {
	for v.state(id) != s {
		time.Sleep(5 * time.Millisecond)
	}
}

// startDefined defines flows anew from src (putFlows, as file), starts a
// run of flow with the state body, and waits until it is in s.
func (v *env) startDefined(file, src, flow, body string, s runtime.RunState) string {
	v.t.Helper()
	v.putFlows(file, src)
	id := v.start(flow, body)
	v.await(id, s)
	return id
}

func (v *env) state(id string) runtime.RunState {
	info, _ := v.st.Get(id)
	return info.State
}

// browser opens a headless Chromium for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // root in CI containers
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1400, 1000),
	)
	// A browser that exits before it listens ("chrome failed to start",
	// seen now and then with other Chromiums starting on two loaded
	// cores) is started again, up to three times: its start is not what
	// these tests test, and each failure is logged.
	for try := 1; ; try++ {
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelCtx := chromedp.NewContext(actx)
		// Generous: two shared cores, -race, and a browser's cold start.
		ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
		err := chromedp.Do(ctx) // starts the browser
		if err == nil {
			t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
			watchConsole(t, ctx)
			return ctx
		}
		timedOut := ctx.Err() != nil // three minutes gone: no time for another
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		if try == 3 || timedOut {
			t.Fatalf("starting Chromium (try %d): %v", try, err)
		}
		t.Logf("starting Chromium (try %d): %v; starting it again", try, err)
	}
}

// watchConsole fails the test, when it ends, for each message of the
// page's console that says the page broke its Content-Security-Policy
// (what it blocked: an injected script, or one of the page's own that the
// policy forbids) or threw an uncaught exception: the page must work
// under its policy, and nothing it shows may try to run.
func watchConsole(t *testing.T, ctx context.Context) {
	t.Helper()
	cctx, stop := context.WithCancel(ctx)
	msgs := chromedp.Console(cctx) // subscribed now: nothing after is missed
	var bad []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Source == "security" || m.IsException() {
				bad = append(bad, m.String())
			}
		}
	}()
	// Runs before browser's cleanup (registered earlier): the browser is
	// still up, and the messages it sent so far have been read.
	t.Cleanup(func() {
		stop()
		<-done
		for _, m := range bad {
			t.Errorf("the page's console: %s", m)
		}
	})
}

// run runs browser actions, failing the test with what was being done.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		shot(t, ctx, "failed-"+strings.ReplaceAll(what, " ", "-"))
		t.Fatalf("%s: %v", what, err)
	}
}

// stepTimeout bounds each step of a test: generous, for two shared cores
// and -race.
const stepTimeout = 60 * time.Second

// get runs a browser action that answers a value.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		shot(t, ctx, "failed-"+strings.ReplaceAll(what, " ", "-"))
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// poll waits until the JavaScript expression is true.
func poll(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(60*time.Second))
}

// textOf reads the text of the element sel selects in one evaluation. A
// run's page redraws its head and panels when the watch tells it of an
// event: an element found by one call (chromedp.Text) may be gone when the
// next reads it, and read as "" (TestBrowserAbortPending, once in CI).
func textOf(sel string) chromedp.Action[string] {
	return chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).innerText || ""`, sel))
}

// js runs a script in the page.
func js(script string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](script)(ctx, t)
		return err
	})
}

// goTo sets the page's fragment to hash (a view: #/runs, #/run/ID, ...)
// and returns once the page has routed to it. The page routes on
// hashchange, which the browser fires in a task of its own after the
// fragment changed: a query right after setting location.hash may still
// find the view before, which the same selector matches (another run's
// timeline, the runs list unfiltered), and what is read next is then the
// old view's, or an empty new one's. The listener added here runs after
// the page's, added when it loaded. A hash the page is at already
// changes nothing: no hashchange, no route.
func goTo(hash string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](fmt.Sprintf(`new Promise((routed) => {
			if (location.hash === %[1]q) return routed(true);
			window.addEventListener("hashchange", () => routed(true), {once: true});
			location.hash = %[1]q;
		})`, hash), chromedp.EvalAwaitPromise)(ctx, t)
		return err
	})
}

// shot saves a screenshot of the whole page for review, each diagram
// whole (pageShot).
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, pageShot())
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.MkdirAll(*screenshots, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(*screenshots, strings.ReplaceAll(t.Name(), "/", "-")+"-"+name+".png") // a subtest's name holds a "/"
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// pageShot takes a PNG of the whole page with each diagram's box shown
// whole. A box is at most 78% of the window tall (app.css, .diagram; the
// page of flowgen graph -format html: the window's height, its body) and
// scrolls: a user scrolls it (a run's page scrolls it to the lit step),
// but a screenshot would show only the part in view, with no scroll bar
// (chromedp's Chromium hides them), as if the diagram were cut off. For
// the capture only, the boxes lose their bound; they are then put back,
// scrolled where they were.
func pageShot() chromedp.Action[[]byte] {
	return func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		if _, err := chromedp.Evaluate[any](`(() => {
			const bounded = [[".diagram", "maxHeight", "none"], ["body:has(> main > #diagram)", "height", "auto"]];
			window.__fgShown = bounded.flatMap(([sel, prop, none]) => Array.from(document.querySelectorAll(sel), (b) => [b, prop, b.scrollTop, b.scrollLeft, none]));
			window.__fgShown.forEach(([b, prop, , , none]) => { b.style[prop] = none; });
			// A frame drawn with the boxes whole: the capture sizes the
			// page by the last one.
			return new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))));
		})()`, chromedp.EvalAwaitPromise)(ctx, t); err != nil {
			return nil, err
		}
		png, err := chromedp.FullScreenshot(100)(ctx, t)
		if _, rerr := chromedp.Evaluate[any](`(() => {
			(window.__fgShown || []).forEach(([b, prop, top, left]) => { b.style[prop] = ""; b.scrollTop = top; b.scrollLeft = left; });
			delete window.__fgShown;
		})()`)(ctx, t); err == nil {
			err = rerr
		}
		return png, err
	}
}

// signIn opens page (a URL of the web view) and signs in with token
// through the form; with live, it waits for the page's GET /watch stream.
func signIn(t *testing.T, ctx context.Context, page, token string, live bool) {
	t.Helper()
	run(t, ctx, "open the page", chromedp.Navigate(page))
	run(t, ctx, "the sign-in form", chromedp.WaitVisible(chromedp.CSS("#login-form")))
	run(t, ctx, "sign in",
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)), // as a user: Submit calls form.submit(), which fires no submit event
		chromedp.WaitVisible(chromedp.CSS("#view")),
	)
	if live {
		run(t, ctx, "the live stream", chromedp.WaitReady(chromedp.CSS("#live.on"))) // GET /watch is open
	}
}

// flowShows waits until the flows page's card of flow holds an element
// that sel (a selector within the card: "svg .fg-step") selects,
// scrolling the card into view: the page reads a flow's diagram only
// once its card is in view.
func flowShows(flow, sel string) chromedp.Action[chromedp.Void] {
	return poll(fmt.Sprintf(`(() => {
		const c = document.querySelector(%q);
		if (!c) return false;
		if (c.querySelector(%q)) return true;
		c.scrollIntoView({block: "nearest"});
		return false;
	})()`, fmt.Sprintf(`section[data-flow=%q]`, flow), sel))
}

// current is the selector of the run diagram's box lit as current.
func current(step string) string {
	return fmt.Sprintf(`#run-diagram .fg-node.fg-step.fg-current[data-step=%q]`, step)
}

// A run's page follows the run as it moves: the lit step changes with no
// reload, the timeline grows, each event's state can be read, and the
// final state is lit at the end.
func TestBrowserRunMoves(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Order", `{"Item": "book"}`)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, true)
	run(t, ctx, "Reserve lit", chromedp.WaitReady(chromedp.CSS(current("Reserve"))))
	shot(t, ctx, "1-reserve")

	v.gates.release("Stock.Reserve")
	run(t, ctx, "Charge lit after Reserve",
		chromedp.WaitReady(chromedp.CSS(current("Charge"))),
		chromedp.WaitReady(chromedp.CSS(`#run-diagram .fg-step.fg-visited[data-step="Reserve"]:not(.fg-current)`)),
	)
	shot(t, ctx, "2-charge")

	v.gates.release("Pay.Charge")
	run(t, ctx, "done",
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="done"]`)),
		chromedp.WaitReady(chromedp.CSS(`#run-diagram .fg-terminal.fg-done[data-terminal="done"]`)),
	)
	h, err := v.e.History(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "timeline", poll(fmt.Sprintf(`document.querySelectorAll("#timeline tbody tr").length === %d`, len(h))))
	rows := get(t, ctx, "rows", chromedp.Evaluate[int](`document.querySelectorAll("#timeline tbody tr").length`))
	noCurrent := get(t, ctx, "current", chromedp.Evaluate[bool](`document.querySelector("#run-diagram .fg-current") === null`))
	if rows != len(h) || !noCurrent {
		t.Errorf("%d timeline rows for %d events; no current step: %v", rows, len(h), noCurrent)
	}
	// The state after the first event (the start): the item, no
	// reservation yet. The row is clicked from the page, again until it
	// is selected: a live update may render the timeline anew between
	// finding a row and clicking it, which fails a click on the node
	// found ("Could not find node with given id"); the selection itself
	// survives a render.
	run(t, ctx, "state at event 1", poll(`(() => {
		if (document.querySelector('#timeline tr.selected[data-seq="1"]')) return true;
		const row = document.querySelector('#timeline tr[data-seq="1"]');
		if (row) row.click();
		return false;
	})()`))
	snap := get(t, ctx, "state", stateShown())
	if !strings.Contains(snap, `"Item": "book"`) || strings.Contains(snap, "Reservation") {
		t.Errorf("state at event 1: %s", snap)
	}
	shot(t, ctx, "3-done")

	// A client sees no Abort button.
	abort := get(t, ctx, "no abort for a client", chromedp.Evaluate[bool](`document.querySelector("#abort") !== null`))
	if abort {
		t.Error("a client is offered Abort")
	}
}

// stateShown waits until the state panel shows what it reads (the state
// after the event picked is read when it is picked: "loading…" until
// then) and answers its text.
func stateShown() chromedp.Action[string] {
	return func(ctx context.Context, t *chromedp.Target) (string, error) {
		if _, err := poll(`document.querySelector('#run-state:not([aria-busy])') !== null`)(ctx, t); err != nil {
			return "", err
		}
		return textOf("#run-state")(ctx, t)
	}
}

// litInView is true when the diagram's box shows the whole of step's box
// lit as current.
func litInView(step string) string {
	return fmt.Sprintf(`(() => {
		const g = document.querySelector(%q), box = document.querySelector("#run-diagram");
		if (!g) return false;
		const r = g.getBoundingClientRect(), b = box.getBoundingClientRect();
		return r.top >= b.top && r.bottom <= b.bottom && r.left >= b.left && r.right <= b.right;
	})()`, current(step))
}

// A run at a step low in a diagram taller than its box: the page scrolls
// the box to the lit step when it opens and when the run moves on, with no
// scrolling of the user's.
func TestBrowserLitStepInView(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Long", `{"K": "k-1"}`)
	v.await(id, runtime.StateWaiting)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, true)
	run(t, ctx, "First lit", chromedp.WaitReady(chromedp.CSS(current("First"))))
	tall := get(t, ctx, "the diagram's height", chromedp.Evaluate[bool](`(() => { const b = document.querySelector("#run-diagram"); return b.scrollHeight > 1.5 * b.clientHeight; })()`))
	if !tall {
		t.Fatal("the diagram fits its box: the test proves nothing")
	}
	run(t, ctx, "First in view", poll(litInView("First")))
	shot(t, ctx, "1-first")

	v.publish("go", "first", `{"correlation_id": "k-1"}`)
	run(t, ctx, "Second lit and in view", chromedp.WaitReady(chromedp.CSS(current("Second"))), poll(litInView("Second")))
	shot(t, ctx, "2-second")
}

// The state after an event far down a long timeline is shown where the
// user is: clicking the row does not leave the state out of view.
func TestBrowserEventStateInView(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Long", `{"K": "k-2"}`)
	v.await(id, runtime.StateWaiting)
	v.publish("go", "first", `{"correlation_id": "k-2"}`)
	for st, _ := v.e.Status(ctx, id); st.Step != "Second"; st, _ = v.e.Status(ctx, id) {
		time.Sleep(5 * time.Millisecond)
	}
	h, err := v.e.History(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	last := len(h)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, true)
	run(t, ctx, "the timeline", chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#timeline tr[data-seq="%d"]`, last))))
	run(t, ctx, "click the last event", js(fmt.Sprintf(`(() => {
		const row = document.querySelector('#timeline tr[data-seq="%d"]');
		row.scrollIntoView({block: "end"});
		row.click();
	})()`, last)))
	inView := get(t, ctx, "the state in view", chromedp.Evaluate[bool](`(() => {
		const r = document.querySelector("#run-state").getBoundingClientRect();
		return r.top >= 0 && r.top < window.innerHeight;
	})()`))
	title := get(t, ctx, "the state's title", chromedp.Evaluate[string](`document.querySelector("#run-state").previousElementSibling.textContent`))
	if !inView || !strings.HasPrefix(title, fmt.Sprintf("State after event %d ", last)) {
		t.Errorf("after a click on event %d: the state in view %v, titled %q", last, inView, title)
	}
	shot(t, ctx, "state")
}

// In a window as narrow as a phone's, no view is wider than the window:
// the tables and the diagram scroll in boxes of their own, the page does
// not scroll sideways.
func TestBrowserNarrowWindow(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	v.gates.release("Pay.Charge")
	id := v.start("Checkout", `{"Item": "a-rather-long-item-name", "Refund": {"OrderID": "o-7"}}`)
	v.await(id, runtime.StateRollingBack)
	run(t, ctx, "a phone's window", chromedp.EmulateViewport(400, 800))
	signIn(t, ctx, v.url+"/ui/#/runs", adminToken, true)
	fits := `document.documentElement.scrollWidth <= window.innerWidth`
	for _, c := range []struct {
		name, hash string
		ready      chromedp.Action[chromedp.Void]
	}{
		{"runs", "#/runs", chromedp.WaitReady(chromedp.CSS(`#runs tbody tr[data-run]`))},
		{"run", "#/run/" + id, chromedp.WaitReady(chromedp.CSS(`#timeline tbody tr`))},
		{"flows", "#/flows", flowShows("Order", "svg")},
	} {
		run(t, ctx, "open "+c.name, goTo(c.hash), c.ready)
		if !get(t, ctx, c.name+" fits", chromedp.Evaluate[bool](fits)) {
			width := get(t, ctx, "width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
			t.Errorf("%s: the page is %dpx wide in a window of 400px", c.name, width)
		}
		shot(t, ctx, c.name)
	}
}

// A run in a parallel block: its diagram lights the branch that runs and
// the one that ended; once the run has failed, the branches that ran and
// the block's undo state, whose rollbacks ran.
func TestBrowserParallelBranches(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Split", `{"Item": "box"}`)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, true)
	branch := func(step, class string) string {
		return fmt.Sprintf(`#run-diagram .fg-node.fg-branch.%s[data-step=%q]`, class, step)
	}
	run(t, ctx, "Pack runs, Label ran",
		chromedp.WaitReady(chromedp.CSS(branch("Pack", "fg-current"))),
		chromedp.WaitReady(chromedp.CSS(branch("Label", "fg-visited"))),
	)
	shot(t, ctx, "1-pack-runs")
	v.gates.release("Stock.Reserve")
	run(t, ctx, "compensated",
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="compensated"]`)),
		chromedp.WaitReady(chromedp.CSS(branch("Pack", "fg-visited"))),
		chromedp.WaitReady(chromedp.CSS(`#run-diagram .fg-node.fg-undo.fg-visited[data-step="Prepare"]`)),
	)
	shot(t, ctx, "2-compensated")

	// The timeline reads a line a row: the date only where it changes, a
	// branch's step not named twice.
	cells := get(t, ctx, "the timeline's cells", chromedp.Evaluate[[][]string](`Array.from(document.querySelectorAll("#timeline tbody tr")).map(r => Array.from(r.cells).map(c => c.innerText))`))
	day := regexp.MustCompile(`^\d{4}-\d\d-\d\d\n\d\d:\d\d:\d\d\.\d{3}$`)
	clock := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3}$`)
	for i, c := range cells {
		if i == 0 && !day.MatchString(c[1]) || i > 0 && !clock.MatchString(c[1]) {
			t.Errorf("event %s: time %q", c[0], c[1])
		}
		if strings.Contains(c[2], "(branch ") {
			t.Errorf("event %s: step %q", c[0], c[2])
		}
	}
}

// A parallel block that failed because one branch failed, which
// cancelled the other: the diagram lights the branch that failed red, and
// the one cancelled as cut short, not failed, and the final state failed
// (nothing completed to undo); the branches' table says "cancelled", its
// error not red; the failed branch is brought into view.
func TestBrowserParallelBranchFails(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Race", `{"Item": "crate"}`)
	v.await(id, runtime.StateFailed)
	st, err := v.e.Status(ctx, id)
	if err != nil || len(st.Branches) != 2 {
		t.Fatalf("status %+v %v", st, err)
	}
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, false)
	branch := func(step, class string) string {
		return fmt.Sprintf(`#run-diagram .fg-node.fg-branch.%s[data-step=%q]`, class, step)
	}
	run(t, ctx, "the branches lit",
		chromedp.WaitReady(chromedp.CSS(branch("Ship", "fg-failed"))),
		chromedp.WaitReady(chromedp.CSS(branch("Pack", "fg-interrupted")+":not(.fg-failed)")),
		chromedp.WaitReady(chromedp.CSS(`#run-branches tr[data-branch="Pack"]`)),
		// Nothing completed to undo: the run ended failed, a final
		// state the diagram must draw (the block's rollbacks may not run).
		chromedp.WaitReady(chromedp.CSS(`#run-diagram .fg-terminal.fg-done[data-terminal="failed"]`)),
	)
	rows := get(t, ctx, "the branches' table", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#run-branches tbody tr")).map(r => r.innerText.replace(/\s+/g, " ").trim() + (r.querySelector(".error") ? " [red]" : ""))`))
	// Pack's error is the cancellation alone when it was cancelled between
	// attempts, or wraps what its attempt in flight returned (context
	// canceled): either, in the default colour.
	want := []string{"Pack Prepare:parallel cancelled", "runtime: branch cancelled: another branch failed", "Ship Prepare:parallel error", "no parcel service [red]"}
	if len(rows) == len(want) {
		if rest, ok := strings.CutPrefix(rows[1], want[1]); ok && (rest == "" || strings.HasPrefix(rest, ": ") && !strings.HasSuffix(rest, "[red]")) {
			rows[1] = want[1]
		}
	}
	if !slices.Equal(rows, want) {
		t.Errorf("the branches' rows %q, want %q", rows, want)
	}
	inView := fmt.Sprintf(`(() => {
		const g = document.querySelector(%q), box = document.querySelector("#run-diagram");
		const r = g.getBoundingClientRect(), b = box.getBoundingClientRect();
		return r.top >= b.top && r.bottom <= b.bottom && r.left >= b.left && r.right <= b.right;
	})()`, branch("Ship", "fg-failed"))
	run(t, ctx, "the failed branch in view", poll(inView))

	// The timeline says so too: Pack's ending event reads "cancelled",
	// not its attempt's error (or timeout), and not in red; Ship's
	// failure is red.
	h, err := v.e.History(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var ends []string
	for _, e := range h {
		if e.Branch == "" || e.Outcome == "" {
			continue
		}
		want := string(e.Outcome) + " red"
		if e.Cancelled() {
			want = "cancelled"
		}
		ends = append(ends, fmt.Sprintf("%s %d: %s", e.Branch, e.Seq, want))
	}
	var shown []string
	for _, end := range ends {
		var branch string
		var seq uint64
		fmt.Sscanf(end, "%s %d:", &branch, &seq)
		got := get(t, ctx, "the timeline", chromedp.Evaluate[string](fmt.Sprintf(`(() => {
			const tr = document.querySelector('#timeline tr[data-seq="%d"]');
			return tr.children[5].innerText + (tr.classList.contains("ev-error") ? " red" : "");
		})()`, seq)))
		shown = append(shown, fmt.Sprintf("%s %d: %s", strings.TrimSuffix(branch, ":"), seq, got))
	}
	if !slices.Equal(shown, ends) || !slices.ContainsFunc(ends, func(s string) bool { return strings.HasSuffix(s, ": cancelled") }) {
		t.Errorf("the timeline's branch ends read %q, want %q (Pack cancelled)", shown, ends)
	}
	shot(t, ctx, "failed")
}

// A run whose compensation failed: its error of several lines (the
// step's, then the rollback's) is shown a line each, and the diagram
// lights the rollback that failed.
func TestBrowserCompensationFailed(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Brittle", `{"Item": "vase"}`)
	v.await(id, runtime.StateCompensationFailed)
	st, err := v.e.Status(ctx, id)
	if err != nil || !strings.Contains(st.Err, "\n") {
		t.Fatalf("the run's error %q (%v): want lines", st.Err, err)
	}
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, false)
	run(t, ctx, "the error", chromedp.WaitVisible(chromedp.CSS("#run-error")))
	if got := get(t, ctx, "the error", textOf("#run-error")); got != st.Err {
		t.Errorf("the error reads %q, want %q", got, st.Err)
	}
	run(t, ctx, "the rollback that failed", chromedp.WaitReady(chromedp.CSS(`#run-diagram .fg-node.fg-undo.fg-failed[data-step="Book"]`)))
	shot(t, ctx, "error")
}

// armedAbort opens, as admin, the page of a new Order run (its Reserve
// step held by its gate) and clicks Abort once, which arms it. With
// frozen, the page's clock stands still from before that click
// (freezeClock): the arming, 5 s of the page's clock, then lasts however
// long the test takes to click again.
func armedAbort(t *testing.T, v *env, frozen bool) (context.Context, string) {
	t.Helper()
	ctx := browser(t)
	id := v.start("Order", `{"Item": "lamp"}`)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, adminToken, true)
	run(t, ctx, "Abort offered", chromedp.WaitReady(chromedp.CSS(current("Reserve"))), chromedp.WaitVisible(chromedp.CSS("#abort")))
	if frozen {
		run(t, ctx, "freeze the clock", freezeClock)
	}
	run(t, ctx, "arm Abort", chromedp.Click(chromedp.CSS("#abort")))
	return ctx, id
}

// freezeClock makes the page's Date.now answer, from now on, the time it
// answers now. A test that arms Abort and then confirms it must not depend
// on doing so within the arming's 5 s: on two loaded cores a screenshot
// between the clicks may take longer, and the second click would then arm
// it again instead of aborting.
var freezeClock = js(`Date.now = ((now) => () => now)(Date.now())`)

// An admin aborts a run from its page; the page shows it aborted, and
// the step the abort cut short lit interrupted: not red, as a step that
// failed is.
func TestBrowserAbort(t *testing.T) {
	v := newEnv(t)
	ctx, id := armedAbort(t, v, true)
	label := get(t, ctx, "label", textOf("#abort"))
	if label != "Confirm abort" {
		t.Errorf("after one click the button says %q", label)
	}
	if s := v.state(id); s.Terminal() {
		t.Fatalf("one click aborted the run: %s", s)
	}
	shot(t, ctx, "1-confirm")
	run(t, ctx, "abort",
		chromedp.Click(chromedp.CSS("#abort")),
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="aborted"]`)),
		chromedp.WaitReady(chromedp.CSS(`#run-diagram .fg-terminal.fg-done[data-terminal="aborted"]`)),
		chromedp.WaitReady(chromedp.CSS(`#run-diagram .fg-node.fg-aborting.fg-visited`)),
		chromedp.WaitReady(chromedp.CSS(`#run-diagram .fg-node.fg-step.fg-interrupted[data-step="Reserve"]`)),
	)
	if s := v.state(id); s != runtime.StateAborted {
		t.Errorf("the store says %s", s)
	}
	if failed := get(t, ctx, "nothing failed", chromedp.Evaluate[bool](`document.querySelector("#run-diagram .fg-failed") !== null`)); failed {
		t.Error("an aborted run's diagram lights a box failed")
	}
	// The timeline says so too, from the server's reading of the history
	// (GET /runs/{id}/history's "interrupted"). The diagram and the
	// timeline are read apart, so the diagram may show the end before
	// the timeline has read the abort's events: wait for its row.
	run(t, ctx, "the abort's row", poll(`Array.from(document.querySelectorAll("#timeline tbody tr")).some(r => r.innerText.includes("Reserve:running → aborting"))`))
	row := get(t, ctx, "the abort's row", chromedp.Evaluate[string](`Array.from(document.querySelectorAll("#timeline tbody tr")).map(r => r.innerText).find(t => t.includes("Reserve:running → aborting")) || ""`))
	if !strings.Contains(row, "interrupted") {
		t.Errorf("the row of the abort that cut Reserve short: %q, want it marked interrupted", row)
	}
	// Nor does the row look failed: the run is aborting, not failing.
	red := get(t, ctx, "the abort's row's look", chromedp.Evaluate[[]string](`(() => {
		const tr = Array.from(document.querySelectorAll("#timeline tbody tr")).find(r => r.innerText.includes("Reserve:running → aborting"));
		const red = getComputedStyle(document.querySelector("#notice")).color; // the red of an error
		return [tr.className, getComputedStyle(tr.querySelector("td.err-col")).color, red];
	})()`))
	if strings.Contains(red[0], "ev-error") || red[1] == red[2] {
		t.Errorf("the abort's row (class %q, error in %s) looks failed (red %s)", red[0], red[1], red[2])
	}
	// Its look is its own: neither a failed step's (red) nor a step's
	// that ran, each drawn for the comparison on the same diagram.
	look := get(t, ctx, "the interrupted box's look", chromedp.Evaluate[[]string](`(function () {
		var svg = document.querySelector("#run-diagram svg"), ns = "http://www.w3.org/2000/svg";
		function look(rect) { var s = getComputedStyle(rect); return s.fill + " " + s.stroke; }
		function drawn(cls) {
			var g = document.createElementNS(ns, "g"), r = document.createElementNS(ns, "rect");
			g.setAttribute("class", cls);
			g.appendChild(r);
			svg.appendChild(g);
			var l = look(r);
			g.remove();
			return l;
		}
		return [look(document.querySelector('#run-diagram .fg-interrupted[data-step="Reserve"] rect')),
			drawn("fg-node fg-step fg-visited fg-failed"), drawn("fg-node fg-step fg-visited")];
	})()`))
	if len(look) != 3 || look[0] == look[1] || look[0] == look[2] {
		t.Errorf("fill and stroke of the interrupted step, a failed one, one that ran: %q; want the first apart", look)
	}
	gone := get(t, ctx, "no Abort on a finished run", chromedp.Evaluate[bool](`document.querySelector("#abort") === null`))
	if !gone {
		t.Error("a finished run offers Abort")
	}
	shot(t, ctx, "2-aborted")
}

// An abort accepted while the run's step in flight has not returned (its
// service ignores the cancellation): the page says the abort is accepted
// and pending, to the admin who pressed it and, live, to a client who
// has the run open in another tab, offers no second abort, and shows the
// run aborted once the step returns.
func TestBrowserAbortPending(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id, free := v.startHold()
	// A client's tab (its own sessionStorage), open on the run first.
	client, cancel := chromedp.NewContext(ctx)
	defer cancel()
	watchConsole(t, client)
	signIn(t, client, v.url+"/ui/#/run/"+id, clientToken, true)
	run(t, client, "Grab lit for the client", chromedp.WaitReady(chromedp.CSS(current("Grab"))))

	signIn(t, ctx, v.url+"/ui/#/run/"+id, adminToken, true)
	run(t, ctx, "Abort offered", chromedp.WaitReady(chromedp.CSS(current("Grab"))), chromedp.WaitVisible(chromedp.CSS("#abort")))
	if pending := get(t, ctx, "no abort pending yet", chromedp.Evaluate[bool](`document.querySelector("#abort-pending") !== null`)); pending {
		t.Fatal("an abort pending before any")
	}
	run(t, ctx, "abort",
		freezeClock,                            // the arming lasts until the confirmation
		chromedp.Click(chromedp.CSS("#abort")), // arm
		chromedp.Click(chromedp.CSS("#abort")), // confirm
		chromedp.WaitVisible(chromedp.CSS("#abort-pending")),
	)
	st, err := v.e.Status(ctx, id)
	if err != nil || !st.AbortRequested || st.State != runtime.StateRunning {
		t.Fatalf("the run's status: %+v %v; want running, abort requested", st, err)
	}
	text := get(t, ctx, "the notice", textOf("#abort-pending"))
	again := get(t, ctx, "no second abort", chromedp.Evaluate[bool](`document.querySelector("#abort") !== null`))
	if !strings.Contains(text, "Abort accepted, pending") || !strings.Contains(text, "(Grab)") || again {
		t.Errorf("the notice %q; Abort offered again %v", text, again)
	}
	shot(t, ctx, "1-admin-pending")

	// The client's page, not reloaded, says it too: the run has recorded
	// nothing since, GET /watch told it of the abort.
	run(t, client, "the client told", chromedp.WaitVisible(chromedp.CSS("#abort-pending")))
	if h, _ := v.e.History(ctx, id); len(h) != 1 {
		t.Fatalf("the run recorded %d events: the test proves nothing", len(h))
	}
	shot(t, client, "2-client-pending")
	// The runs list says it too, and the run's page again.
	run(t, client, "the list",
		goTo("#/runs?flow=Hold"),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#runs tr[data-run=%q] .abort-pending`, id))),
	)
	shot(t, client, "3-list-pending")
	run(t, client, "the run again", goTo("#/run/"+id), chromedp.WaitVisible(chromedp.CSS("#abort-pending")))

	free() // the step returns: the run takes the abort
	for _, c := range []context.Context{ctx, client} {
		run(t, c, "aborted",
			chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="aborted"]`)),
			poll(`document.querySelector("#abort-pending") === null`),
		)
	}
	if s := v.state(id); s != runtime.StateAborted {
		t.Errorf("the store says %s", s)
	}
	shot(t, ctx, "4-aborted")
}

// An abort while a flow's last step runs, a step that returns ok anyway
// (its service ignores the cancellation): the run undoes the step, a
// rollback that only an abort can run, since no step after it can fail.
// The run's diagram draws that rollback's undo state before, and lights
// it after, with the aborting state the run went through; the step, which
// completed, is lit neither failed nor interrupted.
func TestBrowserAbortLastStep(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id, free := v.startHold()
	undo := `#run-diagram .fg-node.fg-undo[data-step="Grab"]`
	aborting := `#run-diagram .fg-node.fg-aborting`
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, true)
	run(t, ctx, "Grab lit, its undo state drawn and not lit",
		chromedp.WaitReady(chromedp.CSS(current("Grab"))),
		chromedp.WaitReady(chromedp.CSS(undo+":not(.fg-visited)")),
		chromedp.WaitReady(chromedp.CSS(aborting+":not(.fg-visited)")),
	)
	shot(t, ctx, "1-grab")

	if err := v.e.Abort(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	free() // Grab returns ok, after the abort: the run undoes it
	run(t, ctx, "aborted, Grab undone",
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="aborted"]`)),
		chromedp.WaitReady(chromedp.CSS(undo+".fg-visited")),
		chromedp.WaitReady(chromedp.CSS(aborting+".fg-visited")),
		chromedp.WaitReady(chromedp.CSS(`#run-diagram .fg-terminal.fg-done[data-terminal="aborted"]`)),
		chromedp.WaitReady(chromedp.CSS(`#run-diagram .fg-node.fg-step.fg-visited[data-step="Grab"]:not(.fg-failed):not(.fg-interrupted)`)),
	)
	h, err := v.e.History(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(h, func(ev runtime.Event) bool { return ev.To == runtime.RollbackState("Grab") }) {
		t.Fatalf("the run did not undo Grab: the test proves nothing: %+v", h)
	}
	shot(t, ctx, "2-aborted")
}

// A token whose role may not read runs (a provider's, a scraper's metrics
// token) gets the sign-in form again, saying why, and another token signs
// in: the page is no dead end.
func TestBrowserTokenOfAnotherRole(t *testing.T) {
	for _, tc := range []struct{ role, token string }{{"provider", providerToken}, {"metrics", metricsToken}} {
		t.Run(tc.role, func(t *testing.T) {
			v := newEnv(t)
			ctx := browser(t)
			said := `document.querySelector("#login-error").textContent.includes("the token's role is ` + tc.role + `")`
			run(t, ctx, "open the page", chromedp.Navigate(v.url+"/ui/#/runs"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
			run(t, ctx, "sign in as "+tc.role,
				chromedp.SendKeys(chromedp.CSS("#token"), tc.token),
				chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
				poll(said),
			)
			form := get(t, ctx, "the form", chromedp.Evaluate[bool](`!document.querySelector("#login").hidden && document.querySelector("#view").hidden && document.querySelector("#nav").hidden`))
			if !form {
				t.Errorf("the sign-in form alone is not shown after a %s token", tc.role)
			}
			shot(t, ctx, "1-refused")
			// Opened again (the token kept in the tab), the page still offers the form.
			run(t, ctx, "reload", js(`location.reload()`), chromedp.WaitVisible(chromedp.CSS("#login-form")), poll(said))
			run(t, ctx, "sign in as a client",
				chromedp.SendKeys(chromedp.CSS("#token"), clientToken),
				chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
				chromedp.WaitVisible(chromedp.CSS("#view")),
				chromedp.WaitReady(chromedp.CSS("#live.on")),
			)
			shot(t, ctx, "2-client")
		})
	}
}

// rowsAre waits until the runs table lists exactly ids, in order.
func rowsAre(ids ...string) chromedp.Action[chromedp.Void] {
	want, _ := json.Marshal(append([]string{}, ids...)) // [] for none, not null
	return poll(fmt.Sprintf(`JSON.stringify(Array.from(document.querySelectorAll("#runs tbody tr[data-run]")).map(function (r) { return r.getAttribute("data-run"); })) === %q`, want))
}

// The runs list, newest first: filter by flow, by correlation value and
// by state, page through it, and see a new run appear live, on top of the
// first page.
func TestBrowserFilterRuns(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	order := v.start("Order", `{"Item": "pen"}`)
	var payments []string
	for i := range 27 { // more than a page (25)
		payments = append(payments, v.start("Payment", fmt.Sprintf(`{"OrderID": "o-%d"}`, i)))
	}
	for _, id := range payments {
		v.await(id, runtime.StateWaiting)
	}
	all := append([]string{order}, payments...)
	slices.Reverse(all) // newest first
	signIn(t, ctx, v.url+"/ui/#/runs", clientToken, true)
	run(t, ctx, "first page", rowsAre(all[:25]...))
	shot(t, ctx, "1-all")

	run(t, ctx, "next page", chromedp.Click(chromedp.CSS("#next")), rowsAre(all[25:]...))
	run(t, ctx, "previous page", chromedp.Click(chromedp.CSS("#prev")), rowsAre(all[:25]...))

	run(t, ctx, "filter by flow",
		chromedp.WaitReady(chromedp.CSS(`#f-flow option[value="Order"]`)),
		chromedp.SetValue(chromedp.CSS("#f-flow"), "Order"),
		chromedp.Click(chromedp.CSS("#f-apply")),
		rowsAre(order),
	)
	shot(t, ctx, "2-flow")

	run(t, ctx, "filter by correlation",
		chromedp.SetValue(chromedp.CSS("#f-flow"), ""),
		chromedp.SetValue(chromedp.CSS("#f-correlation"), "o-7"),
		chromedp.Click(chromedp.CSS("#f-apply")),
		rowsAre(payments[7]),
	)
	hash := get(t, ctx, "the filter is in the URL", chromedp.Evaluate[string](`location.hash`))
	if hash != "#/runs?correlation=o-7" {
		t.Errorf("hash %q", hash)
	}
	shot(t, ctx, "3-correlation")

	run(t, ctx, "filter by start time",
		// The inputs' values, as the date picker sets them (typing them
		// depends on the browser's locale).
		js(`document.querySelector("#f-correlation").value = ""; document.querySelector("#f-since").value = "2099-01-01T00:00:00"`),
		chromedp.Click(chromedp.CSS("#f-apply")),
		poll(`document.querySelector("#runs tbody td.muted") !== null`),
		rowsAre(),
	)
	if hash := get(t, ctx, "hash", chromedp.Evaluate[string](`location.hash`)); hash != "#/runs?since=2099-01-01T00%3A00%3A00.000Z" {
		t.Errorf("hash %q", hash)
	}
	run(t, ctx, "filter by state",
		goTo("#/runs?status=running"),
		rowsAre(order),
	)

	// Live: the list of Order runs shows a new one without a reload.
	run(t, ctx, "Order runs", goTo("#/runs?flow=Order"), rowsAre(order), chromedp.WaitReady(chromedp.CSS("#live.on")))
	second := v.start("Order", `{"Item": "ink"}`)
	run(t, ctx, "a new run appears", rowsAre(second, order))
	shot(t, ctx, "4-live")

	// More runs than a page: a new one tops the first page.
	run(t, ctx, "all runs", goTo("#/runs"), rowsAre(append([]string{second}, all[:24]...)...), chromedp.WaitReady(chromedp.CSS("#live.on")))
	third := v.start("Payment", `{"OrderID": "o-new"}`)
	run(t, ctx, "a new run tops the list", rowsAre(append([]string{third, second}, all[:23]...)...))
	shot(t, ctx, "5-live-top")
}

// The flows page draws every flow; clicking a step shows its details.
func TestBrowserFlows(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	signIn(t, ctx, v.url+"/ui/#/flows", clientToken, false)
	run(t, ctx, "diagrams",
		flowShows("Order", `svg .fg-step[data-step="Charge"]`),
		flowShows("Payment", `svg .fg-step[data-step="AwaitPaid"]`),
		chromedp.Click(chromedp.CSS(`section[data-flow="Order"] svg .fg-step[data-step="Reserve"] rect`)),
		chromedp.WaitReady(chromedp.CSS(`section[data-flow="Order"] svg .fg-step.fg-selected[data-step="Reserve"]`)),
	)
	details := get(t, ctx, "details", chromedp.Text(chromedp.CSS(`section[data-flow="Order"] pre`)))
	if !strings.Contains(details, `rpc stock "Stock.Reserve"`) {
		t.Errorf("details: %q", details)
	}
	// The page follows the flows' definitions (flowlive_browser_test.go).
	run(t, ctx, "the flows are live", chromedp.WaitVisible(chromedp.CSS("#live.on")))
	run(t, ctx, "the runs list is live", goTo("#/runs"), chromedp.WaitVisible(chromedp.CSS("#live.on")))
	run(t, ctx, "the flows again", goTo("#/flows"), flowShows("Order", "svg"), chromedp.WaitVisible(chromedp.CSS("#live.on")))
	shot(t, ctx, "flows")
}

// Without tokens the page needs no sign-in and the caller may do all; a
// waiting run shows what it waits for and its deadline.
func TestBrowserOpenAPIAndWaits(t *testing.T) {
	v := newEnvAuth(t, false)
	ctx := browser(t)
	id := v.start("Payment", `{"OrderID": "o-42"}`)
	v.await(id, runtime.StateWaiting)
	st, err := v.e.Status(ctx, id)
	if err != nil || st.Wait == nil {
		t.Fatalf("status: %+v %v", st, err)
	}
	run(t, ctx, "open the page", chromedp.Navigate(v.url+"/ui/#/run/"+id))
	run(t, ctx, "waiting",
		chromedp.WaitReady(chromedp.CSS("#live.on")),
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="waiting"]`)),
		chromedp.WaitReady(chromedp.CSS(current("AwaitPaid"))),
		chromedp.WaitVisible(chromedp.CSS("#abort")), // the open API lets anyone abort
	)
	who := get(t, ctx, "who", chromedp.Text(chromedp.CSS("#who")))
	wait := get(t, ctx, "wait", chromedp.Text(chromedp.CSS("#run-wait")))
	deadline := get(t, ctx, "deadline", textOf("#wait-deadline"))
	login := get(t, ctx, "login", chromedp.Evaluate[bool](`document.querySelector("#login").hidden`))
	if !login || !strings.Contains(who, "open API") {
		t.Errorf("sign-in hidden %v, header %q", login, who)
	}
	if !strings.Contains(wait, "payments") || !strings.Contains(wait, `"o-42"`) {
		t.Errorf("wait: %q", wait)
	}
	want := st.Wait.Deadline.UTC().Format("2006-01-02 15:04:05.000")
	if !strings.Contains(deadline, want) {
		t.Errorf("deadline %q, want %s", deadline, want)
	}
	shot(t, ctx, "waiting")
}

// A run whose rollback waits for a compensation flow's run shows that run,
// linked: the link opens the child's page, waiting for its event.
func TestBrowserRollbackWaitsForChild(t *testing.T) {
	v := newEnvAuth(t, false)
	ctx := browser(t)
	v.gates.release("Pay.Charge")
	id := v.start("Checkout", `{"Item": "book", "Refund": {"OrderID": "o-7"}}`)
	child := id + "@Charge:rollback"
	for {
		st, err := v.e.Status(ctx, id)
		if err == nil && st.Wait != nil && st.Wait.Child != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	run(t, ctx, "open the page", chromedp.Navigate(v.url+"/ui/#/run/"+id))
	run(t, ctx, "rolling back",
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="rolling_back"]`)),
		chromedp.WaitVisible(chromedp.CSS("#wait-child")),
	)
	wait := get(t, ctx, "wait", chromedp.Text(chromedp.CSS("#run-wait")))
	if !strings.Contains(wait, "Charge\u2019s rollback waits for child run "+child+" of flow Refund") {
		t.Errorf("wait: %q", wait)
	}
	shot(t, ctx, "rollback-waits")
	run(t, ctx, "open the child",
		chromedp.Click(chromedp.CSS("#wait-child")),
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="waiting"]`)),
	)
	if got := get(t, ctx, "child's wait", chromedp.Text(chromedp.CSS("#run-wait"))); !strings.Contains(got, "payments") || !strings.Contains(got, `"o-7"`) {
		t.Errorf("child's wait: %q", got)
	}
	// The child leads back to its parent.
	if got := get(t, ctx, "the parent", chromedp.Text(chromedp.CSS("#run-head"))); !strings.Contains(got, "Parent run\n"+id+" of flow Checkout") {
		t.Errorf("the child's head: %q", got)
	}
	run(t, ctx, "back to the parent",
		chromedp.Click(chromedp.CSS("#run-parent")),
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="rolling_back"]`)),
	)
	// The children are read after the run's status (GET /runs/{id}/children).
	run(t, ctx, "the parent's children", poll(fmt.Sprintf(`document.querySelector("#run-children").innerText.indexOf(%q) >= 0`, child+" of flow Refund")))
}

// providerFlows: Hold takes something (an in-process Go step) whose
// rollback, Give, a remote provider serves, then fails; Ask is a Go step
// only a provider serves.
const providerFlows = `{"version": 1, "flows": [
 {"name": "Hold", "steps": [
  {"name": "Take", "action": {"kind": "go"}, "rollback": {"name": "Give"}},
  {"name": "Break", "action": {"kind": "go"}, "irreversible": true}]},
 {"name": "Ask", "steps": [{"name": "Question", "action": {"kind": "go"}, "irreversible": true}]}
]}`

// heldEntry is a memory store that holds the recording of the first event
// entering the state to (the run's goroutine waits in Emit) until the test
// closes free: the run's status meanwhile is that of the event before.
type heldEntry struct {
	*store.Memory
	to   string
	once sync.Once
	free chan struct{}
}

func (s *heldEntry) Emit(ctx context.Context, e runtime.Event) error {
	if e.To == s.to {
		s.once.Do(func() { <-s.free })
	}
	return s.Memory.Emit(ctx, e)
}

// A run waiting for a remote provider, of its Go step or of a Go rollback,
// names the handler it waits for; one rolling back offers no abort.
// Hold's run is rolling back one event before its rollback waits (the
// step's failure, then the rollback's gate): that event is held until the
// page has shown the run rolling back, and the wait must then come live.
// The test read the wait as soon as the page said rolling_back, which a
// page loaded between the two events failed ("Not waiting.").
func TestBrowserProviderWaits(t *testing.T) {
	held := &heldEntry{Memory: store.NewMemory(), to: "Take:rollback", free: make(chan struct{})}
	var freeOnce sync.Once
	free := func() { freeOnce.Do(func() { close(held.free) }) }
	t.Cleanup(free) // before the engine closes, should the test stop early
	e, err := engine.New(engine.Options{Store: held, Providers: &engine.ProviderOptions{}})
	if err != nil {
		t.Fatal(err)
	}
	e.Registry().Step("Hold.Take", func(context.Context, *engine.State) (runtime.Outcome, error) { return "", nil })
	e.Registry().Step("Hold.Break", func(context.Context, *engine.State) (runtime.Outcome, error) {
		return "", runtime.Permanent(errors.New("broken"))
	})
	if ds, err := e.LoadFlows("providers.json", []byte(providerFlows)); err != nil {
		t.Fatalf("%v\n%v", err, ds)
	}
	url := serve(t, e)
	ctx := browser(t)
	for i, c := range []struct {
		flow, state, want string
		abortable         bool // a run rolling back offers no abort: it would change nothing
	}{
		{"Hold", "rolling_back", "Take\u2019s rollback waits for a provider of Go rollback \u201cGive\u201d", false},
		{"Ask", "waiting", "Question waits for a provider of Go step \u201cQuestion\u201d", true},
	} {
		id, err := e.StartRun(context.Background(), c.flow, json.RawMessage(`{}`), "")
		if err != nil {
			t.Fatal(err)
		}
		open := goTo("#/run/" + id)
		if i == 0 {
			open = chromedp.Navigate(url + "/ui/#/run/" + id) // the page's first load
		}
		run(t, ctx, "open "+c.flow, open,
			chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="`+c.state+`"]`)))
		free() // Hold's rollback now waits, recorded after the page read the run
		run(t, ctx, "the wait of "+c.flow, poll(fmt.Sprintf(`document.querySelector("#run-wait").innerText.includes(%q)`, c.want)))
		if got := get(t, ctx, "wait", textOf("#run-wait")); !strings.Contains(got, c.want) {
			t.Errorf("%s: wait %q, want %q", c.flow, got, c.want)
		}
		abortable := get(t, ctx, "the abort button", chromedp.Evaluate[bool](`document.querySelector("#abort") !== null`))
		if abortable != c.abortable {
			t.Errorf("%s (%s): abort button shown %v, want %v", c.flow, c.state, abortable, c.abortable)
		}
		shot(t, ctx, "provider-wait-"+c.flow)
		if c.flow != "Hold" {
			continue
		}
		// The provider comes: the timeline names the event that ends the
		// rollback's wait, and the run is compensated.
		e.Registry().Rollback("Hold.Give", func(context.Context, *engine.State) error { return nil })
		run(t, ctx, "compensated", chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="compensated"]`)))
		row := get(t, ctx, "the gate's row", chromedp.Evaluate[string](`Array.from(document.querySelectorAll("#timeline tbody tr")).map(r => r.innerText).find(t => t.includes("Take:rollback → Take:rollback")) || ""`))
		if !strings.Contains(row, "woken") {
			t.Errorf("the row of the provider's coming: %q, want it marked woken", row)
		}
		shot(t, ctx, "provider-came-"+c.flow)
	}
}

// A link whose fragment is not well percent-encoded (a run ID ending in
// "%", typed or cut short) opens its view, with the text as it is, rather
// than a blank page.
func TestBrowserMalformedLink(t *testing.T) {
	v := newEnvAuth(t, false)
	ctx := browser(t)
	run(t, ctx, "open the link", chromedp.Navigate(v.url+"/ui/#/run/50%"),
		chromedp.WaitVisible(chromedp.CSS("#view h1")), chromedp.WaitVisible(chromedp.CSS("#run-unknown")))
	title := get(t, ctx, "title", chromedp.Text(chromedp.CSS("#view h1")))
	says := get(t, ctx, "the page", chromedp.Text(chromedp.CSS("#run-unknown")))
	if title != "Run 50%" || !strings.Contains(says, "No run 50% here") {
		t.Errorf("title %q, the page says %q", title, says)
	}
}

// A run the server does not know shows one message, not a red error over
// empty panels (a diagram box, "Timeline", "Waiting for", "State" with
// nothing under them); and a run started under that ID afterwards shows,
// as the page follows the ID.
func TestBrowserUnknownRun(t *testing.T) {
	v := newEnvAuth(t, false)
	ctx := browser(t)
	run(t, ctx, "open an unknown run", chromedp.Navigate(v.url+"/ui/#/run/later-1"),
		chromedp.WaitVisible(chromedp.CSS("#run-unknown")))
	says := get(t, ctx, "the page", chromedp.Text(chromedp.CSS("#run-unknown")))
	// offsetParent is null for an element that is not displayed.
	panels := get(t, ctx, "the panels", chromedp.EvaluateAsDevTools[bool](`document.querySelector("#view .cols").offsetParent !== null || !document.querySelector("#notice").hidden`))
	if !strings.Contains(says, "No run later-1 here") || panels {
		t.Fatalf("the page says %q; panels or the error notice shown: %v", says, panels)
	}
	req, _ := http.NewRequest("POST", v.url+"/flows/Order/runs?run_id=later-1", strings.NewReader(`{"Item": "book"}`))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("start later-1: %d", res.StatusCode)
	}
	run(t, ctx, "the run shows", chromedp.WaitVisible(chromedp.CSS("#run-machine")), chromedp.WaitNotVisible(chromedp.CSS("#run-unknown")))
}

// Back from a run opened on a later page of the runs list comes back to
// that page, and Previous still goes to the one before; it came back to
// the first page, so that looking through many runs one by one meant
// paging again after each. Filter lists from the first page again.
func TestBrowserBackKeepsPage(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	all := v.twoPages(ctx)
	run(t, ctx, "second page", chromedp.Click(chromedp.CSS("#next")), rowsAre(all[25:]...))
	run(t, ctx, "open a run", chromedp.Click(chromedp.CSS(`#runs a[href="#/run/`+all[27]+`"]`)),
		chromedp.WaitReady(chromedp.CSS("#run-head[data-state]")))
	run(t, ctx, "back", chromedp.NavigateBack(), rowsAre(all[25:]...))
	if page := get(t, ctx, "the page", textOf(".pager span")); page != "page 2" {
		t.Errorf("back on the list, it says %q, want page 2", page)
	}
	shot(t, ctx, "back-on-page-2")
	run(t, ctx, "previous", chromedp.Click(chromedp.CSS("#prev")), rowsAre(all[:25]...))
	run(t, ctx, "second page again", chromedp.Click(chromedp.CSS("#next")), rowsAre(all[25:]...))
	run(t, ctx, "filter", chromedp.Click(chromedp.CSS("#f-apply")), rowsAre(all[:25]...))
}

// twoPages starts 30 runs, two pages of the runs list, and opens the
// list's first page as the client; it answers the runs, newest first.
func (v *env) twoPages(ctx context.Context) []string {
	v.t.Helper()
	var all []string
	for i := range 30 {
		all = append([]string{v.start("Payment", fmt.Sprintf(`{"OrderID": "o-%d"}`, i))}, all...)
	}
	signIn(v.t, ctx, v.url+"/ui/#/runs", clientToken, true)
	run(v.t, ctx, "first page", rowsAre(all[:25]...))
	return all
}

// The timeline's rows are picked by keyboard, as by a click: Tab reaches
// them, Enter shows the state after the event, Space again shows the
// latest. They took clicks only, so the state at each event was out of
// reach without a mouse.
func TestBrowserTimelineByKeyboard(t *testing.T) {
	v := newEnv(t)
	ctx := browser(t)
	id := v.start("Brittle", `{"Item": "vase"}`)
	v.await(id, runtime.StateCompensationFailed)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, false)
	run(t, ctx, "the timeline", chromedp.WaitReady(chromedp.CSS(`#timeline tr[data-seq="2"]`)))
	title := func() string {
		return get(t, ctx, "the state's title", chromedp.Evaluate[string](`document.querySelector("#run-state").previousElementSibling.textContent`))
	}
	run(t, ctx, "focus", chromedp.Focus(chromedp.CSS(`#timeline tr[data-seq="2"]`)))
	if focused := get(t, ctx, "focused", chromedp.Evaluate[string](`document.activeElement.getAttribute("data-seq")`)); focused != "2" {
		t.Errorf("the focus is on %q, want the row of event 2", focused)
	}
	run(t, ctx, "Enter", chromedp.KeyEvent("\r"))
	if got := title(); !strings.HasPrefix(got, "State after event 2 ") {
		t.Errorf("after Enter on event 2, the state is titled %q", got)
	}
	shot(t, ctx, "event-2")
	run(t, ctx, "Space", chromedp.KeyEvent(" "))
	if got := title(); got != "State (latest)" {
		t.Errorf("after Space on the picked event, the state is titled %q", got)
	}
}
