package ui_test

// The runs list reads its page again on each live event: an answer for
// the page the user has left (a read still under way when Next was
// clicked) must not replace the page the user asked for.

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// firstPageHold holds the web view's next read of the runs list's first
// page (GET /runs without a cursor) once the test arms it, until the
// test lets it go.
type firstPageHold struct {
	mu    sync.Mutex
	armed bool
	held  chan struct{} // closed when a read is held
	free  chan struct{} // closed by the test: the held read goes on
}

func (h *firstPageHold) arm() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.armed, h.held, h.free = true, make(chan struct{}), make(chan struct{})
}

func (h *firstPageHold) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/runs" && r.URL.Query().Get("cursor") == "" && r.Header.Get("Authorization") == "Bearer "+clientToken {
			h.mu.Lock()
			hold := h.armed
			h.armed = false
			held, free := h.held, h.free
			h.mu.Unlock()
			if hold {
				// Read now, answered later: the page as it was when asked.
				rec := &recorded{header: http.Header{}}
				next.ServeHTTP(rec, r)
				close(held)
				<-free
				for k, v := range rec.header {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.status)
				_, _ = w.Write(rec.body)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// recorded is an answer kept to be written later.
type recorded struct {
	header http.Header
	status int
	body   []byte
}

func (r *recorded) Header() http.Header { return r.header }
func (r *recorded) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorded) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	r.body = append(r.body, b...)
	return len(b), nil
}

// A live event reads the first page again; Next is clicked while that
// read is under way, and its answer comes after the second page's: the
// list must show the second page, not the first one labelled "page 2".
func TestBrowserNextWhileRefreshing(t *testing.T) {
	hold := &firstPageHold{}
	v := newEnvWith(t, true, 0, hold.wrap)
	ctx := browser(t)
	all := v.twoPages(ctx)
	hold.arm()
	v.start("Payment", `{"OrderID": "o-new"}`) // a live event: the list reads its page again
	<-hold.held
	// The second page continues the first as it was shown (its cursor).
	second := all[25:]
	run(t, ctx, "second page", chromedp.Click(chromedp.CSS("#next")), rowsAre(second...))
	close(hold.free)
	// The stale answer, if the page takes it, lands at once; a live
	// event afterwards reads the page shown again, as it should.
	run(t, ctx, "the first page's late answer", js(`new Promise(r => setTimeout(r, 1000))`))
	rows := get(t, ctx, "rows", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#runs tbody tr")).map(r => r.dataset.run)`))
	page := get(t, ctx, "the page", textOf(".pager span"))
	if fmt.Sprint(rows) != fmt.Sprint(second) || page != "page 2" {
		t.Errorf("after Next, the first page's late answer come: %q on %q, want %q", rows, page, second)
	}
	shot(t, ctx, "page-2")
}
