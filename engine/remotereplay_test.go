package engine

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/flowgen/flowgen/engine/provider"
)

// A call whose kept-alive connection breaks before its answer (closed, or
// reset) is sent once more at once on a new connection, within the same
// attempt: Go's HTTP client replays a request that carries an
// Idempotency-Key. The provider then sees one attempt twice, under one key
// and with one body, and the attempt takes the second answer; nothing of
// the first is recorded. docs/engine.md's protocol says so, where it said
// that such a call fails the attempt.
func TestProviderCallReplayedOnBrokenKeepAlive(t *testing.T) {
	_, e, _ := remoteFixture(t, ProviderOptions{})
	var mu sync.Mutex
	type call struct{ key, body string }
	var calls []call
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls = append(calls, call{r.Header.Get("Idempotency-Key"), string(b)})
		n := len(calls)
		mu.Unlock()
		if n == 2 {
			// The provider's connection breaks before its answer.
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = c.Close()
			}
			return
		}
		_, _ = w.Write([]byte(`{"outcome": "ok"}`))
	}))
	defer srv.Close()
	tg := target{h: provider.Handler{URL: srv.URL}}
	if _, err := e.remote.post(context.Background(), tg, "r/Warm", []byte(`{"n": 1}`)); err != nil {
		t.Fatalf("first call: %v", err)
	}
	out, err := e.remote.post(context.Background(), tg, "r/Check", []byte(`{"n": 2}`))
	if err != nil || string(out) != `{"outcome": "ok"}` {
		t.Fatalf("a call whose kept-alive connection broke: %q %v, want the answer to the call sent again", out, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 3 || calls[1] != calls[2] || calls[1].key != "r/Check" {
		t.Errorf("calls %+v, want the second sent twice, under one key, with one body", calls)
	}
}
