package provider

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// A replica that skipped its renewals, as it could not serve (a NATS
// replica whose connection is down), renews as soon as it serves again,
// within ServingPoll, not at its next turn a third of the TTL later:
// meanwhile the engine passes it over if a call found it gone, and its
// lease may have expired. The test runs on synctest's clock: its times
// are the bubble's, not waited out.
func TestKeepLeaseWhileRenewsOnceServingAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeEngine{}
		p := New(Options{Name: "billing", Engine: "http://engine.test", Token: "tok", TTL: 30 * time.Second,
			Client: &http.Client{Transport: handlerTransport{f.handler(t)}}})
		var serving atomic.Bool // false: its connection is down
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			done <- p.KeepLeaseWhile(ctx, []Handler{{Name: "Billing.Reconcile", Subject: "s"}}, serving.Load)
		}()
		time.Sleep(10*time.Second + time.Millisecond) // its first turn, skipped
		synctest.Wait()
		if log, _, _ := f.snapshot(); strings.Join(log, " ") != "PUT" {
			t.Fatalf("requests while it cannot serve: %v, want the registration alone", log)
		}
		serving.Store(true) // its connection is back
		time.Sleep(time.Second)
		synctest.Wait()
		if log, _, _ := f.snapshot(); strings.Join(log, " ") != "PUT RENEW" {
			t.Fatalf("requests a second after it serves again: %v, want its renewal (its next turn is 9s away)", log)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// handlerTransport serves a client's requests with h, in memory: no
// connection, so that a synctest bubble's clock runs the test.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}
