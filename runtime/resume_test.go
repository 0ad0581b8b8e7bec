package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flowgen/flowgen/runtime"
)

// scenario builds one definition per call (a "process"), whose steps record
// their effects in rec. Behaviour depends only on the state and the attempt,
// so an interrupted run and an uninterrupted one must agree.
type scenario struct {
	name  string
	build func(rec *recorder, sink runtime.Sink) *runtime.Flow[state]
}

var scenarios = []scenario{
	{"success with retries", func(rec *recorder, sink runtime.Sink) *runtime.Flow[state] {
		f := runtime.New[state]("resume", runtime.WithSink(sink), runtime.WithClock(runtime.NewAutoClock(epoch)))
		_ = f.Register(okStep(rec, "A"),
			failingStep(rec, "B", 2, errBoom, runtime.WithRetry[state](runtime.RetryPolicy{Attempts: 3, Initial: time.Second}),
				runtime.WithRollback(func(ctx context.Context, s *state) error { rec.add("undo B", ctx); return nil })),
			okStep(rec, "C"))
		return f
	}},
	{"compensation with a retried rollback", func(rec *recorder, sink runtime.Sink) *runtime.Flow[state] {
		f := runtime.New[state]("resume", runtime.WithSink(sink), runtime.WithClock(runtime.NewAutoClock(epoch)))
		_ = f.Register(okStep(rec, "A"),
			runtime.NewStep("B", func(ctx context.Context, s *state) (runtime.Outcome, error) {
				rec.add("exec B", ctx)
				s.Log = append(s.Log, "B")
				return "", nil
			}, runtime.WithRollback(func(ctx context.Context, s *state) error {
				rec.add("undo B", ctx)
				if runtime.Attempt(ctx) < 2 {
					return errors.New("flaky")
				}
				s.Log = append(s.Log, "-B")
				return nil
			}), runtime.WithRollbackRetry[state](runtime.RetryPolicy{Attempts: 2})),
			okStep(rec, "C"),
			failingStep(rec, "D", -1, runtime.Permanent(errBoom)))
		return f
	}},
	{"loop and a failed rollback", func(rec *recorder, sink runtime.Sink) *runtime.Flow[state] {
		f := runtime.New[state]("resume", runtime.WithSink(sink), runtime.WithClock(runtime.NewAutoClock(epoch)))
		_ = f.Register(okStep(rec, "A"),
			runtime.NewStep("Count", func(ctx context.Context, s *state) (runtime.Outcome, error) {
				rec.add("exec Count", ctx)
				if s.N++; s.N < 3 {
					return "again", nil
				}
				return "", nil
			}, runtime.WithNext[state]("again", "A"), runtime.WithRollback(func(ctx context.Context, s *state) error {
				rec.add("undo Count", ctx)
				return errors.New("stuck")
			})),
			failingStep(rec, "Z", -1, errBoom))
		return f
	}},
}

// TestResumeFromEveryPrefix interrupts each scenario after every event: the
// run resumed from the first i events must end exactly like the
// uninterrupted run (same transitions, state and result), never re-run a
// step or rollback whose completion was recorded, and re-run the in-flight
// one with the same idempotency key.
func TestResumeFromEveryPrefix(t *testing.T) {
	ignoreTime := cmpopts.IgnoreFields(runtime.Event{}, "Time", "RetryAt")
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			fullRec := newRecorder()
			fullSink := runtime.NewMemorySink()
			f := sc.build(fullRec, fullSink)
			want, _ := f.Execute(context.Background(), state{}, runtime.WithRunID("r"))
			full := fullSink.History("r")
			if !want.Final.Terminal() || len(full) < 4 {
				t.Fatalf("uninterrupted run: %+v, %d events", want, len(full))
			}
			for i := 1; i < len(full); i++ {
				prefix := full[:i]
				rec := newRecorder()
				sink := runtime.NewMemorySink()
				for _, e := range prefix { // the durable store held these
					_ = sink.Emit(context.Background(), e)
				}
				run, err := sc.build(rec, sink).Resume(context.Background(), prefix)
				if err != nil {
					t.Fatalf("prefix %d: %v", i, err)
				}
				got, _ := run.Wait(context.Background())
				if got.Final != want.Final || fmt.Sprint(got.Err) != fmt.Sprint(want.Err) {
					t.Errorf("prefix %d: ended %s (%v), want %s (%v)", i, got.Final, got.Err, want.Final, want.Err)
				}
				if diff := cmp.Diff(want.State, got.State); diff != "" {
					t.Errorf("prefix %d: state (-want +got):\n%s", i, diff)
				}
				if diff := cmp.Diff(full, sink.History("r"), ignoreTime); diff != "" {
					t.Errorf("prefix %d: history (-uninterrupted +resumed):\n%s", i, diff)
				}
				// What the resumed run did is exactly what the uninterrupted
				// run did after the prefix, starting with the in-flight action.
				if diff := cmp.Diff(effectsAfter(full, fullRec, i), rec.all(), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("prefix %d: effects (-want +got):\n%s", i, diff)
				}
				for op, keys := range rec.key {
					for _, k := range keys {
						if !contains(fullRec.key[op], k) {
							t.Errorf("prefix %d: %s ran with key %q, unknown to the uninterrupted run %q", i, op, k, fullRec.key[op])
						}
					}
				}
			}
		})
	}
}

// TestResumeStaleHistory resumes from a history loaded before the run went
// on in the flow's sink (a ResumeAll racing a parent's AttachChild does
// that): the run continues from what the sink holds, so no completed step
// runs again, and a run the sink has seen end is not resumed at all.
func TestResumeStaleHistory(t *testing.T) {
	sc := scenarios[0] // A, B failing twice then ok, C
	fullRec := newRecorder()
	fullSink := runtime.NewMemorySink()
	if _, err := sc.build(fullRec, fullSink).Execute(context.Background(), state{}, runtime.WithRunID("r")); err != nil {
		t.Fatal(err)
	}
	full := fullSink.History("r")
	for held := 2; held < len(full); held++ {
		for old := 1; old < held; old++ {
			rec := newRecorder()
			sink := runtime.NewMemorySink()
			for _, e := range full[:held] {
				_ = sink.Emit(context.Background(), e)
			}
			run, err := sc.build(rec, sink).Resume(context.Background(), full[:old])
			if err != nil {
				t.Fatalf("held %d, from %d: %v", held, old, err)
			}
			if _, err := run.Wait(context.Background()); err != nil {
				t.Fatalf("held %d, from %d: %v", held, old, err)
			}
			if diff := cmp.Diff(effectsAfter(full, fullRec, held), rec.all(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("held %d, from %d: effects (-want +got):\n%s", held, old, diff)
			}
		}
	}
	_, err := sc.build(newRecorder(), fullSink).Resume(context.Background(), full[:2])
	if !errors.Is(err, runtime.ErrFinished) {
		t.Fatalf("resuming a run the sink holds as ended: %v, want ErrFinished", err)
	}
}

// effectsAfter is the suffix of the uninterrupted run's effects that a run
// resumed from full[:i] must perform: one effect per attempt of a step or
// rollback still unrecorded at event i. Attempts are counted off the
// history: each event leaving a step or rollback phase ends one attempt.
func effectsAfter(full []runtime.Event, rec *recorder, i int) []string {
	done := 0 // attempts recorded in full[:i]
	for _, e := range full[:i] {
		if _, phase, _ := runtime.ParseMachineState(e.From); (phase == runtime.PhaseRunning || phase == runtime.PhaseRollback) && e.Attempt > 0 {
			done++
		}
	}
	// Only steps with a recorder entry count: every step here records
	// each attempt, so effects and attempt-ending events line up.
	all := rec.all()
	return all[done:]
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func TestResumeErrors(t *testing.T) {
	rec := newRecorder()
	sink := runtime.NewMemorySink()
	f := scenarios[0].build(rec, sink)
	if _, err := f.Execute(context.Background(), state{}, runtime.WithRunID("r")); err != nil {
		t.Fatal(err)
	}
	full := sink.History("r")
	if _, err := f.Resume(context.Background(), full); !errors.Is(err, runtime.ErrFinished) {
		t.Errorf("Resume of a finished run: %v, want ErrFinished", err)
	}
	// An empty history has no event: the error names none (it said
	// "history event seq 0", an event that no run records).
	if _, err := f.Resume(context.Background(), nil); !errors.Is(err, runtime.ErrHistory) || err.Error() != "runtime: history: empty history" {
		t.Errorf("Resume of nothing: %v, want ErrHistory, %q", err, "runtime: history: empty history")
	}
	if _, err := f.Resume(context.Background(), full[:2], runtime.WithRunID("other")); !errors.Is(err, runtime.ErrHistory) {
		t.Errorf("Resume under another ID: %v, want ErrHistory", err)
	}
	// A run that is still live cannot be resumed twice.
	block := make(chan struct{})
	live := runtime.NewMemorySink()
	g2 := runtime.New[state]("live", runtime.WithSink(live))
	mustRegister(t, g2, runtime.NewStep("Wait", func(ctx context.Context, s *state) (runtime.Outcome, error) {
		<-block
		return "", nil
	}))
	run, err := g2.Start(context.Background(), state{}, runtime.WithRunID("x"))
	if err != nil {
		t.Fatal(err)
	}
	if len(live.History("x")) == 0 {
		t.Fatal("Start returned before the run's first event was recorded")
	}
	if _, err := g2.Resume(context.Background(), live.History("x")); !errors.Is(err, runtime.ErrDuplicateRun) {
		t.Errorf("Resume of a live run: %v, want ErrDuplicateRun", err)
	}
	close(block)
	if _, err := run.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestCheckHistory feeds histories that no longer fit the definition.
func TestCheckHistory(t *testing.T) {
	rec := newRecorder()
	sink := runtime.NewMemorySink()
	f := scenarios[1].build(rec, sink)
	_, _ = f.Execute(context.Background(), state{}, runtime.WithRunID("r"))
	full := sink.History("r")
	if err := f.CheckHistory(full); err != nil {
		t.Fatalf("own history: %v", err)
	}
	// The same flow after C was renamed Charge.
	renamed := runtime.New[state]("resume")
	mustRegister(t, renamed, okStep(rec, "A"), okStep(rec, "B"), okStep(rec, "Charge"), okStep(rec, "D"))
	err := renamed.CheckHistory(full)
	var he *runtime.HistoryError
	if !errors.As(err, &he) || he.Step != "C" || he.Seq != 3 {
		t.Errorf("renamed step: %v, want a HistoryError for step C at seq 3", err)
	}
	// The same flow after B lost its rollback.
	noRollback := runtime.New[state]("resume")
	mustRegister(t, noRollback, okStep(rec, "A"),
		runtime.NewStep("B", func(context.Context, *state) (runtime.Outcome, error) { return "", nil }), okStep(rec, "C"), okStep(rec, "D"))
	if err := noRollback.CheckHistory(full); !errors.As(err, &he) || he.Step != "B" {
		t.Errorf("removed rollback: %v, want an error naming B", err)
	}
	// Reordered steps: C now comes before B, so A -> B is no transition.
	reordered := runtime.New[state]("resume")
	mustRegister(t, reordered, okStep(rec, "A"), okStep(rec, "C"), okStep(rec, "B"), okStep(rec, "D"))
	if err := reordered.CheckHistory(full); !errors.As(err, &he) || he.Seq != 2 {
		t.Errorf("reordered steps: %v, want an error at seq 2", err)
	}
	// Another flow's history.
	other := runtime.New[state]("other")
	mustRegister(t, other, okStep(rec, "A"))
	if err := other.CheckHistory(full); !errors.Is(err, runtime.ErrHistory) {
		t.Errorf("other flow: %v", err)
	}
	// Rolling back out of order.
	swapped := append([]runtime.Event(nil), full...)
	for i, e := range swapped {
		if e.To == "B:rollback" {
			swapped[i].To, swapped[i].Step = "A:rollback", "A"
			swapped = swapped[:i+1]
			break
		}
	}
	if err := f.CheckHistory(swapped); !errors.As(err, &he) || he.Step != "A" {
		t.Errorf("out-of-order rollback: %v, want an error naming A", err)
	}
}

func TestReplay(t *testing.T) {
	var h []runtime.Event
	for _, sc := range scenarios {
		sink := runtime.NewMemorySink()
		f := sc.build(newRecorder(), sink)
		run, err := f.Start(context.Background(), state{}, runtime.WithRunID("r"))
		if err != nil {
			t.Fatal(err)
		}
		res, _ := run.Wait(context.Background())
		live := run.Status()
		replayed, err := runtime.Replay(sink.History("r"))
		if err != nil {
			t.Fatalf("%s: %v", sc.name, err)
		}
		if diff := cmp.Diff(live, replayed); diff != "" {
			t.Errorf("%s: status (-live +replayed):\n%s", sc.name, diff)
		}
		if replayed.State != res.Final {
			t.Errorf("%s: replayed %s, run ended %s", sc.name, replayed.State, res.Final)
		}
		if res.Err != nil && replayed.Err != res.Err.Error() {
			t.Errorf("%s: replayed error %q, run error %q", sc.name, replayed.Err, res.Err)
		}
		// Every prefix replays to a status whose machine state is its last To.
		h = sink.History("r")
		for i := 1; i <= len(h); i++ {
			st, err := runtime.Replay(h[:i])
			if err != nil || st.Machine != h[i-1].To || string(st.Snapshot) != string(h[i-1].State) {
				t.Errorf("%s: prefix %d: %+v, %v", sc.name, i, st, err)
			}
		}
	}

	broken := func(edit func(h []runtime.Event) []runtime.Event) error {
		c := append([]runtime.Event(nil), h...)
		_, err := runtime.Replay(edit(c))
		return err
	}
	cases := map[string]func(h []runtime.Event) []runtime.Event{
		"empty":         func(h []runtime.Event) []runtime.Event { return nil },
		"gap":           func(h []runtime.Event) []runtime.Event { return append(h[:2:2], h[3:]...) },
		"wrong from":    func(h []runtime.Event) []runtime.Event { h[2].From = "Z:running"; return h },
		"unknown state": func(h []runtime.Event) []runtime.Event { h[1].To = "A:sleeping"; return h },
		"other run":     func(h []runtime.Event) []runtime.Event { h[3].RunID = "q"; return h },
		"other flow":    func(h []runtime.Event) []runtime.Event { h[3].Flow = "other"; return h },
		"repeat":        func(h []runtime.Event) []runtime.Event { return append(h[:3:3], h[2:]...) },
		"not from 1":    func(h []runtime.Event) []runtime.Event { return h[1:] },
		"after terminal": func(h []runtime.Event) []runtime.Event {
			return append(h, runtime.Event{RunID: "r", Flow: "resume", Seq: uint64(len(h) + 1), From: h[len(h)-1].To, To: "done"})
		},
	}
	for name, edit := range cases {
		if err := broken(edit); !errors.Is(err, runtime.ErrHistory) {
			t.Errorf("%s: %v, want ErrHistory", name, err)
		}
	}
}

// A history whose state snapshot does not decode into the flow's state
// type (the type changed since: a field that was a number is a string
// now) fails CheckHistory as it fails Resume, for a run not over: Resume
// could not continue it. CheckHistory said nil, and an engine that checks
// a run can resume before it records an abort for it recorded the request
// and then failed to resume the run.
func TestCheckHistoryStateSnapshot(t *testing.T) {
	type before struct{ N int }
	type after struct{ N string }
	sink := runtime.NewMemorySink()
	old := runtime.New[before]("changed", runtime.WithSink(sink))
	block := make(chan struct{})
	mustRegisterAny(t, old, runtime.NewStep("A", func(context.Context, *before) (runtime.Outcome, error) {
		<-block
		return "", nil
	}))
	run, err := old.Start(context.Background(), before{N: 7}, runtime.WithRunID("r"))
	if err != nil {
		t.Fatal(err)
	}
	cut := sink.History("r")
	close(block)
	if _, err := run.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	changed := runtime.New[after]("changed")
	mustRegisterAny(t, changed, runtime.NewStep("A", func(context.Context, *after) (runtime.Outcome, error) { return "", nil }))
	var he *runtime.HistoryError
	if _, err := changed.Resume(context.Background(), cut); !errors.As(err, &he) {
		t.Fatalf("Resume with a snapshot that does not decode: %v, want a HistoryError", err)
	}
	if err := changed.CheckHistory(cut); !errors.As(err, &he) {
		t.Errorf("CheckHistory with a snapshot that does not decode: %v, want a HistoryError, as Resume's", err)
	}
	// Over: nothing resumes it, and its snapshot is not read.
	if err := changed.CheckHistory(sink.History("r")); err != nil {
		t.Errorf("CheckHistory of the run over: %v", err)
	}
}
