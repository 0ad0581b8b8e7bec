package store

// A crash at every point of a parent run and its call's child, whose flow
// has a parallel block: the two histories are cut where a process dying
// then would have left them (by the order of their events' times), stored
// in a new durable store, resumed (children first or parents first), and
// the parent aborted: by a request the store kept from before the crash,
// or at once after the resume. Each pair must end as an abort says (the
// parent aborted, its child aborted unless it had ended done), no step
// whose completion was recorded runs again, and each run's rollbacks undo
// exactly its completions, newest first, those before the crash and those
// after it together, each once.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

type prefixParent struct {
	Out prefixChild `json:"out"`
}

type prefixChild struct {
	A string `json:"a,omitempty"`
	B string `json:"b,omitempty"`
}

// prefixLedger counts each action's runs by idempotency key.
type prefixLedger struct {
	mu  sync.Mutex
	ran map[string]int
}

func (l *prefixLedger) add(ctx context.Context) {
	l.mu.Lock()
	l.ran[runtime.IdempotencyKey(ctx)]++
	l.mu.Unlock()
}

func prefixFlows(t *testing.T, st *Store, led *prefixLedger) (*runtime.Flow[prefixParent], *runtime.Flow[prefixChild]) {
	t.Helper()
	undo := func(ctx context.Context, _ *prefixChild) error { led.add(ctx); return nil }
	child := runtime.New[prefixChild]("PrefixChild", runtime.WithSink(st))
	if err := child.Register(
		runtime.NewStep("Pre", func(ctx context.Context, s *prefixChild) (runtime.Outcome, error) {
			led.add(ctx)
			return "", nil
		}, runtime.WithRollback(undo)),
		runtime.NewParallel("Block", []*runtime.Step[prefixChild]{
			runtime.NewStep("A", func(ctx context.Context, s *prefixChild) (runtime.Outcome, error) {
				led.add(ctx)
				s.A = "a"
				return "", nil
			}, runtime.WithRollback(undo), runtime.WithWrites(func(dst, src *prefixChild) { dst.A = src.A })),
			runtime.NewStep("B", func(ctx context.Context, s *prefixChild) (runtime.Outcome, error) {
				led.add(ctx)
				if runtime.Attempt(ctx) == 1 {
					return "", errors.New("flaky")
				}
				s.B = "b"
				return "", nil
			}, runtime.WithRollback(undo), runtime.WithWrites(func(dst, src *prefixChild) { dst.B = src.B }),
				runtime.WithRetry[prefixChild](runtime.RetryPolicy{Attempts: 2})),
		}),
		runtime.NewStep("Post", func(ctx context.Context, s *prefixChild) (runtime.Outcome, error) {
			led.add(ctx)
			return "", nil
		}, runtime.WithIrreversible[prefixChild]()),
	); err != nil {
		t.Fatal(err)
	}
	parent := runtime.New[prefixParent]("PrefixParent", runtime.WithSink(st))
	if err := parent.Register(
		runtime.NewStep("Prep", func(ctx context.Context, s *prefixParent) (runtime.Outcome, error) {
			led.add(ctx)
			return "", nil
		}, runtime.WithRollback(func(ctx context.Context, _ *prefixParent) error { led.add(ctx); return nil })),
		runtime.NewCall("Run", child, func(*prefixParent) prefixChild { return prefixChild{} },
			func(s *prefixParent) *prefixChild { return &s.Out }, runtime.WithIrreversible[prefixParent]()),
		runtime.NewStep("After", func(ctx context.Context, s *prefixParent) (runtime.Outcome, error) {
			led.add(ctx)
			return "", nil
		}, runtime.WithIrreversible[prefixParent]()),
	); err != nil {
		t.Fatal(err)
	}
	return parent, child
}

func TestCallBlockResumeAbortFromEveryPoint(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	parent, _ := prefixFlows(t, st, &prefixLedger{ran: map[string]int{}})
	if res, err := parent.Execute(ctx, prefixParent{}, runtime.WithRunID("p")); err != nil || res.Final != runtime.StateDone {
		t.Fatalf("the full run: %s %v", res.Final, err)
	}
	ph, _ := st.LoadHistory(ctx, "p")
	ch, _ := st.LoadHistory(ctx, "p@Run")
	st.Close()
	// All events in the order they were recorded: by time, then each run's seq.
	type rec struct {
		run int // 0 parent, 1 child
		e   runtime.Event
	}
	var all []rec
	for _, e := range ph {
		all = append(all, rec{0, e})
	}
	for _, e := range ch {
		all = append(all, rec{1, e})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].e.Time.Before(all[j].e.Time) })
	for k := 1; k < len(all); k++ {
		var cut [2][]runtime.Event
		for _, r := range all[:k] {
			cut[r.run] = append(cut[r.run], r.e)
		}
		if len(cut[0]) > 0 && cut[0][len(cut[0])-1].To == string(runtime.StateDone) {
			break // the parent is over: nothing to abort
		}
		for _, mode := range []struct{ childrenFirst, pending bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
			childrenFirst, pending := mode.childrenFirst, mode.pending
			name := fmt.Sprintf("point %d (parent %d, child %d events), children first %v, abort pending %v", k, len(cut[0]), len(cut[1]), childrenFirst, pending)
			dir := t.TempDir()
			st := openStore(t, dir)
			for _, h := range cut {
				for _, e := range h {
					if err := st.Emit(ctx, e); err != nil {
						t.Fatal(err)
					}
				}
			}
			// The abort: accepted before the crash (its request durable),
			// or by the new process just after the resume.
			if pending {
				if err := st.RequestAbort(ctx, "p"); err != nil {
					t.Fatal(err)
				}
			}
			led := &prefixLedger{ran: map[string]int{}}
			parent, child := prefixFlows(t, st, led)
			var kids []*runtime.Run[prefixChild]
			var err error
			if childrenFirst {
				if kids, err = child.ResumeAll(ctx, st); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
			runs, err := parent.ResumeAll(ctx, st)
			if err != nil || len(runs) != 1 {
				t.Fatalf("%s: resumed %d parents: %v", name, len(runs), err)
			}
			if !pending {
				if err := runs[0].Abort(); err != nil && !errors.Is(err, runtime.ErrFinished) {
					t.Fatalf("%s: abort: %v", name, err)
				}
			}
			if !childrenFirst {
				if kids, err = child.ResumeAll(ctx, st); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
			res, _ := runs[0].Wait(ctx)
			for _, k := range kids {
				_, _ = k.Wait(ctx)
			}
			// Aborted; or, for an abort after the resume, done when the
			// run ended first (Run.Abort says so).
			if res.Final != runtime.StateAborted && (pending || res.Final != runtime.StateDone) {
				t.Errorf("%s: the parent ended %s, want aborted", name, res.Final)
			}
			for _, id := range []string{"p", "p@Run"} {
				h, err := st.LoadHistory(ctx, id)
				if errors.Is(err, runtime.ErrUnknownRun) {
					continue // the child never started
				}
				if err != nil {
					t.Fatal(err)
				}
				s, err := runtime.Replay(h)
				if err != nil {
					t.Fatalf("%s: %s: %v", name, id, err)
				}
				if id == "p@Run" && s.State != runtime.StateAborted && s.State != runtime.StateDone {
					t.Errorf("%s: the child ended %s", name, s.State)
				}
				before := len(cut[0])
				if id == "p@Run" {
					before = len(cut[1])
				}
				var completed, undone []string
				for i, e := range h {
					step, phase, _ := runtime.ParseMachineState(e.From)
					switch {
					case phase == runtime.PhaseRunning && e.Error == "" && e.To != e.From && step != "Post" && step != "After" && step != "Run":
						completed = append([]string{step}, completed...)
						if i < before && led.ran[id+"/"+step] > 0 {
							t.Errorf("%s: %s/%s completed before the crash and ran again", name, id, step)
						}
					case phase == runtime.PhaseRollback && e.To != e.From:
						undone = append(undone, step)
					}
				}
				if s.State == runtime.StateDone {
					completed = nil
				}
				if !slices.Equal(undone, completed) {
					t.Errorf("%s: %s rolled back %q, want its completions newest first %q:\n%s", name, id, undone, completed, historyText(h))
				}
				for key, n := range led.ran {
					if strings.HasSuffix(key, "/rollback") && n > 1 {
						t.Errorf("%s: %s ran %d times", name, key, n)
					}
				}
			}
			st.Close()
		}
	}
}
