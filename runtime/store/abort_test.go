package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// abortStore is the abort request API both stores have.
type abortStore interface {
	runtime.Sink
	RequestAbort(ctx context.Context, runID string) error
	AbortRequested(runID string) bool
}

var (
	_ abortStore = (*Store)(nil)
	_ abortStore = (*Memory)(nil)
)

func TestAbortCodecRoundTrip(t *testing.T) {
	for _, id := range []string{"r-1", "run ✓ with spaces"} {
		b := encodeAbort(nil, id)
		got, err := decodeAbort(b)
		if err != nil || got != id {
			t.Fatalf("%q: decoded %q, %v", id, got, err)
		}
		for n := range len(b) {
			if _, err := decodeAbort(b[:n]); err == nil {
				t.Fatalf("%q: prefix of %d bytes decoded", id, n)
			}
		}
		if _, err := decodeEvent(b); err == nil {
			t.Fatalf("%q: an abort request decoded as an event", id)
		}
		if _, err := decodeAbort(append(b, 0)); err == nil {
			t.Fatalf("%q: trailing byte accepted", id)
		}
	}
	if _, err := decodeAbort(encodeAbort(nil, "")); err == nil {
		t.Fatal("an abort request without a run ID decoded")
	}
}

// An abort request is refused for an unknown or finished run, survives a
// reopen while its run goes on, and is forgotten once the run is over.
func TestAbortRequests(t *testing.T) {
	bothStores(t, func(t *testing.T, s abortStore, reopen func() abortStore) {
		ctx := context.Background()
		if err := s.RequestAbort(ctx, "nobody"); !errors.Is(err, runtime.ErrUnknownRun) {
			t.Fatalf("unknown run: %v, want ErrUnknownRun", err)
		}
		emitAll(t, s, history("done", "F", doneRun...))
		if err := s.RequestAbort(ctx, "done"); !errors.Is(err, runtime.ErrFinished) {
			t.Fatalf("finished run: %v, want ErrFinished", err)
		}
		live := history("live", "F", "A:running", "B:running", "failing", "A:rollback", "compensated")
		emitAll(t, s, live[:2])
		emitAll(t, s, history("other", "F", inFlightRun...))
		if s.AbortRequested("live") {
			t.Fatal("requested before RequestAbort")
		}
		for range 2 { // the second is pending already: nothing written
			if err := s.RequestAbort(ctx, "live"); err != nil {
				t.Fatal(err)
			}
		}
		if st, ok := s.(*Store); ok {
			if st.records != len(doneRun)+2+len(inFlightRun)+1 {
				t.Fatalf("%d records, want one abort request among them", st.records)
			}
		}
		s = reopen()
		if !s.AbortRequested("live") || s.AbortRequested("other") || s.AbortRequested("done") {
			t.Fatalf("after reopen: live %v, other %v, done %v; want only live",
				s.AbortRequested("live"), s.AbortRequested("other"), s.AbortRequested("done"))
		}
		// The run goes on (rolling back is not over): still pending.
		emitAll(t, s, live[2:4])
		if !s.AbortRequested("live") {
			t.Fatal("forgotten before the run is over")
		}
		emitAll(t, s, live[4:])
		if s.AbortRequested("live") {
			t.Fatal("still requested once the run is over")
		}
		if err := s.RequestAbort(ctx, "live"); !errors.Is(err, runtime.ErrFinished) {
			t.Fatalf("request after the end: %v, want ErrFinished", err)
		}
		s = reopen()
		if s.AbortRequested("live") {
			t.Fatal("requested again after reopen, the run being over")
		}
	})
}

// A compaction keeps the request of a run that is not over, and drops the
// requests of runs that are; both hold after a reopen.
func TestCompactKeepsPendingAbortRequests(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := Options{CompactEvery: -1}
	st, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { st.Close() }()
	ended := history("ended", "F", compensatedRun...)
	emitAll(t, st, history("pending", "F", inFlightRun...))
	emitAll(t, st, ended[:2])
	for _, id := range []string{"pending", "ended"} {
		if err := st.RequestAbort(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	emitAll(t, st, ended[2:])
	stats, err := st.CompactAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Retain 0 keeps every run: the ended run's request is all that goes.
	if stats.RecordsRemoved != 1 || stats.RunsRemoved != 0 {
		t.Fatalf("compaction: %+v; want the ended run's request removed, nothing else", stats)
	}
	st.Close()
	if st, err = Open(dir, opts); err != nil {
		t.Fatal(err)
	}
	if !st.AbortRequested("pending") || st.AbortRequested("ended") {
		t.Fatalf("after compaction and reopen: pending %v, ended %v", st.AbortRequested("pending"), st.AbortRequested("ended"))
	}
	// Kept while pending, through another compaction.
	if stats, err = st.CompactAll(ctx); err != nil || stats.RecordsRemoved != 0 {
		t.Fatalf("second compaction: %+v, %v; want nothing removed", stats, err)
	}
	if !st.AbortRequested("pending") {
		t.Fatal("pending request dropped by a compaction")
	}
	// Once its run is over, the next compaction drops it.
	last := history("pending", "F", "A:running", "B:running", "failing", "A:rollback", "aborted")
	emitAll(t, st, last[2:])
	if stats, err = st.CompactAll(ctx); err != nil || stats.RecordsRemoved != 1 {
		t.Fatalf("compaction after the end: %+v, %v; want the request removed", stats, err)
	}
	st.Close()
	if st, err = Open(dir, opts); err != nil {
		t.Fatal(err)
	}
	if st.AbortRequested("pending") {
		t.Fatal("requested after the run ended, compaction and reopen")
	}
	if st.idx.aborts.stale != 0 || len(st.idx.aborts.pending) != 0 {
		t.Fatalf("index keeps %d stale records and %d pending requests, want none", st.idx.aborts.stale, len(st.idx.aborts.pending))
	}
}

// Requests racing the run's end: each either is refused as finished or
// was pending; once the run is over none is, after a reopen too.
func TestAbortRequestRacesTheEnd(t *testing.T) {
	bothStores(t, func(t *testing.T, s abortStore, reopen func() abortStore) {
		ctx := context.Background()
		h := history("r", "F", doneRun...)
		emitAll(t, s, h[:2])
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if err := s.RequestAbort(ctx, "r"); err != nil && !errors.Is(err, runtime.ErrFinished) {
					t.Error(err)
				}
			})
		}
		emitAll(t, s, h[2:])
		wg.Wait()
		if s.AbortRequested("r") {
			t.Fatal("requested once the run is over")
		}
		if s = reopen(); s.AbortRequested("r") {
			t.Fatal("requested after reopen, the run being over")
		}
	})
}

// TestAbortSuspendedRun: Run.Abort of a run that Suspend stopped (a
// process shutting down) records the request and answers nil, and the
// run's Resume aborts it; it answered ErrFinished, "run finished", though
// it had recorded the request and the resumed run rolled back. A run
// resumed in this process since is aborted at once.
func TestAbortSuspendedRun(t *testing.T) {
	ctx := context.Background()
	type S struct{ Done []string }
	st := NewMemory()
	var mu sync.Mutex
	var undone []string
	newFlow := func() *runtime.Flow[S] {
		f := runtime.New[S]("suspended", runtime.WithSink(st), runtime.WithSubscriber(runtime.NewMemoryBus()))
		err := f.Register(
			runtime.NewStep("A", func(ctx context.Context, s *S) (runtime.Outcome, error) { return runtime.OutcomeOK, nil },
				runtime.WithRollback(func(ctx context.Context, s *S) error {
					mu.Lock()
					undone = append(undone, runtime.RunID(ctx))
					mu.Unlock()
					return nil
				})),
			runtime.NewAwait[S]("t", "e", nil, nil, 0, runtime.WithID[S]("Wait")),
		)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	waiting := func(f *runtime.Flow[S], id string) {
		t.Helper()
		for st, _ := f.Status(ctx, id); st.State != runtime.StateWaiting; st, _ = f.Status(ctx, id) {
			if st.State.Terminal() {
				t.Fatalf("run %s ended %s", id, st.State)
			}
			time.Sleep(time.Millisecond)
		}
	}

	f := newFlow()
	run, err := f.Start(ctx, S{}, runtime.WithRunID("r1"))
	if err != nil {
		t.Fatal(err)
	}
	waiting(f, "r1")
	if err := run.Suspend(); err != nil {
		t.Fatal(err)
	}
	if _, err := run.Wait(ctx); !errors.Is(err, runtime.ErrSuspended) {
		t.Fatalf("suspended run's Wait: %v", err)
	}
	if err := run.Abort(); err != nil {
		t.Fatalf("Abort of a suspended run: %v, want nil (recorded for its Resume)", err)
	}
	if !st.AbortRequested("r1") {
		t.Fatal("the abort of the suspended run is not recorded")
	}
	h, _ := st.LoadHistory(ctx, "r1")
	resumed, err := newFlow().Resume(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := resumed.Wait(ctx); res.Final != runtime.StateAborted || !errors.Is(err, runtime.ErrAborted) {
		t.Fatalf("resumed: %s, %v; want aborted", res.Final, err)
	}

	// Resumed in this process since: the old Run's Abort aborts it now.
	f = newFlow()
	run, _ = f.Start(ctx, S{}, runtime.WithRunID("r2"))
	waiting(f, "r2")
	_ = run.Suspend()
	_, _ = run.Wait(ctx)
	h, _ = st.LoadHistory(ctx, "r2")
	resumed, err = f.Resume(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	waiting(f, "r2")
	if err := run.Abort(); err != nil {
		t.Fatalf("Abort of a suspended run resumed since: %v", err)
	}
	if res, _ := resumed.Wait(ctx); res.Final != runtime.StateAborted {
		t.Fatalf("resumed run: %s, want aborted", res.Final)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(undone) != 2 {
		t.Fatalf("rollbacks %q, want one per run", undone)
	}
}
