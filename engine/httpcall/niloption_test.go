package httpcall

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestNilOptionIsSkipped passes a nil Option among others, as a caller that
// builds its options conditionally does (var o Option; if auth { o =
// WithHeader(...) }): New skips it, as the runtime's constructors skip
// theirs, and the options beside it still apply.
func TestNilOptionIsSkipped(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("X-Tenant"))
		w.Write([]byte("{}"))
	}))
	defer srv.Close()
	var none Option
	c := New(Static{"svc": srv.URL}, none, WithHeader("X-Tenant", "t1"), nil)
	var rsp map[string]any
	if err := c.Call(context.Background(), "svc", "Echo", map[string]any{}, &rsp); err != nil {
		t.Fatalf("Call: %v", err)
	}
	if h, _ := got.Load().(string); h != "t1" {
		t.Errorf("X-Tenant = %q, want %q: the option after the nil one was not applied", h, "t1")
	}
}
