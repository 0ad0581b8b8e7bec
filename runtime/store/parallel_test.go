package store

import (
	"context"
	"reflect"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

type parState struct {
	A string `json:"a,omitempty"`
	B string `json:"b,omitempty"`
}

// A run with a parallel block in the durable store: its branch events keep
// their Branch across a reopen (kind 4 records), the list shows the run's
// machine, not a branch's, and the reopened history still fits the flow.
func TestParallelRunReopen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	flow := func(sink runtime.Sink) *runtime.Flow[parState] {
		f := runtime.New[parState]("par", runtime.WithSink(sink))
		if err := f.Register(runtime.NewParallel("P", []*runtime.Step[parState]{
			runtime.NewStep("A", func(_ context.Context, s *parState) (runtime.Outcome, error) { s.A = "a"; return "", nil },
				runtime.WithWrites(func(dst, src *parState) { dst.A = src.A })),
			runtime.NewStep("B", func(_ context.Context, s *parState) (runtime.Outcome, error) { s.B = "b"; return "", nil },
				runtime.WithWrites(func(dst, src *parState) { dst.B = src.B })),
		})); err != nil {
			t.Fatal(err)
		}
		return f
	}
	f := flow(s)
	if _, err := f.Execute(context.Background(), parState{}, runtime.WithRunID("r")); err != nil {
		t.Fatal(err)
	}
	before, err := s.LoadHistory(context.Background(), "r")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	defer s.Close()
	after, err := s.LoadHistory(context.Background(), "r")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("history changed across a reopen:\n%+v\n%+v", before, after)
	}
	branches := 0
	for _, e := range after {
		if e.Branch != "" {
			branches++
		}
	}
	if branches != 4 {
		t.Fatalf("%d branch events after reopen, want 4", branches)
	}
	if err := flow(s).CheckHistory(after); err != nil {
		t.Fatal(err)
	}
	infos, err := s.List(Filter{})
	if err != nil || len(infos) != 1 || infos[0].Machine != "done" || infos[0].State != runtime.StateDone {
		t.Fatalf("list %+v %v", infos, err)
	}
}
