package engine

import (
	"context"
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
