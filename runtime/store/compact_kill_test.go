package store

// Kill tests of compaction: a child process (this test binary, re-executed)
// opens a copy of a store holding the compaction workload, keeps appending
// to its unfinished runs and its inbox, and compacts everything; it dies by
// SIGKILL at a point of the swap, at a group commit during the compaction,
// or at a random moment. Half the killed children compact as the background
// look does (Store.look: the active segment sealed for a run past the
// retention and its slack, then a compaction whatever share can go), the
// others as CompactAll. After each death the store must open, every kept
// run must hold its whole history and every append the child acknowledged,
// every message still in the inbox must be there with its payload, and the
// removed runs must be all there or all gone, never in part or twice.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/google/go-cmp/cmp"
)

var compactKillsFlag = flag.Int("compact-kills", 60, "number of SIGKILLs in TestCompactKill (at least)")

const envCompactChild = "FLOWGEN_COMPACT_CHILD"

// envCompactByLook, set, has the child compact as the background look does.
const envCompactByLook = "FLOWGEN_COMPACT_BY_LOOK"

// compactKillPoints are where a child may be killed: the swap's points, a
// group commit of an append during the compaction, or "random".
var compactKillPoints = []string{"compact-written", "compact-committed", "compact-removed", "compact-renamed", "compact-swapped", "after-sync-before-ack", "random"}

// compactExtra is what the child appends to each unfinished run.
var compactExtra = []string{"C:running", "D:running", "done"}

// extraEvents are the events compactExtra adds after h.
func extraEvents(h []runtime.Event) []runtime.Event {
	var out []runtime.Event
	last := h[len(h)-1]
	for i, to := range compactExtra {
		e := last
		e.Seq, e.From, e.To, e.Time = last.Seq+1, last.To, to, compactNow.Add(time.Duration(i)*time.Millisecond)
		e.Step, _, _ = runtime.ParseMachineState(to)
		out = append(out, e)
		last = e
	}
	return out
}

func compactKillOpts() Options {
	o := compactOpts()
	o.SegmentSize = 16 << 10
	return o
}

// compactChild runs in the child: open, append and compact at once.
func compactChild() int {
	dir := os.Getenv("FLOWGEN_STORE_DIR")
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "child:", err); return 3 }
	crash := newCrasher(os.Getenv(envCrashAt))
	compacting := make(chan struct{})
	opts := compactKillOpts()
	opts.Hook = func(point string) {
		if strings.HasPrefix(point, "compact-") {
			crash.hit(point)
			return
		}
		select {
		case <-compacting: // only the group commits during the compaction
			crash.hit(point)
		default:
		}
	}
	st, err := Open(dir, opts)
	if err != nil {
		return fail(err)
	}
	ack, err := os.OpenFile(dir+".acks", os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fail(err)
	}
	var ackMu sync.Mutex
	record := func(line string) error {
		ackMu.Lock()
		defer ackMu.Unlock()
		if _, err := ack.WriteString(line + "\n"); err != nil {
			return err
		}
		return ack.Sync()
	}
	live := strings.Fields(os.Getenv("FLOWGEN_LIVE"))
	fmt.Println("ready")
	ctx := context.Background()
	close(compacting)
	errs := make(chan error, 2)
	go func() {
		// Appends to the unfinished runs and the inbox, acknowledged in the
		// ack file once durable.
		for i, id := range live {
			h, err := st.Load(id)
			if err != nil {
				errs <- err
				return
			}
			for _, e := range extraEvents(h) {
				if err := st.Emit(ctx, e); err != nil {
					errs <- err
					return
				}
				if err := record(fmt.Sprintf("run %s %d", id, e.Seq)); err != nil {
					errs <- err
					return
				}
			}
			id := fmt.Sprintf("n-%d", i)
			if _, _, err := st.PutMessage(ctx, Message{Topic: "new", Event: "ev", ID: id, Payload: []byte(`"` + id + `"`), Received: compactNow}); err != nil {
				errs <- err
				return
			}
			if err := record("msg " + id); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	go func() {
		var err error
		if os.Getenv(envCompactByLook) != "" {
			_, _, err = st.look(ctx)
		} else {
			_, err = st.CompactAll(ctx)
		}
		errs <- err
	}()
	for range 2 {
		if err := <-errs; err != nil {
			return fail(err)
		}
	}
	if err := st.Close(); err != nil {
		return fail(err)
	}
	return 0
}

func TestCompactKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kill test")
	}
	root := t.TempDir()
	template := filepath.Join(root, "template")
	st, err := Open(template, compactKillOpts())
	if err != nil {
		t.Fatal(err)
	}
	w, err := writeWorkload(st, 300)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	// One child that is not killed: it must end compacted, and its time
	// bounds the random kills.
	began := time.Now()
	dir := filepath.Join(root, "calibrate")
	copyDir(t, template, dir)
	if runCompactChild(t, dir, w, "", -1, false) {
		t.Fatal("calibration child was killed")
	}
	span := time.Since(began)
	checkAfterCompactKill(t, dir, w, true)

	kills := map[string]int{}
	rng := rand.New(rand.NewPCG(7, 42))
	n := *compactKillsFlag
	for i := 0; len(kills) < len(compactKillPoints) || sum(kills) < n; i++ {
		if i > 20*n {
			t.Fatalf("only %v kills in %d children", kills, i)
		}
		point := compactKillPoints[i%len(compactKillPoints)]
		crashAt, random := "", time.Duration(-1)
		switch point {
		case "random":
			random = time.Duration(rng.Int64N(int64(span)))
		case "compact-renamed", "after-sync-before-ack":
			crashAt = fmt.Sprintf("%s:%d", point, 1+rng.IntN(3))
		default:
			crashAt = point + ":1"
		}
		dir := filepath.Join(root, fmt.Sprintf("kill-%d", i))
		copyDir(t, template, dir)
		if !runCompactChild(t, dir, w, crashAt, random, i%2 == 1) {
			os.RemoveAll(dir)
			continue
		}
		kills[point]++
		checkAfterCompactKill(t, dir, w, false)
		if t.Failed() {
			t.Fatalf("after a kill at %s (child %d)", point, i)
		}
		os.RemoveAll(dir)
	}
	t.Logf("%d kills: %v (child run %v)", sum(kills), kills, span)
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func runCompactChild(t *testing.T, dir string, w *workload, crashAt string, randomKill time.Duration, byLook bool) (killed bool) {
	t.Helper()
	env := []string{envCompactChild + "=1", envCrashAt + "=" + crashAt, "FLOWGEN_STORE_DIR=" + dir, "FLOWGEN_LIVE=" + strings.Join(w.live, " ")}
	if byLook {
		env = append(env, envCompactByLook+"=1")
	}
	c := startChild(t, env...)
	if c.out.Scan() && randomKill >= 0 {
		time.AfterFunc(randomKill, c.kill)
	}
	for c.out.Scan() {
	}
	return c.wait(t, fmt.Sprintf("crash at %q", crashAt))
}

// checkAfterCompactKill opens the store as a restart would and checks it
// against the workload and the child's acknowledgements; then a compaction
// to the end must leave the compacted store.
func checkAfterCompactKill(t *testing.T, dir string, w *workload, finished bool) {
	t.Helper()
	st, err := Open(dir, compactKillOpts())
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer st.Close()
	acked := map[string]uint64{}
	ackedMsgs := map[string]bool{}
	if data, err := os.ReadFile(dir + ".acks"); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) == 3 && f[0] == "run":
				seq, _ := strconv.ParseUint(f[2], 10, 64)
				acked[f[1]] = max(acked[f[1]], seq)
			case len(f) == 2 && f[0] == "msg":
				ackedMsgs[f[1]] = true
			}
		}
	}
	// Unfinished runs: the whole history, then a prefix of the appends, at
	// least what was acknowledged; nothing twice (Open checks sequences).
	for _, id := range w.live {
		got, err := st.Load(id)
		if err != nil {
			t.Fatalf("live run %s: %v", id, err)
		}
		want := append(append([]runtime.Event{}, w.hist[id]...), extraEvents(w.hist[id])...)
		if len(got) < len(w.hist[id]) || uint64(len(got)) < acked[id] || len(got) > len(want) {
			t.Fatalf("live run %s: %d events, want %d to %d (%d acknowledged)", id, len(got), max(len(w.hist[id]), int(acked[id])), len(want), acked[id])
		}
		if d := cmp.Diff(want[:len(got)], got); d != "" {
			t.Fatalf("live run %s (-want +got):\n%s", id, d)
		}
		if finished && len(got) != len(want) {
			t.Fatalf("live run %s: %d events after an uninterrupted child, want %d", id, len(got), len(want))
		}
	}
	for _, id := range w.recent {
		got, err := st.Load(id)
		if err != nil || !cmp.Equal(w.hist[id], got) {
			t.Fatalf("recent run %s: %d events, %v", id, len(got), err)
		}
	}
	// The removed runs: all whole, or all gone.
	present := 0
	for _, id := range w.old {
		got, err := st.Load(id)
		switch {
		case errors.Is(err, runtime.ErrUnknownRun):
		case err != nil:
			t.Fatalf("old run %s: %v", id, err)
		case !cmp.Equal(w.hist[id], got):
			t.Fatalf("old run %s: %d events, want its %d", id, len(got), len(w.hist[id]))
		default:
			present++
		}
	}
	if present != 0 && present != len(w.old) {
		t.Fatalf("%d of %d removable runs left: a compaction is all or nothing", present, len(w.old))
	}
	if finished && present != 0 {
		t.Fatalf("an uninterrupted compaction left %d removable runs", present)
	}
	// The inbox: what the workload keeps, and every acknowledged new one.
	for _, m := range w.msgs {
		got, ok, err := st.GetMessage(m.Key())
		if err != nil || !ok || got.State != m.State || string(got.Payload) != string(m.Payload) || got.ClaimedBy != m.ClaimedBy {
			t.Fatalf("message %s: %+v, %v, %v; want %+v", m.Key(), got, ok, err, m)
		}
	}
	for id := range ackedMsgs {
		got, ok, err := st.GetMessage(MessageKey{"new", "ev", id})
		if err != nil || !ok || string(got.Payload) != `"`+id+`"` {
			t.Fatalf("acknowledged message %s: %+v, %v, %v", id, got, ok, err)
		}
	}
	for _, k := range w.expired {
		if k.ID == "x-0" {
			continue // received again
		}
		if _, ok, _ := st.GetMessage(k); ok {
			t.Fatalf("expired message %s is back", k)
		}
	}
	// Recovery leaves a store that compacts to the end.
	if _, err := st.CompactAll(context.Background()); err != nil {
		t.Fatalf("compaction after the kill: %v", err)
	}
	for _, id := range w.old {
		if _, err := st.Load(id); !errors.Is(err, runtime.ErrUnknownRun) {
			t.Fatalf("old run %s after a compaction to the end: %v", id, err)
		}
	}
}
