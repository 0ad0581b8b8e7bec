package engine

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/flowgen/flowgen/engine/provider"
)

// lateRegistration is the network between a provider and the engine when
// the provider stops while its registration is on its way: the request's
// bytes were sent, and reach the engine whether or not their sender waits
// for the answer. A registration whose sender gave up on it (its context
// ended) lands after the sender's next request, as it may behind a slow
// engine or proxy; one whose sender still waits is answered at once.
type lateRegistration struct {
	next    http.RoundTripper
	seen    chan struct{} // closed when the registration is on its way
	stopped chan struct{} // closed once the provider's context has ended
	once    sync.Once

	mu   sync.Mutex
	late *http.Request
}

func (l *lateRegistration) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPut {
		resp, err := l.next.RoundTrip(r)
		l.mu.Lock()
		late := l.late
		l.late = nil
		l.mu.Unlock()
		if late != nil {
			if lr, err := l.next.RoundTrip(late); err == nil {
				lr.Body.Close()
			}
		}
		return resp, err
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	l.once.Do(func() { close(l.seen) })
	<-l.stopped
	if err := r.Context().Err(); err != nil {
		late := r.Clone(context.Background())
		late.Body = io.NopCloser(bytes.NewReader(body))
		l.mu.Lock()
		l.late = late
		l.mu.Unlock()
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return l.next.RoundTrip(r)
}

// A provider that stops while its registration is on its way leaves no
// lease behind: it waits for the registration's answer before it
// withdraws. It gave up on the registration and withdrew at once, and a
// registration that reached the engine after the withdrawal (answered
// 404: nothing to withdraw yet) left a lease live for its TTL, whose
// calls all went to a closed port.
func TestProviderStoppedWhileRegisteringLeavesNoLease(t *testing.T) {
	_, e, srv := remoteFixture(t, ProviderOptions{})
	rt := &lateRegistration{next: http.DefaultTransport, seen: make(chan struct{}), stopped: make(chan struct{})}
	p := provider.New(provider.Options{Name: "billing", Engine: srv.URL, Client: &http.Client{Transport: rt}})
	p.Step("Reserve", func(ctx context.Context, c *provider.Call) (string, error) { return "", nil })
	p.Step("Check", func(ctx context.Context, c *provider.Call) (string, error) { return "", nil }, "declined")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.ListenAndServe(ctx, "127.0.0.1:0", "") }()
	<-rt.seen
	cancel() // returns once every context derived from ctx has ended
	close(rt.stopped)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ls := e.Providers(); len(ls) != 0 {
		t.Errorf("after the provider stopped, the engine holds its lease: %+v", ls)
	}
}
