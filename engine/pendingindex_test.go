package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// pendingFixture is an inbox with nothing waiting, on a fake clock, whose
// awaits are made by hand: each take names the message it got ("" for
// none).
type pendingFixture struct {
	t     *testing.T
	st    *store.Memory
	clock *runtime.FakeClock
	in    *inbox
}

func newPendingFixture(t *testing.T) *pendingFixture {
	f := &pendingFixture{t: t, st: store.NewMemory(), clock: runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	f.in = f.inbox()
	return f
}

func (f *pendingFixture) inbox() *inbox {
	e, err := New(Options{Store: f.st, Clock: f.clock, InboxRetention: time.Hour})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(e.in.stop)
	return e.in
}

func (f *pendingFixture) receive(event, id, payload string) {
	f.t.Helper()
	if err := f.in.receive(context.Background(), Message{ID: id, Topic: "t", Event: event, Payload: json.RawMessage(payload)}); err != nil {
		f.t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
}

// take is an await of key on t/e: uncorrelated when field is "-".
func (f *pendingFixture) take(in *inbox, key, field, value string) string {
	f.t.Helper()
	r := &takeReq{key: key, topic: "t", event: "e", correlated: field != "-", field: field, value: value}
	if field == "-" {
		r.field = ""
	}
	got, err := in.take(context.Background(), r, func() error { return errSubscribed })
	switch {
	case errors.Is(err, errSubscribed):
		return ""
	case err != nil:
		f.t.Fatalf("take %s: %v", key, err)
	}
	return got.ID
}

// An await takes the oldest pending message it matches, whatever else is
// pending and however the messages came and went: awaits on the default
// field (by "" or by its name), on a path, of a number's value, and
// uncorrelated ones, interleaved with arrivals, a release (the message is
// pending again, after the others), a reservation given back, a dead
// letter, expiry (an expired message is never delivered, and its ID is new
// again) and a restart (the inbox rebuilt from the store).
func TestPendingMatchOldest(t *testing.T) {
	f := newPendingFixture(t)
	f.receive("e", "m1", `{"correlation_id": "a", "order": {"id": "o1"}}`)
	f.receive("e", "m2", `{"correlation_id": "b"}`)
	f.receive("other", "x1", `{"correlation_id": "a", "order": {"id": "o1"}}`)
	f.receive("e", "m3", `{"correlation_id": "a", "order": {"id": "o2"}}`)
	f.receive("e", "m4", `{"order": {"id": "o1"}}`)
	f.receive("e", "m5", `{"correlation_id": 7}`)
	f.receive("e", "m6", `{"correlation_id": "a"}`)
	f.receive("e", "m7", `not json`)

	step := 0
	expect := func(in *inbox, key, field, value, want string) {
		t.Helper()
		step++
		if got := f.take(in, key, field, value); got != want {
			t.Fatalf("step %d: %s (%q = %q) took %q, want %q", step, key, field, value, got, want)
		}
		checkPending(t, in)
	}
	expect(f.in, "r1/A", "", "z", "")
	expect(f.in, "r2/A", "", "a", "m1")
	expect(f.in, "r3/A", "order.id", "o1", "m4") // m1 is taken, x1 is another event's
	expect(f.in, "r4/A", "-", "", "m2")
	expect(f.in, "r5/A", runtime.CorrelationField, "7", "m5")
	expect(f.in, "r6/A", "", "b", "") // m2 is taken

	// Arrivals after the first correlated awaits, a release (m1 pending
	// again, after m8) and a reservation given back (m3, after m1).
	f.receive("e", "m8", `{"correlation_id": "a", "order": {"id": "o1"}}`)
	if err := f.in.release(context.Background(), "r2/A"); err != nil {
		t.Fatal(err)
	}
	f.in.mu.Lock()
	reserved := f.in.match(&takeReq{key: "r7/A", topic: "t", event: "e", correlated: true, value: "a"})
	f.in.mu.Unlock()
	if reserved == nil || reserved.k.ID != "m3" {
		t.Fatal("an await of a did not reserve m3, the oldest")
	}
	f.in.unreserve("r7/A")
	checkPending(t, f.in)
	// pending: m6, m7, m8, m1, m3
	expect(f.in, "r8/A", "order.id", "o1", "m8")
	expect(f.in, "r9/A", "", "a", "m6")
	expect(f.in, "r10/A", "-", "", "m7")
	expect(f.in, "r11/A", "order.id", "o2", "m3")

	// m1 expires an hour after its arrival; m9 and m10, arriving later, do
	// not. Due, m1 is not delivered even before the expiry loop drops it.
	f.receive("e", "m9", `{"correlation_id": "a", "order": {"id": "o1"}}`)
	f.receive("e", "m10", `{"correlation_id": "c"}`)
	f.clock.Advance(49 * time.Minute)
	// pending: m1 (due), m9, m10
	expect(f.in, "r12/A", "order.id", "o1", "m9")
	expect(f.in, "r13/A", "", "a", "")
	expect(f.in, "r14/A", "-", "", "m10")
	f.in.start()
	waitFor(t, "m1 expired", func() bool {
		f.in.mu.Lock()
		defer f.in.mu.Unlock()
		return f.in.msgs[store.MessageKey{Topic: "t", Event: "e", ID: "m1"}] == nil
	})
	checkPending(t, f.in)
	f.receive("e", "m1", `{"correlation_id": "a", "order": {"id": "o3"}}`) // new again
	f.receive("e", "m11", `{"correlation_id": "c", "order": {"id": "o3"}}`)
	f.receive("e", "m12", `{"correlation_id": "c"}`)
	if err := f.in.deadLetter(context.Background(), Message{ID: "m11", Topic: "t", Event: "e", Payload: json.RawMessage(`{}`)}, "test"); err != nil {
		t.Fatal(err)
	}
	// pending: m1, m12
	expect(f.in, "r15/A", "order.id", "o1", "")
	expect(f.in, "r16/A", "", "c", "m12")
	expect(f.in, "r17/A", "order.id", "o3", "m1")
	expect(f.in, "r16/A", "", "c", "m12") // claimed for it before

	// A restart: the inbox is the store's, pending messages in the order
	// they arrived, m12 still claimed.
	if err := f.in.release(context.Background(), "r17/A"); err != nil {
		t.Fatal(err)
	}
	f.receive("e", "m13", `{"correlation_id": "c", "order": {"id": "o3"}}`)
	f.receive("e", "m14", `{"order": {"id": "o3"}}`)
	f.in.stop()
	b := f.inbox()
	if err := b.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	// pending: m1, m13, m14
	expect(b, "r18/A", "", "c", "m13")
	expect(b, "r19/A", "order.id", "o3", "m1")
	expect(b, "r20/A", "-", "", "m14")
	expect(b, "r21/A", "-", "", "")
	expect(b, "r16/A", "", "c", "m12")
}

// checkPending fails t unless in's pending messages are linked both ways,
// pending, each once, and each field's index holds exactly those with a
// value there, in the same order.
func checkPending(t *testing.T, in *inbox) {
	t.Helper()
	in.mu.Lock()
	defer in.mu.Unlock()
	for k, p := range in.pending {
		var list []*inMsg
		var prev *inMsg
		for m := p.head; m != nil; m = m.next {
			if m.prev != prev || m.state != msgPending || in.msgs[m.k] != m || (teKey{m.k.Topic, m.k.Event}) != k {
				t.Fatalf("%v: message %s (state %d) is pending out of place", k, m.k.ID, m.state)
			}
			list, prev = append(list, m), m
		}
		if len(list) == 0 || p.tail != prev {
			t.Fatalf("%v: %d pending, the tail is not the last", k, len(list))
		}
		for f, vi := range p.byField {
			got, want := map[string][]string{}, map[string][]string{}
			for v, ms := range vi {
				for _, m := range ms {
					got[v] = append(got[v], m.k.ID)
				}
			}
			for _, m := range list {
				if v, ok := runtime.Correlation(m.payload, f); ok {
					want[v] = append(want[v], m.k.ID)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%v: field %q indexes %v, want %v", k, f, got, want)
			}
		}
	}
}

// BenchmarkPendingMatch has awaits find their events among n pending ones
// (events that came before their runs), each of its own correlation value,
// the awaits coming for the newest event first (the worst order for a list
// scanned oldest first): the time per match with 20,000 pending over the
// time with 100 (x-100, 1 when the match does not grow with the pending
// events). The first await of each round indexes the pending events.
func BenchmarkPendingMatch(b *testing.B) {
	e, err := New(Options{Store: store.NewMemory()})
	if err != nil {
		b.Fatal(err)
	}
	in := e.in
	far := time.Now().Add(time.Hour)
	perMatch := func(n int) float64 {
		reqs := make([]*takeReq, n)
		for i := range n {
			m := testMsg(fmt.Sprint("m", i), fmt.Sprintf(`{"correlation_id": "k%d", "amount": %d}`, i, i))
			m.expires = far
			in.addPending(m)
			reqs[n-1-i] = &takeReq{key: fmt.Sprint("r", i, "/A"), topic: "t", event: "e", correlated: true, value: fmt.Sprint("k", i)}
		}
		goruntime.GC() // not the setup's garbage
		in.mu.Lock()
		defer in.mu.Unlock()
		began := time.Now()
		for _, r := range reqs {
			if in.match(r) == nil {
				b.Fatal("no pending message matched")
			}
		}
		took := time.Since(began)
		clear(in.reserved)
		return float64(took) / float64(n)
	}
	reportPerMatch(b, perMatch)
}
