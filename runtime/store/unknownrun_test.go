package store

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// A flow's History, Status and State of a run its sink does not hold say
// it is unknown, naming the run once; of another flow's run, whose flow it
// is. Before, History of an unknown run said it was `a run of flow ""`,
// and on the store the run was named twice.
func TestUnknownRunNamedOnce(t *testing.T) {
	st, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for name, sink := range map[string]runtime.Sink{"store": st, "memory": runtime.NewMemorySink()} {
		flow := func(id string) *runtime.Flow[order] {
			f := runtime.New[order](id, runtime.WithSink(sink))
			if err := f.Register(runtime.NewStep("S", func(context.Context, *order) (runtime.Outcome, error) { return "", nil })); err != nil {
				t.Fatal(err)
			}
			return f
		}
		a, b := flow("A"), flow("B")
		if res, err := a.Execute(context.Background(), order{}, runtime.WithRunID("r1")); err != nil || res.Final != runtime.StateDone {
			t.Fatalf("%s: run r1: %s %v", name, res.Final, err)
		}
		ctx := context.Background()
		check := func(what string, err error, want string) {
			t.Helper()
			if !errors.Is(err, runtime.ErrUnknownRun) || !strings.Contains(err.Error(), want) || strings.Count(err.Error(), `"`+strings.Split(want, `"`)[1]+`"`) != 1 {
				t.Errorf("%s: %s: %v; want ErrUnknownRun with %s, the run named once", name, what, err, want)
			}
		}
		_, err := b.History(ctx, "nope")
		check("History of an unknown run", err, `unknown run: "nope"`)
		_, err = b.Status(ctx, "nope")
		check("Status of an unknown run", err, `unknown run: "nope"`)
		_, err = b.State(ctx, "nope")
		check("State of an unknown run", err, `unknown run: "nope"`)
		_, err = b.History(ctx, "r1")
		check("History of A's run", err, `"r1" is a run of flow "A", not "B"`)
		_, err = b.Status(ctx, "r1")
		check("Status of A's run", err, `"r1" is a run of flow "A", not "B"`)
		_, err = b.State(ctx, "r1")
		check("State of A's run", err, `"r1" is a run of flow "A", not "B"`)
	}
}
