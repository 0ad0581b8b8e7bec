package store

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// A parent aborted while it waits for its call's child, and a crash before
// the child's end has woken the parent (so the parent's history still waits):
// on the runtime alone, with the store as the flows' sink. The crash is a
// copy of the store taken then, reopened by a second "process" with new
// flow definitions; the first process is left as it is.

type abortParent struct {
	In  abortChild `json:"in"`
	Out abortChild `json:"out"`
}

type abortChild struct {
	Booked bool `json:"booked"`
}

// abortProcess is one process's flows on st: the parent reserves (undone
// by Release), then calls the child, which books (undone by Unbook) and
// then holds: until it is aborted in the first process (crashed), not in
// the second. The undos go to the process's ledger, in order. Each step and
// rollback that starts is signalled on started (by name); block, when set,
// makes the named step or rollback wait for release whatever its context
// says.
type abortProcess struct {
	parent  *runtime.Flow[abortParent]
	child   *runtime.Flow[abortChild]
	mu      sync.Mutex
	ledger  []string
	started chan string
	block   string
	release chan struct{}
	hold    bool
}

func newAbortProcess(t *testing.T, st *Store, block string, hold bool) *abortProcess {
	t.Helper()
	p := &abortProcess{started: make(chan string, 16), block: block, release: make(chan struct{}), hold: hold}
	enter := func(ctx context.Context, name string) {
		p.started <- name
		switch {
		case name == p.block:
			<-p.release
		case name == "Hold" && p.hold:
			<-ctx.Done()
		}
	}
	undo := func(name string) func(context.Context, *abortChild) error {
		return func(ctx context.Context, _ *abortChild) error {
			enter(ctx, name)
			if name == p.block {
				return errors.New("crashed meanwhile")
			}
			p.mu.Lock()
			p.ledger = append(p.ledger, name)
			p.mu.Unlock()
			return nil
		}
	}
	p.child = runtime.New[abortChild]("AbortChild", runtime.WithSink(st))
	if err := p.child.Register(
		runtime.NewStep("Book", func(ctx context.Context, s *abortChild) (runtime.Outcome, error) {
			s.Booked = true
			return "", nil
		}, runtime.WithRollback(undo("Unbook"))),
		runtime.NewStep("Hold", func(ctx context.Context, s *abortChild) (runtime.Outcome, error) {
			enter(ctx, "Hold")
			return "", ctx.Err()
		}, runtime.WithIrreversible[abortChild]()),
	); err != nil {
		t.Fatal(err)
	}
	p.parent = runtime.New[abortParent]("AbortParent", runtime.WithSink(st))
	release := undo("Release")
	if err := p.parent.Register(
		runtime.NewStep("Reserve", func(context.Context, *abortParent) (runtime.Outcome, error) { return "", nil },
			runtime.WithRollback(func(ctx context.Context, _ *abortParent) error { return release(ctx, nil) })),
		runtime.NewCall("Run", p.child,
			func(s *abortParent) abortChild { return s.In },
			func(s *abortParent) *abortChild { return &s.Out }),
	); err != nil {
		t.Fatal(err)
	}
	return p
}

// await waits for the named step or rollback to start.
func (p *abortProcess) await(t *testing.T, name string) {
	t.Helper()
	select {
	case got := <-p.started:
		if got != name {
			t.Fatalf("%s started, want %s", got, name)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s never started", name)
	}
}

// TestAbortWaitingParentSurvivesCrash: the parent's abort is recorded (an
// abort request in the store) before the child is told, so the resumed
// parent ends aborted, its child aborted and every completed step of both
// undone newest first. The crash comes either while the child rolls back
// (its abort recorded, the parent's not: before, the parent found the
// child aborted and ended compensated, with a *ChildError), or while the
// child's step, which ignores its context, is still in flight (neither
// recorded it: before, the child ran on and ended done, and so did the
// parent). Without an abort, the same copy resumes and ends done.
func TestAbortWaitingParentSurvivesCrash(t *testing.T) {
	for _, tc := range []struct {
		name  string
		block string // what is in flight in the first process at the crash
		abort bool
		final runtime.RunState
		child string // the child's machine state at the crash
		undo  []string
	}{
		{"child rolling back", "Unbook", true, runtime.StateAborted, "Book:rollback", []string{"Unbook", "Release"}},
		{"child step in flight", "Hold", true, runtime.StateAborted, "Hold:running", []string{"Unbook", "Release"}},
		{"not aborted", "Hold", false, runtime.StateDone, "Hold:running", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			first := t.TempDir()
			st, err := Open(first, Options{CompactEvery: -1})
			if err != nil {
				t.Fatal(err)
			}
			p1 := newAbortProcess(t, st, tc.block, true)
			t.Cleanup(func() {
				st.Close() // the first process's runs go no further
				close(p1.release)
			})
			if _, err := p1.parent.Start(ctx, abortParent{}, runtime.WithRunID("p")); err != nil {
				t.Fatal(err)
			}
			p1.await(t, "Hold")
			if tc.abort {
				if err := p1.parent.Abort("p"); err != nil {
					t.Fatal(err)
				}
				if tc.block == "Unbook" {
					p1.await(t, "Unbook")
				}
			}

			second := filepath.Join(t.TempDir(), "store")
			copyDir(t, first, second)
			st2, err := Open(second, Options{CompactEvery: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer st2.Close()
			// What the test is about: the parent's history still waits.
			for id, want := range map[string]string{"p": "Run:waiting", "p@Run": tc.child} {
				if info, _ := st2.Get(id); info.Machine != want {
					t.Fatalf("at the crash %s is at %s, want %s", id, info.Machine, want)
				}
			}

			p2 := newAbortProcess(t, st2, "", false)
			// The parent's handle from ResumeAll, not from Run("p"): once
			// the child is resumed, a parent not aborted may end, and leave
			// the flow's live runs, before the test could look it up.
			resumed, err := p2.parent.ResumeAll(ctx, st2)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p2.child.ResumeAll(ctx, st2); err != nil {
				t.Fatal(err)
			}
			if len(resumed) != 1 || resumed[0].ID() != "p" {
				t.Fatalf("resumed %d parent runs, want p alone", len(resumed))
			}
			res, _ := resumed[0].Wait(ctx)
			if res.Final != tc.final {
				t.Fatalf("the resumed parent ended %s (%v), want %s", res.Final, res.Err, tc.final)
			}
			if tc.abort && !errors.Is(res.Err, runtime.ErrAborted) {
				t.Errorf("the parent's error %v does not wrap ErrAborted", res.Err)
			}
			wantChild := runtime.StateDone
			if tc.abort {
				wantChild = runtime.StateAborted
			}
			if info, _ := st2.Get("p@Run"); info.State != wantChild {
				t.Errorf("the child ended %s, want %s", info.State, wantChild)
			}
			if !slices.Equal(p2.ledger, tc.undo) {
				t.Errorf("undone after the crash: %v, want %v (newest first)", p2.ledger, tc.undo)
			}
			// Every request is over with its run.
			for _, id := range []string{"p", "p@Run"} {
				if st2.AbortRequested(id) {
					t.Errorf("%s: an abort request is still pending after the run ended", id)
				}
			}
		})
	}
}
