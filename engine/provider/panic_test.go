package provider

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

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

// Whoever calls the provider chooses how often a handler that panics on
// its input panics, and the run ID and key its line repeats: the panics'
// lines are bounded in number, the others counted, as the engine's
// refusals are, and each in size. Before, each call logged its line, with
// a run ID of up to a call's 16 MiB.
func TestHandlePanicLogBounded(t *testing.T) {
	var logs logtest.Buffer
	p := New(Options{Name: "billing", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	now := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	p.panics.Now = func() time.Time { return now }
	p.Step("Panics", func(ctx context.Context, c *Call) (string, error) { panic("boom") })
	long := strings.Repeat("r", 1<<20)
	call := func() {
		rsp := response(t, p.Handle(context.Background(), request(t, Request{
			RunID: long, Handler: "Panics", IdempotencyKey: long + "/Panics", Attempt: 1, State: json.RawMessage(`{}`)})))
		if rsp.Error == nil || rsp.Error.Class != ClassRetryable {
			t.Fatalf("answer %+v, want a retryable error", rsp.Error)
		}
	}
	for range PanicLogBurst + 5 {
		call()
	}
	if n := strings.Count(logs.String(), `msg="provider handler panicked"`); n != PanicLogBurst {
		t.Errorf("%d panics logged in an interval, want %d", n, PanicLogBurst)
	}
	for line := range strings.Lines(logs.String()) {
		if len(line) > 64<<10 {
			t.Fatalf("a line of %d bytes: %.200s...", len(line), line)
		}
	}
	now = now.Add(PanicLogInterval)
	call()
	if got := logs.String(); !strings.Contains(got, `msg="provider handler panics not logged" suppressed=5 since=2026-12-07T01:00:00Z`) ||
		strings.Count(got, `msg="provider handler panicked"`) != PanicLogBurst+1 {
		t.Errorf("the next interval's log, want the count of those left out and the panic:\n%.2000s", got[len(got)-2000:])
	}
}
