package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// deadLetterIDs are the IDs of the dead letters st keeps, in the order
// they arrived, and the number of messages it keeps in all.
func deadLetterIDs(t *testing.T, st InboxStore) (dead []string, all int) {
	t.Helper()
	for _, m := range inboxOf(t, st, store.MessageFilter{NoPayload: true}) {
		if m.State == store.MessageDead {
			dead = append(dead, m.ID)
		}
		all++
	}
	return dead, all
}

// inboxEntries is what the inbox's index holds: its messages, its dead
// letters and its expiries.
func inboxEntries(in *inbox) (msgs, dead, expiries int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.msgs), in.nDead, len(in.expiry)
}

// A publisher flooding an awaited topic with payloads that cannot be
// applied makes at most Options.MaxDeadLetters dead letters in the inbox's
// index and the store's: beyond, the oldest are dropped (their expiry
// recorded) before DeadLetterRetention ends, with one log line an interval
// saying how many. Before, each was kept, in both indexes, for a week,
// uncounted by -inbox-bytes: the memory grew with the flood. A pending
// event is not dropped for them, and the newest dead letters are listed.
// At start, a store holding more (a bound lowered since) keeps the newest.
// On both stores.
func TestDeadLettersBounded(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testDeadLettersBounded(t, store.NewMemory()) })
	t.Run("durable", func(t *testing.T) {
		st, err := store.Open(t.TempDir(), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		testDeadLettersBounded(t, st)
	})
}

func testDeadLettersBounded(t *testing.T, st interface {
	Store
	InboxStore
}) {
	const max, flood = 5, 200
	clock := runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var logs lockedBuffer
	opts := Options{Store: st, Clock: clock, MaxDeadLetters: max, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	e := startJSONEngine(t, opts, payFlow)
	ctx := context.Background()
	good := Message{Topic: "payments", Event: "order.paid", ID: "good", Payload: json.RawMessage(`{"OrderID": "o-1"}`)}
	if err := e.in.receiveAll(ctx, []Message{good}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < flood; i += InboxBatch {
		var batch []Message
		for j := i; j < min(i+InboxBatch, flood); j++ {
			ids = append(ids, fmt.Sprintf("bad-%03d", j))
			batch = append(batch, Message{Topic: "payments", Event: "order.paid", ID: ids[j], Payload: json.RawMessage(`not json`)})
		}
		if err := e.in.receiveAll(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if msgs, dead, expiries := inboxEntries(e.in); msgs != max+1 || dead != max || expiries != max+1 {
		t.Errorf("after %d dead letters the inbox's index holds %d messages, %d dead letters, %d expiries; want %d, %d, %d",
			flood, msgs, dead, expiries, max+1, max, max+1)
	}
	dead, all := deadLetterIDs(t, st)
	if want := ids[flood-max:]; !slices.Equal(dead, want) || all != max+1 {
		t.Errorf("the store keeps %d messages, dead letters %v; want %d, the newest %v", all, dead, max+1, want)
	}
	if m, ok, err := st.GetMessage(good.key()); err != nil || !ok || m.State != store.MessagePending {
		t.Errorf("the pending event: %+v %v %v, want it kept pending", m, ok, err)
	}
	dls, err := e.DeadLetters("", "")
	if err != nil || len(dls) != max || dls[0].ID != ids[flood-max] {
		t.Errorf("DeadLetters: %d (%v), want the newest %d", len(dls), err, max)
	}
	if n := strings.Count(logs.String(), "oldest dead letters dropped"); n != 1 {
		t.Errorf("%d log lines of dropped dead letters in one interval, want 1:\n%s", n, logs.String())
	}
	// The next interval's line counts the drops the first did not.
	clock.Advance(DeadLetterDropLogInterval)
	if err := e.in.receiveAll(ctx, []Message{{Topic: "payments", Event: "order.paid", ID: "bad-last", Payload: json.RawMessage(`not json`)}}); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("dropped=%d", flood-max); !strings.Contains(logs.String(), want) {
		t.Errorf("the log does not count the drops since its last line (%s):\n%s", want, logs.String())
	}
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// A bound lowered since: at start, the newest dead letters are kept.
	opts.MaxDeadLetters = 2
	e = startJSONEngine(t, opts, payFlow)
	defer e.Close(ctx)
	if msgs, dead, _ := inboxEntries(e.in); msgs != 3 || dead != 2 {
		t.Errorf("started with 2 as the bound, the inbox's index holds %d messages, %d dead letters; want 3, 2", msgs, dead)
	}
	if dead, _ := deadLetterIDs(t, st); !slices.Equal(dead, []string{ids[flood-1], "bad-last"}) {
		t.Errorf("started with 2 as the bound, the store keeps the dead letters %v, want the newest 2", dead)
	}
}
