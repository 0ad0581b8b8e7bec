package store

import (
	"context"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// A run aborted inside a parallel block, its process dying after one
// branch's interrupted end was recorded and before the other's: resumed
// with its abort request, the other branch ends interrupted by the abort
// (ErrAborted, Event.InterruptedBranch), and the run aborted. The resume
// took the first branch's interrupted end for a failure of the block, and
// recorded the other as cancelled because "another branch failed"
// (Event.Cancelled), with an attempt it never made (found by
// TestKillNewConstructs: an attempt recorded, no effect in its ledger).
func TestParallelResumeAbortedBlockInterruptsBranches(t *testing.T) {
	ctx := context.Background()
	release := make(chan struct{})
	defer close(release)
	in := make(chan struct{}, 2)
	flow := func(sink *Store, live bool) *runtime.Flow[parState] {
		f := runtime.New[parState]("par", runtime.WithSink(sink))
		if err := f.Register(runtime.NewParallel("P", []*runtime.Step[parState]{
			runtime.NewStep("A", func(ctx context.Context, s *parState) (runtime.Outcome, error) {
				in <- struct{}{}
				<-ctx.Done() // the abort ends it
				return "", ctx.Err()
			}, runtime.WithIrreversible[parState]()),
			runtime.NewStep("B", func(ctx context.Context, s *parState) (runtime.Outcome, error) {
				if live {
					in <- struct{}{}
					<-release // ignores the abort: the process dies first
				}
				return "", nil
			}, runtime.WithIrreversible[parState]()),
		})); err != nil {
			t.Fatal(err)
		}
		return f
	}
	st := openStore(t, t.TempDir())
	f := flow(st, true)
	run, err := f.Start(ctx, parState{}, runtime.WithRunID("r"))
	if err != nil {
		t.Fatal(err)
	}
	<-in
	<-in
	if err := run.Abort(); err != nil {
		t.Fatal(err)
	}
	var h []runtime.Event
	for { // A's interrupted end recorded; B still runs
		h, _ = st.LoadHistory(ctx, "r")
		if e := h[len(h)-1]; e.Branch == "A" && e.InterruptedBranch() {
			break
		}
	}
	// The crash: a new process on a store holding that history and the
	// abort request.
	st2 := openStore(t, t.TempDir())
	defer st2.Close()
	for _, e := range h {
		if err := st2.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := st2.RequestAbort(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	g := flow(st2, false)
	runs, err := g.ResumeAll(ctx, st2)
	if err != nil || len(runs) != 1 {
		t.Fatalf("resumed %d runs: %v", len(runs), err)
	}
	if res, _ := runs[0].Wait(ctx); res.Final != runtime.StateAborted {
		t.Fatalf("the resumed run ended %s, want aborted", res.Final)
	}
	after, _ := st2.LoadHistory(ctx, "r")
	b := after[len(h)]
	if b.Branch != "B" || !b.InterruptedBranch() || b.Cancelled() || b.Attempt != 0 {
		t.Fatalf("B ended after the resume with %+v, want interrupted by the abort, no attempt ended:\n%s", b, historyText(after))
	}
	if s, err := runtime.Replay(after); err != nil || s.State != runtime.StateAborted {
		t.Fatalf("replay: %s %v", s.State, err)
	}
}
