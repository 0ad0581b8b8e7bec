package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Runs started by concurrent writers are listed in the order of their
// first events in the log, the order a restart rebuilds, so that a page of
// List (a cursor of GET /runs) means the same before and after a restart.
// The writers of one group commit wake from it in any order: indexed as
// they woke, the runs were listed in that order until the restart, and a
// client paging across it could be shown a run twice or miss one.
func TestListOrderSurvivesRestart(t *testing.T) {
	sameOrderAfterRestart(t, func(s *Store, id string) error {
		return s.Emit(context.Background(), history(id, "F", "A:running")[0])
	}, func(s *Store) ([]string, error) {
		runs, err := s.List(Filter{})
		var ids []string
		for _, r := range runs {
			ids = append(ids, r.RunID)
		}
		return ids, err
	})
}

// The inbox lists the messages concurrent writers put in the same way: a
// cursor of GET /deadletters names the same place before and after a
// restart.
func TestMessagesOrderSurvivesRestart(t *testing.T) {
	sameOrderAfterRestart(t, func(s *Store, id string) error {
		return s.DeadLetter(context.Background(), msg("t", "e", id, `{}`, t0), "test", t0)
	}, func(s *Store) ([]string, error) {
		ms, err := s.Messages(MessageFilter{State: MessageDead})
		var ids []string
		for _, m := range ms {
			ids = append(ids, m.ID)
		}
		return ids, err
	})
}

// sameOrderAfterRestart writes items from concurrent writers, with group
// commits that wait for more writers, and checks that list gives them in
// the same order before and after a reopen.
func sameOrderAfterRestart(t *testing.T, write func(s *Store, id string) error, list func(*Store) ([]string, error)) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, Options{MaxWait: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 32, 8
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := write(s, fmt.Sprintf("w%02d-%d", w, i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	before, err := list(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	after, err := list(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != writers*each || len(after) != len(before) {
		t.Fatalf("%d items listed before the restart, %d after; want %d", len(before), len(after), writers*each)
	}
	for i := range before {
		if before[i] != after[i] {
			t.Fatalf("the order changed at the restart: item %d was %s, is %s", i, before[i], after[i])
		}
	}
}
