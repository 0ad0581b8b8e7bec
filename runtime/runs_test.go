package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/runtime"
)

var errStop = errors.New("sink stopped")

// stopAt is a sink over mem that refuses the events entering the machine
// state to, as a process that died before that event was durable: the run
// stops and its history ends just before.
func stopAt(mem *runtime.MemorySink, to string) runtime.Sink {
	return runtime.SinkFunc(func(ctx context.Context, e runtime.Event) error {
		if e.To == to {
			return errStop
		}
		return mem.Emit(ctx, e)
	})
}

// threeSteps is a flow A, B, C whose steps record their effects.
func threeSteps(t *testing.T, id string, rec *recorder, sink runtime.Sink) *runtime.Flow[state] {
	f := runtime.New[state](id, runtime.WithSink(sink))
	mustRegister(t, f, okStep(rec, "A"), okStep(rec, "B"), okStep(rec, "C"))
	return f
}

// failingLister is a RunLister whose LoadHistory fails for one run.
type failingLister struct {
	*runtime.MemorySink
	bad string
}

func (l failingLister) LoadHistory(ctx context.Context, runID string) ([]runtime.Event, error) {
	if runID == l.bad {
		return nil, errors.New("disk on fire")
	}
	return l.MemorySink.LoadHistory(ctx, runID)
}

// TestResumeAll: the runs a first "process" left unfinished are resumed by
// a second definition from the same sink; finished runs and other flows'
// runs are left alone; completed steps do not run again and the step in
// flight does.
func TestResumeAll(t *testing.T) {
	ctx := context.Background()
	mem := runtime.NewMemorySink()
	before := newRecorder()

	// Two runs die while B runs (B's completion never reached the sink).
	dying := threeSteps(t, "resumeall", before, stopAt(mem, runtime.RunningState("C")))
	for _, id := range []string{"r1", "r2"} {
		if res, err := dying.Execute(ctx, state{}, runtime.WithRunID(id)); !errors.Is(err, runtime.ErrSink) {
			t.Fatalf("%s: %v (%s), want a sink error", id, err, res.Final)
		}
	}
	// A finished run, and an unfinished run of another flow.
	if _, err := threeSteps(t, "resumeall", before, mem).Execute(ctx, state{}, runtime.WithRunID("r3")); err != nil {
		t.Fatal(err)
	}
	if _, err := threeSteps(t, "other", before, stopAt(mem, runtime.RunningState("B"))).Execute(ctx, state{}, runtime.WithRunID("o1")); err == nil {
		t.Fatal("run of flow other did not stop")
	}

	after := newRecorder()
	f := threeSteps(t, "resumeall", after, mem)
	runs, err := f.ResumeAll(ctx, mem)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range runs {
		res, err := r.Wait(ctx)
		if err != nil || res.Final != runtime.StateDone {
			t.Errorf("%s: %s %v", r.ID(), res.Final, err)
		}
		// The state comes from the snapshot of A's completion: B's first
		// attempt died with the process.
		if diff := cmp.Diff([]string{"A", "B", "C"}, res.State.Log); diff != "" {
			t.Errorf("%s: state log (-want +got):\n%s", r.ID(), diff)
		}
		ids = append(ids, r.ID())
	}
	if diff := cmp.Diff([]string{"r1", "r2"}, ids); diff != "" {
		t.Errorf("resumed runs (-want +got):\n%s", diff)
	}
	// After the resume: A never again, B again (it was in flight) with the
	// key it had before, then C (the two runs run concurrently).
	if diff := cmp.Diff([]string{"exec B", "exec B", "exec C", "exec C"}, slices.Sorted(slices.Values(after.all()))); diff != "" {
		t.Errorf("effects after resume (-want +got):\n%s", diff)
	}
	if got, want := slices.Sorted(slices.Values(after.key["exec B"])), before.key["exec B"][:2]; !slices.Equal(got, want) || want[0] != "r1/B" {
		t.Errorf("B's idempotency keys after resume %v, before %v", got, want)
	}
	// Nothing left to resume; the other flow's run is still there.
	if runs, err := threeSteps(t, "resumeall", after, mem).ResumeAll(ctx, mem); err != nil || len(runs) != 0 {
		t.Errorf("second ResumeAll: %d runs, %v", len(runs), err)
	}
	if ids, _ := mem.RunIDs(ctx, "other", runtime.StateRunning); !slices.Equal(ids, []string{"o1"}) {
		t.Errorf("unfinished runs of flow other = %v", ids)
	}
}

// TestResumeAllSkipsBadRuns: a run that cannot be loaded or resumed is
// reported by ID and the others are resumed.
func TestResumeAllSkipsBadRuns(t *testing.T) {
	ctx := context.Background()
	mem := runtime.NewMemorySink()
	rec := newRecorder()
	dying := threeSteps(t, "skip", rec, stopAt(mem, runtime.RunningState("C")))
	for _, id := range []string{"bad", "good", "also"} {
		_, _ = dying.Execute(ctx, state{}, runtime.WithRunID(id))
	}
	runs, err := threeSteps(t, "skip", rec, mem).ResumeAll(ctx, failingLister{mem, "bad"})
	if err == nil || !strings.Contains(err.Error(), `resume run "bad": disk on fire`) {
		t.Errorf("error = %v, want one naming run bad", err)
	}
	var ids []string
	for _, r := range runs {
		if _, err := r.Wait(ctx); err != nil {
			t.Error(err)
		}
		ids = append(ids, r.ID())
	}
	if diff := cmp.Diff([]string{"good", "also"}, ids); diff != "" {
		t.Errorf("resumed (-want +got):\n%s", diff)
	}

	// A definition that no longer has the step in flight: every run is
	// skipped with a history error naming it.
	mem2 := runtime.NewMemorySink()
	_, _ = threeSteps(t, "renamed", rec, stopAt(mem2, runtime.RunningState("C"))).Execute(ctx, state{}, runtime.WithRunID("old"))
	g := runtime.New[state]("renamed", runtime.WithSink(mem2))
	mustRegister(t, g, okStep(rec, "A"), okStep(rec, "B2"), okStep(rec, "C"))
	runs, err = g.ResumeAll(ctx, mem2)
	var he *runtime.HistoryError
	if len(runs) != 0 || !errors.As(err, &he) || he.Step != "B" || !strings.Contains(err.Error(), `resume run "old"`) {
		t.Errorf("ResumeAll with a renamed step: %d runs, %v", len(runs), err)
	}

	if _, err := g.ResumeAll(ctx, nil); !errors.Is(err, runtime.ErrNotConfigured) {
		t.Errorf("ResumeAll(nil) = %v, want ErrNotConfigured", err)
	}
}

// TestMemorySinkRunIDs filters a flow's runs by the state of their last
// event, in the order they started.
func TestMemorySinkRunIDs(t *testing.T) {
	ctx := context.Background()
	mem := runtime.NewMemorySink()
	rec := newRecorder()
	f := runtime.New[state]("ids", runtime.WithSink(mem))
	mustRegister(t, f, okStep(rec, "A"), runtime.NewStep("Maybe", func(_ context.Context, s *state) (runtime.Outcome, error) {
		if s.Route == "fail" {
			return "", runtime.Permanent(errBoom)
		}
		return runtime.OutcomeOK, nil
	}))
	if _, err := f.Execute(ctx, state{}, runtime.WithRunID("done1")); err != nil {
		t.Fatal(err)
	}
	_, _ = f.Execute(ctx, state{Route: "fail"}, runtime.WithRunID("comp1"))
	stuck := runtime.New[state]("ids", runtime.WithSink(stopAt(mem, runtime.RunningState("Maybe"))))
	mustRegister(t, stuck, okStep(rec, "A"), okStep(rec, "Maybe"))
	_, _ = stuck.Execute(ctx, state{}, runtime.WithRunID("run1"))
	if _, err := threeSteps(t, "elsewhere", rec, mem).Execute(ctx, state{}); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		states []runtime.RunState
		want   []string
	}{
		{nil, []string{"done1", "comp1", "run1"}},
		{[]runtime.RunState{runtime.StateDone}, []string{"done1"}},
		{[]runtime.RunState{runtime.StateCompensated, runtime.StateRunning}, []string{"comp1", "run1"}},
		{[]runtime.RunState{runtime.StatePending, runtime.StateRollingBack}, nil},
	} {
		got, err := mem.RunIDs(ctx, "ids", c.states...)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("RunIDs(%v) = %v, %v; want %v", c.states, got, err, c.want)
		}
	}
	if got, err := mem.RunIDs(ctx, ""); !errors.Is(err, runtime.ErrNoFlowName) {
		t.Errorf(`RunIDs("") = %v, %v; want ErrNoFlowName`, got, err)
	}
}

// TestLookups: Runs, State and History of a definition see its own runs,
// live or finished, and no other flow's.
func TestLookups(t *testing.T) {
	ctx := context.Background()
	mem := runtime.NewMemorySink()
	rec := newRecorder()
	f := threeSteps(t, "lookups", rec, mem)
	done, err := f.Execute(ctx, state{N: 7}, runtime.WithRunID("done1"))
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := threeSteps(t, "elsewhere", rec, mem)
	other, err := elsewhere.Execute(ctx, state{})
	if err != nil {
		t.Fatal(err)
	}
	// A live run, held in B.
	release := make(chan struct{})
	live := runtime.New[state]("lookups", runtime.WithSink(mem))
	mustRegister(t, live, okStep(rec, "A"), runtime.NewStep("B", func(ctx context.Context, s *state) (runtime.Outcome, error) {
		<-release
		return runtime.OutcomeOK, nil
	}), okStep(rec, "C"))
	run, err := live.Start(ctx, state{N: 1}, runtime.WithRunID("live1"))
	if err != nil {
		t.Fatal(err)
	}
	for run.Status().Machine != runtime.RunningState("B") {
		time.Sleep(time.Millisecond)
	}

	if ids, err := f.Runs(ctx, mem); err != nil || !slices.Equal(ids, []string{"done1", "live1"}) {
		t.Errorf("Runs = %v, %v", ids, err)
	}
	if ids, err := f.Runs(ctx, mem, runtime.StateRunning); err != nil || !slices.Equal(ids, []string{"live1"}) {
		t.Errorf("Runs(running) = %v, %v", ids, err)
	}
	if s, err := f.State(ctx, "done1"); err != nil || s.N != 7 || !slices.Equal(s.Log, []string{"A", "B", "C"}) {
		t.Errorf("State(done1) = %+v, %v; want %+v", s, err, done.State)
	}
	if s, err := live.State(ctx, "live1"); err != nil || s.N != 1 || !slices.Equal(s.Log, []string{"A"}) {
		t.Errorf("State(live1) = %+v, %v", s, err)
	}
	if h, err := f.History(ctx, "live1"); err != nil || len(h) != 2 || h[1].To != runtime.RunningState("B") {
		t.Errorf("History(live1) = %v, %v", transitions(h), err)
	}
	if h, err := f.History(ctx, "done1"); err != nil || len(h) != 4 {
		t.Errorf("History(done1) = %v, %v", transitions(h), err)
	}
	if st, err := f.Status(ctx, "done1"); err != nil || st.Flow != "lookups" || st.State != runtime.StateDone {
		t.Errorf("Status(done1) = %+v, %v", st, err)
	}
	// The shared sink holds the other flow's run: its own flow finds it,
	// this one must not.
	if st, err := elsewhere.Status(ctx, other.RunID); err != nil || st.Flow != "elsewhere" {
		t.Errorf("elsewhere.Status(ctx, %s) = %+v, %v", other.RunID, st, err)
	}
	for _, id := range []string{other.RunID, "nope"} {
		if _, err := f.Status(ctx, id); !errors.Is(err, runtime.ErrUnknownRun) {
			t.Errorf("Status(%s) = %v, want ErrUnknownRun", id, err)
		}
		if _, err := f.State(ctx, id); !errors.Is(err, runtime.ErrUnknownRun) {
			t.Errorf("State(%s) = %v, want ErrUnknownRun", id, err)
		}
		if _, err := f.History(ctx, id); !errors.Is(err, runtime.ErrUnknownRun) {
			t.Errorf("History(%s) = %v, want ErrUnknownRun", id, err)
		}
	}
	close(release)
	if _, err := run.Wait(ctx); err != nil {
		t.Fatal(err)
	}

	bare := threeSteps(t, "lookups", rec, runtime.SinkFunc(func(context.Context, runtime.Event) error { return nil }))
	if _, err := bare.History(ctx, "done1"); !errors.Is(err, runtime.ErrNotConfigured) {
		t.Errorf("History without a loading sink = %v, want ErrNotConfigured", err)
	}
	if _, err := bare.Runs(ctx, nil); !errors.Is(err, runtime.ErrNotConfigured) {
		t.Errorf("Runs(nil) = %v, want ErrNotConfigured", err)
	}
}

// TestRPCRollback: the rollback calls its endpoint through the run's
// Caller with the request from the state and the rollback's idempotency
// key, and writes the response into the state; without a Caller it fails
// permanently with ErrNotConfigured.
func TestRPCRollback(t *testing.T) {
	ctx := context.Background()
	type acct struct {
		ID      string `json:"id"`
		Receipt string `json:"receipt"`
	}
	calls := runtime.NewMemoryCaller()
	calls.Handle("accounts", "Account.Delete", runtime.HandleFunc(func(_ context.Context, id string) (string, error) {
		return "deleted " + id, nil
	}))
	build := func(opts ...runtime.Option) *runtime.Flow[acct] {
		f := runtime.New[acct]("rpcrollback", append(opts, runtime.WithSink(runtime.NewMemorySink()))...)
		err := f.Register(
			runtime.NewStep("Create", func(_ context.Context, s *acct) (runtime.Outcome, error) {
				s.ID = "a1"
				return runtime.OutcomeOK, nil
			}, runtime.WithRollback(runtime.RPCRollback("accounts", "Account.Delete",
				func(s *acct) any { return s.ID }, func(s *acct) any { return &s.Receipt }))),
			runtime.NewStep("Fail", func(context.Context, *acct) (runtime.Outcome, error) {
				return "", runtime.Permanent(errBoom)
			}))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}

	res, _ := build(runtime.WithCaller(calls)).Execute(ctx, acct{}, runtime.WithRunID("r"))
	if res.Final != runtime.StateCompensated || res.State.Receipt != "deleted a1" {
		t.Errorf("run ended %s with state %+v, want compensated with the response in it", res.Final, res.State)
	}
	got := calls.Calls()
	want := []runtime.Call{{Service: "accounts", Endpoint: "Account.Delete", Key: "r/Create/rollback", Request: []byte(`"a1"`)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}

	// nil request and response: null is sent, the response dropped.
	undo := runtime.RPCRollback[acct]("accounts", "Account.Delete", nil, nil)
	noop := runtime.NewMemoryCaller()
	var req string
	noop.Handle("accounts", "Account.Delete", func(_ context.Context, r json.RawMessage) (any, error) { req = string(r); return "x", nil })
	f := runtime.New[acct]("rpcrollback-nil", runtime.WithCaller(noop))
	mustRegisterAny(t, f, runtime.NewStep("Create", func(context.Context, *acct) (runtime.Outcome, error) { return runtime.OutcomeOK, nil },
		runtime.WithRollback(undo)), runtime.NewStep("Fail", func(context.Context, *acct) (runtime.Outcome, error) {
		return "", runtime.Permanent(errBoom)
	}))
	if res, _ := f.Execute(ctx, acct{}); res.Final != runtime.StateCompensated || req != "null" {
		t.Errorf("nil request: run %s, request %q", res.Final, req)
	}

	res, err := build().Execute(ctx, acct{})
	if res.Final != runtime.StateCompensationFailed || !errors.Is(err, runtime.ErrNotConfigured) {
		t.Errorf("without a Caller: %s, %v; want compensation_failed wrapping ErrNotConfigured", res.Final, err)
	}
	if undo(ctx, &acct{}) == nil {
		t.Error("outside a run: no error")
	}
}

func mustRegisterAny[S any](t *testing.T, f *runtime.Flow[S], steps ...*runtime.Step[S]) {
	t.Helper()
	if err := f.Register(steps...); err != nil {
		t.Fatal(err)
	}
}
