package wal

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// orderedApplier records the positions it is told, and fails the test if
// two calls overlap.
type orderedApplier struct {
	mu   sync.Mutex
	busy bool
	pos  []Pos
	told map[string]Pos // record -> position
	t    *testing.T
}

type tellOne struct {
	o    *orderedApplier
	recs []string
}

func (a tellOne) Applied(i int, pos Pos) {
	o := a.o
	o.mu.Lock()
	if o.busy {
		o.t.Error("two Applied calls at once")
	}
	o.busy = true
	o.mu.Unlock()
	time.Sleep(time.Microsecond) // widen the window of an overlap
	o.mu.Lock()
	o.busy = false
	o.pos = append(o.pos, pos)
	o.told[a.recs[i]] = pos
	o.mu.Unlock()
}

// Appliers are told, in the log's order and one at a time, where each
// record is, before its Append returns: what lets a store index a group
// commit's records in the order a reopen replays them.
func TestAppliersInLogOrder(t *testing.T) {
	dir := t.TempDir()
	_, l, err := readAll(t, dir, Options{MaxBatch: 7, MaxWait: time.Millisecond, SegmentSize: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	o := &orderedApplier{told: map[string]Pos{}, t: t}
	const writers, each = 16, 30
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				rec := fmt.Sprintf("w%02d-%03d", w, i)
				var pos Pos
				var err error
				if i%3 == 0 { // some as a group of two
					recs := []string{rec, rec + "b"}
					var ps []Pos
					ps, err = l.AppendAllApply([][]byte{[]byte(recs[0]), []byte(recs[1])}, tellOne{o, recs})
					if err == nil {
						pos = ps[0]
					}
				} else {
					pos, err = l.AppendApply([]byte(rec), tellOne{o, []string{rec}})
				}
				if err != nil {
					t.Error(err)
					return
				}
				o.mu.Lock()
				told, ok := o.told[rec]
				o.mu.Unlock()
				if !ok || told != pos {
					t.Errorf("%s: Append returned %v before its Applier was told (told %v, %v)", rec, pos, told, ok)
				}
			}
		})
	}
	wg.Wait()
	l.Close()
	want := writers*each + writers*((each+2)/3)
	if len(o.pos) != want {
		t.Fatalf("%d Applied calls, want %d", len(o.pos), want)
	}
	for i := 1; i < len(o.pos); i++ {
		if o.pos[i-1].Compare(o.pos[i]) >= 0 {
			t.Fatalf("Applied call %d at %v after one at %v: not the log's order", i, o.pos[i], o.pos[i-1])
		}
	}
	// The log replays the records in the order the Appliers were told.
	var replayed []Pos
	l, err = Open(dir, Options{}, func(p Pos, _ []byte) error { replayed = append(replayed, p); return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if len(replayed) != len(o.pos) {
		t.Fatalf("replayed %d records, told %d", len(replayed), len(o.pos))
	}
	for i := range replayed {
		if replayed[i] != o.pos[i] {
			t.Fatalf("record %d replayed at %v, told at %v", i, replayed[i], o.pos[i])
		}
	}
}

// A record whose write fails is never applied: its Append fails instead.
func TestApplierNotToldOfAFailedWrite(t *testing.T) {
	dir := t.TempDir()
	_, l, err := readAll(t, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	boom := errors.New("injected EIO")
	l.opts.sync = func(*os.File) error { return boom }
	o := &orderedApplier{told: map[string]Pos{}, t: t}
	if _, err := l.AppendApply([]byte("x"), tellOne{o, []string{"x"}}); !errors.Is(err, boom) {
		t.Fatalf("append with a failing sync: %v", err)
	}
	if _, err := l.AppendAllApply([][]byte{[]byte("y")}, tellOne{o, []string{"y"}}); !errors.Is(err, ErrFailed) {
		t.Fatalf("append after a failed sync: %v", err)
	}
	if len(o.pos) != 0 {
		t.Fatalf("told of records that are not durable: %v", o.pos)
	}
}
