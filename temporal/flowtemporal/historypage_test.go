package flowtemporal

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"

	"go.temporal.io/api/serviceerror"

	"github.com/flowgen/flowgen/runtime"
)

// The page query answers the events after a seq, at most so many, and
// says whether more follow: store.Page's rule, on the run's history.
func TestHistoryPageQuery(t *testing.T) {
	var released atomic.Int32
	f, err := New(loopDef(t, &released, runtime.WithMaxHistory(20)))
	must(t, err)
	env := newEnv(t)
	f.Register(env)
	env.ExecuteWorkflow(WorkflowName("Loop"), looping{})
	wantEnd(t, env, runtime.StateCompensated)
	whole := status(t, env).History
	var seqs []uint64
	for q := (HistoryPageQuery{Limit: 7, States: true}); ; {
		v, err := env.QueryWorkflow(QueryHistoryPage, q)
		must(t, err)
		var p HistoryPage
		must(t, v.Get(&p))
		if len(p.Events) > 7 || len(p.Events) == 0 {
			t.Fatalf("a page of %d events after %d, want 1 to 7", len(p.Events), q.After)
		}
		for _, e := range p.Events {
			seqs = append(seqs, e.Seq)
			if len(e.State) == 0 {
				t.Fatalf("event %d without its state", e.Seq)
			}
		}
		if !p.More {
			break
		}
		q.After = p.Events[len(p.Events)-1].Seq
	}
	var want []uint64
	for _, e := range whole {
		want = append(want, e.Seq)
	}
	if !slices.Equal(seqs, want) {
		t.Fatalf("the pages held %v, want %v", seqs, want)
	}
	v, err := env.QueryWorkflow(QueryHistoryPage, HistoryPageQuery{After: 3, Limit: 2})
	must(t, err)
	var p HistoryPage
	must(t, v.Get(&p))
	if len(p.Events) != 2 || p.Events[0].Seq != 4 || p.Events[0].State != nil || !p.More {
		t.Fatalf("the page of 2 after 3 without states: %+v", p)
	}
}

// A worker of older code answers the page query as a query its workflow
// does not know, which sends the reader to the whole history.
func TestUnknownQuery(t *testing.T) {
	old := serviceerror.NewQueryFailed("unknown queryType flowgen.history.page. KnownQueryTypes=[flowgen.history flowgen.status]")
	if !unknownQuery(old) || unknownQuery(errors.New("context deadline exceeded")) || unknownQuery(nil) {
		t.Fatal("unknownQuery does not tell an older worker's answer")
	}
}
