package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine/provider"
)

// A call's deadline is cut to the millisecond downwards, never past the
// engine's own: docs/engine.md says a provider that has not answered by
// then has timed out, and engine/provider gives the handler a context
// that ends at it. Rounded to the nearest millisecond, it could be up to
// half a millisecond after the engine stopped waiting, so a provider that
// kept to it could answer once the engine had taken the attempt as timed
// out.
func TestProviderCallDeadlineNotPastTheEngines(t *testing.T) {
	tr := stubTransport{reqs: make(chan provider.Request, 1), answer: func(string, provider.Request) []byte {
		return []byte(`{"outcome": "ok"}`)
	}}
	_, e, srv := remoteFixture(t, ProviderOptions{NATS: tr})
	if status, out := putProvider(t, srv, "billing", `{"handlers": [
		{"name": "Check", "outcomes": ["declined"], "subject": "flowgen_provider.billing.step.Check"}]}`); status != 200 {
		t.Fatalf("register: %d %s", status, out)
	}
	// 0.7ms past a millisecond: the nearest millisecond is after it.
	dl := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond).Add(700 * time.Microsecond)
	ctx, cancel := context.WithDeadline(context.Background(), dl)
	defer cancel()
	var st State
	if _, err := e.remote.call(ctx, handlerKey{flow: "Bill", name: "Check"}, "Check", []string{"declined"}, true, &st); err != nil {
		t.Fatalf("call: %v", err)
	}
	req := <-tr.reqs
	if req.Deadline == nil || req.Deadline.After(dl) || dl.Sub(*req.Deadline) >= time.Millisecond {
		t.Errorf("the call's deadline %v, want the engine's %v cut to the millisecond downwards", req.Deadline, dl)
	}
}

// A provider that gives up at the deadline its call carried (a handler
// that keeps to engine/provider's context, which ends there) answers an
// error as the attempt times out. That is the attempt's timeout, as an
// in-process handler's ctx.Err() is, not the provider's error: before,
// the engine took the error when it came within the millisecond the
// carried deadline is cut by, and the step ended `error` rather than
// `timeout`, its `on timeout` route skipped, by chance.
func TestProviderErrorAtDeadlineIsATimeout(t *testing.T) {
	tr := stubTransport{reqs: make(chan provider.Request, 1), answer: func(_ string, req provider.Request) []byte {
		if req.Deadline == nil { // a call with no deadline: a failure of the provider's own
			return []byte(`{"error": {"message": "ledger down"}}`)
		}
		time.Sleep(time.Until(*req.Deadline)) // the handler's context ends here
		return []byte(`{"error": {"message": "context deadline exceeded"}}`)
	}}
	_, e, srv := remoteFixture(t, ProviderOptions{NATS: tr})
	if status, out := putProvider(t, srv, "billing", `{"handlers": [
		{"name": "Check", "outcomes": ["declined"], "subject": "flowgen_provider.billing.step.Check"}]}`); status != 200 {
		t.Fatalf("register: %d %s", status, out)
	}
	// 0.9ms past a millisecond: the call carries the millisecond before.
	dl := time.Now().Add(200 * time.Millisecond).UTC().Truncate(time.Millisecond).Add(900 * time.Microsecond)
	ctx, cancel := context.WithDeadline(context.Background(), dl)
	defer cancel()
	var st State
	_, err := e.remote.call(ctx, handlerKey{flow: "Bill", name: "Check"}, "Check", []string{"declined"}, true, &st)
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "provider") {
		t.Errorf("call: %v, want the attempt's own timeout (context.DeadlineExceeded), not the provider's error", err)
	}
	// An error answered before any deadline is the provider's.
	if _, err := e.remote.call(context.Background(), handlerKey{flow: "Bill", name: "Check"}, "Check", []string{"declined"}, true, &st); err == nil || !strings.Contains(err.Error(), "ledger down") {
		t.Errorf("call: %v, want the provider's error", err)
	}
}
