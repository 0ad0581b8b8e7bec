package store

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Reading an inbox a page at a time, oldest or newest first, looks at each
// message about once over all the pages (what one read of the whole looks
// at), with messages expired at its start and in its middle, and lists
// them all once, in order, before and after a reopen. Each page looked at
// the whole inbox: 534 messages read 10 at a time looked at 28,836.
func TestMessagePagesLookOnce(t *testing.T) {
	type pager interface {
		inboxStore
		MessagePage(f MessageFilter, maxBytes int) ([]Message, bool, error)
	}
	looked := func(s pager) uint64 {
		switch s := s.(type) {
		case *Store:
			return s.inbox.looked.Load()
		case *Memory:
			return s.inbox.looked.Load()
		}
		panic(fmt.Sprintf("%T", s))
	}
	bothStores(t, func(t *testing.T, s pager, reopen func() pager) {
		ctx := context.Background()
		const n = 1200
		var kept []string
		batch := make([]Message, n)
		for i := range batch {
			batch[i] = msg("payments", "paid", fmt.Sprintf("m-%04d", i), `{}`, t0)
		}
		if _, _, err := s.PutMessages(ctx, batch); err != nil {
			t.Fatal(err)
		}
		for i, m := range batch {
			// The oldest 400 expire (retention's order), and one in 3
			// of the others (claimed ones, dead letters): more than half,
			// so that the index sweeps its holes on the way.
			if i < 400 || i%3 == 0 {
				if err := s.ExpireMessage(ctx, m.Key(), "", t0); err != nil {
					t.Fatal(err)
				}
				continue
			}
			kept = append(kept, m.ID)
		}
		for _, tc := range []struct {
			newest, reopen bool
		}{{false, false}, {true, false}, {false, true}, {true, true}} {
			if tc.reopen {
				s = reopen()
			}
			newest := tc.newest
			t.Run(fmt.Sprintf("newest=%v,reopened=%v", newest, tc.reopen), func(t *testing.T) {
				want := slices.Clone(kept)
				if newest {
					slices.Reverse(want)
				}
				before := looked(s)
				var got []string
				f := MessageFilter{Limit: 10, Newest: newest, NoPayload: true}
				for {
					ms, more, err := s.MessagePage(f, 1<<20)
					if err != nil {
						t.Fatal(err)
					}
					for _, m := range ms {
						got = append(got, m.ID)
					}
					if !more {
						break
					}
					f.After = ms[len(ms)-1].Key()
				}
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("pages (-want +got):\n%s", d)
				}
				// Each page looks at one more than it lists, to tell
				// whether more follow, and past the holes.
				l := looked(s) - before
				t.Logf("%d messages read 10 at a time looked at %d entries", len(kept), l)
				if l > 2*n {
					t.Errorf("reading %d messages 10 at a time looked at %d entries, want at most %d", len(kept), l, 2*n)
				}
			})
		}
	})
}
