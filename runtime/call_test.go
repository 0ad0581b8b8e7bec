package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// The parent and child states of the call tests: the parent passes Req to
// the child and receives its final state in Res.
type billing struct {
	Amount int      `json:"amount"`
	Charge string   `json:"charge,omitempty"`
	Log    []string `json:"log,omitempty"`
}

type parentState struct {
	Req  billing  `json:"req"`
	Res  billing  `json:"res"`
	Undo billing  `json:"undo"`
	Log  []string `json:"log,omitempty"`
}

// callFlows builds a child flow Billing (Charge, then Check, which fails
// for an amount over 100, with Charge's rollback recorded) and a parent
// Order (Reserve with a rollback, then Bill calling Billing, then Ship
// unless fail, then failing when shipFails).
type callFlows struct {
	rec    *recorder
	sink   *runtime.MemorySink
	child  *runtime.Flow[billing]
	parent *runtime.Flow[parentState]
	block  chan struct{} // when set, Check waits for it to close
}

func newCallFlows(t *testing.T, sink *runtime.MemorySink, rec *recorder, block chan struct{}, shipFails bool, extra ...runtime.StepOption[parentState]) *callFlows {
	t.Helper()
	c := &callFlows{rec: rec, sink: sink, block: block}
	c.child = runtime.New[billing]("Billing", runtime.WithSink(sink))
	if err := c.child.Register(
		runtime.NewStep("Charge", func(ctx context.Context, s *billing) (runtime.Outcome, error) {
			rec.add("exec Charge", ctx)
			s.Charge = fmt.Sprintf("ch-%d", s.Amount)
			return "", nil
		}, runtime.WithRollback(func(ctx context.Context, s *billing) error {
			rec.add("undo Charge", ctx)
			return nil
		})),
		runtime.NewStep("Check", func(ctx context.Context, s *billing) (runtime.Outcome, error) {
			rec.add("exec Check", ctx)
			if c.block != nil {
				select {
				case <-c.block:
				case <-ctx.Done():
					return "", context.Cause(ctx)
				}
			}
			if s.Amount > 100 {
				return "", runtime.Permanent(errors.New("amount over the limit"))
			}
			s.Log = append(s.Log, "checked")
			return "", nil
		}, runtime.WithIrreversible[billing]()),
	); err != nil {
		t.Fatal(err)
	}
	c.parent = runtime.New[parentState]("Order", runtime.WithSink(sink))
	steps := []*runtime.Step[parentState]{
		runtime.NewStep("Reserve", func(ctx context.Context, s *parentState) (runtime.Outcome, error) {
			rec.add("exec Reserve", ctx)
			return "", nil
		}, runtime.WithRollback(func(ctx context.Context, s *parentState) error {
			rec.add("undo Reserve", ctx)
			return nil
		})),
		runtime.NewCall("Bill", c.child,
			func(s *parentState) billing { return s.Req },
			func(s *parentState) *billing { return &s.Res }, extra...),
		runtime.NewStep("Ship", func(ctx context.Context, s *parentState) (runtime.Outcome, error) {
			rec.add("exec Ship", ctx)
			if shipFails {
				return "", runtime.Permanent(errors.New("no parcel service"))
			}
			return "", nil
		}, runtime.WithIrreversible[parentState]()),
	}
	if err := c.parent.Register(steps...); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCallChildDone(t *testing.T) {
	sink := runtime.NewMemorySink()
	c := newCallFlows(t, sink, newRecorder(), nil, false)
	res, err := c.parent.Execute(context.Background(), parentState{Req: billing{Amount: 40}}, runtime.WithRunID("o-1"))
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if res.State.Res.Charge != "ch-40" || !slices.Equal(res.State.Res.Log, []string{"checked"}) {
		t.Fatalf("result field %+v, want the child's final state", res.State.Res)
	}
	child := runtime.ChildRunID(runtime.Key{RunID: "o-1", Step: "Bill", Visit: 1}, 1)
	if child != "o-1@Bill" {
		t.Fatalf("child ID %q", child)
	}
	if got := c.rec.key["exec Charge"]; !slices.Equal(got, []string{"o-1@Bill/Charge"}) {
		t.Fatalf("child's keys %v", got)
	}
	// Linked both ways: the parent's wait and wake-up events name the
	// child, the child's first event its parent; Status shows both.
	h := sink.History("o-1")
	if got, want := transitions(h), []string{
		"pending>Reserve:running", "Reserve:running>Bill:waiting", "Bill:waiting>Bill:running",
		"Bill:running>Ship:running", "Ship:running>done",
	}; !slices.Equal(got, want) {
		t.Fatalf("parent history %v, want %v", got, want)
	}
	ref := runtime.RunRef{Flow: "Billing", RunID: child}
	if w := h[1].Wait; w == nil || w.Child == nil || *w.Child != ref {
		t.Fatalf("wait %+v, want child %v", h[1].Wait, ref)
	}
	if h[2].Child == nil || *h[2].Child != ref || len(h[2].Payload) == 0 {
		t.Fatalf("wake-up event %+v: want the child and its final state", h[2])
	}
	st, err := c.parent.Status(context.Background(), "o-1")
	if err != nil || !slices.Equal(st.Children, []runtime.RunRef{ref}) {
		t.Fatalf("parent status children %v, %v", st.Children, err)
	}
	cst, err := c.child.Status(context.Background(), child)
	if err != nil || cst.State != runtime.StateDone || cst.Parent == nil || *cst.Parent != (runtime.RunRef{Flow: "Order", RunID: "o-1"}) {
		t.Fatalf("child status %+v, %v", cst, err)
	}
}

func TestCallChildFailureFailsTheStep(t *testing.T) {
	sink := runtime.NewMemorySink()
	c := newCallFlows(t, sink, newRecorder(), nil, false)
	res, err := c.parent.Execute(context.Background(), parentState{Req: billing{Amount: 500}}, runtime.WithRunID("o-2"))
	if res.Final != runtime.StateCompensated {
		t.Fatalf("final %s (%v), want compensated", res.Final, err)
	}
	var ce *runtime.ChildError
	if !errors.As(err, &ce) || ce.Final != runtime.StateCompensated || ce.Child.RunID != "o-2@Bill" || !strings.Contains(err.Error(), "amount over the limit") {
		t.Fatalf("error %v, want a ChildError of the compensated child naming its cause", err)
	}
	var se *runtime.StepError
	if !errors.As(err, &se) || se.Step != "Bill" {
		t.Fatalf("error %v, want the step Bill's", err)
	}
	// The child undid its own Charge; the parent undid Reserve; the call
	// itself has nothing to undo.
	if got, want := c.rec.all(), []string{"exec Reserve", "exec Charge", "exec Check", "undo Charge", "undo Reserve"}; !slices.Equal(got, want) {
		t.Fatalf("effects %v, want %v", got, want)
	}
	if got := transitions(sink.History("o-2"))[2]; got != "Bill:waiting>failing" {
		t.Fatalf("parent's third transition %s", got)
	}
}

// A completed call is undone by its rollback call: a child run of another
// flow, with the parent's state.
func TestRollbackCall(t *testing.T) {
	sink := runtime.NewMemorySink()
	rec := newRecorder()
	refund := runtime.New[billing]("Refund", runtime.WithSink(sink))
	if err := refund.Register(runtime.NewStep("Refund", func(ctx context.Context, s *billing) (runtime.Outcome, error) {
		rec.add("exec Refund "+s.Charge, ctx)
		return "", nil
	}, runtime.WithIrreversible[billing]())); err != nil {
		t.Fatal(err)
	}
	c := newCallFlows(t, sink, rec, nil, true,
		runtime.WithRollbackCall(refund, func(s *parentState) billing { return s.Res }))
	res, err := c.parent.Execute(context.Background(), parentState{Req: billing{Amount: 7}}, runtime.WithRunID("o-3"))
	if res.Final != runtime.StateCompensated {
		t.Fatalf("final %s (%v)", res.Final, err)
	}
	if got, want := rec.all(), []string{"exec Reserve", "exec Charge", "exec Check", "exec Ship", "exec Refund ch-7", "undo Reserve"}; !slices.Equal(got, want) {
		t.Fatalf("effects %v, want %v", got, want)
	}
	undo := "o-3@Bill:rollback"
	if got := rec.key["exec Refund ch-7"]; !slices.Equal(got, []string{undo + "/Refund"}) {
		t.Fatalf("refund key %v", got)
	}
	back := eventsTo(sink.History("o-3"), runtime.MachineFailing)
	if len(back) < 2 || back[1].Child == nil || back[1].Child.RunID != undo {
		t.Fatalf("rollback events %+v: want the refund child named", back)
	}
	st, _ := c.parent.Status(context.Background(), "o-3")
	if len(st.Children) != 2 || st.Children[1] != (runtime.RunRef{Flow: "Refund", RunID: undo}) {
		t.Fatalf("children %v", st.Children)
	}
	if cst, err := refund.Status(context.Background(), undo); err != nil || cst.State != runtime.StateDone || cst.Parent.RunID != "o-3" {
		t.Fatalf("refund run %+v, %v", cst, err)
	}
}

// A rollback call whose child fails fails the rollback: the parent ends
// compensation_failed, naming the child.
func TestRollbackCallChildFails(t *testing.T) {
	sink := runtime.NewMemorySink()
	refund := runtime.New[billing]("Refund", runtime.WithSink(sink))
	if err := refund.Register(runtime.NewStep("Refund", func(ctx context.Context, s *billing) (runtime.Outcome, error) {
		return "", runtime.Permanent(errors.New("refunds are closed"))
	}, runtime.WithIrreversible[billing]())); err != nil {
		t.Fatal(err)
	}
	c := newCallFlows(t, sink, newRecorder(), nil, true,
		runtime.WithRollbackCall(refund, func(s *parentState) billing { return s.Res }),
		runtime.WithRollbackRetry[parentState](runtime.RetryPolicy{Attempts: 2}))
	res, err := c.parent.Execute(context.Background(), parentState{Req: billing{Amount: 7}}, runtime.WithRunID("o-4"))
	if res.Final != runtime.StateCompensationFailed || !strings.Contains(fmt.Sprint(err), "refunds are closed") {
		t.Fatalf("final %s, %v", res.Final, err)
	}
	// Each attempt ran its own child, named by the event that started it.
	starts := eventsTo(sink.History("o-4"), "Bill:rollback")
	for i, id := range []string{"o-4@Bill:rollback", "o-4@Bill:rollback:2"} {
		if st, err := refund.Status(context.Background(), id); err != nil || st.State != runtime.StateFailed {
			t.Fatalf("refund run %s: %+v, %v", id, st, err)
		}
		if len(starts) != 2 || starts[i].Wait == nil || starts[i].Wait.Child.RunID != id {
			t.Fatalf("attempt %d started by %+v: want it to name %s", i+1, starts, id)
		}
	}
}

func TestAbortParentAbortsChild(t *testing.T) {
	sink := runtime.NewMemorySink()
	block := make(chan struct{})
	c := newCallFlows(t, sink, newRecorder(), block, false)
	r, err := c.parent.Start(context.Background(), parentState{Req: billing{Amount: 1}}, runtime.WithRunID("o-5"))
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return c.rec.count("exec Check") == 1 })
	if st := r.Status(); st.State != runtime.StateWaiting || st.Wait == nil || st.Wait.Child == nil {
		t.Fatalf("parent status %+v, want waiting for its child", st)
	}
	if err := r.Abort(); err != nil {
		t.Fatal(err)
	}
	res, _ := r.Wait(context.Background())
	if res.Final != runtime.StateAborted {
		t.Fatalf("parent final %s (%v)", res.Final, res.Err)
	}
	cst, err := c.child.Status(context.Background(), "o-5@Bill")
	if err != nil || cst.State != runtime.StateAborted {
		t.Fatalf("child %+v, %v: want aborted", cst, err)
	}
	// The child undid its Charge before the parent undid Reserve.
	if got, want := c.rec.all(), []string{"exec Reserve", "exec Charge", "exec Check", "undo Charge", "undo Reserve"}; !slices.Equal(got, want) {
		t.Fatalf("effects %v, want %v", got, want)
	}
}

// A crash while the child runs: both histories are left as they were, and
// new flow definitions resume them. The same child run goes on (its step
// in flight runs again with the same key), no second child starts, and the
// child's end wakes the resumed parent. Whichever of the two resumes first,
// the other finds it.
func TestCallResumeAfterCrash(t *testing.T) {
	for _, parentFirst := range []bool{true, false} {
		t.Run(fmt.Sprint("parentFirst=", parentFirst), func(t *testing.T) {
			sink := runtime.NewMemorySink()
			block := make(chan struct{})
			rec := newRecorder()
			c := newCallFlows(t, sink, rec, block, false)
			r, err := c.parent.Start(context.Background(), parentState{Req: billing{Amount: 9}}, runtime.WithRunID("o-6"))
			if err != nil {
				t.Fatal(err)
			}
			waitUntil(t, func() bool { return rec.count("exec Check") == 1 })
			// The crash: what the sink holds now is all that survives.
			after := runtime.NewMemorySink()
			for _, id := range sink.Runs() {
				for _, e := range sink.History(id) {
					if err := after.Emit(context.Background(), e); err != nil {
						t.Fatal(err)
					}
				}
			}
			close(block) // let the old process's runs end (they write to the old sink)
			if _, err := r.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}

			rec2 := newRecorder()
			c2 := newCallFlows(t, after, rec2, nil, false)
			resume := []func() ([]string, error){
				func() ([]string, error) { return ids(c2.parent.ResumeAll(context.Background(), after)) },
				func() ([]string, error) { return ids(c2.child.ResumeAll(context.Background(), after)) },
			}
			if !parentFirst {
				slices.Reverse(resume)
			}
			for i, fn := range resume {
				got, err := fn()
				// The parent resumed first attaches the child itself, which
				// may have ended by the time the child's ResumeAll lists.
				if err != nil || len(got) > 1 || len(got) == 0 && !(parentFirst && i == 1) {
					t.Fatalf("ResumeAll %d: %v, %v", i, got, err)
				}
			}
			var st runtime.Status
			waitUntil(t, func() bool {
				var err error
				st, err = c2.parent.Status(context.Background(), "o-6")
				return err == nil && st.State.Terminal()
			})
			res, err := c2.parent.State(context.Background(), "o-6")
			if err != nil || st.State != runtime.StateDone || res.Res.Charge != "ch-9" {
				t.Fatalf("parent ended %s (%s) with %+v, %v; history %v", st.State, st.Err, res.Res, err, transitions(after.History("o-6")))
			}
			if got := rec2.all(); !slices.Equal(got, []string{"exec Check", "exec Ship"}) {
				t.Fatalf("after the crash %v: want Check again and Ship, nothing else", got)
			}
			if got, before := rec2.keys("exec Check"), rec.keys("exec Check"); !slices.Equal(got, before) {
				t.Fatalf("Check's key %v, before %v", got, before)
			}
			if n := len(after.Runs()); n != 2 {
				t.Fatalf("%d runs in the store, want the parent and one child", n)
			}
		})
	}
}

func ids[S any](runs []*runtime.Run[S], err error) ([]string, error) {
	var out []string
	for _, r := range runs {
		out = append(out, r.ID())
	}
	return out, err
}

// A child that ended while the parent was down wakes the parent as soon as
// it resumes.
func TestCallChildEndedBeforeResume(t *testing.T) {
	sink := runtime.NewMemorySink()
	c := newCallFlows(t, sink, newRecorder(), nil, false)
	if _, err := c.parent.Execute(context.Background(), parentState{Req: billing{Amount: 3}}, runtime.WithRunID("o-7")); err != nil {
		t.Fatal(err)
	}
	// The parent's history as it was while it waited; the child's whole.
	after := runtime.NewMemorySink()
	for _, e := range sink.History("o-7")[:2] {
		_ = after.Emit(context.Background(), e)
	}
	for _, e := range sink.History("o-7@Bill") {
		_ = after.Emit(context.Background(), e)
	}
	rec := newRecorder()
	c2 := newCallFlows(t, after, rec, nil, false)
	runs, err := c2.parent.ResumeAll(context.Background(), after)
	if err != nil || len(runs) != 1 {
		t.Fatal(runs, err)
	}
	res, err := runs[0].Wait(context.Background())
	if err != nil || res.State.Res.Charge != "ch-3" || !slices.Equal(rec.all(), []string{"exec Ship"}) {
		t.Fatalf("%+v, %v, effects %v", res.State, err, rec.all())
	}
}

func TestCallManyConcurrentParents(t *testing.T) {
	sink := runtime.NewMemorySink()
	c := newCallFlows(t, sink, newRecorder(), nil, false)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			amount := i % 150 // over 100: the child fails, the parent compensates
			res, err := c.parent.Execute(context.Background(), parentState{Req: billing{Amount: amount}}, runtime.WithRunID(fmt.Sprintf("p-%d", i)))
			switch {
			case amount <= 100 && (err != nil || res.State.Res.Charge != fmt.Sprintf("ch-%d", amount)):
				errs <- fmt.Errorf("run %d: %+v, %v", i, res.State, err)
			case amount > 100 && res.Final != runtime.StateCompensated:
				errs <- fmt.Errorf("run %d: %s, %v", i, res.Final, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(sink.Runs()); got != 2*n {
		t.Fatalf("%d runs, want %d parents and as many children", got, 2*n)
	}
}

func TestCallDefinitionErrors(t *testing.T) {
	child := runtime.New[billing]("Billing")
	f := runtime.New[parentState]("Order")
	err := f.Register(runtime.NewCall("Bill", child, nil, nil, runtime.WithDeadline[parentState](time.Second)))
	if !errors.Is(err, runtime.ErrDefinition) || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("call with a deadline: %v", err)
	}
	if err := f.Register(runtime.NewCall[parentState, billing]("Nil", nil, nil, nil)); !errors.Is(err, runtime.ErrDefinition) {
		t.Fatalf("call of a nil flow: %v", err)
	}
	undo := runtime.WithRollbackCall[parentState, billing](nil, nil)
	if err := f.Register(runtime.NewStep("Undo", func(context.Context, *parentState) (runtime.Outcome, error) { return "", nil }, undo)); !errors.Is(err, runtime.ErrDefinition) {
		t.Fatalf("rollback call of a nil flow: %v", err)
	}
}

func TestChildRunID(t *testing.T) {
	for _, tc := range []struct {
		k       runtime.Key
		attempt int
		want    string
	}{
		{runtime.Key{RunID: "o-1", Step: "Bill", Visit: 1}, 1, "o-1@Bill"},
		{runtime.Key{RunID: "o-1", Step: "Bill", Visit: 3}, 1, "o-1@Bill:3"},
		{runtime.Key{RunID: "a@b", Step: "Bill", Visit: 1, Rollback: true}, 1, "a@b@Bill:rollback"},
		{runtime.Key{RunID: "o-1@X:2", Step: "Bill", Visit: 2, Rollback: true}, 4, "o-1@X:2@Bill:2:rollback:4"},
	} {
		got := runtime.ChildRunID(tc.k, tc.attempt)
		if got != tc.want {
			t.Errorf("ChildRunID(%+v, %d) = %q, want %q", tc.k, tc.attempt, got, tc.want)
		}
		k, a, ok := runtime.ParseChildRunID(got)
		if !ok || k != tc.k || a != tc.attempt {
			t.Errorf("ParseChildRunID(%q) = %+v, %d, %v", got, k, a, ok)
		}
	}
	for _, bad := range []string{"", "o-1", "@Bill", "o-1@", "o-1@Bill:1", "o-1@Bill:x", "o-1@Bill:rollback:1", "o-1@Bill:rollback:2:3", "o-1@Bill:undo"} {
		if k, a, ok := runtime.ParseChildRunID(bad); ok {
			t.Errorf("ParseChildRunID(%q) = %+v, %d, true", bad, k, a)
		}
	}
}

// DescendsFrom agrees with ChildRunID at every depth, and takes no run
// whose ID only begins with another's for its descendant.
func TestDescendsFrom(t *testing.T) {
	child := runtime.ChildRunID(runtime.Key{RunID: "o-1", Step: "Bill", Visit: 2}, 1)
	grandchild := runtime.ChildRunID(runtime.Key{RunID: child, Step: "Pay", Visit: 1, Rollback: true}, 3)
	for _, tc := range []struct {
		id, ancestor string
		want         bool
	}{
		{child, "o-1", true},
		{grandchild, "o-1", true},
		{grandchild, child, true},
		{"o-1", "o-1", false},
		{"o-1", child, false},
		{child, grandchild, false},
		{"o-10@Bill", "o-1", false},
		{"o-1@", "o-1", false},
		{"o-1:2@Bill", "o-1", false},
		{"x@o-1@Bill", "o-1", false},
	} {
		if got := runtime.DescendsFrom(tc.id, tc.ancestor); got != tc.want {
			t.Errorf("DescendsFrom(%q, %q) = %v, want %v", tc.id, tc.ancestor, got, tc.want)
		}
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCallCompensationMatrix fails (or aborts the parent at) each step of a
// parent P1, Call, P3 whose call runs a child C1, C2, C3, and checks what
// is undone, in which order, and how each run ends: a child undoes its own
// completed steps before the parent undoes its own; a call completed
// before the failure is undone by its rollback call (a run of Undo); a
// call that failed has nothing of its own to undo.
func TestCallCompensationMatrix(t *testing.T) {
	positions := []string{"P1", "C1", "C2", "C3", "P3"}
	for _, mode := range []string{"error", "abort"} {
		for _, at := range positions {
			t.Run(mode+"/"+at, func(t *testing.T) {
				rec := newRecorder()
				sink := runtime.NewMemorySink()
				started := make(chan struct{})
				step := func(id string) func(ctx context.Context, s *state) (runtime.Outcome, error) {
					return func(ctx context.Context, s *state) (runtime.Outcome, error) {
						rec.add("exec "+id, ctx)
						if id != at {
							return "", nil
						}
						if mode == "error" {
							return "", runtime.Permanent(errBoom)
						}
						close(started)
						<-ctx.Done()
						return "", ctx.Err()
					}
				}
				undo := func(id string) runtime.StepOption[state] {
					return runtime.WithRollback(func(ctx context.Context, s *state) error {
						rec.add("undo "+id, ctx)
						return nil
					})
				}
				child := runtime.New[state]("Child", runtime.WithSink(sink))
				for _, id := range []string{"C1", "C2", "C3"} {
					mustRegister(t, child, runtime.NewStep(id, step(id), undo(id)))
				}
				undoFlow := runtime.New[state]("Undo", runtime.WithSink(sink))
				mustRegister(t, undoFlow, runtime.NewStep("U", func(ctx context.Context, s *state) (runtime.Outcome, error) {
					rec.add("undo Call", ctx)
					return "", nil
				}, runtime.WithIrreversible[state]()))
				parent := runtime.New[state]("Parent", runtime.WithSink(sink))
				mustRegister(t, parent,
					runtime.NewStep("P1", step("P1"), undo("P1")),
					runtime.NewCall("Call", child, func(s *state) state { return *s }, func(s *state) *state { return s },
						runtime.WithRollbackCall(undoFlow, func(s *state) state { return *s })),
					runtime.NewStep("P3", step("P3"), undo("P3")))
				r, err := parent.Start(context.Background(), state{}, runtime.WithRunID("p"))
				if err != nil {
					t.Fatal(err)
				}
				if mode == "abort" {
					<-started
					if err := r.Abort(); err != nil {
						t.Fatal(err)
					}
				}
				res, _ := r.Wait(context.Background())

				var want []string
				for _, id := range positions {
					want = append(want, "exec "+id)
					if id == at {
						break
					}
				}
				var childDone bool
				switch at {
				case "P1":
				case "P3":
					childDone = true
					want = append(want, "undo Call", "undo P1")
				default:
					k := int(at[1] - '0')
					for i := k - 1; i >= 1; i-- {
						want = append(want, fmt.Sprintf("undo C%d", i))
					}
					want = append(want, "undo P1")
				}
				if got := rec.all(); !slices.Equal(got, want) {
					t.Fatalf("effects %v, want %v", got, want)
				}
				wantFinal := runtime.StateCompensated
				switch {
				case mode == "abort":
					wantFinal = runtime.StateAborted
				case at == "P1":
					wantFinal = runtime.StateFailed
				}
				if res.Final != wantFinal {
					t.Fatalf("parent ended %s (%v), want %s", res.Final, res.Err, wantFinal)
				}
				cst, cerr := child.Status(context.Background(), "p@Call")
				switch {
				case at == "P1":
					if cerr == nil {
						t.Fatalf("a child ran: %+v", cst)
					}
				case childDone:
					if cst.State != runtime.StateDone {
						t.Fatalf("child %s", cst.State)
					}
					if ust, err := undoFlow.Status(context.Background(), "p@Call:rollback"); err != nil || ust.State != runtime.StateDone {
						t.Fatalf("undo run %+v, %v", ust, err)
					}
				default:
					want := runtime.StateCompensated
					switch {
					case mode == "abort":
						want = runtime.StateAborted
					case at == "C1":
						want = runtime.StateFailed
					}
					if cst.State != want {
						t.Fatalf("child %s, want %s", cst.State, want)
					}
				}
				// Both histories replay and fit their flows.
				for _, c := range []struct {
					id string
					f  interface{ CheckHistory([]runtime.Event) error }
				}{{"p", parent}, {"p@Call", child}} {
					if h := sink.History(c.id); h != nil {
						if err := c.f.CheckHistory(h); err != nil {
							t.Fatalf("%s: %v", c.id, err)
						}
					}
				}
			})
		}
	}
}

// Calls nest: aborting the outer parent aborts its child, which aborts its
// own child; each ends aborted after the one it called.
func TestCallNestedAbort(t *testing.T) {
	sink := runtime.NewMemorySink()
	rec := newRecorder()
	started := make(chan struct{})
	inner := runtime.New[state]("Inner", runtime.WithSink(sink))
	mustRegister(t, inner, okStep(rec, "I1"), runtime.NewStep("I2", func(ctx context.Context, s *state) (runtime.Outcome, error) {
		close(started)
		<-ctx.Done()
		return "", ctx.Err()
	}, runtime.WithIrreversible[state]()))
	middle := runtime.New[state]("Middle", runtime.WithSink(sink))
	mustRegister(t, middle, okStep(rec, "M1"), runtime.NewCall("Inner", inner, nil, nil, runtime.WithIrreversible[state]()))
	outer := runtime.New[state]("Outer", runtime.WithSink(sink))
	mustRegister(t, outer, okStep(rec, "O1"), runtime.NewCall("Middle", middle, nil, nil, runtime.WithIrreversible[state]()))
	r, err := outer.Start(context.Background(), state{}, runtime.WithRunID("o"))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if err := r.Abort(); err != nil {
		t.Fatal(err)
	}
	res, _ := r.Wait(context.Background())
	if res.Final != runtime.StateAborted {
		t.Fatalf("outer %s", res.Final)
	}
	if got, want := rec.filter("undo"), []string{"undo I1", "undo M1", "undo O1"}; !slices.Equal(got, want) {
		t.Fatalf("undone %v, want %v", got, want)
	}
	for id, f := range map[string]interface {
		Status(context.Context, string) (runtime.Status, error)
	}{"o@Middle": middle, "o@Middle@Inner": inner} {
		if st, err := f.Status(context.Background(), id); err != nil || st.State != runtime.StateAborted {
			t.Fatalf("%s: %+v, %v", id, st, err)
		}
	}
}

// A process that shuts down while a rollback call's child runs suspends
// both: the parent records no failed rollback, and once resumed the same
// child finishes the rollback, after what was left of its backoff.
func TestRollbackCallSuspended(t *testing.T) {
	sink := runtime.NewMemorySink()
	clock := runtime.NewFakeClock(epoch)
	var tries sync.Map
	newRefund := func() *runtime.Flow[billing] {
		refund := runtime.New[billing]("Refund", runtime.WithSink(sink), runtime.WithClock(clock))
		if err := refund.Register(runtime.NewStep("Refund", func(ctx context.Context, s *billing) (runtime.Outcome, error) {
			if _, again := tries.LoadOrStore(runtime.IdempotencyKey(ctx), true); !again {
				return "", errors.New("busy: try again in an hour")
			}
			return "", nil
		}, runtime.WithIrreversible[billing](), runtime.WithRetry[billing](runtime.RetryPolicy{Attempts: 3, Initial: time.Hour}))); err != nil {
			t.Fatal(err)
		}
		return refund
	}
	refund := newRefund()
	c := newCallFlows(t, sink, newRecorder(), nil, true,
		runtime.WithRollbackCall(refund, func(s *parentState) billing { return s.Res }))
	r, err := c.parent.Start(context.Background(), parentState{Req: billing{Amount: 7}}, runtime.WithRunID("o-9"))
	if err != nil {
		t.Fatal(err)
	}
	child := "o-9@Bill:rollback"
	waitUntil(t, func() bool {
		st, err := refund.Status(context.Background(), child)
		return err == nil && st.Attempt == 2
	})
	ch, _ := refund.Run(child)
	_ = r.Suspend()
	_ = ch.Suspend()
	if _, err := r.Wait(context.Background()); !errors.Is(err, runtime.ErrSuspended) {
		t.Fatalf("parent: %v, want suspended", err)
	}
	if got := transitions(sink.History("o-9")); got[len(got)-1] != "failing>Bill:rollback" {
		t.Fatalf("parent's history ends %v", got)
	}

	refund2 := newRefund()
	c2 := newCallFlows(t, sink, newRecorder(), nil, true,
		runtime.WithRollbackCall(refund2, func(s *parentState) billing { return s.Res }))
	runs, err := c2.parent.ResumeAll(context.Background(), sink)
	if err != nil || len(runs) != 1 {
		t.Fatal(runs, err)
	}
	backingOff(t, clock, func() bool { // the child's backoff, as its retry recorded it
		st, err := refund2.Status(context.Background(), child)
		return err == nil && st.State == runtime.StateDone
	})
	clock.Advance(time.Hour)
	res, _ := runs[0].Wait(context.Background())
	if res.Final != runtime.StateCompensated {
		t.Fatalf("resumed parent %s (%v)", res.Final, res.Err)
	}
	if st, _ := refund2.Status(context.Background(), child); st.State != runtime.StateDone {
		t.Fatalf("refund %s", st.State)
	}
	if _, err := refund2.Status(context.Background(), "o-9@Bill:rollback:2"); err == nil {
		t.Fatal("a second refund ran")
	}
}

// A child that a step's outcome routed to fail, after an earlier step's
// failure, ends with the same error for its parent whether the parent
// sees it end live or finds it ended after a restart (its history only):
// the parent records that error in its own history. Status.Err names the
// earlier failure too; the run's end, like Result.Err, does not.
func TestCallChildRoutedToFailSameErrorLiveOrFromHistory(t *testing.T) {
	flows := func(sink *runtime.MemorySink) *runtime.Flow[parentState] {
		child := runtime.New[billing]("Billing", runtime.WithSink(sink))
		mustRegisterB(t, child,
			runtime.NewStep("Charge", func(ctx context.Context, s *billing) (runtime.Outcome, error) {
				return "", runtime.Permanent(errors.New("card declined"))
			}, runtime.WithNext[billing](runtime.OutcomeError, "Reject")),
			runtime.NewStep("Reject", func(ctx context.Context, s *billing) (runtime.Outcome, error) { return "", nil },
				runtime.WithNext[billing](runtime.OutcomeOK, runtime.Fail)),
		)
		parent := runtime.New[parentState]("Order", runtime.WithSink(sink))
		if err := parent.Register(runtime.NewCall("Bill", child,
			func(s *parentState) billing { return s.Req },
			func(s *parentState) *billing { return &s.Res })); err != nil {
			t.Fatal(err)
		}
		return parent
	}
	sink := runtime.NewMemorySink()
	if _, err := flows(sink).Execute(context.Background(), parentState{}, runtime.WithRunID("o")); err == nil {
		t.Fatal("the parent did not fail")
	}
	live := sink.History("o")
	// The parent's history as it was while it waited; the child's whole.
	after := runtime.NewMemorySink()
	for _, e := range append(slices.Clone(live[:1]), sink.History("o@Bill")...) {
		if err := after.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := flows(after).ResumeAll(context.Background(), after)
	if err != nil || len(runs) != 1 {
		t.Fatal(runs, err)
	}
	if _, err := runs[0].Wait(context.Background()); err == nil {
		t.Fatal("the resumed parent did not fail")
	}
	resumed := after.History("o")
	if len(resumed) != len(live) || resumed[1].Error != live[1].Error || live[1].Error == "" {
		t.Fatalf("the parent recorded the child's end as\n%q live, and\n%q from its history", live[1].Error, resumed[1].Error)
	}
	cst, err := runtime.Replay(sink.History("o@Bill"))
	if err != nil || !strings.Contains(cst.Err, "card declined") || strings.Contains(live[1].Error, "card declined") {
		t.Fatalf("child's status error %q (%v), the parent's record of its end %q", cst.Err, err, live[1].Error)
	}
}

func mustRegisterB(t *testing.T, f *runtime.Flow[billing], steps ...*runtime.Step[billing]) {
	t.Helper()
	if err := f.Register(steps...); err != nil {
		t.Fatal(err)
	}
}
