package store

// A crash changes nothing a run records: a run of a flow with a parallel
// block (a branch retries), a choose, a sleep and a call (whose child
// fails, in a second case, so that the parent rolls back) is cut, with its
// child, at every point a process dying could leave them, resumed from a
// new durable store, and its history, and its child's, must then be the
// one the run without a crash recorded: the same transitions, attempts,
// outcomes, errors, waits' children and links, machine by machine (a
// block's branches each on its own, their interleaving being free).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

type sameState struct {
	A     string    `json:"a,omitempty"`
	B     string    `json:"b,omitempty"`
	Tier  string    `json:"tier,omitempty"`
	Visit sameChild `json:"visit"`
}

type sameChild struct {
	Done bool `json:"done"`
}

func sameFlows(t *testing.T, st *Store, fail bool) *runtime.Flow[sameState] {
	t.Helper()
	noUndo := func(context.Context, *sameState) error { return nil }
	child := runtime.New[sameChild]("SameChild", runtime.WithSink(st))
	if err := child.Register(
		runtime.NewStep("Work", func(ctx context.Context, s *sameChild) (runtime.Outcome, error) { return "", nil },
			runtime.WithRollback(func(context.Context, *sameChild) error { return nil })),
		runtime.NewStep("Check", func(ctx context.Context, s *sameChild) (runtime.Outcome, error) {
			if runtime.Attempt(ctx) == 1 {
				return "", errors.New("busy")
			}
			if fail {
				return "", runtime.Permanent(errors.New("no visit"))
			}
			s.Done = true
			return "", nil
		}, runtime.WithIrreversible[sameChild](), runtime.WithRetry[sameChild](runtime.RetryPolicy{Attempts: 2})),
	); err != nil {
		t.Fatal(err)
	}
	f := runtime.New[sameState]("Same", runtime.WithSink(st))
	if err := f.Register(
		runtime.NewStep("Before", func(ctx context.Context, s *sameState) (runtime.Outcome, error) { return "", nil }, runtime.WithRollback(noUndo)),
		runtime.NewParallel("P", []*runtime.Step[sameState]{
			runtime.NewStep("A", func(ctx context.Context, s *sameState) (runtime.Outcome, error) { s.A = "a"; return "", nil },
				runtime.WithRollback(noUndo), runtime.WithWrites(func(dst, src *sameState) { dst.A = src.A })),
			runtime.NewStep("B", func(ctx context.Context, s *sameState) (runtime.Outcome, error) {
				if runtime.Attempt(ctx) == 1 {
					return "", errors.New("flaky")
				}
				s.B = "b"
				return "", nil
			}, runtime.WithIrreversible[sameState](), runtime.WithWrites(func(dst, src *sameState) { dst.B = src.B }),
				runtime.WithRetry[sameState](runtime.RetryPolicy{Attempts: 3})),
		}),
		runtime.NewStep("Decide", func(ctx context.Context, s *sameState) (runtime.Outcome, error) { s.Tier = "gold"; return "", nil },
			runtime.WithIrreversible[sameState]()),
		runtime.NewChoice("Route", []func(s *sameState) (bool, error){
			func(s *sameState) (bool, error) { return s.Tier == "gold", nil },
		}, runtime.WithNext[sameState](runtime.ChoiceOutcome(0), "Nap"), runtime.WithNext[sameState](runtime.OutcomeOtherwise, "After")),
		runtime.NewSleep[sameState]("Nap", time.Millisecond, nil),
		runtime.NewCall("Visit", child, func(*sameState) sameChild { return sameChild{} },
			func(s *sameState) *sameChild { return &s.Visit }, runtime.WithIrreversible[sameState]()),
		runtime.NewStep("After", func(ctx context.Context, s *sameState) (runtime.Outcome, error) { return "", nil },
			runtime.WithIrreversible[sameState]()),
	); err != nil {
		t.Fatal(err)
	}
	return f
}

// machines splits a history by machine: the run's own ("") and each
// branch's, each event written as what a crash must not change.
func machines(h []runtime.Event) map[string][]string {
	out := map[string][]string{}
	for _, e := range h {
		var wait, child, parent string
		if e.Wait != nil && e.Wait.Child != nil {
			wait = e.Wait.Child.RunID
		}
		if e.Child != nil {
			child = e.Child.RunID
		}
		if e.Parent != nil {
			parent = e.Parent.RunID
		}
		var payload any
		_ = json.Unmarshal(e.Payload, &payload)
		out[e.Branch] = append(out[e.Branch], fmt.Sprintf("%s %s -> %s attempt %d %s %q wait-child %q child %q parent %q payload %v sleeps %v",
			e.Step, e.From, e.To, e.Attempt, e.Outcome, e.Error, wait, child, parent, payload, e.Wait != nil && !e.Wait.Until.IsZero()))
	}
	return out
}

func TestResumeRecordsWhatNoCrashWould(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("child fails %v", fail), func(t *testing.T) { resumeRecordsWhatNoCrashWould(t, fail) })
	}
}

// resumeRecordsWhatNoCrashWould: with fail, the child's Check fails for
// good, the child is compensated, and the parent's call fails, so that it
// rolls back A and Before (B, irreversible, leaves the rollbacks' order
// free of the branches' race).
func resumeRecordsWhatNoCrashWould(t *testing.T, fail bool) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	f := sameFlows(t, st, fail)
	wantEnd := runtime.StateDone
	if fail {
		wantEnd = runtime.StateCompensated
	}
	if res, _ := f.Execute(ctx, sameState{}, runtime.WithRunID("r")); res.Final != wantEnd {
		t.Fatalf("the run without a crash: %s, want %s", res.Final, wantEnd)
	}
	ids := []string{"r", "r@Visit"}
	var want [2]map[string][]string
	type rec struct {
		run int
		e   runtime.Event
	}
	var all []rec
	for i, id := range ids {
		h, err := st.LoadHistory(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = machines(h)
		for _, e := range h {
			all = append(all, rec{i, e})
		}
	}
	st.Close()
	sort.SliceStable(all, func(i, j int) bool { return all[i].e.Time.Before(all[j].e.Time) })
	for k := 1; k < len(all); k++ {
		dir := t.TempDir()
		st := openStore(t, dir)
		var cut [2]int
		for _, r := range all[:k] {
			if err := st.Emit(ctx, r.e); err != nil {
				t.Fatal(err)
			}
			cut[r.run]++
		}
		f := sameFlows(t, st, fail)
		runs, err := f.ResumeAll(ctx, st)
		if err != nil {
			t.Fatalf("point %d: %v", k, err)
		}
		for _, r := range runs {
			_, _ = r.Wait(ctx)
		}
		for i, id := range ids {
			h, err := st.LoadHistory(ctx, id)
			if err != nil {
				t.Fatalf("point %d: %s: %v", k, id, err)
			}
			got := machines(h)
			for m, w := range want[i] {
				if g := got[m]; strings.Join(g, "\n") != strings.Join(w, "\n") {
					t.Errorf("point %d (%v events kept): %s, machine %q:\n got %s\nwant %s", k, cut, id, m, strings.Join(g, "\n     "), strings.Join(w, "\n     "))
				}
			}
			if len(got) != len(want[i]) {
				t.Errorf("point %d: %s has machines %d, want %d", k, id, len(got), len(want[i]))
			}
		}
		st.Close()
	}
}
