package ui_test

// The web view against an engine at its bound of GET /watch streams: a
// refused stream (503) is tried again no sooner than its Retry-After says,
// and the page says its live updates are paused.

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// watchLog stands in front of the engine's API and logs the web view's
// GET /watch requests (those with the client's token): when each came,
// with which query, how it was answered and, for a refusal, when and with
// which Retry-After, which the test may choose (set).
type watchLog struct {
	mu         sync.Mutex
	retryAfter string // of a 503; "": the engine's
	tries      []watchTry
}

type watchTry struct {
	query      string
	came       time.Time
	status     int
	answered   time.Time // a refusal's answer written
	retryAfter string
}

func (l *watchLog) set(retryAfter string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.retryAfter = retryAfter
}

func (l *watchLog) log() []watchTry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]watchTry(nil), l.tries...)
}

func (l *watchLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/watch" || r.Header.Get("Authorization") != "Bearer "+clientToken {
			next.ServeHTTP(w, r)
			return
		}
		l.mu.Lock()
		i := len(l.tries)
		l.tries = append(l.tries, watchTry{query: r.URL.RawQuery, came: time.Now()})
		l.mu.Unlock()
		lw := &loggedWriter{ResponseWriter: w, l: l, i: i}
		next.ServeHTTP(lw, r)
		if lw.status == http.StatusServiceUnavailable {
			// Before the server finishes the answer: the page's pause
			// starts later.
			l.mu.Lock()
			l.tries[i].answered = time.Now()
			l.mu.Unlock()
		}
	})
}

// loggedWriter logs a GET /watch answer's status, and sets a refusal's
// Retry-After to the test's.
type loggedWriter struct {
	http.ResponseWriter
	l      *watchLog
	i      int
	status int
}

func (w *loggedWriter) WriteHeader(code int) {
	w.status = code
	w.l.mu.Lock()
	if code == http.StatusServiceUnavailable && w.l.retryAfter != "" {
		w.Header().Set("Retry-After", w.l.retryAfter)
	}
	w.l.tries[w.i].status = code
	w.l.tries[w.i].retryAfter = w.Header().Get("Retry-After")
	w.l.mu.Unlock()
	w.ResponseWriter.WriteHeader(code)
}

func (w *loggedWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets the stream's http.ResponseController flush and set write
// deadlines.
func (w *loggedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// pauseOf is how long the page must wait after a refusal with Retry-After
// ra: what it says, within the page's bounds (app.js, retryAfter).
func pauseOf(ra string) time.Duration {
	s, err := strconv.Atoi(ra)
	if err != nil {
		return 0 // the page's default; the test sets every value
	}
	return min(max(time.Duration(s)*time.Second, 1500*time.Millisecond), time.Minute)
}

// tooSoon lists each try that came sooner after the refusal before it
// (of the same view's stream: the same query) than its Retry-After.
func tooSoon(tries []watchTry) []string {
	// A browser's timer fires no sooner than asked; the slack is for
	// the clocks' reading, far below the pauses compared.
	const slack = 50 * time.Millisecond
	var bad []string
	last := map[string]watchTry{}
	for _, tr := range tries {
		if prev, ok := last[tr.query]; ok && prev.status == http.StatusServiceUnavailable {
			if gap, want := tr.came.Sub(prev.answered), pauseOf(prev.retryAfter); gap < want-slack {
				bad = append(bad, fmt.Sprintf("?%s tried again %v after a 503 with Retry-After %s", tr.query, gap, prev.retryAfter))
			}
		}
		last[tr.query] = tr
	}
	return bad
}

// holdWatch opens a GET /watch stream of another client, as the engine's
// only one; free closes it (at the latest when the test ends).
func (v *env) holdWatch() (free func()) {
	v.t.Helper()
	req, _ := http.NewRequest("GET", v.url+"/watch?flow=Hold", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		v.t.Fatalf("the other client's stream: %d", res.StatusCode)
	}
	var once sync.Once
	free = func() { once.Do(func() { res.Body.Close() }) }
	v.t.Cleanup(free)
	return free
}

// With the engine's one GET /watch stream taken, a run's page is refused
// its stream: it shows the run all the same, says its live updates are
// paused, and waits what Retry-After says, at most a minute (a longer
// value: it does not try again within twice its own pause); the runs
// list, refused with a short Retry-After, tries again after it and goes
// live once the stream is free.
func TestBrowserWatchRetryAfter(t *testing.T) {
	var wl watchLog
	v := newEnvWith(t, true, 1, wl.wrap)
	ctx := browser(t)
	id := v.start("Payment", `{"OrderID": "o-1"}`)
	free := v.holdWatch()

	wl.set("3600")
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, false)
	run(t, ctx, "paused, the run shown",
		chromedp.WaitVisible(chromedp.CSS("#live.paused")),
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="waiting"]`)),
	)
	if title := get(t, ctx, "the badge's title", chromedp.Evaluate[string](`document.querySelector("#live").title`)); !strings.Contains(title, "in 60 s") {
		t.Errorf("the badge's title %q: want the pause, a minute at most", title)
	}
	shot(t, ctx, "1-paused")
	// Twice what the page waits after a stream that ended: long enough
	// for a page that ignored Retry-After to try again. A page that
	// honours it does not try before a minute, however slow the machine.
	time.Sleep(3 * time.Second)
	tries := wl.log()
	if len(tries) == 0 || tries[0].status != http.StatusServiceUnavailable {
		t.Fatalf("the page's GET /watch: %+v; want a refusal", tries)
	}
	if bad := tooSoon(tries); len(bad) > 0 {
		t.Fatal(strings.Join(bad, "\n"))
	}

	// The runs list, a stream of its own: refused, told to wait 3 s.
	wl.set("3")
	run(t, ctx, "the runs list, paused",
		goTo("#/runs"),
		chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`#runs tr[data-run=%q]`, id))),
		poll(`document.querySelector("#live.paused") !== null && document.querySelector("#live").title.indexOf("in 3 s") >= 0`),
	)
	free()
	run(t, ctx, "live", chromedp.WaitVisible(chromedp.CSS("#live.on")))
	shot(t, ctx, "2-live")

	tries = wl.log()
	for _, s := range tooSoon(tries) {
		t.Error(s)
	}
	var ofRun, ofList []watchTry
	for _, tr := range tries {
		if strings.HasPrefix(tr.query, "run=") {
			ofRun = append(ofRun, tr)
		} else {
			ofList = append(ofList, tr)
		}
	}
	// The run's page, left, tries no more; the list tried again until
	// the stream opened.
	if len(ofRun) != 1 {
		t.Errorf("the run's page tried %d times, want once: %v", len(ofRun), statuses(ofRun))
	}
	if n := len(ofList); n < 2 || ofList[0].status != http.StatusServiceUnavailable || ofList[n-1].status != http.StatusOK {
		t.Errorf("the list's tries were answered %v: want a refusal, then a stream", statuses(ofList))
	}
}

// statuses are the statuses tries were answered with, for a message.
func statuses(tries []watchTry) []int {
	var out []int
	for _, tr := range tries {
		out = append(out, tr.status)
	}
	return out
}
