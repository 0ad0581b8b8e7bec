package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime/store"
)

// flowgen inbox reads and prints its table a page at a time, as it does
// its -json lines (engine.MaxListLimit messages a page): every message
// once, in order, across the pages, and the table's columns aligned a page
// at a time, so that a long ID on the second page does not widen the
// first's, which was printed before it was read. It read every message of
// the inbox before printing the table.
func TestInboxVerbPages(t *testing.T) {
	n := engine.MaxListLimit + 2
	long := "long-" + strings.Repeat("x", 60)
	dir, st := newStore(t)
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	var ms []store.Message
	var want []string
	for i := range n {
		id := fmt.Sprintf("m-%04d", i)
		if i == n-1 {
			id = long
		}
		ms = append(ms, store.Message{Topic: "t", Event: "e", ID: id, Payload: json.RawMessage(`{}`), Received: t0})
		want = append(want, id)
	}
	if _, _, err := st.PutMessages(context.Background(), ms); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	tableAndJSON(t, func(args []string, asJSON bool, out string) {
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		var got []string
		for i, line := range lines {
			switch {
			case asJSON:
				var m struct{ ID string }
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("line %d: %v: %s", i+1, err, line)
				}
				got = append(got, m.ID)
			case i > 0: // the header first
				got = append(got, strings.Fields(line)[2])
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%v: %d messages listed, want the inbox's %d in order", args, len(got), n)
		}
		// The header and the first page align on the first page's IDs.
		if !asJSON && strings.Index(lines[0], "STATE") > strings.Index(lines[1], "m-0000")+len("m-0000  ") {
			t.Errorf("%v: the first page's columns are aligned on a later page's ID:\n%s\n%s", args, lines[0], lines[1])
		}
	}, "inbox", "-store", dir)
}

// messageIDs are the ID column of an inbox table, or the id of each line
// of inbox -json.
func messageIDs(t *testing.T, out string, asJSON bool) []string {
	return listedIDs(t, out, asJSON, 2, "id")
}

// flowgen inbox -limit N prints one page and on stderr the -cursor of the
// next, the very cursor GET /deadletters answers, so that each continues
// the other's pages; -order newest the latest first: as flowgen runs
// pages. It had neither, and printed the whole inbox.
func TestInboxVerbLimitCursor(t *testing.T) {
	dir, st := newStore(t)
	defer st.Close()
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	key := func(i int) store.MessageKey {
		return store.MessageKey{Topic: "t", Event: "e", ID: fmt.Sprintf("m-%d", i)}
	}
	for i := 1; i <= 5; i++ {
		m := store.Message{Topic: "t", Event: "e", ID: key(i).ID, Payload: json.RawMessage(`{}`), Received: t0}
		if err := st.DeadLetter(context.Background(), m, "poison", t0); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"inbox", "-store", dir, "-state", "dead"}
	checkVerbPages(t, st, pagingVerb{
		args: args, ids: messageIDs,
		id:     func(i int) string { return key(i).ID },
		cursor: func(i int) string { return engine.MessageCursor(key(i)) },
		route:  "/deadletters", items: "dead_letters", idKey: "id",
	})
	verbErrors(t, args, []verbError{
		{[]string{"-cursor", "m-2"}, 2, "is not one that GET /deadletters answered"},
		{[]string{"-cursor", engine.RunsCursor("m-2")}, 2, "is not one that GET /deadletters answered"},
		{[]string{"-cursor", engine.MessageCursor(key(9))}, 1, "which the inbox no longer keeps: list again from the start"},
	})
}
