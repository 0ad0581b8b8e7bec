package store

// The kill test under load: a child process (this test binary,
// re-executed) opens one store, again and again, resumes every run the
// child before left unfinished, and meanwhile starts runs from 24
// goroutines at once (group commits of many records, some of them large),
// puts and expires inbox messages, and compacts everything (CompactAll,
// removing the runs that are over) every 100 events, on segments small
// enough to rotate every few commits. It says each acknowledgement on its
// stdout (a pipe: what it wrote is read after its death), and dies by
// SIGKILL once it said a random number of them, at times inside a write
// (the kernel keeps part of it: a torn tail). Beside it, this process
// opens the store read-only over and over and reads every history. After
// each death the store must open, every acknowledged event and message
// must be there, whole, and the next child resumes; at the end every run
// is carried to its end.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/google/go-cmp/cmp"
)

var loadKillsFlag = flag.Int("load-kills", 10, "number of SIGKILLs in TestKillUnderLoad")

const envLoadChild = "FLOWGEN_LOAD_CHILD"

// loadTos are the machine states of a load run's events, in order.
var loadTos = []string{"A:running", "B:running", "C:running", "D:running", "E:running", "done"}

// loadOpts keeps a finished run an hour: the runs' events are from 2023,
// so a compaction removes every run that is over.
func loadOpts() Options { return Options{SegmentSize: 64 << 10, CompactEvery: -1, Retain: time.Hour} }

// loadEvent is event seq of run id: the same every time it is made, so
// that a history read back is compared whole. One event in three has a
// state of 8 KB, so that commits are large enough to be cut by a kill.
func loadEvent(id string, seq uint64) runtime.Event {
	to := loadTos[seq-1]
	e := runtime.Event{RunID: id, Flow: "Load", Seq: seq, Time: time.Unix(1700000000, int64(seq)).UTC(), To: to,
		State: fmt.Appendf(nil, `{"run":%q,"seq":%d,"pad":%q}`, id, seq, strings.Repeat("x", int(seq%3)*4000))}
	if seq > 1 {
		e.From = loadTos[seq-2]
	}
	e.Step, _, _ = runtime.ParseMachineState(to)
	return e
}

// loadMessage is message k of the child with pid: an odd one is expired
// once put.
func loadMessage(pid, k int) Message {
	id := fmt.Sprintf("m%d-%d", pid, k)
	return Message{Topic: "t", Event: "ev", ID: id, Payload: []byte(`"` + id + `"`), Received: time.Unix(1700000000, 0)}
}

// loadChild runs in the child until it is killed (or its work is done).
func loadChild(dir string) int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "child:", err); return 3 }
	st, err := Open(dir, loadOpts())
	if err != nil {
		return fail(err)
	}
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		fmt.Printf(format+"\n", args...) // unbuffered: one write to the pipe
		outMu.Unlock()
	}
	ctx := context.Background()
	var acked atomic.Int64
	more := make(chan struct{}, 1)
	run := func(id string, from uint64) error {
		for seq := from; seq <= uint64(len(loadTos)); seq++ {
			if err := st.Emit(ctx, loadEvent(id, seq)); err != nil {
				return fmt.Errorf("emit %s %d: %w", id, seq, err)
			}
			say("e %s %d", id, seq)
			acked.Add(1)
			select {
			case more <- struct{}{}:
			default:
			}
		}
		return nil
	}
	live, err := st.NonTerminal("")
	if err != nil {
		return fail(err)
	}
	say("ready")
	errs := make(chan error, 64+len(live))
	var wg sync.WaitGroup
	for _, r := range live {
		wg.Go(func() { errs <- run(r.RunID, uint64(r.Events)+1) })
	}
	pid := os.Getpid()
	for g := range 24 {
		wg.Go(func() {
			for k := range 20 {
				if err := run(fmt.Sprintf("r%d-%d-%d", pid, g, k), 1); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for k := range 200 {
			m := loadMessage(pid, k)
			if _, _, err := st.PutMessage(ctx, m); err != nil {
				errs <- err
				return
			}
			say("m %s", m.ID)
			if k%2 == 1 {
				if err := st.ExpireMessage(ctx, m.Key(), "", time.Unix(1700000001, 0)); err != nil {
					errs <- err
					return
				}
				say("x %s", m.ID)
			}
		}
	})
	done := make(chan struct{})
	compacted := make(chan struct{})
	go func() {
		defer close(compacted)
		for {
			// A compaction every 100 events acknowledged.
			for n := acked.Load(); acked.Load() < n+100; {
				select {
				case <-done:
					return
				case <-more:
				}
			}
			if _, err := st.CompactAll(ctx); err != nil {
				errs <- err
				return
			}
			say("c")
		}
	}()
	wg.Wait()
	close(done)
	<-compacted
	close(errs)
	for err := range errs {
		if err != nil {
			return fail(err)
		}
	}
	if err := st.Close(); err != nil {
		return fail(err)
	}
	return 0
}

// loadAcks is what the children acknowledged.
type loadAcks struct {
	events      map[string]uint64 // run -> its last event acknowledged
	msgs        map[string]bool   // messages put
	expired     map[string]bool   // messages expired
	compactions int
}

func TestKillUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("kill test")
	}
	dir := filepath.Join(t.TempDir(), "store")
	acks := loadAcks{events: map[string]uint64{}, msgs: map[string]bool{}, expired: map[string]bool{}}
	rng := rand.New(rand.NewPCG(3, 9))
	kills, torn, roOpens := 0, 0, 0
	for i := 0; kills < *loadKillsFlag; i++ {
		if i > 2**loadKillsFlag {
			t.Fatalf("only %d kills in %d children", kills, i)
		}
		killed, opens := runLoadChild(t, dir, &acks, 1+rng.IntN(500))
		if killed {
			kills++
		}
		roOpens += opens
		st := checkLoad(t, dir, &acks)
		if _, ok := st.TornTail(); ok {
			torn++
		}
		st.Close()
		if t.Failed() {
			t.Fatalf("after child %d", i)
		}
	}
	// What the last child left unfinished resumes to its end.
	st := checkLoad(t, dir, &acks)
	live, err := st.NonTerminal("")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range live {
		for seq := uint64(r.Events) + 1; seq <= uint64(len(loadTos)); seq++ {
			if err := st.Emit(context.Background(), loadEvent(r.RunID, seq)); err != nil {
				t.Fatalf("resume %s: %v", r.RunID, err)
			}
		}
	}
	st.Close()
	st = checkLoad(t, dir, &acks)
	defer st.Close()
	if live, err := st.NonTerminal(""); err != nil || len(live) != 0 {
		t.Fatalf("%d runs unfinished after the resume, %v", len(live), err)
	}
	t.Logf("%d kills, %d torn tails cut, %d runs and %d messages acknowledged, %d compactions, %d read-only opens beside the writer",
		kills, torn, len(acks.events), len(acks.msgs), acks.compactions, roOpens)
}

// runLoadChild runs a child on dir, kills it once it said after lines
// (acknowledgements, compactions: a count, not a time, whatever the
// machine's load), and reads the store read-only meanwhile: every history
// it reads must be a whole prefix of its run's. It returns whether the child was killed and
// how many read-only opens it made.
func runLoadChild(t *testing.T, dir string, acks *loadAcks, after int) (killed bool, opens int) {
	t.Helper()
	c := startChild(t, envLoadChild+"="+dir)
	var stop atomic.Bool
	var ro sync.WaitGroup
	n := 0         // read-only opens
	defer func() { // after the child ended, or failed the test
		stop.Store(true)
		ro.Wait()
		opens = n
	}()
	if c.out.Scan() {
		ro.Go(func() {
			for ; !stop.Load(); n++ {
				if err := readLoad(dir); err != nil {
					t.Errorf("read-only beside the writer: %v", err)
					return
				}
			}
		})
	}
	for said := 0; c.out.Scan(); said++ {
		if said == after {
			c.kill()
		}
		f := strings.Fields(c.out.Text())
		switch {
		case len(f) == 3 && f[0] == "e":
			seq, _ := strconv.ParseUint(f[2], 10, 64)
			acks.events[f[1]] = max(acks.events[f[1]], seq)
		case len(f) == 2 && f[0] == "m":
			acks.msgs[f[1]] = true
		case len(f) == 2 && f[0] == "x":
			acks.expired[f[1]] = true
		case len(f) == 1 && f[0] == "c":
			acks.compactions++
		}
	}
	return c.wait(t, "under load"), 0
}

// readLoad opens the store in dir read-only and reads every run.
func readLoad(dir string) error {
	ro, err := OpenReadOnly(dir)
	if err != nil {
		return err
	}
	defer ro.Close()
	rs, err := ro.List(Filter{})
	if err != nil {
		return err
	}
	for _, r := range rs {
		h, err := ro.Load(r.RunID)
		if err != nil {
			return err
		}
		if err := loadPrefix(r.RunID, h); err != nil {
			return err
		}
	}
	return nil
}

// loadPrefix checks that h is a prefix of run id's events.
func loadPrefix(id string, h []runtime.Event) error {
	if len(h) > len(loadTos) {
		return fmt.Errorf("run %s: %d events", id, len(h))
	}
	for j := range h {
		// cmp.Diff only to say what differs: it compares a state's bytes
		// one by one, which took seconds for every check.
		if want := loadEvent(id, uint64(j+1)); !reflect.DeepEqual(want, h[j]) {
			return fmt.Errorf("run %s, event %d (-want +got):\n%s", id, j+1, cmp.Diff(want, h[j]))
		}
	}
	return nil
}

// checkLoad opens the store as a restart does and checks that every
// acknowledged event and message is there; it returns the store, open.
func checkLoad(t *testing.T, dir string, acks *loadAcks) *Store {
	t.Helper()
	st, err := Open(dir, loadOpts())
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	for id, seq := range acks.events {
		h, err := st.Load(id)
		if errors.Is(err, runtime.ErrUnknownRun) && seq >= uint64(len(loadTos)-1) {
			// Over (its last event written, acknowledged or not: the one
			// before was), and removed by a compaction.
			continue
		}
		if err != nil {
			t.Fatalf("run %s (%d events acknowledged): %v", id, seq, err)
		}
		if uint64(len(h)) < seq {
			t.Fatalf("run %s: %d events, %d acknowledged", id, len(h), seq)
		}
		if err := loadPrefix(id, h); err != nil {
			t.Fatal(err)
		}
	}
	for id := range acks.msgs {
		m, ok, err := st.GetMessage(MessageKey{"t", "ev", id})
		if err != nil {
			t.Fatalf("message %s: %v", id, err)
		}
		k, _ := strconv.Atoi(id[strings.LastIndex(id, "-")+1:])
		switch {
		case acks.expired[id] && ok:
			t.Fatalf("expired message %s is back", id)
		case k%2 == 0 && (!ok || string(m.Payload) != `"`+id+`"` || m.State != MessagePending):
			t.Fatalf("acknowledged message %s: %v, %+v", id, ok, m)
		}
	}
	return st
}
