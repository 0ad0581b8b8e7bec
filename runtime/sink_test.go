package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

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
	// FanOut reports the failure, and the sinks after the one that
	// refused the event do not see it: it was not recorded.
	mem2 := runtime.NewMemorySink()
	err := runtime.FanOut(failing, mem2).Emit(context.Background(), want[0])
	if err == nil || len(mem2.History("r")) != 0 {
		t.Errorf("FanOut error %v, later sink got %d events, want none", err, len(mem2.History("r")))
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

// TestMemorySinkKeepsEventsExactly: History gives back exactly the events
// Emit was given, whatever they hold (the sink stores them in a compact
// form): times with a monotonic reading, in any of many zones, far in the
// past or future, sequence numbers and attempts beyond 32 bits, nil and
// empty snapshots, shared and distinct snapshot bytes, errors, runs
// interleaved; and after Reset, a reused storage holds nothing of the old
// runs.
func TestMemorySinkKeepsEventsExactly(t *testing.T) {
	ctx := context.Background()
	berlin := time.FixedZone("CET", 3600)
	now := time.Now() // with a monotonic reading
	snap := json.RawMessage(`{"n":1}`)
	events := map[string][]runtime.Event{}
	add := func(e runtime.Event) {
		e.Seq = uint64(len(events[e.RunID]) + 1)
		if e.RunID == "c" {
			e.Seq += math.MaxUint32 - 100
		}
		events[e.RunID] = append(events[e.RunID], e)
	}
	for i := range 600 { // more than a storage chunk
		run := []string{"a", "b", "c"}[i%3]
		e := runtime.Event{RunID: run, Flow: "f" + run, Step: "S", From: "S:running", To: "T:running", Attempt: i % 4, Outcome: runtime.OutcomeOK}
		switch i % 7 {
		case 0:
			e.Time = now.Add(time.Duration(i))
		case 1:
			e.Time = epoch.In(berlin).Add(time.Duration(i) * time.Nanosecond)
			if i%2 == 0 { // more zones than the sink keeps apart
				e.Time = e.Time.In(time.FixedZone(fmt.Sprint("Z", i%90), i%90*60))
			}
		case 2:
			e.Time = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
		case 3:
			e.Time = epoch.Local().Add(time.Duration(i) * time.Second)
		case 4:
			e.Time = time.Time{}
			if i%2 == 0 {
				e.Time = time.Date(2300, 1, 1, 0, 0, 0, i, time.UTC)
			}
		default:
			e.Time = epoch.Add(time.Duration(i) * time.Millisecond)
		}
		switch i % 5 {
		case 0:
			e.State = snap // shared with other events
		case 1:
			e.State = json.RawMessage{}
		case 2:
			e.State = nil
		default:
			e.State = json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))
			e.Error = fmt.Sprintf("error %d", i)
			e.Outcome = runtime.OutcomeRetry
		}
		if i%13 == 0 {
			e.Attempt = []int{math.MaxInt32 + 1, math.MinInt32 - 1, math.MinInt}[i%3]
		}
		add(e)
	}
	check := func(m *runtime.MemorySink) {
		t.Helper()
		// Emit in an interleaved order: runs alternate event by event.
		for i := 0; ; i++ {
			n := 0
			for _, run := range []string{"a", "b", "c"} {
				if i < len(events[run]) {
					if err := m.Emit(ctx, events[run][i]); err != nil {
						t.Fatal(err)
					}
					n++
				}
			}
			if n == 0 {
				break
			}
		}
		for run, want := range events {
			got := m.History(run)
			if len(got) != len(want) {
				t.Fatalf("run %s: %d events, want %d", run, len(got), len(want))
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) || got[i].Time != want[i].Time {
					t.Fatalf("run %s event %d:\n got %#v\nwant %#v", run, i, got[i], want[i])
				}
			}
		}
		if diff := cmp.Diff([]string{"a", "b", "c"}, m.Runs()); diff != "" {
			t.Errorf("Runs (-want +got):\n%s", diff)
		}
	}
	m := runtime.NewMemorySink()
	check(m)
	m.Reset()
	if h := m.History("a"); h != nil || len(m.Runs()) != 0 {
		t.Fatalf("after Reset: history %v, runs %v", h, m.Runs())
	}
	check(m)
}

// TestFanOutLoadsOnlyWhenASinkCan: a fan-out of sinks that keep nothing (a
// JSON and a slog sink) is not a HistoryLoader, so a live run's Status is
// its own and a sleeping run wakes; with a MemorySink among them, finished
// runs are read back from it; the first refusal stops the event there.
func TestFanOutLoadsOnlyWhenASinkCan(t *testing.T) {
	var lines bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	clock := runtime.NewFakeClock(epoch)
	fan := runtime.FanOut(runtime.NewJSONSink(&lines), runtime.NewSlogSink(logger))
	if _, ok := fan.(runtime.HistoryLoader); ok {
		t.Error("a fan-out of a JSON and a slog sink claims to load histories")
	}
	f := runtime.New[state]("fan", runtime.WithSink(fan), runtime.WithClock(clock))
	mustRegister(t, f, okStep(newRecorder(), "A"), runtime.NewSleep[state]("Pause", time.Minute, nil), okStep(newRecorder(), "B"))
	run, err := f.Start(context.Background(), state{N: 7}, runtime.WithRunID("r"))
	if err != nil {
		t.Fatal(err)
	}
	clock.BlockUntil(1) // the sleep's timer: the run waits
	if st := run.Status(); st.State != runtime.StateWaiting || st.Machine != runtime.WaitingState("Pause") || st.Err != "" {
		t.Errorf("status while sleeping = %+v", st)
	}
	clock.Advance(time.Minute)
	if res, err := run.Wait(context.Background()); err != nil || res.Final != runtime.StateDone || res.State.N != 7 {
		t.Fatalf("after the sleep: %+v, %v", res, err)
	}

	mem := runtime.NewMemorySink()
	g := runtime.New[state]("fan", runtime.WithSink(runtime.FanOut(runtime.NewJSONSink(io.Discard), mem)))
	mustRegister(t, g, okStep(newRecorder(), "A"))
	if _, err := g.Execute(context.Background(), state{}, runtime.WithRunID("r")); err != nil {
		t.Fatal(err)
	}
	if st, err := g.Status(context.Background(), "r"); err != nil || st.State != runtime.StateDone || len(st.History) != 2 {
		t.Errorf("Status of a finished run through the fan-out's MemorySink = %+v, %v", st, err)
	}

	down1, down2 := errors.New("first down"), errors.New("second down")
	refuse := func(err error) runtime.Sink {
		return runtime.SinkFunc(func(context.Context, runtime.Event) error { return err })
	}
	if err := runtime.FanOut(refuse(down1), refuse(down2)).Emit(context.Background(), runtime.Event{}); !errors.Is(err, down1) || errors.Is(err, down2) {
		t.Errorf("FanOut error %v, want the first sink's error alone: the second never saw the event", err)
	}
}

// TestFanOutStopsAtRefusal: a sink after one that refused an event does
// not see it. The first event of a run ID the history sink has already
// (Start's ErrDuplicateRun, the existing run untouched) was written to
// the JSON sink after it all the same: the JSON log showed the finished
// run starting again, with docs/runtime.md's own FanOut(history,
// NewJSONSink(os.Stdout)).
func TestFanOutStopsAtRefusal(t *testing.T) {
	var lines bytes.Buffer
	f := runtime.New[state]("fan", runtime.WithSink(runtime.FanOut(runtime.NewMemorySink(), runtime.NewJSONSink(&lines))))
	mustRegister(t, f, okStep(newRecorder(), "A"))
	if _, err := f.Execute(context.Background(), state{}, runtime.WithRunID("order-1")); err != nil {
		t.Fatal(err)
	}
	before := lines.String()
	if _, err := f.Execute(context.Background(), state{}, runtime.WithRunID("order-1")); !errors.Is(err, runtime.ErrDuplicateRun) {
		t.Fatalf("second start of order-1: %v, want ErrDuplicateRun", err)
	}
	if after := lines.String(); after != before {
		t.Errorf("the JSON sink got the refused duplicate's event:\n%s", strings.TrimPrefix(after, before))
	}
}

// TestLoggerGetsWhatIsNotAnEvent: WithLogger is told of an attempt
// abandoned after its timeout (a warning) and of a sink that refused an
// event (an error).
func TestLoggerGetsWhatIsNotAnEvent(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	clock := runtime.NewFakeClock(epoch)
	release := make(chan struct{})
	defer close(release)
	entered := make(chan struct{})
	refuse := errors.New("disk full")
	sink := runtime.SinkFunc(func(ctx context.Context, e runtime.Event) error {
		if e.Seq == 3 { // the event after A's abandoned attempt
			return refuse
		}
		return nil
	})
	f := runtime.New[state]("logged", runtime.WithLogger(logger), runtime.WithClock(clock), runtime.WithSink(sink))
	mustRegister(t, f, runtime.NewStep("A", func(ctx context.Context, s *state) (runtime.Outcome, error) {
		if runtime.Attempt(ctx) == 1 {
			close(entered)
			<-release // ignores ctx: abandoned
		}
		return "", nil
	}, runtime.WithTimeout[state](time.Second), runtime.WithRetry[state](runtime.RetryPolicy{Attempts: 2})))
	run, err := f.Start(context.Background(), state{}, runtime.WithRunID("r"))
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	clock.BlockUntil(1)
	clock.Advance(time.Second)
	if _, err := run.Wait(context.Background()); !errors.Is(err, runtime.ErrSink) {
		t.Fatalf("Wait: %v, want the sink's refusal", err)
	}
	var levels []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m["run_id"] != "r" || m["flow"] != "logged" {
			t.Errorf("log record %v does not name the run", m)
		}
		levels = append(levels, fmt.Sprint(m["level"], " ", m["msg"]))
	}
	want := []string{"WARN flow step abandoned after its timeout", "ERROR flow sink refused an event; run stopped"}
	if diff := cmp.Diff(want, levels); diff != "" {
		t.Errorf("log records (-want +got):\n%s", diff)
	}
}

// TestStatusAfterSinkRefusal pins what docs/runtime.md says of a run a
// sink stopped: its Run.Status is failed with the sink's error, and the
// flow's Status, the run no longer live, is the sink's history replayed:
// the state the run was in, which Resume continues.
func TestStatusAfterSinkRefusal(t *testing.T) {
	mem := runtime.NewMemorySink()
	down := errors.New("disk full")
	sink := struct {
		runtime.Sink
		runtime.HistoryLoader
	}{runtime.SinkFunc(func(ctx context.Context, e runtime.Event) error {
		if e.Seq == 2 {
			return down
		}
		return mem.Emit(ctx, e)
	}), mem}
	f := runtime.New[state]("refused", runtime.WithSink(sink))
	rec := newRecorder()
	mustRegister(t, f, okStep(rec, "A"), okStep(rec, "B"))
	run, err := f.Start(context.Background(), state{}, runtime.WithRunID("r"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run.Wait(context.Background()); !errors.Is(err, runtime.ErrSink) {
		t.Fatalf("Wait: %v, want ErrSink", err)
	}
	if st := run.Status(); st.State != runtime.StateFailed || !strings.Contains(st.Err, "disk full") {
		t.Errorf("Run.Status = %s %q, want failed with the sink's error", st.State, st.Err)
	}
	st, err := f.Status(context.Background(), "r")
	if err != nil || st.State != runtime.StateRunning || st.Machine != runtime.RunningState("A") || st.Err != "" {
		t.Errorf("Flow.Status = %s %s %q, %v; want the history's A:running", st.State, st.Machine, st.Err, err)
	}
}

// TestMemorySinkWaitFor: a test steps a FakeClock over a run's backoffs
// by waiting for each retry's event, recorded before the backoff's timer
// is armed, with no polling (docs/runtime.md, "Testing flows").
func TestMemorySinkWaitFor(t *testing.T) {
	ctx := context.Background()
	clock := runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	sink := runtime.NewMemorySink()
	f := runtime.New[struct{ N int }]("waitfor", runtime.WithSink(sink), runtime.WithClock(clock))
	err := f.Register(runtime.NewStep("Flaky", func(ctx context.Context, s *struct{ N int }) (runtime.Outcome, error) {
		if s.N++; runtime.Attempt(ctx) < 3 {
			return "", errors.New("flaky")
		}
		return runtime.OutcomeOK, nil
	}, runtime.WithRetry[struct{ N int }](runtime.RetryPolicy{Attempts: 3, Initial: time.Minute, Max: time.Minute}),
		runtime.WithTimeout[struct{ N int }](time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	run, err := f.Start(ctx, struct{ N int }{})
	if err != nil {
		t.Fatal(err)
	}
	for k := 1; k <= 2; k++ {
		e, err := sink.WaitFor(ctx, run.ID(), func(e runtime.Event) bool { return e.Outcome == runtime.OutcomeRetry && e.Attempt == k })
		if err != nil || e.Error != "flaky" {
			t.Fatalf("retry %d: %+v, %v", k, e, err)
		}
		clock.BlockUntil(1) // the backoff's timer: the attempt's is stopped
		clock.Advance(time.Minute)
	}
	res, err := run.Wait(ctx)
	if err != nil || res.State.N != 1 {
		t.Fatalf("%+v, %v", res, err)
	}
	// An event recorded before the call counts; an end of ctx ends the wait.
	if e, err := sink.WaitFor(ctx, run.ID(), func(e runtime.Event) bool { return e.Seq == 1 }); err != nil || e.To != runtime.RunningState("Flaky") {
		t.Fatalf("first event: %+v, %v", e, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	go cancel()
	if _, err := sink.WaitFor(cctx, run.ID(), func(runtime.Event) bool { return false }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
}
