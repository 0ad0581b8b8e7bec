package ui_test

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// flakyFlows: Flaky's step Reserve is tried three times; SlowFlaky's
// too, an hour after its first attempt fails.
const flakyFlows = `{"version": 1, "flows": [
 {"name": "Flaky", "steps": [
  {"name": "Reserve", "action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Flaky"}, "retry": {"attempts": 3, "initial": "10ms"}, "irreversible": true}]},
 {"name": "SlowFlaky", "steps": [
  {"name": "Reserve", "action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Flaky"}, "retry": {"attempts": 3, "initial": "1h", "jitter": "none"}, "irreversible": true}]}
]}`

// A run whose step failed an attempt and tries again is fine: its head
// says so as a retry note, with the attempt's error (as text), not as the
// run's error in red (runtime.Status.Retrying); once the step fails for
// good, the run's error is red and the note is gone.
func TestBrowserRetryIsNoError(t *testing.T) {
	caller, fail := flakyStock(t)
	_, url, ctx, id := startFlaky(t, caller, "flaky.json", flakyFlows, "Flaky")

	run(t, ctx, "the retry", chromedp.Navigate(url+"/ui/#/run/"+id),
		chromedp.WaitReady(chromedp.CSS("#live.on")),
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="running"]`)),
		chromedp.WaitVisible(chromedp.CSS("#run-retry")),
	)
	if got, want := get(t, ctx, "the note", textOf("#run-retry")), "attempt 1 failed; the step tries again: stock service busy "+markup; got != want {
		t.Errorf("the retry note reads %q, want %q", got, want)
	}
	if red := get(t, ctx, "no error", chromedp.Evaluate[bool](`document.querySelector("#run-head .error, #run-error") !== null`)); red {
		t.Error("a run retrying its step shows an error in red")
	}
	if color := get(t, ctx, "the note's color", chromedp.Evaluate[string](`getComputedStyle(document.querySelector("#run-retry")).color`)); color == get(t, ctx, "red", chromedp.Evaluate[string](`(function () { var s = document.createElement("span"); s.className = "error"; document.body.appendChild(s); var c = getComputedStyle(s).color; s.remove(); return c; })()`)) {
		t.Errorf("the retry note is in the error's color, %s", color)
	}
	inert(t, ctx, "the retry note")
	// The timeline's row of the failed attempt says the same: the note's
	// color, not the red of a failure.
	run(t, ctx, "the retry's row", chromedp.WaitReady(chromedp.CSS(`#timeline tr.ev-retry`)))
	if got := get(t, ctx, "the retry row's error color", chromedp.Evaluate[string](`(function () {
		var tr = document.querySelector("#timeline tr.ev-retry");
		return (tr.classList.contains("ev-error") ? "ev-error " : "") + getComputedStyle(tr.querySelector("td.err-col")).color;
	})()`)); got != get(t, ctx, "the note's color", chromedp.Evaluate[string](`getComputedStyle(document.querySelector("#run-retry")).color`)) {
		t.Errorf("the retry's row reads its error as %q, not as the retry note", got)
	}
	shot(t, ctx, "1-retrying")

	fail()
	run(t, ctx, "failed",
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="failed"]`)),
		chromedp.WaitVisible(chromedp.CSS("#run-error")),
	)
	if got := get(t, ctx, "the error", textOf("#run-error")); !strings.Contains(got, "no stock") {
		t.Errorf("the failed run's error reads %q", got)
	}
	if note := get(t, ctx, "no note", chromedp.Evaluate[bool](`document.querySelector("#run-retry, #run-retry-at") !== null`)); note {
		t.Error("a failed run still reads as retrying")
	}
	// The last attempt's row, which failed the step, is red.
	run(t, ctx, "the failure's row", chromedp.WaitReady(chromedp.CSS(`#timeline tr.ev-error`)))
	shot(t, ctx, "2-failed")
}

// A run in a retry's backoff says when its next attempt starts: the time
// its retry recorded (runtime.Status.RetryAt) and how far off it is, "in
// 59 min 59 s". The head said only that the step tries again: an attempt
// a second away read as one an hour away.
func TestBrowserRetrySaysWhen(t *testing.T) {
	caller, _ := flakyStock(t)
	e, url, ctx, id := startFlaky(t, caller, "flaky.json", flakyFlows, "SlowFlaky")
	run(t, ctx, "the backoff", chromedp.Navigate(url+"/ui/#/run/"+id),
		chromedp.WaitReady(chromedp.CSS("#live.on")),
		chromedp.WaitVisible(chromedp.CSS("#run-retry-at")),
	)
	st, err := e.Status(context.Background(), id)
	if err != nil || st.RetryAt.IsZero() {
		t.Fatalf("the status in the backoff: retry at %v, %v", st.RetryAt, err)
	}
	at := regexp.QuoteMeta(st.RetryAt.UTC().Format("2006-01-02 15:04:05.000") + " UTC")
	want := regexp.MustCompile(`^attempt 2 at ` + at + ` \((in 59 min \d+ s|in 1 h 0 min)\)$`)
	if got := get(t, ctx, "the next attempt", textOf("#run-retry-at")); !want.MatchString(got) {
		t.Errorf("the next attempt reads %q, want %s", got, want)
	}
	shot(t, ctx, "3-retrying-in-an-hour")
}

// flakyBlockFlows: branch Hold of block Prepare is tried three times, 10
// ms after a failed attempt (FlakyBlock) or at once (EagerBlock), while
// branch Take waits.
const flakyBlockFlows = `{"version": 1, "flows": [
 {"name": "FlakyBlock", "steps": [
  {"name": "Prepare", "parallel": {"branches": [
   {"name": "Hold", "action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Flaky"}, "retry": {"attempts": 3, "initial": "10ms"}, "irreversible": true},
   {"name": "Take", "action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Take"}, "irreversible": true}]}}]},
 {"name": "EagerBlock", "steps": [
  {"name": "Prepare", "parallel": {"branches": [
   {"name": "Hold", "action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Flaky"}, "retry": {"attempts": 3, "initial": "0s"}, "irreversible": true},
   {"name": "Take", "action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Take"}, "irreversible": true}]}}]}
]}`

// A branch that failed an attempt and tries again reads as a retry note in
// the branches table, not as an error in red, and beneath it when its next
// attempt starts if its retry backs off; once it fails for good, its error
// is red.
func TestBrowserBranchRetryIsNoError(t *testing.T) {
	for _, flow := range []string{"FlakyBlock", "EagerBlock"} {
		t.Run(flow, func(t *testing.T) { testBranchRetryIsNoError(t, flow) })
	}
}

func testBranchRetryIsNoError(t *testing.T, flow string) {
	caller, fail := flakyStock(t)
	caller.Handle("stock", "Stock.Take", func(ctx context.Context, _ json.RawMessage) (any, error) {
		<-ctx.Done() // cancelled when Hold fails
		return nil, ctx.Err()
	})
	_, url, ctx, id := startFlaky(t, caller, "flakyblock.json", flakyBlockFlows, flow)

	const holdError = `#run-branches tr[data-branch="Hold"] + tr.branch-error td`
	run(t, ctx, "the branch's retry", chromedp.Navigate(url+"/ui/#/run/"+id),
		chromedp.WaitReady(chromedp.CSS("#live.on")),
		chromedp.WaitVisible(chromedp.CSS(holdError+".retry-note")),
	)
	if got, want := get(t, ctx, "the note", textOf(holdError)), "attempt 1 failed; the branch tries again: stock service busy "+markup; got != want {
		t.Errorf("the branch's retry note reads %q, want %q", got, want)
	}
	if red := get(t, ctx, "no error", chromedp.Evaluate[bool](`document.querySelector("#run-branches .error, #run-error") !== null`)); red {
		t.Error("a branch retrying shows an error in red")
	}
	// Beneath it, when the branch's next attempt starts (Branch.RetryAt):
	// 10 ms after its retry, so it is due, or a second off at most; a
	// retry at once says nothing of it.
	const holdNext = `#run-branches tr[data-branch="Hold"] + tr.branch-error + tr.branch-retry-at td`
	want := regexp.MustCompile(`^next: attempt 2 at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC \((due|in 1 s)\)$`)
	if flow == "EagerBlock" {
		want = regexp.MustCompile(`^$`)
	}
	if got := get(t, ctx, "the branch's next attempt", textOf(holdNext)); !want.MatchString(got) {
		t.Errorf("the branch's next attempt reads %q, want %s", got, want)
	}
	inert(t, ctx, "the branch's retry note")
	shot(t, ctx, "branch-1-retrying")

	fail()
	run(t, ctx, "failed",
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="failed"]`)),
		chromedp.WaitVisible(chromedp.CSS(holdError+".error")),
	)
	if got := get(t, ctx, "the branch's error", textOf(holdError)); !strings.Contains(got, "no stock") {
		t.Errorf("the failed branch's error reads %q", got)
	}
	shot(t, ctx, "branch-2-failed")
}

// startFlaky starts an engine of caller with the flows of file, holding
// flows, serves its web view to a browser, and starts a run of flow.
func startFlaky(t *testing.T, caller *runtime.MemoryCaller, file, flows, flow string) (e *engine.Engine, url string, ctx context.Context, id string) {
	t.Helper()
	e, err := engine.New(engine.Options{Store: store.NewMemory(), Caller: caller})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e.LoadFlows(file, []byte(flows)); err != nil {
		t.Fatalf("%v\n%v", err, ds)
	}
	url = serve(t, e)
	ctx = browser(t)
	if id, err = e.StartRun(context.Background(), flow, json.RawMessage(`{}`), ""); err != nil {
		t.Fatal(err)
	}
	return e, url, ctx, id
}

// flakyStock is a caller whose Stock.Flaky fails its first call (retryable,
// with markup in its error) and holds the next until fail, which makes it
// fail for good ("no stock"): at the latest when the test ends, before the
// engine closes.
func flakyStock(t *testing.T) (*runtime.MemoryCaller, func()) {
	// Buffered: fail never blocks, so the cleanup of a test that stops
	// before its run reaches the second attempt (no browser: skipped)
	// returns, and the attempt takes the error whenever it gets there.
	second := make(chan error, 1)
	var once sync.Once
	calls := 0
	var mu sync.Mutex
	caller := runtime.NewMemoryCaller()
	caller.Handle("stock", "Stock.Flaky", func(ctx context.Context, _ json.RawMessage) (any, error) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			return nil, errors.New("stock service busy " + markup) // retryable
		}
		select {
		case err := <-second:
			return nil, err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	fail := func() { once.Do(func() { second <- runtime.Permanent(errors.New("no stock")) }) }
	t.Cleanup(fail)
	return caller, fail
}
