package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// prepareJSON creates a customer, then runs a parallel block: Reserve (an
// rpc writing Reservation, undone by a release) and Mark (a Go step that
// declares it writes Marked, and also sets Junk, which the block
// discards); then Ship reads what the block merged.
const prepareJSON = `{
  "version": 1,
  "flows": [{
    "name": "Prepare",
    "state": "PrepareState",
    "triggers": [{"kind": "rpc", "endpoint": "Prepare.Start"}],
    "steps": [
      {"name": "Create", "action": {"kind": "rpc", "service": "customers", "endpoint": "Customer.Create", "request": "Customer", "response": "CustomerID"},
       "rollback": {"action": {"kind": "rpc", "service": "customers", "endpoint": "Customer.Delete", "request": "CustomerID"}}},
      {"name": "Both", "parallel": {"branches": [
        {"name": "Reserve", "action": {"kind": "rpc", "service": "inventory", "endpoint": "Stock.Reserve", "request": "Order", "response": "Reservation"},
         "rollback": {"action": {"kind": "rpc", "service": "inventory", "endpoint": "Stock.Release", "request": "Reservation"}}},
        {"name": "Mark", "action": {"kind": "go"}, "writes": ["Marked"], "irreversible": true}
      ]}},
      {"name": "Ship", "action": {"kind": "go"}, "irreversible": true}
    ]
  }]
}`

// A JSON flow's parallel block runs through the HTTP API: GET /runs/{id}
// lists its branches with how they ended; the run's state has what the
// branches wrote, and not what they changed without declaring it; a
// failing branch fails the block and the run is compensated.
func TestParallelJSONOverHTTP(t *testing.T) {
	fx := newFixture(t)
	fx.caller.Handle("inventory", "Stock.Reserve", func(ctx context.Context, req json.RawMessage) (any, error) {
		fx.effects.add("reserve:" + runtime.IdempotencyKey(ctx))
		var order struct{ Fail bool }
		_ = json.Unmarshal(req, &order)
		if order.Fail {
			return nil, runtime.Permanent(errors.New("out of stock"))
		}
		return "res-1", nil
	})
	fx.caller.Handle("inventory", "Stock.Release", func(ctx context.Context, req json.RawMessage) (any, error) {
		fx.effects.add("release:" + runtime.IdempotencyKey(ctx))
		return nil, nil
	})
	e, err := New(Options{Store: fx.st, Caller: fx.caller, Broker: fx.broker})
	if err != nil {
		t.Fatal(err)
	}
	shipped := make(chan State, 1)
	e.Provide(ProviderFunc(func(r *Registry) {
		r.Step("Prepare.Mark", func(_ context.Context, s *State) (string, error) {
			if s.Has("Reservation") {
				return "", errors.New("a branch sees the state the block started with")
			}
			if err := s.Set("Junk", "discarded"); err != nil {
				return "", err
			}
			return "", s.Set("Marked", true)
		})
		r.Step("Prepare.Ship", func(_ context.Context, s *State) (string, error) {
			shipped <- *s
			return "", nil
		})
	}))
	if ds, err := e.LoadFlows("prepare.json", []byte(prepareJSON)); err != nil {
		t.Fatalf("load: %v\n%v", err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer closeEngine(t, e)
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()

	type status struct {
		State    runtime.RunState `json:"state"`
		Snapshot map[string]any   `json:"snapshot"`
		Branches []runtime.Branch `json:"branches"`
	}
	run := func(body string) status {
		t.Helper()
		code, out := post(srv.Client(), srv.URL+"/rpc/Prepare.Start", "", body)
		if code != http.StatusCreated {
			t.Fatalf("start: %d %v", code, out)
		}
		id, _ := out["run_id"].(string)
		var st status
		waitFor(t, "run "+id+" to end", func() bool {
			res, err := srv.Client().Get(srv.URL + "/runs/" + id)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			st = status{}
			return json.NewDecoder(res.Body).Decode(&st) == nil && st.State.Terminal()
		})
		return st
	}
	outcomes := func(st status) []string {
		var out []string
		for _, b := range st.Branches {
			out = append(out, b.Step+"="+string(b.Outcome))
		}
		slices.Sort(out)
		return out
	}

	st := run(`{"Customer": {"Email": "ada@example.com"}, "Order": {}}`)
	if st.State != runtime.StateDone {
		t.Fatalf("run ended %s, want done", st.State)
	}
	if got := outcomes(st); !slices.Equal(got, []string{"Mark=ok", "Reserve=ok"}) {
		t.Errorf("branches in the status: %v", got)
	}
	s := <-shipped
	if s.String("Reservation") != "res-1" || s.String("Marked") != "true" || s.Has("Junk") {
		t.Errorf("state after the block: %v (want Reservation and Marked merged, Junk discarded)", s.Fields())
	}
	if st.Snapshot["Reservation"] != "res-1" || st.Snapshot["Junk"] != nil {
		t.Errorf("final snapshot %v", st.Snapshot)
	}

	st = run(`{"Customer": {"Email": "bob@example.com"}, "Order": {"Fail": true}}`)
	if st.State != runtime.StateCompensated {
		t.Fatalf("run ended %s, want compensated", st.State)
	}
	i := slices.IndexFunc(st.Branches, func(b runtime.Branch) bool { return b.Step == "Reserve" })
	if i < 0 || st.Branches[i].Outcome != runtime.OutcomeError || !strings.Contains(st.Branches[i].Err, "out of stock") {
		t.Errorf("branches %+v: want Reserve failed with its error", st.Branches)
	}
	if fx.effects.count("delete:") != 1 || fx.effects.count("release:") != 0 {
		t.Errorf("Create undone %d times, the failed Reserve released %d times: want 1 and 0", fx.effects.count("delete:"), fx.effects.count("release:"))
	}
}

// A branch with a deadline and no timeout ends with the outcome timeout
// when its deadline passes, and its block routes it: loading such a flow
// failed ("none of its branches has a timeout"), though the run ended
// timeout all the same, which then could only fail the run.
func TestParallelBranchDeadlineRoutesTimeout(t *testing.T) {
	const flows = `{"version": 1, "flows": [{
  "name": "Quote", "state": "QuoteState",
  "triggers": [{"kind": "rpc", "endpoint": "Quote.Start"}],
  "steps": [
    {"name": "Ask", "parallel": {"branches": [
      {"name": "Fast", "action": {"kind": "go"}, "writes": ["Fast"], "irreversible": true},
      {"name": "Slow", "action": {"kind": "go"}, "deadline": "20ms", "irreversible": true}
    ]}, "on": [{"on": "timeout", "target": "Late"}]},
    {"name": "Done", "action": {"kind": "go"}, "irreversible": true, "on": [{"on": "ok", "target": "done"}]},
    {"name": "Late", "action": {"kind": "go"}, "irreversible": true}
  ]}]}`
	fx := newFixture(t)
	e, err := New(Options{Store: fx.st, Caller: fx.caller, Broker: fx.broker})
	if err != nil {
		t.Fatal(err)
	}
	e.Provide(ProviderFunc(func(r *Registry) {
		r.Step("Fast", func(_ context.Context, s *State) (string, error) { return "", s.Set("Fast", true) })
		r.Step("Slow", func(ctx context.Context, _ *State) (string, error) {
			<-ctx.Done() // the deadline ends it
			return "", ctx.Err()
		})
		r.Step("Done", func(context.Context, *State) (string, error) {
			return "", errors.New("the block timed out: Done must not run")
		})
		r.Step("Late", func(_ context.Context, s *State) (string, error) { return "", s.Set("Late", true) })
	}))
	if ds, err := e.LoadFlows("quote.json", []byte(flows)); err != nil {
		t.Fatalf("load: %v\n%v", err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer closeEngine(t, e)
	id, err := e.StartRun(context.Background(), "Quote", json.RawMessage(`{}`), "q-1")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the run over", func() bool { return runState(fx, id).Terminal() })
	st, err := e.Status(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != runtime.StateDone || st.Step != "Late" {
		t.Fatalf("run ended %s at %s (%s), want done through Late", st.State, st.Step, st.Err)
	}
	i := slices.IndexFunc(st.Branches, func(b runtime.Branch) bool { return b.Step == "Slow" })
	if i < 0 || st.Branches[i].Outcome != runtime.OutcomeTimeout || !strings.Contains(st.Branches[i].Err, "deadline") {
		t.Errorf("branches %+v: want Slow ended timeout by its deadline", st.Branches)
	}
}

// POST /runs/{id}/abort while a branch runs: the branch still running is
// cancelled and not rolled back, the completed one is, newest first with
// the step before the block; GET /runs/{id} shows how each branch ended,
// and the history marks the abort that cut the block short.
func TestParallelAbortOverHTTP(t *testing.T) {
	fx := newFixture(t)
	fx.caller.Handle("inventory", "Stock.Reserve", func(ctx context.Context, _ json.RawMessage) (any, error) {
		fx.effects.add("reserve:" + runtime.IdempotencyKey(ctx))
		return "res-1", nil
	})
	fx.caller.Handle("inventory", "Stock.Release", func(ctx context.Context, _ json.RawMessage) (any, error) {
		fx.effects.add("release:" + runtime.IdempotencyKey(ctx))
		return nil, nil
	})
	e, err := New(Options{Store: fx.st, Caller: fx.caller, Broker: fx.broker})
	if err != nil {
		t.Fatal(err)
	}
	e.Provide(ProviderFunc(func(r *Registry) {
		r.Step("Prepare.Mark", func(ctx context.Context, _ *State) (string, error) {
			<-ctx.Done() // until the abort
			return "", ctx.Err()
		})
		r.Step("Prepare.Ship", func(context.Context, *State) (string, error) {
			return "", errors.New("the run was aborted in the block: Ship must not run")
		})
	}))
	if ds, err := e.LoadFlows("prepare.json", []byte(prepareJSON)); err != nil {
		t.Fatalf("load: %v\n%v", err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer closeEngine(t, e)
	c := apiClient{t, httptest.NewServer(e.Handler())}
	defer c.srv.Close()
	if status, out := c.do("POST", "/rpc/Prepare.Start?run_id=p-1", `{"Customer": {"Email": "ada"}, "Order": {}}`); status != http.StatusCreated {
		t.Fatalf("start: %d %v", status, out)
	}
	waitFor(t, "Reserve completed, Mark running", func() bool {
		st, err := e.Status(context.Background(), "p-1")
		if err != nil {
			return false
		}
		var reserved, marking bool
		for _, b := range st.Branches {
			reserved = reserved || b.Step == "Reserve" && b.Outcome == runtime.OutcomeOK
			marking = marking || b.Step == "Mark" && b.Machine == "Mark:running"
		}
		return reserved && marking
	})
	if status, out := c.do("POST", "/runs/p-1/abort", ""); status != http.StatusAccepted {
		t.Fatalf("abort: %d %v", status, out)
	}
	waitFor(t, "the run over", func() bool { return runState(fx, "p-1").Terminal() })

	_, out := c.do("GET", "/runs/p-1", "")
	if out["state"] != string(runtime.StateAborted) {
		t.Fatalf("GET /runs/p-1: %v, want aborted", out)
	}
	branches := map[string]string{}
	for _, b := range out["branches"].([]any) {
		m := b.(map[string]any)
		branches[m["step"].(string)] = fmt.Sprint(m["outcome"])
	}
	if branches["Reserve"] != "ok" || branches["Mark"] != "error" {
		t.Errorf("branches %v: want Reserve ok, Mark error (cancelled)", branches)
	}
	if fx.effects.count("release:p-1/Reserve") != 1 || fx.effects.count("delete:p-1/Create") != 1 || fx.effects.count("reserve:") != 1 {
		t.Errorf("effects %v: want Reserve once, released once, Create deleted once", fx.effects.n)
	}
	h, err := e.History(context.Background(), "p-1")
	if err != nil {
		t.Fatal(err)
	}
	var undone []string
	for _, ev := range h {
		if strings.HasSuffix(ev.To, ":rollback") {
			undone = append(undone, ev.Step)
		}
	}
	if !slices.Equal(undone, []string{"Reserve", "Create"}) {
		t.Errorf("rollbacks %v, want Reserve then Create", undone)
	}
	_, hist := c.do("GET", "/runs/p-1/history", "")
	seq, _ := hist["interrupted"].(float64)
	if i := int(seq) - 1; i < 0 || i >= len(h) || h[i].From != "Both:parallel" || h[i].To != runtime.MachineAborting {
		t.Errorf("interrupted %v: want the event leaving block Both for aborting", hist["interrupted"])
	}
}
