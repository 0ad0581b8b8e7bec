package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/google/go-cmp/cmp"
)

// The workload of the compaction tests: finished runs older than the
// retention (removed), finished runs younger than it and unfinished runs
// (kept), and inbox messages pending, claimed, dead (kept) and expired
// (removed), one of them received again after its expiry (kept), all
// interleaved so that every segment holds some of each.
const (
	compactRetain = 7 * 24 * time.Hour
)

var compactNow = t0.Add(30 * 24 * time.Hour)

type workload struct {
	old, recent, live []string
	hist              map[string][]runtime.Event
	msgs              []Message // the inbox after a compaction, in receipt order
	expired           []MessageKey
}

// shifted returns run's history through tos, its times moved to start at at.
func shifted(run string, at time.Time, tos []string) []runtime.Event {
	h := history(run, "Compact", tos...)
	for i := range h {
		h[i].Time = at.Add(h[i].Time.Sub(t0))
	}
	return h
}

func writeWorkload(st *Store, n int) (*workload, error) {
	ctx := context.Background()
	w := &workload{hist: map[string][]runtime.Event{}}
	emit := func(h []runtime.Event) error {
		for _, e := range h {
			if err := st.Emit(ctx, e); err != nil {
				return fmt.Errorf("emit %s seq %d: %w", e.RunID, e.Seq, err)
			}
		}
		w.hist[h[0].RunID] = h
		return nil
	}
	put := func(topic, id string, at time.Time) (Message, error) {
		m, _, err := st.PutMessage(ctx, Message{Topic: topic, Event: "ev", ID: id, Payload: []byte(fmt.Sprintf(`{"id":%q}`, id)), Received: at})
		return m, err
	}
	recentAt := compactNow.Add(-time.Hour)
	for i := range n {
		old := fmt.Sprintf("old-%d", i)
		tos := doneRun
		if i%3 == 0 {
			tos = compensatedRun
		}
		if err := emit(shifted(old, t0, tos)); err != nil {
			return nil, err
		}
		w.old = append(w.old, old)
		if i%10 == 0 {
			live := fmt.Sprintf("live-%d", i)
			tos := inFlightRun
			if i%20 == 0 {
				tos = rollingBackRun
			}
			// Started long ago: an unfinished run is kept however old.
			if err := emit(shifted(live, t0, tos)); err != nil {
				return nil, err
			}
			w.live = append(w.live, live)
			recent := fmt.Sprintf("recent-%d", i)
			if err := emit(shifted(recent, recentAt, doneRun)); err != nil {
				return nil, err
			}
			w.recent = append(w.recent, recent)
		}
		if i%5 == 0 {
			// Expired: received, claimed, expired.
			x, err := put("gone", fmt.Sprintf("x-%d", i), t0)
			if err != nil {
				return nil, err
			}
			if err := st.ClaimMessage(ctx, x.Key(), "k", t0); err != nil {
				return nil, err
			}
			if err := st.ExpireMessage(ctx, x.Key(), "", t0.Add(time.Hour)); err != nil {
				return nil, err
			}
			w.expired = append(w.expired, x.Key())
		}
		if i%25 == 0 {
			p, err := put("kept", fmt.Sprintf("p-%d", i), t0)
			if err != nil {
				return nil, err
			}
			w.msgs = append(w.msgs, p)
			c, err := put("kept", fmt.Sprintf("c-%d", i), t0)
			if err != nil {
				return nil, err
			}
			if err := st.ClaimMessage(ctx, c.Key(), "key-"+c.ID, t0); err != nil {
				return nil, err
			}
			if err := st.ReleaseMessage(ctx, c.Key(), "key-"+c.ID, t0); err != nil {
				return nil, err
			}
			if err := st.ClaimMessage(ctx, c.Key(), "key2-"+c.ID, t0); err != nil {
				return nil, err
			}
			c.State, c.ClaimedBy = MessageClaimed, "key2-"+c.ID
			w.msgs = append(w.msgs, c)
			d := Message{Topic: "kept", Event: "ev", ID: fmt.Sprintf("d-%d", i), Payload: []byte(`{}`), Received: t0}
			if err := st.DeadLetter(ctx, d, "no", t0); err != nil {
				return nil, err
			}
			d.State, d.Reason, d.Updated = MessageDead, "no", t0
			w.msgs = append(w.msgs, d)
		}
	}
	// A key that expired, received again: the new message stays.
	again, err := put("gone", "x-0", t0.Add(2*time.Hour))
	if err != nil {
		return nil, err
	}
	w.msgs = append(w.msgs, again)
	return w, nil
}

// check verifies what a store holds: every kept run's whole history, the
// removed runs gone or (before the compaction) whole, the inbox.
func (w *workload) check(t testing.TB, st *Store, compacted bool) {
	t.Helper()
	for _, id := range append(append([]string{}, w.live...), w.recent...) {
		got, err := st.Load(id)
		if err != nil {
			t.Fatalf("kept run %s: %v", id, err)
		}
		if d := cmp.Diff(w.hist[id], got); d != "" {
			t.Fatalf("kept run %s: history differs (-want +got):\n%s", id, d)
		}
	}
	for _, id := range w.old {
		got, err := st.Load(id)
		if compacted {
			if !errors.Is(err, runtime.ErrUnknownRun) {
				t.Fatalf("removed run %s: Load = %d events, %v; want ErrUnknownRun", id, len(got), err)
			}
			continue
		}
		if err != nil || len(got) != len(w.hist[id]) {
			t.Fatalf("run %s before compaction: %d events, %v", id, len(got), err)
		}
	}
	ms, err := st.Messages(MessageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	// Before or after, Messages lists the same: expired ones left the
	// index when they expired.
	want := w.msgs
	opt := cmp.Comparer(func(a, b Message) bool {
		return a.Key() == b.Key() && a.State == b.State && a.ClaimedBy == b.ClaimedBy && a.Reason == b.Reason &&
			string(a.Payload) == string(b.Payload) && a.Received.Equal(b.Received)
	})
	if d := cmp.Diff(want, ms, opt); d != "" {
		t.Fatalf("inbox differs (-want +got):\n%s", d)
	}
}

func compactOpts() Options {
	return Options{SegmentSize: 8 << 10, Retain: compactRetain, Now: func() time.Time { return compactNow }, CompactEvery: -1}
}

func TestCompactRemovesOldRunsAndExpiredMessages(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(dir, compactOpts())
	if err != nil {
		t.Fatal(err)
	}
	w, err := writeWorkload(st, 400)
	if err != nil {
		t.Fatal(err)
	}
	w.check(t, st, false)
	before, _ := st.Size()
	stats, err := st.CompactAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	after, _ := st.Size()
	t.Logf("%+v; store %d -> %d bytes", stats, before, after)
	if stats.RunsRemoved != len(w.old) || stats.RunsKept != len(w.live)+len(w.recent) {
		t.Errorf("removed %d runs, kept %d; want %d, %d", stats.RunsRemoved, stats.RunsKept, len(w.old), len(w.live)+len(w.recent))
	}
	if stats.MessagesRemoved != len(w.expired) || stats.MessagesKept != len(w.msgs) {
		t.Errorf("removed %d messages, kept %d; want %d, %d", stats.MessagesRemoved, stats.MessagesKept, len(w.expired), len(w.msgs))
	}
	if after*3 > before {
		t.Errorf("store %d -> %d bytes: less than a third should be left", before, after)
	}
	w.check(t, st, true)

	// The index holds the kept runs and messages only.
	checkIndexSize(t, st, len(w.live)+len(w.recent), len(w.msgs))

	// Runs go on after the compaction, and all of it survives a reopen.
	for _, id := range w.live {
		h := w.hist[id]
		last := h[len(h)-1]
		next := last
		next.Seq, next.From, next.To, next.Time = last.Seq+1, last.To, "done", compactNow
		if err := st.Emit(context.Background(), next); err != nil {
			t.Fatal(err)
		}
		w.hist[id] = append(h, next)
	}
	// A removed run's ID is free again.
	reused := shifted(w.old[0], compactNow, doneRun)
	emitAll(t, st, reused)
	w.hist[w.old[0]], w.recent, w.old = reused, append(w.recent, w.old[0]), w.old[1:]
	st.Close()
	st, err = Open(dir, compactOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w.check(t, st, true)
	checkIndexSize(t, st, len(w.live)+len(w.recent), len(w.msgs))
	// Nothing left to remove: a second compaction keeps everything.
	stats, err = st.CompactAll(context.Background())
	if err != nil || stats.RunsRemoved != 0 || stats.MessagesRemoved != 0 {
		t.Fatalf("second compaction: %+v, %v", stats, err)
	}
	w.check(t, st, true)
}

// checkIndexSize checks that the index holds runs runs and msgs messages,
// and nothing of what was removed.
func checkIndexSize(t *testing.T, st *Store, runs, msgs int) {
	t.Helper()
	st.mu.RLock()
	defer st.mu.RUnlock()
	if len(st.idx.infos) != runs || len(st.idx.runs) != runs || len(st.pos) != runs || len(st.inbox.msgs) != msgs {
		t.Errorf("index: %d infos, %d map entries, %d position lists, %d messages; want %d runs, %d messages",
			len(st.idx.infos), len(st.idx.runs), len(st.pos), len(st.inbox.msgs), runs, msgs)
	}
	if cap(st.idx.infos) > 2*runs+8 || cap(st.pos) > 2*runs+8 {
		t.Errorf("index capacity %d infos, %d position lists for %d runs: not released", cap(st.idx.infos), cap(st.pos), runs)
	}
	if in := &st.inbox; len(in.order)-in.holes != msgs || cap(in.order) > 4*msgs+8 {
		t.Errorf("inbox order of %d (%d holes, capacity %d) for %d messages", len(in.order), in.holes, cap(in.order), msgs)
	}
}

func TestCompactDefaultKeepsEveryRun(t *testing.T) {
	opts := compactOpts()
	opts.Retain = 0
	st, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w, err := writeWorkload(st, 100)
	if err != nil {
		t.Fatal(err)
	}
	stats, err := st.CompactAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if stats.RunsRemoved != 0 || stats.MessagesRemoved != len(w.expired) {
		t.Fatalf("without Retain: %+v; want no run removed, %d expired messages", stats, len(w.expired))
	}
	w.check(t, st, false)
}

func TestBackgroundCompaction(t *testing.T) {
	opts := compactOpts()
	opts.CompactEvery = 5 * time.Millisecond
	// Nothing is old while the workload is written: a compaction in the
	// middle of it (a loaded machine) would leave the rest of the garbage
	// below the half that starts the next one, and the count below.
	var now atomic.Pointer[time.Time]
	now.Store(&t0)
	opts.Now = func() time.Time { return *now.Load() }
	// The callback counts every compaction: a channel that dropped stats
	// when the test was slow to read lost removals.
	var removedRuns atomic.Int64
	opts.OnCompact = func(s CompactStats, err error) {
		if err != nil {
			t.Error(err)
		}
		removedRuns.Add(int64(s.RunsRemoved))
	}
	st, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w, err := writeWorkload(st, 200)
	if err != nil {
		t.Fatal(err)
	}
	now.Store(&compactNow)
	for deadline := time.Now().Add(10 * time.Second); removedRuns.Load() < int64(len(w.old)*9/10); {
		if time.Now().After(deadline) {
			t.Fatalf("background compaction removed %d runs of %d", removedRuns.Load(), len(w.old))
		}
		time.Sleep(5 * time.Millisecond)
	}
	// What the active segment holds stays until it is sealed.
	if _, err := st.CompactAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.check(t, st, true)
}

// TestCompactConcurrent: runs emit, histories and messages are read, and
// messages move, while compactions run; nothing is lost or misread.
func TestCompactConcurrent(t *testing.T) {
	st, err := Open(t.TempDir(), compactOpts())
	if err != nil {
		t.Fatal(err)
	}
	w, err := writeWorkload(st, 200)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Half the unfinished runs have an abort request: every compaction
	// keeps it.
	aborting := w.live[:len(w.live)/2]
	for _, id := range aborting {
		if err := st.RequestAbort(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var mu sync.Mutex
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("new-%d-%d", g, i)
				h := shifted(id, compactNow, doneRun)
				for j, e := range h {
					if err := st.Emit(ctx, e); err != nil {
						t.Error(err)
						return
					}
					if j == 0 { // asked to abort while it runs: its request goes once it is over
						if err := st.RequestAbort(ctx, id); err != nil {
							t.Error(err)
							return
						}
					}
				}
				got, err := st.Load(id)
				if err != nil || len(got) != len(h) {
					t.Errorf("%s: %d events, %v", id, len(got), err)
					return
				}
				k := MessageKey{"conc", "ev", id}
				if _, _, err := st.PutMessage(ctx, Message{Topic: k.Topic, Event: k.Event, ID: k.ID, Payload: []byte(`1`), Received: compactNow}); err != nil {
					t.Error(err)
					return
				}
				if err := st.ExpireMessage(ctx, k, "", compactNow); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				w.hist[id] = h
				w.recent = append(w.recent, id)
				mu.Unlock()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, id := range w.live {
				if _, err := st.Load(id); err != nil {
					t.Error(err)
					return
				}
			}
			if _, err := st.Messages(MessageFilter{}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 5 {
		if _, err := st.CompactAll(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	w.check(t, st, true)
	dir := st.Dir()
	st.Close()
	st, err = Open(dir, compactOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w.check(t, st, true)
	if got := len(st.idx.aborts.pending); got != len(aborting) {
		t.Errorf("%d abort requests pending, want %d", got, len(aborting))
	}
	for _, id := range aborting {
		if !st.AbortRequested(id) {
			t.Errorf("%s: abort request lost", id)
		}
	}
}

// TestCompactCrashAtEverySwapPoint copies the store at every point of the
// swap, as a crash there would leave it, and opens the copy: the old set or
// the new, whole. A read-only open at each point, beside the running
// compaction, reads one of them whole too.
func TestCompactCrashAtEverySwapPoint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	opts := compactOpts()
	var snaps []string
	var points []string
	var w *workload
	opts.Hook = func(point string) {
		if !strings.HasPrefix(point, "compact-") || w == nil {
			return
		}
		snap := filepath.Join(filepath.Dir(dir), fmt.Sprintf("snap-%d-%s", len(snaps), point))
		copyDir(t, dir, snap)
		snaps, points = append(snaps, snap), append(points, point)
		ro, err := OpenReadOnly(dir)
		if err != nil {
			t.Fatalf("read-only open at %s: %v", point, err)
		}
		w.check(t, ro, point != "compact-written")
		ro.Close()
	}
	st, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if w, err = writeWorkload(st, 200); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CompactAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	want := []string{"compact-written", "compact-committed", "compact-removed"}
	if len(points) < len(want)+2 || !slices.Equal(points[:3], want) || points[len(points)-1] != "compact-swapped" {
		t.Fatalf("swap points %v", points)
	}
	for i, snap := range snaps {
		// After the manifest, the new set; before, the old.
		compacted := points[i] != "compact-written"
		for _, ro := range []bool{true, false} {
			var s *Store
			if ro {
				s, err = OpenReadOnly(snap)
			} else {
				s, err = Open(snap, Options{CompactEvery: -1})
			}
			if err != nil {
				t.Fatalf("crash at %s: open: %v", points[i], err)
			}
			w.check(t, s, compacted)
			s.Close()
		}
		if _, err := os.Stat(filepath.Join(snap, "COMPACT")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("crash at %s: the manifest is still there after a reopen", points[i])
		}
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() == "LOCK" {
			continue
		}
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
}
