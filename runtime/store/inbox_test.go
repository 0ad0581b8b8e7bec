package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime/store/internal/wal"
	"github.com/google/go-cmp/cmp"
)

// inboxStore is the inbox API both stores have.
type inboxStore interface {
	PutMessage(ctx context.Context, m Message) (Message, bool, error)
	PutMessages(ctx context.Context, ms []Message) ([]Message, []bool, error)
	ClaimMessage(ctx context.Context, k MessageKey, key string, at time.Time) error
	ReleaseMessage(ctx context.Context, k MessageKey, key string, at time.Time) error
	DeadLetter(ctx context.Context, m Message, reason string, at time.Time) error
	ExpireMessage(ctx context.Context, k MessageKey, from MessageState, at time.Time) error
	GetMessage(k MessageKey) (Message, bool, error)
	Messages(f MessageFilter) ([]Message, error)
}

var (
	_ inboxStore = (*Store)(nil)
	_ inboxStore = (*Memory)(nil)
)

func msg(topic, event, id, payload string, at time.Time) Message {
	return Message{Topic: topic, Event: event, ID: id, Payload: json.RawMessage(payload), Received: at}
}

func TestMessageCodecRoundTrip(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("", 3600))
	k := MessageKey{"payments", "payment.succeeded", "m-1 ✓"}
	for _, r := range []msgRecord{
		{op: opReceived, time: at, k: k, payload: []byte(`{"correlation_id":"c"}`)},
		{op: opReceived, time: at.UTC(), k: k, payload: []byte{}},
		{op: opReceived, time: at, k: k, payload: []byte(`{}`), link: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		{op: opClaimed, time: at, k: k, key: "run-1/Await#2"},
		{op: opReleased, time: at, k: k, key: "run-1/Await#2"},
		{op: opDead, time: at, k: k, reason: "does not decode:\nline 2"},
		{op: opDead, time: at, k: k, reason: "poison", hasPayload: true, payload: []byte(`[1,2]`)},
		{op: opExpired, time: at, k: k},
	} {
		b := encodeMessage(nil, &r)
		got, err := decodeMessage(b)
		if err != nil {
			t.Fatalf("op %d: %v", r.op, err)
		}
		if !got.time.Equal(r.time) {
			t.Fatalf("op %d: time %v, want %v", r.op, got.time, r.time)
		}
		got.time = r.time
		if diff := cmp.Diff(r, got, cmp.AllowUnexported(msgRecord{})); diff != "" {
			t.Fatalf("op %d round trip (-want +got):\n%s", r.op, diff)
		}
		for n := range len(b) {
			if _, err := decodeMessage(b[:n]); err == nil {
				t.Fatalf("op %d: prefix of %d bytes decoded", r.op, n)
			}
		}
		if _, err := decodeEvent(b); err == nil {
			t.Fatalf("op %d: a message record decoded as an event", r.op)
		}
	}
}

// bothStores runs f on a durable store and on a Memory, each seen as S (an
// API both have); reopen gives the durable store back after a close and an
// open (the Memory as it is).
func bothStores[S any](t *testing.T, f func(t *testing.T, s S, reopen func() S)) {
	for _, name := range []string{"durable", "memory"} {
		t.Run(name, func(t *testing.T) {
			if name == "memory" {
				m := any(NewMemory()).(S)
				f(t, m, func() S { return m })
				return
			}
			dir := t.TempDir()
			st := openStore(t, dir)
			t.Cleanup(func() { st.Close() })
			f(t, any(st).(S), func() S {
				if err := st.Close(); err != nil {
					t.Fatal(err)
				}
				st = openStore(t, dir)
				return any(st).(S)
			})
		})
	}
}

// TestInboxKeepsLinks: a message's link (its sender's traceparent) is
// kept with it, through a reopen, while it is pending and once claimed.
func TestInboxKeepsLinks(t *testing.T) {
	bothStores(t, func(t *testing.T, s inboxStore, reopen func() inboxStore) {
		ctx := context.Background()
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		const link = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
		linked := msg("payments", "paid", "m-1", `{"order":"o-1"}`, at)
		linked.Link = link
		if got, fresh, err := s.PutMessage(ctx, linked); err != nil || !fresh || got.Link != link {
			t.Fatalf("put: %+v %v %v", got, fresh, err)
		}
		batch := []Message{msg("payments", "paid", "m-2", `{}`, at), linked}
		batch[0].Link = link
		if got, _, err := s.PutMessages(ctx, batch); err != nil || got[0].Link != link || got[1].Link != link {
			t.Fatalf("put batch: %+v %v", got, err)
		}
		if _, _, err := s.PutMessage(ctx, msg("payments", "paid", "m-3", `{}`, at)); err != nil {
			t.Fatal(err)
		}
		if err := s.ClaimMessage(ctx, linked.Key(), "r-1/Await", at); err != nil {
			t.Fatal(err)
		}
		s = reopen()
		want := map[string]string{"m-1": link, "m-2": link, "m-3": ""}
		ms, err := s.Messages(MessageFilter{})
		if err != nil || len(ms) != 3 {
			t.Fatalf("messages: %+v %v", ms, err)
		}
		for _, m := range ms {
			if m.Link != want[m.ID] {
				t.Errorf("%s: link %q, want %q", m.ID, m.Link, want[m.ID])
			}
		}
		if m, ok, err := s.GetMessage(linked.Key()); err != nil || !ok || m.Link != link || m.State != MessageClaimed || string(m.Payload) != `{"order":"o-1"}` {
			t.Fatalf("get: %+v %v %v", m, ok, err)
		}
	})
}

// MessageFilter.Limit keeps the first messages that match, in the order
// they arrived.
func TestMessagesLimit(t *testing.T) {
	bothStores(t, func(t *testing.T, s inboxStore, reopen func() inboxStore) {
		ctx := context.Background()
		for _, id := range []string{"m-1", "other", "m-2", "m-3"} {
			topic := "payments"
			if id == "other" {
				topic = "refunds"
			}
			if _, _, err := s.PutMessage(ctx, msg(topic, "paid", id, `{}`, t0)); err != nil {
				t.Fatal(err)
			}
		}
		s = reopen()
		for _, tc := range []struct {
			f    MessageFilter
			want string
		}{
			{MessageFilter{Topic: "payments", Limit: 2}, "m-1 m-2"},
			{MessageFilter{Limit: 2}, "m-1 other"},
			{MessageFilter{Topic: "payments", Limit: 5}, "m-1 m-2 m-3"},
			{MessageFilter{Topic: "payments"}, "m-1 m-2 m-3"},
		} {
			ms, err := s.Messages(tc.f)
			var ids []string
			for _, m := range ms {
				ids = append(ids, m.ID)
			}
			if got := strings.Join(ids, " "); err != nil || got != tc.want {
				t.Errorf("Messages(%+v): %q %v, want %q", tc.f, got, err, tc.want)
			}
		}
	})
}

// MessageFilter.After pages through the messages: each page starts after
// the last message of the one before, whether or not that one matches, so
// that every message is listed once, in the order of receipt, while
// messages arrive, expire and a compaction rewrites the log between pages.
// A key the inbox does not have is ErrUnknownMessage.
func TestMessagesAfter(t *testing.T) {
	bothStores(t, func(t *testing.T, s inboxStore, reopen func() inboxStore) {
		ctx := context.Background()
		var want []string
		put := func(topic, id string) {
			t.Helper()
			if _, _, err := s.PutMessage(ctx, msg(topic, "paid", id, `{"id":"`+id+`"}`, t0)); err != nil {
				t.Fatal(err)
			}
			if topic == "payments" {
				want = append(want, id)
			}
		}
		for i := range 10 {
			put("payments", fmt.Sprintf("m-%02d", i))
			put("refunds", fmt.Sprintf("r-%02d", i))
		}
		// Expired, so that a compaction has records to drop (and rewrites).
		gone := msg("payments", "paid", "gone", `{}`, t0)
		if _, _, err := s.PutMessage(ctx, gone); err != nil {
			t.Fatal(err)
		}
		if err := s.ExpireMessage(ctx, gone.Key(), "", t0); err != nil {
			t.Fatal(err)
		}
		var got []string
		f := MessageFilter{Topic: "payments", Limit: 3}
		for page := 0; ; page++ {
			ms, err := s.Messages(f)
			if err != nil {
				t.Fatalf("page %d: %v", page, err)
			}
			for _, m := range ms {
				if want := `{"id":"` + m.ID + `"}`; string(m.Payload) != want {
					t.Fatalf("page %d: %s has payload %s, want %s", page, m.ID, m.Payload, want)
				}
				got = append(got, m.ID)
			}
			if len(ms) < f.Limit {
				break
			}
			f.After = ms[len(ms)-1].Key()
			switch page {
			case 0: // a message arrives: it comes after every one listed
				put("payments", "late")
			case 1: // the page's last message is of another topic
				f.After = MessageKey{"refunds", "paid", "r-05"}
			case 2:
				if st, ok := s.(*Store); ok {
					if _, err := st.CompactAll(ctx); err != nil {
						t.Fatal(err)
					}
				}
			case 3:
				s = reopen()
			}
		}
		// Page 1 ended at m-05; r-05 came after it, so nothing is skipped.
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("pages (-want +got):\n%s", d)
		}
		for _, k := range []MessageKey{gone.Key(), {"payments", "paid", "never"}} {
			if ms, err := s.Messages(MessageFilter{After: k}); !errors.Is(err, ErrUnknownMessage) {
				t.Errorf("Messages(After: %s): %d messages, %v; want ErrUnknownMessage", k, len(ms), err)
			}
		}
	})
}

// MessageFilter.Newest lists the messages newest first, and After pages
// through them in that order: each page starts after the last message of
// the one before, whether or not that one matches, so that every message
// is listed once, newest first, through a compaction and a reopen between
// pages. A message received meanwhile is newer than every page, so it is
// on none of them.
func TestMessagesNewest(t *testing.T) {
	bothStores(t, func(t *testing.T, s inboxStore, reopen func() inboxStore) {
		ctx := context.Background()
		var want []string
		put := func(topic, id string) {
			t.Helper()
			if _, _, err := s.PutMessage(ctx, msg(topic, "paid", id, `{"id":"`+id+`"}`, t0)); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 10 {
			put("payments", fmt.Sprintf("m-%02d", i))
			put("refunds", fmt.Sprintf("r-%02d", i))
		}
		for i := 9; i >= 0; i-- {
			want = append(want, fmt.Sprintf("m-%02d", i))
		}
		var got []string
		f := MessageFilter{Topic: "payments", Limit: 3, Newest: true}
		for page := 0; ; page++ {
			ms, err := s.Messages(f)
			if err != nil {
				t.Fatalf("page %d: %v", page, err)
			}
			for _, m := range ms {
				if want := `{"id":"` + m.ID + `"}`; string(m.Payload) != want {
					t.Fatalf("page %d: %s has payload %s, want %s", page, m.ID, m.Payload, want)
				}
				got = append(got, m.ID)
			}
			if len(ms) < f.Limit {
				break
			}
			f.After = ms[len(ms)-1].Key()
			switch page {
			case 0: // a message arrives: newer than every page, on none
				put("payments", "late")
			case 1: // the page's last message is of another topic
				f.After = MessageKey{"refunds", "paid", "r-03"}
			case 2:
				if st, ok := s.(*Store); ok {
					if _, err := st.CompactAll(ctx); err != nil {
						t.Fatal(err)
					}
				}
				s = reopen()
			}
		}
		// Page 1 ended at m-04; r-03, received just before it, is next
		// newest first, so nothing is skipped or repeated.
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("pages (-want +got):\n%s", d)
		}
		if ms, err := s.Messages(MessageFilter{Topic: "payments", Newest: true, Limit: 1}); err != nil || len(ms) != 1 || ms[0].ID != "late" {
			t.Errorf("first page newest first: %v %v, want the late message", ms, err)
		}
	})
}

// Dead letters written while a reader pages with MessageFilter.After
// (several writers, so that the durable store commits them in groups) do
// not make it skip or repeat one: it lists every letter that was there
// before it began, none twice, and the ones it lists in the order a
// complete list gives afterwards.
func TestMessagesAfterConcurrentWrites(t *testing.T) {
	bothStores(t, func(t *testing.T, s inboxStore, _ func() inboxStore) {
		ctx := context.Background()
		dead := func(id string) error {
			return s.DeadLetter(ctx, msg("t", "e", id, `{}`, t0), "test", t0)
		}
		var before []string
		for i := range 50 {
			id := fmt.Sprintf("before-%02d", i)
			if err := dead(id); err != nil {
				t.Fatal(err)
			}
			before = append(before, id)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var failed atomic.Bool
		stopWriters := sync.OnceFunc(func() { close(stop); wg.Wait() })
		defer stopWriters()
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					if err := dead(fmt.Sprintf("w%d-%04d", w, i)); err != nil {
						t.Error(err)
						failed.Store(true)
						return
					}
				}
			}()
		}
		var got []string
		f := MessageFilter{State: MessageDead, Limit: 7}
		for len(got) < 200 && !failed.Load() {
			ms, err := s.Messages(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) == 0 {
				continue // the writers have not written the next yet
			}
			for _, m := range ms {
				got = append(got, m.ID)
			}
			f.After = ms[len(ms)-1].Key()
		}
		stopWriters()
		all, err := s.Messages(MessageFilter{State: MessageDead})
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		for _, m := range all {
			order = append(order, m.ID)
		}
		if d := cmp.Diff(order[:len(got)], got); d != "" {
			t.Errorf("pages differ from the complete list's start (-list +pages):\n%s", d)
		}
		if d := cmp.Diff(before, got[:len(before)]); d != "" {
			t.Errorf("the letters there before paging (-want +got):\n%s", d)
		}
	})
}

func TestInboxTransitions(t *testing.T) {
	bothStores(t, func(t *testing.T, s inboxStore, reopen func() inboxStore) {
		ctx := context.Background()
		at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
		put := func(m Message, wantNew bool) Message {
			t.Helper()
			got, added, err := s.PutMessage(ctx, m)
			if err != nil || added != wantNew {
				t.Fatalf("PutMessage(%s): added %v, %v; want added %v", m.Key(), added, err, wantNew)
			}
			return got
		}
		is := func(err, want error) {
			t.Helper()
			if !errors.Is(err, want) {
				t.Fatalf("%v, want %v", err, want)
			}
		}
		a := msg("payments", "paid", "m1", `{"correlation_id":"a"}`, at(0))
		b := msg("refunds", "paid", "m1", `{"correlation_id":"b"}`, at(1)) // the same ID on another topic
		c := msg("payments", "failed", "m1", `{"n":3}`, at(2))             // and on another event
		d := msg("payments", "paid", "m2", `{"n":4}`, at(3))
		if got := put(a, true); got.State != MessagePending || !got.Updated.Equal(at(0)) {
			t.Fatalf("put: %+v", got)
		}
		put(b, true)
		put(c, true)
		put(d, true)
		// A redelivery is not recorded again: the message as it is comes back.
		again := a
		again.Payload, again.Received = json.RawMessage(`{"other":1}`), at(9)
		if got := put(again, false); string(got.Payload) != string(a.Payload) || !got.Received.Equal(at(0)) {
			t.Fatalf("second put returned %+v", got)
		}
		is(s.ClaimMessage(ctx, a.Key(), "r1/Await", at(4)), nil)
		is(s.ClaimMessage(ctx, a.Key(), "r1/Await", at(4)), nil) // the same claim again does nothing
		is(s.ClaimMessage(ctx, a.Key(), "r2/Await", at(4)), ErrMessageState)
		is(s.DeadLetter(ctx, a, "too late", at(4)), ErrMessageState) // claimed or dead, never both
		is(s.ReleaseMessage(ctx, a.Key(), "r2/Await", at(4)), ErrMessageState)
		if got := put(a, false); got.State != MessageClaimed || got.ClaimedBy != "r1/Await" {
			t.Fatalf("a claimed message put again: %+v", got)
		}
		is(s.ClaimMessage(ctx, b.Key(), "r3/Await", at(5)), nil)
		is(s.ReleaseMessage(ctx, b.Key(), "r3/Await", at(6)), nil)
		is(s.ReleaseMessage(ctx, b.Key(), "r3/Await", at(6)), nil) // already given back
		is(s.DeadLetter(ctx, c, "does not decode", at(7)), nil)
		is(s.DeadLetter(ctx, c, "again", at(8)), nil) // dead already: nothing changes
		is(s.ClaimMessage(ctx, c.Key(), "r4/Await", at(8)), ErrMessageState)
		// A message never received is dead on arrival, with its payload.
		e := msg("accounts", "signup", "poison", `"not an object"`, time.Time{})
		is(s.DeadLetter(ctx, e, "not a state", at(9)), nil)
		is(s.ExpireMessage(ctx, d.Key(), MessageClaimed, at(10)), ErrMessageState)
		is(s.ExpireMessage(ctx, d.Key(), MessagePending, at(10)), nil)
		is(s.ExpireMessage(ctx, d.Key(), "", at(10)), ErrUnknownMessage)
		is(s.ClaimMessage(ctx, MessageKey{"x", "y", "z"}, "k", at(10)), ErrUnknownMessage)
		is(s.DeadLetter(ctx, Message{Topic: "x", Event: "y"}, "no ID", at(10)), ErrInvalidMessage)
		_, _, err := s.PutMessage(ctx, msg("x", "y", "z", `{}`, time.Time{}))
		is(err, ErrInvalidMessage)

		want := []Message{
			{Topic: "payments", Event: "paid", ID: "m1", Payload: json.RawMessage(`{"correlation_id":"a"}`), Received: at(0),
				State: MessageClaimed, ClaimedBy: "r1/Await", Updated: at(4)},
			{Topic: "refunds", Event: "paid", ID: "m1", Payload: json.RawMessage(`{"correlation_id":"b"}`), Received: at(1),
				State: MessagePending, Updated: at(6)},
			{Topic: "payments", Event: "failed", ID: "m1", Payload: json.RawMessage(`{"n":3}`), Received: at(2),
				State: MessageDead, Reason: "does not decode", Updated: at(7)},
			{Topic: "accounts", Event: "signup", ID: "poison", Payload: json.RawMessage(`"not an object"`), Received: at(9),
				State: MessageDead, Reason: "not a state", Updated: at(9)},
		}
		check := func(s inboxStore) {
			t.Helper()
			got, err := s.Messages(MessageFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("Messages (-want +got):\n%s", diff)
			}
			for _, c := range []struct {
				f    MessageFilter
				want []string
			}{
				{MessageFilter{Topic: "payments"}, []string{"payments/paid/m1", "payments/failed/m1"}},
				{MessageFilter{Event: "paid"}, []string{"payments/paid/m1", "refunds/paid/m1"}},
				{MessageFilter{State: MessageDead}, []string{"payments/failed/m1", "accounts/signup/poison"}},
				{MessageFilter{Topic: "payments", State: MessagePending}, nil},
			} {
				ms, _ := s.Messages(c.f)
				var keys []string
				for _, m := range ms {
					keys = append(keys, m.Key().String())
				}
				if diff := cmp.Diff(c.want, keys); diff != "" {
					t.Errorf("Messages(%+v) (-want +got):\n%s", c.f, diff)
				}
			}
			if m, ok, err := s.GetMessage(b.Key()); !ok || err != nil || string(m.Payload) != string(b.Payload) {
				t.Fatalf("GetMessage: %+v %v %v", m, ok, err)
			}
			if _, ok, _ := s.GetMessage(d.Key()); ok {
				t.Fatal("an expired message is still there")
			}
		}
		check(s)
		s = reopen() // the state survives
		check(s)
		// After a reopen the transitions go on, and an expired key is new.
		is(s.ClaimMessage(ctx, b.Key(), "r5/Await", at(11)), nil)
		if got := put(d, true); got.State != MessagePending {
			t.Fatalf("expired message put again: %+v", got)
		}
		s = reopen()
		if m, _, _ := s.GetMessage(b.Key()); m.ClaimedBy != "r5/Await" {
			t.Fatalf("after reopen: %+v", m)
		}
		if m, ok, _ := s.GetMessage(d.Key()); !ok || m.State != MessagePending {
			t.Fatalf("after reopen: %+v", m)
		}
	})
}

// Each transition of a message happens once, whoever races for it.
func TestInboxRaces(t *testing.T) {
	bothStores(t, func(t *testing.T, s inboxStore, _ func() inboxStore) {
		ctx := context.Background()
		const n = 16
		for round := range 5 {
			m := msg("t", "e", fmt.Sprint("m", round), `{}`, t0)
			var added, claimed atomic.Int32
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, ok, err := s.PutMessage(ctx, m)
					if err != nil {
						t.Error(err)
					}
					if ok {
						added.Add(1)
					}
					switch err := s.ClaimMessage(ctx, m.Key(), fmt.Sprint("run", i, "/A"), t0); {
					case err == nil:
						claimed.Add(1)
					case !errors.Is(err, ErrMessageState):
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if added.Load() != 1 || claimed.Load() != 1 {
				t.Fatalf("round %d: %d puts recorded, %d claims won; want 1 and 1", round, added.Load(), claimed.Load())
			}
		}
	})
}

// A log cut at every offset of its last records, inbox records among
// them, opens with the inbox as the whole records before the cut left it;
// and a record of an unknown kind is reported, not skipped.
func TestInboxTornTail(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	s := openStore(t, base)
	var states []string // the inbox after each record
	snap := func() {
		ms, err := s.Messages(MessageFilter{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(ms)
		states = append(states, string(b))
	}
	snap()
	emitAll(t, s, history("a", "F", doneRun...))
	for range doneRun {
		snap()
	}
	m := msg("t", "e", "m1", `{"correlation_id":"x"}`, t0)
	steps := []func() error{
		func() error { _, _, err := s.PutMessage(ctx, m); return err },
		func() error { return s.ClaimMessage(ctx, m.Key(), "a/A", t0) },
		func() error { return s.ReleaseMessage(ctx, m.Key(), "a/A", t0) },
		func() error { return s.DeadLetter(ctx, msg("t", "e", "m2", `[]`, t0), "poison", t0) },
		func() error { return s.ExpireMessage(ctx, m.Key(), MessagePending, t0) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
		snap()
	}
	s.Close()
	full, ends := segmentAndEnds(t, base)
	n := len(ends)
	for cut := ends[n-len(steps)-1]; cut <= ends[n-1]; cut++ {
		s, dir, whole := openCut(t, full, ends, cut)
		ms, _ := s.Messages(MessageFilter{})
		b, _ := json.Marshal(ms)
		if string(b) != states[whole] {
			t.Fatalf("cut at %d (%d whole records): inbox %s, want %s", cut, whole, b, states[whole])
		}
		// Appends after the cut survive a reopen.
		if _, _, err := s.PutMessage(ctx, msg("t", "e", "after", `1`, t0)); err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		s.Close()
		s = openStore(t, dir)
		if _, ok, _ := s.GetMessage(MessageKey{"t", "e", "after"}); !ok {
			t.Fatalf("cut at %d: the message put after the cut is lost", cut)
		}
		s.Close()
	}

	// A record of a kind this code does not know: corrupt, named.
	dir := t.TempDir()
	l, err := wal.Open(dir, wal.Options{}, func(wal.Pos, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append([]byte{9, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	_, err = Open(dir, Options{})
	var ce *CorruptError
	if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "unknown record kind 9") {
		t.Fatalf("open with a record of kind 9: %v", err)
	}
}

// MessagePage with NoPayload reads no payload, and its page is cut by its
// limit alone: `flowgen inbox`'s table pages so, showing none. It read
// every payload of the page all the same, and cut the page by their bytes.
func TestMessagePageNoPayload(t *testing.T) {
	type pager interface {
		inboxStore
		MessagePage(f MessageFilter, maxBytes int) ([]Message, bool, error)
	}
	bothStores(t, func(t *testing.T, s pager, reopen func() pager) {
		ctx := context.Background()
		big := `"` + strings.Repeat("x", 100) + `"`
		for i := range 5 {
			if _, _, err := s.PutMessage(ctx, msg("payments", "paid", fmt.Sprintf("m-%d", i), big, t0)); err != nil {
				t.Fatal(err)
			}
		}
		s = reopen()
		for _, tc := range []struct {
			f         MessageFilter
			want      string
			more      bool
			withBytes bool
		}{
			{MessageFilter{Limit: 3, NoPayload: true}, "m-0 m-1 m-2", true, false},
			{MessageFilter{Limit: 5, NoPayload: true}, "m-0 m-1 m-2 m-3 m-4", false, false},
			{MessageFilter{Limit: 3, NoPayload: true, After: MessageKey{"payments", "paid", "m-2"}}, "m-3 m-4", false, false},
			{MessageFilter{Limit: 5}, "m-0", true, true}, // the bytes cut it past the first
		} {
			ms, more, err := s.MessagePage(tc.f, 150)
			var ids []string
			for _, m := range ms {
				ids = append(ids, m.ID)
				if (m.Payload != nil) != tc.withBytes {
					t.Errorf("MessagePage(%+v): %s's payload %q", tc.f, m.ID, m.Payload)
				}
			}
			if got := strings.Join(ids, " "); err != nil || got != tc.want || more != tc.more {
				t.Errorf("MessagePage(%+v): %q %v %v, want %q %v", tc.f, got, more, err, tc.want, tc.more)
			}
		}
	})
}
