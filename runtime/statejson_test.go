package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/runtime"
)

// rawState is the state of a flow that keeps an event's payload as it
// came, as the engine's JSON flows do (await ... -> Field).
type rawState struct {
	Got   json.RawMessage `json:"got,omitempty"`
	Ratio float64         `json:"ratio"`
	Log   []string        `json:"log,omitempty"`
}

// syncBuffer is a log destination the run's goroutines write concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// An await that takes any payload of its event (no correlation) refuses
// one that is not JSON: it stays the Subscriber's, a warning says why, and
// the run waits on for the next. It took it before, recorded it, put it in
// its state, and then stopped with its history saying "running", no
// goroutine and nothing logged.
func TestAwaitRefusesPayloadNotJSON(t *testing.T) {
	sub := newProbeSub()
	var logs syncBuffer
	f := runtime.New[rawState]("Raw", runtime.WithSubscriber(sub), runtime.WithSink(runtime.NewMemorySink()),
		runtime.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	got := runtime.NewEvent("t", "e", runtime.NewStep("Got", func(ctx context.Context, s *rawState) (runtime.Outcome, error) {
		s.Got = runtime.EventPayload(ctx)
		return "", nil
	}))
	if err := f.Register(got); err != nil {
		t.Fatal(err)
	}
	run, err := f.Start(context.Background(), rawState{}, runtime.WithRunID("r1"))
	if err != nil {
		t.Fatal(err)
	}
	sub.waitFor(t, "r1/Got")
	if sub.send("r1/Got", `not json`) {
		t.Fatal("the run took a payload that is not JSON")
	}
	if !strings.Contains(logs.String(), "payload is not JSON") {
		t.Errorf("nothing logged of the payload refused: %q", logs.String())
	}
	if st := run.Status(); st.State != runtime.StateWaiting || st.Machine != "Got:waiting" {
		t.Fatalf("after the payload that is not JSON: %s %s (%s), want waiting", st.State, st.Machine, st.Err)
	}
	if !sub.send("r1/Got", `{"amount": 3}`) {
		t.Fatal("the run refused the next event")
	}
	res, err := run.Wait(context.Background())
	if err != nil || res.Final != runtime.StateDone || string(res.State.Got) != `{"amount": 3}` {
		t.Fatalf("Wait = %+v, %v", res, err)
	}
	h, _ := f.History(context.Background(), "r1")
	if _, err := json.Marshal(h); err != nil {
		t.Errorf("the history does not encode as JSON: %v", err)
	}
}

// A step whose attempt leaves a state that does not encode as JSON (here
// a NaN; a payload kept raw that is not JSON in a history recorded before
// runs refused one) fails, permanently, with the state it had: the flow
// routes the failure (the run is compensated, the steps before rolled
// back), and the history ends there. Before, the event of the attempt's
// end could not be made: the run stopped with its history saying
// "running", and nothing logged.
func TestStepLeavingStateNotJSONFails(t *testing.T) {
	rec := newRecorder()
	f := runtime.New[rawState]("Ratio", runtime.WithSink(runtime.NewMemorySink()))
	reserve := runtime.NewStep("Reserve", func(ctx context.Context, s *rawState) (runtime.Outcome, error) {
		rec.add("exec Reserve", ctx)
		s.Log = append(s.Log, "reserved")
		return "", nil
	}, runtime.WithRollback(func(ctx context.Context, s *rawState) error {
		rec.add("undo Reserve", ctx)
		return nil
	}))
	attempts := 0
	divide := runtime.NewStep("Divide", func(ctx context.Context, s *rawState) (runtime.Outcome, error) {
		attempts++
		s.Ratio = math.NaN()
		return "", nil
	}, runtime.WithRetry[rawState](runtime.RetryPolicy{Attempts: 3, Initial: time.Millisecond}))
	if err := f.Register(reserve, divide); err != nil {
		t.Fatal(err)
	}
	run, err := f.Start(context.Background(), rawState{}, runtime.WithRunID("r1"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := run.Wait(context.Background())
	if res.Final != runtime.StateCompensated {
		t.Fatalf("Final = %s (%v), want compensated", res.Final, err)
	}
	var se *runtime.StepError
	if !errors.As(err, &se) || se.Step != "Divide" || !strings.Contains(se.Error(), "does not encode as JSON") {
		t.Errorf("Err = %v, want Divide's failure naming the state that does not encode", err)
	}
	if attempts != 1 {
		t.Errorf("%d attempts, want 1: the failure is permanent", attempts)
	}
	if res.State.Ratio != 0 { // NaN too
		t.Errorf("state ratio %v, want the state before the attempt", res.State.Ratio)
	}
	if diff := cmp.Diff([]string{"exec Reserve", "undo Reserve"}, rec.all()); diff != "" {
		t.Errorf("effects (-want +got):\n%s", diff)
	}
	h, _ := f.History(context.Background(), "r1")
	want := []string{"pending>Reserve:running", "Reserve:running>Divide:running", "Divide:running>failing",
		"failing>Reserve:rollback", "Reserve:rollback>failing", "failing>compensated"}
	if diff := cmp.Diff(want, transitions(h)); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if st := run.Status(); st.State != runtime.StateCompensated {
		t.Errorf("Status = %s, want compensated", st.State)
	}
}

// A rollback whose attempt leaves a state that does not encode fails as
// any failed rollback does: the run ends compensation_failed, recorded,
// rather than stopping with its history saying it rolls back.
func TestRollbackLeavingStateNotJSONFails(t *testing.T) {
	f := runtime.New[rawState]("Ratio", runtime.WithSink(runtime.NewMemorySink()))
	reserve := runtime.NewStep("Reserve", func(ctx context.Context, s *rawState) (runtime.Outcome, error) {
		return "", nil
	}, runtime.WithRollback(func(ctx context.Context, s *rawState) error {
		s.Ratio = math.Inf(1)
		return nil
	}))
	fail := runtime.NewStep("Fail", func(ctx context.Context, s *rawState) (runtime.Outcome, error) {
		return "", runtime.Permanent(errors.New("declined"))
	})
	if err := f.Register(reserve, fail); err != nil {
		t.Fatal(err)
	}
	run, err := f.Start(context.Background(), rawState{}, runtime.WithRunID("r1"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := run.Wait(context.Background())
	var rb *runtime.RollbackError
	if res.Final != runtime.StateCompensationFailed || !errors.As(err, &rb) || !strings.Contains(rb.Error(), "does not encode as JSON") {
		t.Fatalf("Wait = %s, %v; want compensation_failed naming the state that does not encode", res.Final, err)
	}
	h, _ := f.History(context.Background(), "r1")
	if n := len(h); n == 0 || h[n-1].To != string(runtime.StateCompensationFailed) {
		t.Errorf("history %v does not end compensation_failed", transitions(h))
	}
}

// A branch of a parallel block whose writes leave the run's state one that
// does not encode fails, as an attempt that leaves one does: the block
// fails, the step before it is rolled back, and the run ends compensated,
// recorded. Before, the run stopped as the branch's end was recorded, its
// history saying the block runs, and nothing logged.
func TestBranchWritingStateNotJSONFails(t *testing.T) {
	rec := newRecorder()
	f := runtime.New[rawState]("Par", runtime.WithSink(runtime.NewMemorySink()))
	reserve := runtime.NewStep("Reserve", func(ctx context.Context, s *rawState) (runtime.Outcome, error) {
		rec.add("exec Reserve", ctx)
		return "", nil
	}, runtime.WithRollback(func(ctx context.Context, s *rawState) error {
		rec.add("undo Reserve", ctx)
		return nil
	}))
	divide := runtime.NewStep("Divide", func(ctx context.Context, s *rawState) (runtime.Outcome, error) {
		s.Ratio = math.NaN()
		return "", nil
	}, runtime.WithWrites(func(dst, src *rawState) { dst.Ratio = src.Ratio }))
	if err := f.Register(reserve, runtime.NewParallel("Both", []*runtime.Step[rawState]{divide})); err != nil {
		t.Fatal(err)
	}
	run, err := f.Start(context.Background(), rawState{}, runtime.WithRunID("r1"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := run.Wait(context.Background())
	if res.Final != runtime.StateCompensated || err == nil || !strings.Contains(err.Error(), "branch Divide: the state the attempt left does not encode as JSON") {
		t.Fatalf("Wait = %s, %v; want compensated by Divide's state that does not encode", res.Final, err)
	}
	if res.State.Ratio != 0 { // NaN too
		t.Errorf("state ratio %v, want Divide's write undone", res.State.Ratio)
	}
	if diff := cmp.Diff([]string{"exec Reserve", "undo Reserve"}, rec.all()); diff != "" {
		t.Errorf("effects (-want +got):\n%s", diff)
	}
	h, _ := f.History(context.Background(), "r1")
	if err := f.CheckHistory(h); err != nil {
		t.Error(err)
	}
	if n := len(h); h[n-1].To != string(runtime.StateCompensated) {
		t.Errorf("history %v does not end compensated", transitions(h))
	}
}

// emitOnly is a sink that cannot load histories back: a waiting run keeps
// its state in memory (it does not hibernate).
type emitOnly struct{ runtime.Sink }

// A state that stops encoding outside an attempt (a Correlate that should
// only read it writes a NaN) stops the run, as a sink that refuses an
// event does: its result says why, and so does the log. Before, nothing
// was logged.
func TestStateNotJSONOutsideAttemptLogged(t *testing.T) {
	sub := newProbeSub()
	var logs syncBuffer
	f := runtime.New[rawState]("Raw", runtime.WithSubscriber(sub), runtime.WithSink(emitOnly{runtime.NewMemorySink()}),
		runtime.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	got := runtime.NewEvent("t", "e", runtime.NewStep[rawState]("Got", nil))
	got.Await.Correlate = func(s *rawState) string {
		s.Ratio = math.Inf(-1)
		return "o-1"
	}
	if err := f.Register(got); err != nil {
		t.Fatal(err)
	}
	run, err := f.Start(context.Background(), rawState{}, runtime.WithRunID("r1"))
	if err != nil {
		t.Fatal(err)
	}
	sub.waitFor(t, "r1/Got")
	if !sub.send("r1/Got", `{"correlation_id": "o-1"}`) {
		t.Fatal("the run refused its event")
	}
	res, err := run.Wait(context.Background())
	if res.Final != runtime.StateFailed || err == nil || !strings.Contains(err.Error(), "state does not encode as JSON") {
		t.Fatalf("Wait = %s, %v; want failed, the state does not encode", res.Final, err)
	}
	if !strings.Contains(logs.String(), "state does not encode as JSON; run stopped") || !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("the stop is not logged: %q", logs.String())
	}
}
