package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/runtime"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func TestSinkErrorStopsRun(t *testing.T) {
	rec := newRecorder()
	mem := runtime.NewMemorySink()
	refuse := errors.New("disk full")
	sink := runtime.SinkFunc(func(ctx context.Context, e runtime.Event) error {
		if e.Seq == 3 { // "B:running -> C:running": B done, C about to start
			return refuse
		}
		return mem.Emit(ctx, e)
	})
	f := runtime.New[state]("sinkerr", runtime.WithSink(sink))
	mustRegister(t, f, okStep(rec, "A"), okStep(rec, "B"), okStep(rec, "C"))
	res, err := f.Execute(context.Background(), state{}, runtime.WithRunID("r"))
	if !errors.Is(err, runtime.ErrSink) || !errors.Is(err, refuse) || res.Final != runtime.StateFailed {
		t.Fatalf("Execute = %s, %v; want failed with the sink's error", res.Final, err)
	}
	// C never started: the event announcing it was not recorded.
	if diff := cmp.Diff([]string{"exec A", "exec B"}, rec.all()); diff != "" {
		t.Errorf("effects (-want +got):\n%s", diff)
	}
	h := mem.History("r")
	if len(h) != 2 {
		t.Fatalf("history has %d events, want 2", len(h))
	}
	// The history stops where the sink stopped; resuming it once the sink
	// works runs B again (its completion was never recorded) and not A.
	f2 := runtime.New[state]("sinkerr", runtime.WithSink(mem))
	mustRegister(t, f2, okStep(rec, "A"), okStep(rec, "B"), okStep(rec, "C"))
	run, err := f2.Resume(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := run.Wait(context.Background()); err != nil || res.Final != runtime.StateDone {
		t.Fatalf("resumed run = %s, %v", res.Final, err)
	}
	if diff := cmp.Diff([]string{"exec A", "exec B", "exec B", "exec C"}, rec.all()); diff != "" {
		t.Errorf("effects (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"r/B", "r/B"}, rec.key["exec B"]); diff != "" {
		t.Errorf("B keeps its idempotency key (-want +got):\n%s", diff)
	}
}

func TestSinkPanicIsAnError(t *testing.T) {
	f := runtime.New[state]("sinkpanic", runtime.WithSink(runtime.SinkFunc(func(context.Context, runtime.Event) error { panic("oops") })))
	mustRegister(t, f, okStep(newRecorder(), "A"))
	_, err := f.Execute(context.Background(), state{})
	var pe *runtime.PanicError
	if !errors.Is(err, runtime.ErrSink) || !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a sink error from the panic", err)
	}
}

func TestSinks(t *testing.T) {
	var lines, logs bytes.Buffer
	mem := runtime.NewMemorySink()
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	failing := runtime.SinkFunc(func(context.Context, runtime.Event) error { return errors.New("second sink down") })
	fan := runtime.FanOut(runtime.NewJSONSink(&lines), runtime.NewSlogSink(logger), mem)
	f := runtime.New[state]("sinks", runtime.WithSink(fan), runtime.WithClock(runtime.NewAutoClock(epoch)))
	rec := newRecorder()
	mustRegister(t, f, okStep(rec, "A"), failingStep(rec, "B", -1, errBoom))
	if _, err := f.Execute(context.Background(), state{}, runtime.WithRunID("r")); !errors.Is(err, errBoom) {
		t.Fatal(err)
	}
	want := mem.History("r")
	// JSON lines decode to the same events.
	var got []runtime.Event
	for _, line := range strings.Split(strings.TrimSpace(lines.String()), "\n") {
		var e runtime.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON lines (-memory +decoded):\n%s", diff)
	}
	// One slog record per event, with the transition and error.
	recs := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(recs) != len(want) {
		t.Fatalf("%d log records, want %d", len(recs), len(want))
	}
	var failRec map[string]any
	for _, r := range recs {
		var m map[string]any
		if err := json.Unmarshal([]byte(r), &m); err != nil {
			t.Fatal(err)
		}
		if m["to"] == runtime.MachineFailing && failRec == nil {
			failRec = m
		}
	}
	if failRec == nil || failRec["level"] != "WARN" || failRec["error"] != "boom" || failRec["step"] != "B" {
		t.Errorf("failure record = %v", failRec)
	}
	// FanOut hands the event to every sink and reports the failure.
	mem2 := runtime.NewMemorySink()
	err := runtime.FanOut(failing, mem2).Emit(context.Background(), want[0])
	if err == nil || len(mem2.History("r")) != 1 {
		t.Errorf("FanOut error %v, later sink got %d events", err, len(mem2.History("r")))
	}
	if diff := cmp.Diff([]string{"r"}, mem.Runs()); diff != "" {
		t.Errorf("Runs (-want +got):\n%s", diff)
	}
}

// TestEventFormatGolden pins the durable format: the JSON lines of a run
// that fails, retries a rollback and compensates. Run with -update to
// rewrite testdata/compensated.jsonl after a deliberate change.
func TestEventFormatGolden(t *testing.T) {
	var lines bytes.Buffer
	f := runtime.New[state]("Signup", runtime.WithSink(runtime.NewJSONSink(&lines)), runtime.WithClock(runtime.NewAutoClock(epoch)))
	undone := 0
	mustRegister(t, f,
		runtime.NewStep("CreateCustomer", func(ctx context.Context, s *state) (runtime.Outcome, error) {
			s.Log = append(s.Log, "customer")
			return "", nil
		}, runtime.WithRollback(func(ctx context.Context, s *state) error {
			if undone++; undone == 1 {
				return errors.New("customers unavailable")
			}
			s.Log = append(s.Log, "-customer")
			return nil
		}), runtime.WithRollbackRetry[state](runtime.RetryPolicy{Attempts: 2, Initial: 1e9})),
		failingStep(newRecorder(), "CreateSubscription", -1, errBoom, runtime.WithRetry[state](runtime.RetryPolicy{Attempts: 2, Initial: 1e8})))
	if _, err := f.Execute(context.Background(), state{}, runtime.WithRunID("run-1")); !errors.Is(err, errBoom) {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "compensated.jsonl")
	if *update {
		if err := os.WriteFile(path, lines.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), lines.String()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
