package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// orderCallJSON: Order charges its invoice in a child run of Billing
// (whose Charge a Go handler does, and whose Check fails over a limit or
// fails its first attempt for 13, then waits an hour before the next), then ships (failing when told); a failure after the
// call refunds the receipt in a child run of Refund.
const orderCallJSON = `{
  "version": 1,
  "flows": [
    {"name": "Order", "state": "OrderState", "steps": [
      {"name": "Bill", "action": {"kind": "call", "flow": "Billing", "request": "Invoice", "response": "Receipt"},
       "rollback": {"action": {"kind": "call", "flow": "Refund", "request": "Receipt"}}},
      {"name": "Ship", "action": {"kind": "go"}, "irreversible": true}
    ]},
    {"name": "Billing", "state": "Invoice", "steps": [
      {"name": "Charge", "action": {"kind": "go"}, "irreversible": true},
      {"name": "Check", "action": {"kind": "go"}, "irreversible": true, "retry": {"attempts": 3, "initial": "1h"}}
    ]},
    {"name": "Refund", "state": "Invoice", "steps": [
      {"name": "PayBack", "action": {"kind": "go"}, "irreversible": true}
    ]}
  ]
}`

type callEngine struct {
	e        *Engine
	fx       *fixture
	refunded atomic.Int32
}

func newCallEngine(t *testing.T, fx *fixture) *callEngine {
	t.Helper()
	return newCallEngineOn(t, fx, nil)
}

// newCallEngineOn is newCallEngine on clock (nil: the real one).
func newCallEngineOn(t *testing.T, fx *fixture, clock runtime.Clock) *callEngine {
	t.Helper()
	c := &callEngine{fx: fx}
	e, err := New(Options{Store: fx.st, Caller: fx.caller, Broker: fx.broker, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	r := e.Registry()
	r.Step("Billing.Charge", func(ctx context.Context, s *State) (runtime.Outcome, error) {
		var amount int
		if err := s.Get("amount", &amount); err != nil {
			return "", err
		}
		return "", s.Set("charge", fmt.Sprintf("ch-%d", amount))
	})
	r.Step("Billing.Check", func(ctx context.Context, s *State) (runtime.Outcome, error) {
		var amount int
		_ = s.Get("amount", &amount)
		if amount == 13 && runtime.Attempt(ctx) == 1 {
			return "", errors.New("busy: try again in an hour")
		}
		if amount > 100 {
			return "", runtime.Permanent(errors.New("over the limit"))
		}
		return "", nil
	})
	r.Step("Order.Ship", func(ctx context.Context, s *State) (runtime.Outcome, error) {
		if s.String("FailShip") == "true" {
			return "", runtime.Permanent(errors.New("no parcel service"))
		}
		return "", nil
	})
	r.Step("Refund.PayBack", func(ctx context.Context, s *State) (runtime.Outcome, error) {
		c.refunded.Add(1)
		return "", nil
	})
	if ds, err := e.LoadFlows("order.json", []byte(orderCallJSON)); err != nil {
		t.Fatalf("load: %v\n%v", err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.e = e
	return c
}

func (c *callEngine) end(t *testing.T, id string) RunStatus {
	t.Helper()
	var st RunStatus
	waitFor(t, "run "+id+" to end", func() bool {
		var err error
		st, err = c.e.Status(context.Background(), id)
		return err == nil && st.State.Terminal()
	})
	return st
}

// JSON flows call JSON flows by name: the child's final state reaches the
// parent's field, a failing child fails the step, a rollback call runs
// Refund; the HTTP API shows a run's children and a child's parent.
func TestCallJSON(t *testing.T) {
	fx := newFixture(t)
	c := newCallEngine(t, fx)
	defer closeEngine(t, c.e)
	ctx := context.Background()

	id, err := c.e.StartRun(ctx, "Order", json.RawMessage(`{"Invoice": {"amount": 40}}`), "o-1")
	if err != nil {
		t.Fatal(err)
	}
	st := c.end(t, id)
	if st.State != runtime.StateDone || !strings.Contains(string(st.Snapshot), `"Receipt":{"amount":40,"charge":"ch-40"}`) {
		t.Fatalf("status %s, state %s", st.State, st.Snapshot)
	}
	if len(st.Children) != 1 || st.Children[0] != (runtime.RunRef{Flow: "Billing", RunID: "o-1@Bill"}) {
		t.Fatalf("children %v", st.Children)
	}
	srv := httptest.NewServer(c.e.Handler())
	defer srv.Close()
	for _, tc := range []struct{ path, want string }{
		{"/runs/o-1", `"children":[{"flow":"Billing","run_id":"o-1@Bill"}]`},
		{"/runs/o-1@Bill", `"parent":{"flow":"Order","run_id":"o-1"}`},
	} {
		rsp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rsp.Body)
		rsp.Body.Close()
		if rsp.StatusCode != 200 || !strings.Contains(string(b), tc.want) {
			t.Fatalf("GET %s: %d %s, want %s", tc.path, rsp.StatusCode, b, tc.want)
		}
	}

	// A failing child fails the step: nothing to refund.
	id, _ = c.e.StartRun(ctx, "Order", json.RawMessage(`{"Invoice": {"amount": 500}}`), "o-2")
	if st := c.end(t, id); st.State != runtime.StateFailed || !strings.Contains(st.Err, "over the limit") {
		t.Fatalf("o-2: %s, %q", st.State, st.Err)
	}
	// A failure after the call runs the rollback call.
	id, _ = c.e.StartRun(ctx, "Order", json.RawMessage(`{"Invoice": {"amount": 7}, "FailShip": true}`), "o-3")
	if st := c.end(t, id); st.State != runtime.StateCompensated || c.refunded.Load() != 1 {
		t.Fatalf("o-3: %s, %q, %d refunds", st.State, st.Err, c.refunded.Load())
	}
	if st, err := c.e.Status(ctx, "o-3@Bill:rollback"); err != nil || st.State != runtime.StateDone || st.Parent.RunID != "o-3" {
		t.Fatalf("refund run: %+v, %v", st, err)
	}
}

// Aborting a parent through the engine aborts its child; a child in flight
// when the engine closes resumes, with its parent, when it starts again.
func TestCallJSONAbortAndRestart(t *testing.T) {
	fx := newFixture(t)
	c := newCallEngine(t, fx)
	ctx := context.Background()
	if _, err := c.e.StartRun(ctx, "Order", json.RawMessage(`{"Invoice": {"amount": 13}}`), "a-1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the child's retry", func() bool { st, _ := c.e.Status(ctx, "a-1@Bill"); return st.Attempt == 2 })
	if err := c.e.Abort(ctx, "a-1"); err != nil {
		t.Fatal(err)
	}
	if st := c.end(t, "a-1"); st.State != runtime.StateAborted {
		t.Fatalf("parent %s", st.State)
	}
	if st := c.end(t, "a-1@Bill"); st.State != runtime.StateAborted {
		t.Fatalf("child %s", st.State)
	}

	if _, err := c.e.StartRun(ctx, "Order", json.RawMessage(`{"Invoice": {"amount": 13}}`), "r-1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the child's retry", func() bool { st, _ := c.e.Status(ctx, "r-1@Bill"); return st.Attempt == 2 })
	closeEngine(t, c.e) // the child is suspended in its backoff, its parent while waiting
	if s := runState(fx, "r-1"); s != runtime.StateWaiting {
		t.Fatalf("parent after close: %s", s)
	}
	// Started again once the child's hour of backoff is over: its retry
	// recorded when the next attempt may start, which a resume waits for.
	c2 := newCallEngineOn(t, fx, runtime.NewFakeClock(time.Now().Add(time.Hour)))
	defer closeEngine(t, c2.e)
	if st := c2.end(t, "r-1"); st.State != runtime.StateDone || len(st.Children) != 1 {
		t.Fatalf("resumed parent %s, children %v", st.State, st.Children)
	}
	if runs, _ := c2.e.Runs(ctx, store.Filter{Flow: "Billing"}); len(runs) != 2 {
		t.Fatalf("%d Billing runs, want a-1's, r-1's and no second one", len(runs))
	}
}
