package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/runtime"
)

// TestConcurrentRuns runs 1,000 runs of one definition at once: a third
// succeed, a third fail and compensate, a third are aborted mid-step. Each
// must end as its own state says, with its own history; goleak (TestMain)
// checks that no goroutine outlives them.
func TestConcurrentRuns(t *testing.T) {
	const runs = 1000
	rec := newRecorder()
	sink := runtime.NewMemorySink()
	f := runtime.New[state]("many", runtime.WithSink(sink))
	blocked := make(chan struct{}, runs)
	mustRegister(t, f,
		okStep(rec, "A"),
		runtime.NewStep("B", func(ctx context.Context, s *state) (runtime.Outcome, error) {
			switch s.Route {
			case "fail":
				return "", errBoom
			case "abort":
				blocked <- struct{}{}
				<-ctx.Done()
				return "", ctx.Err()
			}
			s.N *= 2
			return "", nil
		}, runtime.WithRollback(func(context.Context, *state) error { return nil })),
		okStep(rec, "C"))
	routes := []string{"ok", "fail", "abort"}
	handles := make([]*runtime.Run[state], runs)
	aborts := 0
	for i := range handles {
		if routes[i%3] == "abort" {
			aborts++
		}
		r, err := f.Start(context.Background(), state{N: i, Route: routes[i%3]}, runtime.WithRunID(fmt.Sprint("run-", i)))
		if err != nil {
			t.Fatal(err)
		}
		handles[i] = r
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for range aborts {
			<-blocked
		}
		for i := 2; i < runs; i += 3 {
			if err := f.Abort(fmt.Sprint("run-", i)); err != nil {
				t.Error(err)
			}
		}
	})
	wantFinal := map[string]runtime.RunState{"ok": runtime.StateDone, "fail": runtime.StateCompensated, "abort": runtime.StateAborted}
	for i, r := range handles {
		res, _ := r.Wait(context.Background())
		route := routes[i%3]
		if res.Final != wantFinal[route] || res.RunID != fmt.Sprint("run-", i) {
			t.Fatalf("run %d (%s): %+v", i, route, res)
		}
		if route == "ok" && res.State.N != 2*i {
			t.Fatalf("run %d: N = %d, want %d: runs share state", i, res.State.N, 2*i)
		}
		h := sink.History(res.RunID)
		if st, err := runtime.Replay(h); err != nil || st.State != res.Final {
			t.Fatalf("run %d: replay %v, %v", i, st.State, err)
		}
	}
	wg.Wait()
	if got := len(sink.Runs()); got != runs {
		t.Errorf("%d runs in the sink, want %d", got, runs)
	}
	if got := rec.count("exec A"); got != runs {
		t.Errorf("A ran %d times, want %d", got, runs)
	}
	if _, ok := f.Run("run-0"); ok {
		t.Error("a finished run is still live")
	}
}

func TestRegisterErrors(t *testing.T) {
	exec := func(context.Context, *state) (runtime.Outcome, error) { return "", nil }
	undo := func(context.Context, *state) error { return nil }
	cases := map[string][]*runtime.Step[state]{
		"nil":           {nil},
		"empty ID":      {runtime.NewStep("", exec)},
		"reserved":      {runtime.NewStep("done", exec)},
		"colon":         {runtime.NewStep("a:b", exec)},
		"no exec":       {{ID: "A"}},
		"duplicate":     {runtime.NewStep("A", exec), runtime.NewStep("A", exec)},
		"irreversible":  {runtime.NewStep("A", exec, runtime.WithIrreversible[state](), runtime.WithRollback(undo))},
		"retry route":   {runtime.NewStep("A", exec, runtime.WithNext[state](runtime.OutcomeRetry, "A"))},
		"reserved fail": {runtime.NewStep("fail", exec)},
		// Its keys would read as a rollback's: run "r/A"'s step rollback
		// and run "r"'s rollback of A both had the key "r/A/rollback".
		"reserved rollback": {runtime.NewStep("rollback", exec)},
		"slash":             {runtime.NewStep("a/b", exec)},
		"hash":              {runtime.NewStep("a#2", exec)},
		"at":                {runtime.NewStep("a@b", exec)},
		"space":             {runtime.NewStep("a b", exec)},
		"tab":               {runtime.NewStep("a\tb", exec)},
		"@ route":           {runtime.NewStep("A", exec, runtime.WithNext[state]("@start", "A"))},
		"empty route":       {runtime.NewStep("A", exec, runtime.WithNext[state]("", "A"))},
		// Names are metric labels: one not UTF-8 failed every /metrics scrape.
		"not UTF-8":       {runtime.NewStep("a\xffb", exec)},
		"not UTF-8 route": {runtime.NewStep("A", exec, runtime.WithNext[state]("sent\xc3", "A"))},
	}
	for name, steps := range cases {
		f := runtime.New[state]("bad")
		if err := f.Register(steps...); !errors.Is(err, runtime.ErrDefinition) {
			t.Errorf("%s: %v, want ErrDefinition", name, err)
		}
	}
	f := runtime.New[state]("target")
	mustRegister(t, f, runtime.NewStep("A", exec, runtime.WithNext[state]("x", "Nowhere")))
	if _, err := f.Execute(context.Background(), state{}); !errors.Is(err, runtime.ErrDefinition) {
		t.Errorf("unknown target: %v", err)
	}
	if err := f.Register(runtime.NewStep("B", exec)); !errors.Is(err, runtime.ErrDefinition) {
		t.Errorf("Register after Start: %v", err)
	}
	if _, err := runtime.New[state]("empty").Start(context.Background(), state{}); !errors.Is(err, runtime.ErrDefinition) {
		t.Errorf("no steps: %v", err)
	}
	notUTF8 := runtime.New[state]("bad\xff")
	mustRegister(t, notUTF8, runtime.NewStep("A", exec))
	if _, err := notUTF8.Start(context.Background(), state{}); !errors.Is(err, runtime.ErrDefinition) {
		t.Errorf("flow ID not UTF-8: %v", err)
	}
	type bad struct{ C chan int }
	g := runtime.New[bad]("json")
	_ = g.Register(runtime.NewStep("A", func(context.Context, *bad) (runtime.Outcome, error) { return "", nil }))
	if _, err := g.Start(context.Background(), bad{}); err == nil {
		t.Error("a state that cannot encode as JSON started")
	}
}

func TestStatusAbortAndLifecycle(t *testing.T) {
	sink := runtime.NewMemorySink()
	clock := runtime.NewFakeClock(epoch)
	f := runtime.New[state]("life", runtime.WithSink(sink), runtime.WithClock(clock))
	inB := make(chan struct{})
	mustRegister(t, f, okStep(newRecorder(), "A"),
		runtime.NewStep("B", func(ctx context.Context, s *state) (runtime.Outcome, error) {
			if runtime.Attempt(ctx) == 1 {
				return "", errBoom
			}
			close(inB)
			<-ctx.Done()
			return "", ctx.Err()
		}, runtime.WithRetry[state](runtime.RetryPolicy{Attempts: 3, Initial: time.Minute})))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run, err := f.Start(ctx, state{}, runtime.WithRunID("r"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Start(ctx, state{}, runtime.WithRunID("r")); !errors.Is(err, runtime.ErrDuplicateRun) {
		t.Errorf("duplicate run ID: %v", err)
	}
	clock.BlockUntil(1) // B's backoff after attempt 1
	st := run.Status()
	if st.State != runtime.StateRunning || st.Step != "B" || st.Attempt != 2 || st.Err != "boom" || st.Machine != "B:running" || len(st.History) != 3 {
		t.Errorf("status while backing off = %+v", st)
	}
	clock.Advance(time.Minute)
	<-inB
	if r, ok := f.Run("r"); !ok || r != run {
		t.Error("Run(r) does not find the live run")
	}
	cancel() // the Start context: aborts like Abort
	res, err := run.Wait(context.Background())
	if res.Final != runtime.StateAborted || !errors.Is(err, runtime.ErrAborted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %s, %v", res.Final, err)
	}
	if err := run.Abort(); !errors.Is(err, runtime.ErrFinished) {
		t.Errorf("Abort after the end: %v", err)
	}
	// Its text says why the run is unknown to Abort and what to do, where
	// it read "unknown run" of a run Status shows.
	if err := f.Abort("r"); !errors.Is(err, runtime.ErrUnknownRun) ||
		!strings.Contains(err.Error(), `"r" is not live in this process`) || !strings.Contains(err.Error(), "RequestAbort") {
		t.Errorf("Flow.Abort of a finished run: %v; want ErrUnknownRun saying it is not live here, and RequestAbort", err)
	}
	st, err = f.Status(ctx, "r")
	if err != nil || st.State != runtime.StateAborted || st.Step != "B" || st.Err != runtime.ErrAborted.Error() {
		t.Errorf("Status after the end = %+v, %v", st, err)
	}
	if _, err := f.Status(ctx, "nope"); !errors.Is(err, runtime.ErrUnknownRun) {
		t.Errorf("Status of an unknown run: %v", err)
	}
	if _, err := runtime.New[state]("nosink").Status(ctx, "r"); !errors.Is(err, runtime.ErrUnknownRun) {
		t.Errorf("Status without a history: %v", err)
	}
	waitCtx, stop := context.WithCancel(context.Background())
	stop()
	blocking := runtime.New[state]("wait")
	hold := make(chan struct{})
	mustRegister(t, blocking, runtime.NewStep("A", func(context.Context, *state) (runtime.Outcome, error) { <-hold; return "", nil }))
	r2, _ := blocking.Start(context.Background(), state{})
	if _, err := r2.Wait(waitCtx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with a done context: %v", err)
	}
	close(hold)
	<-r2.Done()
}

type signup struct {
	Customer       string `json:"customer"`
	CustomerID     string `json:"customer_id,omitempty"`
	SubscriptionID string `json:"subscription_id,omitempty"`
	Paid           struct {
		Amount int `json:"amount"`
	} `json:"paid"`
	Status string `json:"status,omitempty"`
}

func TestPredefinedSteps(t *testing.T) {
	caller := runtime.NewMemoryCaller()
	bus := runtime.NewMemoryBus()
	caller.Handle("customers", "Customer.Create", runtime.HandleFunc(func(ctx context.Context, name string) (string, error) {
		return "cus-" + name, nil
	}))
	caller.Handle("customers", "Customer.Delete", runtime.HandleFunc(func(ctx context.Context, id string) (any, error) {
		return nil, nil
	}))
	clock := runtime.NewFakeClock(epoch)
	sink := runtime.NewMemorySink()
	f := runtime.New[signup]("Signup", runtime.WithCaller(caller), runtime.WithPublisher(bus), runtime.WithSubscriber(bus),
		runtime.WithClock(clock), runtime.WithSink(sink))
	mustRegisterS(t, f,
		runtime.NewRPC("customers", "Customer.Create", func(s *signup) any { return s.Customer },
			runtime.WithID[signup]("CreateCustomer"),
			runtime.WithResponse(func(s *signup) any { return &s.CustomerID }),
			runtime.WithRollback(func(ctx context.Context, s *signup) error {
				return caller.Call(ctx, "customers", "Customer.Delete", s.CustomerID, nil)
			}),
			runtime.WithPublish("billing", "customer.created", func(s *signup) any {
				return map[string]string{"correlation_id": s.CustomerID}
			})),
		runtime.NewAwait("payments", "payment.succeeded", func(s *signup) any { return &s.Paid },
			func(s *signup) string { return s.CustomerID }, time.Hour,
			runtime.WithID[signup]("AwaitPayment"), runtime.WithNext[signup](runtime.OutcomeTimeout, "Expire")),
		runtime.NewPublish("mail", "welcome", func(s *signup) any { return s.CustomerID }, runtime.WithID[signup]("Welcome"),
			runtime.WithNext[signup](runtime.OutcomeOK, runtime.Done)),
		runtime.NewEvent("ops", "expire.approved", runtime.NewStep("Expire", func(ctx context.Context, s *signup) (runtime.Outcome, error) {
			s.Status = "expired by " + string(runtime.EventPayload(ctx))
			return "", nil
		}, runtime.WithNext[signup](runtime.OutcomeOK, runtime.Fail))),
	)

	t.Run("paid", func(t *testing.T) {
		// A payment for someone else must not be taken; this one must.
		_ = bus.Publish(context.Background(), "payments", "payment.succeeded", map[string]any{"correlation_id": "cus-bob", "amount": 1})
		run, err := f.Start(context.Background(), signup{Customer: "ann"}, runtime.WithRunID("ann"))
		if err != nil {
			t.Fatal(err)
		}
		clock.BlockUntil(1) // the await's timeout
		_ = bus.Publish(context.Background(), "payments", "payment.succeeded", json.RawMessage(`{"correlation_id":"cus-ann","amount":7}`))
		res, err := run.Wait(context.Background())
		if err != nil || res.State.CustomerID != "cus-ann" || res.State.Paid.Amount != 7 || res.Final != runtime.StateDone {
			t.Fatalf("Wait = %+v, %v", res, err)
		}
		calls := caller.Calls()
		if len(calls) != 1 || calls[0].Key != "ann/CreateCustomer" || string(calls[0].Request) != `"ann"` {
			t.Errorf("calls = %+v", calls)
		}
	})
	t.Run("payment times out, expiry fails the run", func(t *testing.T) {
		run, err := f.Start(context.Background(), signup{Customer: "cy"}, runtime.WithRunID("cy"))
		if err != nil {
			t.Fatal(err)
		}
		clock.BlockUntil(1)
		clock.Advance(time.Hour)
		_ = bus.Publish(context.Background(), "ops", "expire.approved", "ops-team")
		res, err := run.Wait(context.Background())
		if res.Final != runtime.StateCompensated || !errors.Is(err, runtime.ErrRoutedToFail) || res.State.Status != `expired by "ops-team"` {
			t.Fatalf("Wait = %+v, %v", res, err)
		}
		calls := caller.Calls()
		last := calls[len(calls)-1]
		if last.Endpoint != "Customer.Delete" || last.Key != "cy/CreateCustomer/rollback" || string(last.Request) != `"cus-cy"` {
			t.Errorf("rollback call = %+v", last)
		}
		var timedOut bool
		for _, e := range sink.History("cy") {
			timedOut = timedOut || (e.Step == "AwaitPayment" && e.Outcome == runtime.OutcomeTimeout && e.From == "AwaitPayment:waiting" && e.To == "Expire:waiting")
		}
		if !timedOut {
			t.Error("no timeout event routing AwaitPayment to Expire")
		}
	})
	var published []string
	for _, m := range bus.Published() {
		published = append(published, m.Topic+" "+m.Event+" "+string(m.Payload))
	}
	want := []string{
		`payments payment.succeeded {"amount":1,"correlation_id":"cus-bob"}`,
		`billing customer.created {"correlation_id":"cus-ann"}`,
		`payments payment.succeeded {"correlation_id":"cus-ann","amount":7}`,
		`mail welcome "cus-ann"`,
		`billing customer.created {"correlation_id":"cus-cy"}`,
		`ops expire.approved "ops-team"`,
	}
	if diff := cmp.Diff(want, published); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}

	t.Run("not configured", func(t *testing.T) {
		g := runtime.New[signup]("bare")
		if err := g.Register(runtime.NewRPC[signup]("s", "E", nil)); !errors.Is(err, runtime.ErrNotConfigured) {
			t.Errorf("rpc without a Caller: %v", err)
		}
	})
}

func mustRegisterS(t *testing.T, f *runtime.Flow[signup], steps ...*runtime.Step[signup]) {
	t.Helper()
	if err := f.Register(steps...); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshots checks that every event carries the state as it was, both
// for a state of plain values (where unchanged snapshots are reused without
// encoding) and for one with references (always encoded).
func TestSnapshots(t *testing.T) {
	type plain struct {
		A int    `json:"a"`
		B string `json:"b"`
	}
	sink := runtime.NewMemorySink()
	f := runtime.New[plain]("snap", runtime.WithSink(sink))
	set := func(id string, fn func(*plain)) *runtime.Step[plain] {
		return runtime.NewStep(id, func(_ context.Context, s *plain) (runtime.Outcome, error) { fn(s); return "", nil })
	}
	if err := f.Register(
		set("A", func(s *plain) { s.A = 1 }),
		set("Same", func(s *plain) {}),
		set("B", func(s *plain) { s.B = "b" + "c"[:1] }), // a new string
		set("Again", func(s *plain) { s.A, s.B = 1, "bc" }),
	); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Execute(context.Background(), plain{}, runtime.WithRunID("r")); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range sink.History("r") {
		got = append(got, string(e.State))
	}
	want := []string{`{"a":0,"b":""}`, `{"a":1,"b":""}`, `{"a":1,"b":""}`, `{"a":1,"b":"bc"}`, `{"a":1,"b":"bc"}`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("snapshots (-want +got):\n%s", diff)
	}
}

func TestAbortDuringRollbackChangesNothing(t *testing.T) {
	undoing := make(chan struct{})
	proceed := make(chan struct{})
	f := runtime.New[state]("late-abort")
	mustRegister(t, f,
		runtime.NewStep("A", func(context.Context, *state) (runtime.Outcome, error) { return "", nil },
			runtime.WithRollback(func(ctx context.Context, s *state) error {
				close(undoing)
				<-proceed
				return ctx.Err() // never cancelled by the abort
			})),
		failingStep(newRecorder(), "B", -1, errBoom))
	run, err := f.Start(context.Background(), state{})
	if err != nil {
		t.Fatal(err)
	}
	<-undoing
	if err := run.Abort(); err != nil {
		t.Fatal(err)
	}
	close(proceed)
	res, err := run.Wait(context.Background())
	if res.Final != runtime.StateCompensated || !errors.Is(err, errBoom) {
		t.Fatalf("Wait = %s, %v; want compensated by the original failure", res.Final, err)
	}
}

type tenantKey struct{}

// TestStartContextReachesStepsAndRollbacks: Start's context is the parent of
// every step's, so its values reach the steps; cancelling it aborts the
// run, and the rollbacks then run under a context that keeps its values
// and is not cancelled.
func TestStartContextReachesStepsAndRollbacks(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	note := func(what string, ctx context.Context) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprintf("%s %v %v", what, ctx.Value(tenantKey{}), ctx.Err()))
	}
	started := make(chan struct{})
	f := runtime.New[state]("ctx")
	mustRegister(t, f,
		runtime.NewStep("A", func(ctx context.Context, s *state) (runtime.Outcome, error) {
			note("exec A", ctx)
			return "", nil
		}, runtime.WithRollback(func(ctx context.Context, s *state) error {
			note("undo A", ctx)
			return nil
		})),
		runtime.NewStep("B", func(ctx context.Context, s *state) (runtime.Outcome, error) {
			close(started)
			<-ctx.Done()
			return "", ctx.Err()
		}))
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), tenantKey{}, "tenant-7"))
	run, err := f.Start(ctx, state{})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	cancel()
	if res, err := run.Wait(context.Background()); res.Final != runtime.StateAborted || !errors.Is(err, runtime.ErrAborted) {
		t.Fatalf("ended %s, %v; want aborted", res.Final, err)
	}
	if diff := cmp.Diff([]string{"exec A tenant-7 <nil>", "undo A tenant-7 <nil>"}, seen); diff != "" {
		t.Errorf("contexts seen (-want +got):\n%s", diff)
	}
}

// TestWithIDs: a flow's run IDs come from its generator unless WithRunID
// names one.
func TestWithIDs(t *testing.T) {
	n := 0
	f := runtime.New[state]("ids", runtime.WithIDs(func() string { n++; return fmt.Sprintf("order-%d", n) }))
	mustRegister(t, f, okStep(newRecorder(), "A"))
	var got []string
	for _, opts := range [][]runtime.RunOption{nil, {runtime.WithRunID("mine")}, nil} {
		res, err := f.Execute(context.Background(), state{}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, res.RunID)
	}
	if diff := cmp.Diff([]string{"order-1", "mine", "order-2"}, got); diff != "" {
		t.Errorf("run IDs (-want +got):\n%s", diff)
	}
}

// TestStartFinishedRunID: a MemorySink that holds a finished run refuses a
// new run of its ID, and the finished run's history is untouched. The
// refusal is the caller's duplicate, not a failing sink: the error is not
// ErrSink (a service that retries sink failures would retry it forever),
// and nothing logs that a run stopped, since none did.
func TestStartFinishedRunID(t *testing.T) {
	sink := runtime.NewMemorySink()
	var logs bytes.Buffer
	f := runtime.New[state]("dup", runtime.WithSink(sink), runtime.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	rec := newRecorder()
	mustRegister(t, f, okStep(rec, "A"))
	if _, err := f.Execute(context.Background(), state{N: 1}, runtime.WithRunID("r")); err != nil {
		t.Fatal(err)
	}
	before := sink.History("r")
	_, err := f.Start(context.Background(), state{N: 2}, runtime.WithRunID("r"))
	if !errors.Is(err, runtime.ErrDuplicateRun) || errors.Is(err, runtime.ErrSink) {
		t.Errorf("Start of a finished run's ID: %v, want ErrDuplicateRun and not ErrSink", err)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a duplicate start logged an error:\n%s", logs.String())
	}
	if diff := cmp.Diff(before, sink.History("r")); diff != "" {
		t.Errorf("the finished run's history changed (-before +after):\n%s", diff)
	}
	if got := rec.count("exec A"); got != 1 {
		t.Errorf("A ran %d times, want once", got)
	}
}
