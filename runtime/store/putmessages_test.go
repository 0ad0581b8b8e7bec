package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// PutMessages records a batch in its order (the order of receipt that
// Messages lists, after a reopen too), records a message twice in the batch
// once, and gives back a message recorded before as it is; batches from
// several goroutines interleave with single puts and claims without losing
// or reordering any of their messages.
func TestPutMessages(t *testing.T) {
	bothStores(t, func(t *testing.T, s inboxStore, reopen func() inboxStore) {
		ctx := context.Background()
		at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
		old := msg("t", "e", "old", `{"n":0}`, at(0))
		if _, _, err := s.PutMessage(ctx, old); err != nil {
			t.Fatal(err)
		}
		if err := s.ClaimMessage(ctx, old.Key(), "r/A", at(1)); err != nil {
			t.Fatal(err)
		}
		again := old
		again.Payload = []byte(`{"n":"other"}`)
		batch := []Message{
			msg("t", "e", "b3", `{"n":3}`, at(2)),
			again,
			msg("t", "e", "b1", `{"n":1}`, at(2)),
			msg("t", "e", "b3", `{"n":"dup"}`, at(2)),
			msg("t", "e", "b2", `{"n":2}`, at(2)),
		}
		got, fresh, err := s.PutMessages(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		wantFresh := []bool{true, false, true, false, true}
		for i := range batch {
			if fresh[i] != wantFresh[i] {
				t.Errorf("message %d (%s): new %v, want %v", i, batch[i].ID, fresh[i], wantFresh[i])
			}
		}
		if got[1].State != MessageClaimed || string(got[1].Payload) != `{"n":0}` {
			t.Errorf("a message recorded before came back as %+v", got[1])
		}
		if string(got[3].Payload) != `{"n":3}` || got[3].State != MessagePending {
			t.Errorf("the batch's second b3 came back as %+v, want the first", got[3])
		}
		for pass := range 2 {
			if pass == 1 {
				s = reopen()
			}
			ms, err := s.Messages(MessageFilter{})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, m := range ms {
				ids = append(ids, m.ID+"="+string(m.Payload))
			}
			if want := `[old={"n":0} b3={"n":3} b1={"n":1} b2={"n":2}]`; fmt.Sprint(ids) != want {
				t.Fatalf("inbox %v, want %s", ids, want)
			}
		}
	})
}

func TestPutMessagesConcurrent(t *testing.T) {
	bothStores(t, func(t *testing.T, s inboxStore, reopen func() inboxStore) {
		ctx := context.Background()
		const writers, batches, size = 4, 10, 9
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(2)
			go func() {
				defer wg.Done()
				for b := range batches {
					ms := make([]Message, size)
					for i := range ms {
						ms[i] = msg("t", fmt.Sprint("w", w), fmt.Sprintf("%02d-%02d", b, i), `{}`, t0)
					}
					if _, _, err := s.PutMessages(ctx, ms); err != nil {
						t.Error(err)
						return
					}
				}
			}()
			go func() { // single puts and claims of other messages meanwhile
				defer wg.Done()
				for i := range batches * 2 {
					m := msg("t", "single", fmt.Sprint(w, "-", i), `{}`, t0)
					if _, _, err := s.PutMessage(ctx, m); err != nil {
						t.Error(err)
					}
					if err := s.ClaimMessage(ctx, m.Key(), "k", t0); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		s = reopen()
		for w := range writers {
			ms, err := s.Messages(MessageFilter{Topic: "t", Event: fmt.Sprint("w", w)})
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) != batches*size {
				t.Fatalf("writer %d: %d messages, want %d", w, len(ms), batches*size)
			}
			for i, m := range ms {
				if want := fmt.Sprintf("%02d-%02d", i/size, i%size); m.ID != want {
					t.Fatalf("writer %d: message %d is %s, want %s", w, i, m.ID, want)
				}
			}
		}
	})
}
