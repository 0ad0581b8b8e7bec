package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// TestCompactKeepsChildOfUnfinishedParent: a call's child run that is over
// and older than the retention stays while its parent is not over. The
// store is left as a crash leaves it between the child's end and the
// parent's wake-up (or as it stays while the parent's flow is not
// registered): the child done, the parent still waiting on it. Removed, the
// child would be unknown when the parent resumes, and the parent would
// start it again under the same ID: its steps, effects included, would run
// a second time.
func TestCompactKeepsChildOfUnfinishedParent(t *testing.T) {
	for _, shape := range []string{"call", "rollback"} {
		t.Run(shape, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			childID := "p@Run"
			if shape == "rollback" {
				childID = "p@Prepare:rollback"
			}
			ledger := func(dir string) *effectLedger {
				f, err := os.OpenFile(filepath.Join(dir, "ledger"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { f.Close() })
				return &effectLedger{f: f}
			}

			// The whole run, to take its histories from.
			whole := t.TempDir()
			st, err := Open(whole, Options{CompactEvery: -1})
			if err != nil {
				t.Fatal(err)
			}
			parent, _, err := callFlows(st, ledger(whole), shape, false)
			if err != nil {
				t.Fatal(err)
			}
			r, err := parent.Start(ctx, callParent{N: 7}, runtime.WithRunID("p"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Wait(ctx); err != nil && shape == "call" {
				t.Fatal(err)
			}
			hp, err := st.Load("p")
			if err != nil {
				t.Fatal(err)
			}
			hc, err := st.Load(childID)
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			cut := len(hp)
			for i, e := range hp {
				if e.Child != nil { // the parent's wake-up: the child ended
					cut = i
					break
				}
			}
			if cut == len(hp) {
				t.Fatalf("no event of the parent's names its child: %+v", hp)
			}

			// The child over, the parent waiting on it; both long ago.
			dir := t.TempDir()
			st, err = Open(dir, Options{CompactEvery: -1, Retain: time.Hour, Now: func() time.Time { return time.Now().Add(48 * time.Hour) }})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			emitAll(t, st, hc)
			emitAll(t, st, hp[:cut])
			stats, err := st.CompactAll(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if stats.RunsRemoved != 0 {
				t.Errorf("compaction removed %d runs, want none: the child's parent is not over", stats.RunsRemoved)
			}
			if _, err := st.Load(childID); err != nil {
				t.Errorf("child run after the compaction: %v", err)
			}

			parent, _, err = callFlows(st, ledger(dir), shape, false)
			if err != nil {
				t.Fatal(err)
			}
			runs, err := parent.ResumeAll(ctx, st)
			if err != nil || len(runs) != 1 {
				t.Fatalf("resumed %d runs: %v", len(runs), err)
			}
			res, err := runs[0].Wait(ctx)
			if want := map[string]runtime.RunState{"call": runtime.StateDone, "rollback": runtime.StateCompensated}[shape]; res.Final != want {
				t.Fatalf("parent ends %s (%v), want %s", res.Final, err, want)
			}
			if ran := ledgerLines(t, dir); len(ran) != 0 {
				t.Errorf("the child's step ran again after the compaction: %v", ran)
			}
		})
	}
}
