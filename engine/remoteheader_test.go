package engine

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/internal/neterr"
	"github.com/flowgen/flowgen/runtime"
)

// The headers of a provider's answer are bounded (64 KiB), as the API
// bounds a request's: an answer with more fails the attempt, retryable as
// a broken connection is. They were bounded only by net/http's default,
// 10 MiB, read in memory for each of the 64 answers one provider host may
// be sending, beyond the 16 MiB of each body that docs/engine.md#limits
// counts.
func TestProviderAnswerHeadersBounded(t *testing.T) {
	_, e, _ := remoteFixture(t, ProviderOptions{})
	answer := func(header int) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Padding", strings.Repeat("a", header))
			_, _ = w.Write([]byte(`{}`))
		}
	}
	small := httptest.NewServer(http.HandlerFunc(answer(neterr.MaxResponseHeaderBytes / 2)))
	defer small.Close()
	if out, err := e.remote.post(context.Background(), target{h: provider.Handler{URL: small.URL}}, "k", []byte(`{}`)); err != nil || string(out) != `{}` {
		t.Fatalf("an answer with headers within the bound: %q %v", out, err)
	}
	big := httptest.NewServer(http.HandlerFunc(answer(neterr.MaxResponseHeaderBytes + 1)))
	defer big.Close()
	out, err := e.remote.post(context.Background(), target{h: provider.Handler{URL: big.URL}}, "k", []byte(`{}`))
	na, ok := errors.AsType[*noAnswerError](err)
	if !ok || runtime.IsPermanent(err) || !strings.Contains(na.err.Error(), "headers exceeded") {
		t.Fatalf("an answer with headers beyond the bound: %q %v, want a retryable error about its headers", out, err)
	}
}
