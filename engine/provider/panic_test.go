package provider

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/internal/logtest"
)

// A handler's panic is answered as a retryable error that says the panic's
// value, and its stack goes to the provider's own log, with the run and
// the call: before, the stack went into the answer alone, so the run's
// history, which every client of the flow service reads, showed this
// service's source paths (cut to 4 KiB), and the provider's log had
// nothing of it.
func TestHandlePanicStackLogged(t *testing.T) {
	var logs logtest.Buffer
	p := New(Options{Name: "billing", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	p.Step("Panics", func(ctx context.Context, c *Call) (string, error) { panic("boom") })
	rsp := response(t, p.Handle(context.Background(), request(t, Request{
		RunID: "r-1", Handler: "Panics", IdempotencyKey: "r-1/Panics", Attempt: 2, State: json.RawMessage(`{}`)})))
	if rsp.Error == nil || rsp.Error.Class != ClassRetryable ||
		rsp.Error.Message != `handler "Panics" panicked: boom (the provider's log has the stack)` {
		t.Errorf("answer %+v, want a retryable error with the panic's value and no stack", rsp.Error)
	}
	got := logs.String()
	if !strings.Contains(got, `level=ERROR msg="provider handler panicked" provider=billing handler=Panics run_id=r-1 idempotency_key=r-1/Panics attempt=2 panic=boom stack=`) ||
		!strings.Contains(got, "panic_test.go") {
		t.Errorf("log:\n%s\nwant the panic with its call and stack", got)
	}
}
