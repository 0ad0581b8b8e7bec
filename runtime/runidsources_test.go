package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// keyFlow is a flow of one step that records the idempotency key it ran
// with: the key a provider or an HTTP step sends as its Idempotency-Key
// header ("<run>/<step>"), which a line break in the run ID would make a
// header net/http refuses to send.
func keyFlow(t *testing.T, sink runtime.Sink, keys *[]string, opts ...runtime.Option) *runtime.Flow[hibState] {
	t.Helper()
	f := runtime.New[hibState]("Keyed", append([]runtime.Option{runtime.WithSink(sink)}, opts...)...)
	if err := f.Register(
		runtime.NewStep("First", func(ctx context.Context, s *hibState) (runtime.Outcome, error) { return "", nil }),
		runtime.NewStep("Send", func(ctx context.Context, s *hibState) (runtime.Outcome, error) {
			*keys = append(*keys, runtime.IdempotencyKey(ctx))
			return "", nil
		}),
	); err != nil {
		t.Fatal(err)
	}
	return f
}

// A run ID from the flow's generator (WithIDs) follows the rule of run IDs
// as a chosen one does (CheckRunID): Start refuses one outside it, records
// nothing and runs no step. Before, only WithRunID's was checked, and a
// generator's "r\n1" ran its steps with the key "r\n1/Send".
func TestGeneratedRunIDChecked(t *testing.T) {
	for _, id := range []string{"r\n1", "r\r\n1", "r\x001", "", "o-1@Bill"} {
		sink := runtime.NewMemorySink()
		var keys []string
		f := keyFlow(t, sink, &keys, runtime.WithIDs(func() string { return id }))
		_, err := f.Execute(context.Background(), hibState{})
		if !errors.Is(err, runtime.ErrBadRunID) {
			t.Errorf("generated run ID %q: %v, want ErrBadRunID", id, err)
		}
		if runs := sink.Runs(); len(runs) != 0 || len(keys) != 0 {
			t.Errorf("generated run ID %q: recorded runs %q, ran with keys %q", id, runs, keys)
		}
	}
	sink := runtime.NewMemorySink()
	var keys []string
	res, err := keyFlow(t, sink, &keys, runtime.WithIDs(func() string { return "order-7" })).Execute(context.Background(), hibState{})
	if err != nil || res.RunID != "order-7" || len(keys) != 1 || keys[0] != "order-7/Send" {
		t.Fatalf("generated run ID order-7: %v, run %q, keys %q", err, res.RunID, keys)
	}
}

// Resume refuses a history whose run ID no run could have been started
// with (CheckRunID, or a call's child run of such a run: ChildRunID), as a
// history that does not fit the flow (ErrHistory), and runs nothing: a
// store written by hand or by another program must not make the runtime
// send keys that are not header values. Before, "r\n1" resumed and ran its
// step with the key "r\n1/Send".
func TestResumedRunIDChecked(t *testing.T) {
	sink := runtime.NewMemorySink()
	var keys []string
	if _, err := keyFlow(t, sink, &keys).Execute(context.Background(), hibState{}, runtime.WithRunID("r1")); err != nil {
		t.Fatal(err)
	}
	// The run as it was after its first step: Send not run yet.
	full := sink.History("r1")
	var prefix []runtime.Event
	for _, e := range full {
		prefix = append(prefix, e)
		if e.Step == "First" && e.To == "Send:running" {
			break
		}
	}
	if len(prefix) == len(full) {
		t.Fatalf("no event into Send in %v", full)
	}
	as := func(id string) []runtime.Event {
		h := make([]runtime.Event, len(prefix))
		copy(h, prefix)
		for i := range h {
			h[i].RunID = id
		}
		return h
	}
	for _, id := range []string{"r\n1", "r\x7f1", "r 1", "", "r\n1@Call", "r1@Ca\x0bll", "r1@Call\n", "r1@"} {
		keys = nil
		f := keyFlow(t, runtime.NewMemorySink(), &keys)
		if err := f.CheckHistory(as(id)); !errors.Is(err, runtime.ErrHistory) {
			t.Errorf("CheckHistory of run ID %q: %v, want ErrHistory", id, err)
		}
		run, err := f.Resume(context.Background(), as(id))
		if !errors.Is(err, runtime.ErrHistory) {
			if run != nil {
				_, _ = run.Wait(context.Background())
			}
			t.Errorf("Resume of run ID %q: %v, want ErrHistory", id, err)
		}
		if len(keys) != 0 {
			t.Errorf("Resume of run ID %q ran with keys %q", id, keys)
		}
	}
	// IDs the runtime gives runs resume: a chosen one, and a call's child
	// run's, longer than a chosen one may be.
	long := strings.Repeat("p", runtime.MaxRunIDLen)
	for _, id := range []string{"r1", long + "@Call", "p-1@Call:2:rollback:3@Inner"} {
		keys = nil
		run, err := keyFlow(t, runtime.NewMemorySink(), &keys).Resume(context.Background(), as(id))
		if err != nil {
			t.Fatalf("Resume of run ID %q: %v", id, err)
		}
		if _, err := run.Wait(context.Background()); err != nil || len(keys) != 1 || keys[0] != id+"/Send" {
			t.Fatalf("resumed run %q: %v, keys %q", id, err, keys)
		}
	}
}

// Register refuses a step ID with a control character: it is part of the
// step's idempotency key, an HTTP header value (Idempotency-Key) where
// net/http refuses one, and of log lines. Before, only '\t', '\r' and
// '\n' were refused, and a step "Ca\vll" ran with the key "r1/Ca\vll".
func TestStepIDControlCharacterRefused(t *testing.T) {
	for _, id := range []string{"Ca\vll", "Ca\x00ll", "Ca\x7fll", "Ca\u0085ll", "Call\f"} {
		f := runtime.New[hibState]("F")
		err := f.Register(runtime.NewStep(id, func(ctx context.Context, s *hibState) (runtime.Outcome, error) { return "", nil }))
		if !errors.Is(err, runtime.ErrDefinition) || !strings.Contains(err.Error(), "control character") {
			t.Errorf("Register of step %q: %v, want ErrDefinition naming a control character", id, err)
		}
	}
}
