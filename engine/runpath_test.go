package engine

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/internal/graph"
	"github.com/flowgen/flowgen/runtime"
)

// history builds a run's history from its transitions, each "FROM>TO"
// with the attempt's outcome and error if any, numbered and named as a
// run records them (Step: the step of From's phase, else of To's).
func history(t *testing.T, moves ...[3]string) runtime.Status {
	t.Helper()
	h := make([]runtime.Event, len(moves))
	for i, m := range moves {
		from, to, _ := strings.Cut(m[0], ">")
		e := runtime.Event{RunID: "r1", Seq: uint64(i + 1), Flow: "F", From: from, To: to, Outcome: runtime.Outcome(m[1]), Error: m[2]}
		if step, _, _ := runtime.ParseMachineState(from); step != "" {
			e.Step = step
		} else {
			e.Step, _, _ = runtime.ParseMachineState(to)
		}
		if e.Outcome != "" {
			e.Attempt = 1
		}
		h[i] = e
	}
	st, err := runtime.Replay(h)
	if err != nil {
		t.Fatalf("the test's history: %v", err)
	}
	return st
}

// A run's path after an abort: the step the abort cut short is
// interrupted, not failed; an abort while the run waited, or as its step
// returned ok, interrupts none; a rollback that failed after an abort is
// lit failed; a step that failed is, as ever.
func TestRunPathAbort(t *testing.T) {
	aborted := runtime.ErrAborted.Error()
	start := [3]string{"pending>A:running"}
	aDone := [3]string{"A:running>B:running", "ok"}
	undoA := [][3]string{{"aborting>A:rollback"}, {"A:rollback>aborting", "ok"}}
	for _, c := range []struct {
		name  string
		moves [][3]string
		want  graph.Path
	}{{
		name: "abort while B runs",
		moves: append([][3]string{start, aDone, {"B:running>aborting", "error", "context canceled"}},
			append(undoA, [3]string{"aborting>aborted"})...),
		want: graph.Path{Visited: []string{"A", "B"}, Undone: []string{"A"}, Interrupted: "B", Aborted: true, Terminal: "aborted"},
	}, {
		name: "abort while B backs off, or before its first attempt",
		moves: append([][3]string{start, aDone, {"B:running>aborting", "", aborted}},
			append(undoA, [3]string{"aborting>aborted"})...),
		want: graph.Path{Visited: []string{"A", "B"}, Undone: []string{"A"}, Interrupted: "B", Aborted: true, Terminal: "aborted"},
	}, {
		name: "abort while B waits",
		moves: append([][3]string{start, {"A:running>B:waiting", "ok"}, {"B:waiting>aborting", "", aborted}},
			append(undoA, [3]string{"aborting>aborted"})...),
		want: graph.Path{Visited: []string{"A", "B"}, Undone: []string{"A"}, Aborted: true, Terminal: "aborted"},
	}, {
		name: "abort as B returns ok",
		moves: append([][3]string{start, aDone, {"B:running>aborting", "ok"}, {"aborting>B:rollback"}, {"B:rollback>aborting", "ok"}},
			append(undoA, [3]string{"aborting>aborted"})...),
		want: graph.Path{Visited: []string{"A", "B"}, Undone: []string{"B", "A"}, Aborted: true, Terminal: "aborted"},
	}, {
		name:  "abort before the first step",
		moves: [][3]string{{"pending>aborting", "", aborted}, {"aborting>aborted"}},
		want:  graph.Path{Aborted: true, Terminal: "aborted"},
	}, {
		name:  "abort while B runs, rolling back",
		moves: [][3]string{start, aDone, {"B:running>aborting", "error", "context canceled"}, undoA[0]},
		want:  graph.Path{Visited: []string{"A", "B"}, Undone: []string{"A"}, Current: []graph.Phase{{Step: "A", Rollback: true}}, Interrupted: "B", Aborted: true},
	}, {
		name: "abort while B runs, A's rollback fails",
		moves: [][3]string{start, aDone, {"B:running>aborting", "error", "context canceled"}, undoA[0],
			{"A:rollback>aborting", "error", "gone"}, {"aborting>compensation_failed"}},
		want: graph.Path{Visited: []string{"A", "B"}, Undone: []string{"A"}, Interrupted: "B", FailedUndo: "A", Aborted: true, Terminal: "compensation_failed"},
	}, {
		name: "B fails",
		moves: [][3]string{start, aDone, {"B:running>failing", "error", "boom"}, {"failing>A:rollback"},
			{"A:rollback>failing", "ok"}, {"failing>compensated"}},
		want: graph.Path{Visited: []string{"A", "B"}, Undone: []string{"A"}, Failed: "B", Terminal: "compensated"},
	}} {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(&c.want, RunPath(history(t, c.moves...))); diff != "" {
				t.Errorf("RunPath (-want +got):\n%s", diff)
			}
		})
	}
}

// GET /runs/{id}/history says what the runtime's rules read in the
// events, so that the web view's timeline copies none: the events that end
// a wait (woken) and the abort that cut a step short (interrupted).
func TestHistoryAnswer(t *testing.T) {
	st := history(t,
		[3]string{"pending>A:running"},
		[3]string{"A:running>B:waiting", "ok"},
		[3]string{"B:waiting>B:running"}, // the awaited event came
		[3]string{"B:running>aborting", "error", "context canceled"},
		[3]string{"aborting>A:rollback"},
		[3]string{"A:rollback>aborting", "ok"},
		[3]string{"aborting>aborted"},
	)
	got := historyAnswer("r1", st.History)
	if got["run_id"] != "r1" || len(got["events"].([]runtime.Event)) != 7 {
		t.Fatalf("historyAnswer = %v", got)
	}
	if diff := cmp.Diff([]uint64{3}, got["woken"]); diff != "" {
		t.Errorf("woken (-want +got):\n%s", diff)
	}
	if got["interrupted"] != uint64(4) {
		t.Errorf("interrupted = %v, want 4 (B cut short by the abort)", got["interrupted"])
	}

	// A run that finished on its own: no event ends a wait, none was cut short.
	done := history(t, [3]string{"pending>A:running"}, [3]string{"A:running>done", "ok"})
	got = historyAnswer("r1", done.History)
	if diff := cmp.Diff([]uint64{}, got["woken"]); diff != "" {
		t.Errorf("woken of a run that never waited (-want +got):\n%s", diff)
	}
	if _, ok := got["interrupted"]; ok {
		t.Errorf("interrupted = %v for a run that took no abort", got["interrupted"])
	}
	if _, ok := got["abort"]; ok {
		t.Errorf("abort = %v for a run that took no abort", got["abort"])
	}
}

// The event by which a run took its abort is "abort", whether the abort
// cut a step short (the same event as "interrupted") or a wait, which
// it did not interrupt: its error, runtime: run aborted, is no failure.
// The rollback's return to aborting is not the abort.
func TestHistoryAnswerAbort(t *testing.T) {
	cut := history(t,
		[3]string{"pending>A:running"},
		[3]string{"A:running>B:running", "ok"},
		[3]string{"B:running>aborting", "error", "runtime: run aborted"},
		[3]string{"aborting>A:rollback"},
		[3]string{"A:rollback>aborting", "ok"},
		[3]string{"aborting>aborted"},
	)
	if got := historyAnswer("r1", cut.History); got["abort"] != uint64(3) || got["interrupted"] != uint64(3) {
		t.Errorf("abort = %v, interrupted = %v, want both 3", got["abort"], got["interrupted"])
	}
	waited := history(t,
		[3]string{"pending>A:running"},
		[3]string{"A:running>B:waiting", "ok"},
		[3]string{"B:waiting>aborting", "", "runtime: run aborted"},
		[3]string{"aborting>A:rollback"},
		[3]string{"A:rollback>aborting", "ok"},
		[3]string{"aborting>aborted"},
	)
	got := historyAnswer("r1", waited.History)
	if got["abort"] != uint64(3) {
		t.Errorf("abort = %v, want 3 (the wait B aborted)", got["abort"])
	}
	if _, ok := got["interrupted"]; ok {
		t.Errorf("interrupted = %v: the abort cut no step short", got["interrupted"])
	}
}

// The branches of a parallel block that the run's abort cut short are lit
// as the step an abort cuts short is (fg-interrupted), as the branches a
// failing branch cancelled are, not failed: before, the diagram of such a
// run drew them as neither.
func TestRunPathAbortedBranches(t *testing.T) {
	started := make(chan struct{}, 2)
	cutShort := func(id string) *runtime.Step[struct{}] {
		return runtime.NewStep(id, func(ctx context.Context, _ *struct{}) (runtime.Outcome, error) {
			started <- struct{}{}
			<-ctx.Done()
			return "", ctx.Err()
		})
	}
	sink := runtime.NewMemorySink()
	f := runtime.New[struct{}]("F", runtime.WithSink(sink))
	if err := f.Register(runtime.NewParallel("Prepare", []*runtime.Step[struct{}]{okBranch("X"), cutShort("Y"), cutShort("Z")})); err != nil {
		t.Fatal(err)
	}
	r, err := f.Start(context.Background(), struct{}{}, runtime.WithRunID("r1"))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	<-started
	// X returns at once, but its end is recorded by the block's goroutine
	// after Y and Z may have signalled: abort only once it is in the
	// history, or X is cut short too (the flake CI met).
	waitFor(t, "X's end in the history", func() bool { return branchEnded(sink.History("r1"), "X") })
	if err := r.Abort(); err != nil {
		t.Fatal(err)
	}
	<-r.Done()
	st, err := runtime.Replay(sink.History("r1"))
	if err != nil {
		t.Fatal(err)
	}
	got := RunPath(st)
	slices.Sort(got.Cancelled)
	if diff := cmp.Diff([]string{"Y", "Z"}, got.Cancelled); diff != "" || len(got.FailedBranches) != 0 || got.Failed != "" {
		t.Errorf("RunPath: cut short %v (-want +got:\n%s), failed %q %v: want Y and Z cut short, nothing failed", got.Cancelled, diff, got.Failed, got.FailedBranches)
	}
}

// The branches cut short in a parallel block that failed and was routed
// on (`on error`) stay lit as cut short once the run enters a later block:
// before, only the last block's branches (Status.Branches) were read, so
// an earlier block's cancelled branch was drawn as an ordinary visited
// step.
func TestRunPathCancelledBranchesOfEarlierBlock(t *testing.T) {
	started := make(chan struct{})
	sink := runtime.NewMemorySink()
	f := runtime.New[struct{}]("F", runtime.WithSink(sink))
	err := f.Register(
		runtime.NewParallel("First", []*runtime.Step[struct{}]{
			runtime.NewStep("Fails", func(ctx context.Context, _ *struct{}) (runtime.Outcome, error) {
				<-started // fail once the other branch runs, so that it is cut short
				return "", runtime.Permanent(errors.New("boom"))
			}),
			runtime.NewStep("Cut", func(ctx context.Context, _ *struct{}) (runtime.Outcome, error) {
				close(started)
				<-ctx.Done()
				return "", ctx.Err()
			}),
		}, runtime.WithNext[struct{}](runtime.OutcomeError, "Between")),
		okBranch("Between"),
		runtime.NewParallel("Second", []*runtime.Step[struct{}]{okBranch("A"), okBranch("B")}),
	)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := f.Execute(context.Background(), struct{}{}, runtime.WithRunID("r1")); err != nil || res.Final != runtime.StateDone {
		t.Fatalf("Execute = %s, %v", res.Final, err)
	}
	st, err := runtime.Replay(sink.History("r1"))
	if err != nil {
		t.Fatal(err)
	}
	got := RunPath(st)
	if diff := cmp.Diff([]string{"Cut"}, got.Cancelled); diff != "" {
		t.Errorf("RunPath: cut short (-want +got):\n%s", diff)
	}
	if !slices.Contains(got.Visited, "Fails") || !slices.Contains(got.Visited, "A") || got.Failed != "" || got.Terminal != string(runtime.StateDone) {
		t.Errorf("RunPath = %+v, want Fails and A visited, nothing failed, done", got)
	}
}

// branchEnded says whether history holds the end of branch's attempt.
func branchEnded(history []runtime.Event, branch string) bool {
	for _, e := range history {
		if e.Branch == branch && e.Outcome != "" {
			return true
		}
	}
	return false
}

// okBranch is a step (a branch, or not) that does nothing and ends ok.
func okBranch(id string) *runtime.Step[struct{}] {
	return runtime.NewStep(id, func(context.Context, *struct{}) (runtime.Outcome, error) { return runtime.OutcomeOK, nil })
}
