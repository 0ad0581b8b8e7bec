// Package conformance proves that a flow means the same on the flowgen
// runtime and on Temporal: each case runs a flow with scripted faults on
// both executors, through the same engine API, and compares the calls to
// the services (endpoint, idempotency key, attempt and request, in order),
// the final state and the terminal state.
package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
	"github.com/flowgen/flowgen/temporal/internal/twoforms"
	"github.com/flowgen/flowgen/temporal/jsonflows"
)

// orderJSON exercises every construct a JSON flow has: rpc steps with
// responses and rpc rollbacks, retries with backoff, a per-attempt
// timeout, a Go step with named outcomes and a Go rollback, choose, an
// await matched by correlation with a timeout routed by outcome, sleep,
// publish (a step and a step's publication), irreversible, routing to done
// and to fail.
const orderJSON = `{"version": 1, "flows": [{
  "name": "Order", "state": "OrderState",
  "retry": {"attempts": 3, "initial": "20ms", "max": "80ms"},
  "timeout": "2s",
  "steps": [
    {"name": "Reserve", "action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Reserve", "request": "Item", "response": "Reservation"},
     "rollback": {"action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Release", "request": "Reservation"}}},
    {"name": "Charge", "action": {"kind": "rpc", "service": "pay", "endpoint": "Card.Charge", "request": "Amount", "response": "ChargeID"},
     "timeout": "400ms",
     "rollback": {"action": {"kind": "rpc", "service": "pay", "endpoint": "Card.Refund", "request": "ChargeID"}},
     "publish": [{"topic": "orders", "event": "charged", "payload": "ChargeID"}]},
    {"name": "Score", "action": {"kind": "go"}, "rollback": {"name": "Unscore"},
     "outcomes": ["fine", "odd"], "on": [{"on": "fine", "target": "Decide"}, {"on": "odd", "target": "fail"}]},
    {"name": "Decide", "action": {"kind": "choose", "when": [{"if": {"field": "Amount", "op": ">", "value": 100}, "target": "Approval"}], "otherwise": "Cool"}},
    {"name": "Approval", "action": {"kind": "await", "topic": "approvals", "event": "decided", "response": "Approval", "correlate": "OrderID", "timeout": "3s"},
     "on": [{"on": "timeout", "target": "fail"}]},
    {"name": "Cool", "action": {"kind": "sleep", "duration": "50ms"}},
    {"name": "Ship", "action": {"kind": "rpc", "service": "ship", "endpoint": "Parcel.Send", "request": "Item", "response": "Tracking"}, "irreversible": true},
    {"name": "Announce", "action": {"kind": "publish", "topic": "orders", "event": "shipped", "request": "Tracking"}, "irreversible": true}
  ]}]}`

// prepareJSON is a parallel block between two steps: its branches call
// two services at the same time, each merging its response field, each
// with an rpc rollback (docs/runtime.md, Parallel blocks). Take's timeout
// is long enough for its activity to heartbeat, which is how a cancelled
// run's attempt learns it on Temporal (docs/temporal.md, Cancelling a
// branch): aborted during Take, both then record its attempt ending with
// the context's error.
const prepareJSON = `{"version": 1, "flows": [{
  "name": "Prepare", "state": "PrepareState",
  "retry": {"attempts": 3, "initial": "20ms", "max": "80ms"},
  "timeout": "2s",
  "steps": [
    {"name": "Hold", "action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Hold", "request": "Item", "response": "Hold"},
     "rollback": {"action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Unhold", "request": "Hold"}}},
    {"name": "Both", "parallel": {"branches": [
      {"name": "Take", "action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Take", "request": "Item", "response": "Reservation"},
       "timeout": "20s",
       "rollback": {"action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Return", "request": "Reservation"}}},
      {"name": "Authorize", "action": {"kind": "rpc", "service": "pay", "endpoint": "Card.Authorize", "request": "Amount", "response": "Authorization"},
       "rollback": {"action": {"kind": "rpc", "service": "pay", "endpoint": "Card.Void", "request": "Authorization"}}}
    ]}},
    {"name": "Send", "action": {"kind": "rpc", "service": "ship", "endpoint": "Parcel.Send", "request": "Item", "response": "Tracking"}, "irreversible": true}
  ]}]}`

// shopJSON calls flows: Shop runs Billing as a child run (its result the
// receipt) and rolls it back with a child run of Refund. Confirm's
// timeout is long enough for its activity to heartbeat, as Prepare's Take:
// aborted during Confirm, both record its attempt ending with the
// context's error.
const shopJSON = `{"version": 1, "flows": [{
  "name": "Shop", "state": "ShopState",
  "retry": {"attempts": 2, "initial": "20ms"},
  "timeout": "2s",
  "steps": [
    {"name": "Reserve", "action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Reserve", "request": "Item", "response": "Reservation"},
     "rollback": {"action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Release", "request": "Reservation"}}},
    {"name": "Bill", "action": {"kind": "call", "flow": "Billing", "request": "Invoice", "response": "Receipt"},
     "rollback": {"action": {"kind": "call", "flow": "Refund", "request": "Receipt"}}},
    {"name": "Ship", "action": {"kind": "rpc", "service": "ship", "endpoint": "Parcel.Send", "request": "Item", "response": "Tracking"}, "irreversible": true}
  ]}, {
  "name": "Billing", "state": "Invoice",
  "timeout": "2s",
  "steps": [
    {"name": "Charge", "action": {"kind": "rpc", "service": "pay", "endpoint": "Card.Charge", "request": "Amount", "response": "ChargeID"},
     "rollback": {"action": {"kind": "rpc", "service": "pay", "endpoint": "Card.Refund", "request": "ChargeID"}}},
    {"name": "Confirm", "action": {"kind": "rpc", "service": "pay", "endpoint": "Card.Confirm", "request": "ChargeID", "response": "Confirmation"}, "irreversible": true,
     "timeout": "20s"}
  ]}, {
  "name": "Refund", "state": "Invoice",
  "steps": [
    {"name": "PayBack", "action": {"kind": "rpc", "service": "pay", "endpoint": "Card.PayBack", "request": "ChargeID"}, "irreversible": true}
  ]}]}`

// remindJSON bounds steps with deadlines (deadline → ScheduleToClose on
// Temporal, a timer for a wait): an rpc whose backoff leaves no time for
// another attempt within its deadline (outcome timeout, as on the
// runtime: Temporal does not retry past ScheduleToClose), or whose slow
// attempt the deadline cuts (no timeout of its own); a sleep until a state
// field capped by a deadline, which ends it with the outcome timeout (or
// error, when the field is not set). Book's second attempt starts at 2.5 s
// and must end before the deadline, 4.8 s, on a loaded machine too; its
// third would start at 5 s, past it, which each executor computes rather
// than times.
const remindJSON = `{"version": 1, "flows": [{
  "name": "Remind", "state": "RemindState",
  "steps": [
    {"name": "Book", "action": {"kind": "rpc", "service": "desk", "endpoint": "Slot.Book", "request": "Item", "response": "Slot"},
     "retry": {"attempts": 5, "initial": "2500ms", "max": "2500ms", "jitter": "none"}, "deadline": "4800ms",
     "rollback": {"action": {"kind": "rpc", "service": "desk", "endpoint": "Slot.Free", "request": "Slot"}}},
    {"name": "Wait", "action": {"kind": "sleep", "until": "FollowUpAt"}, "deadline": "300ms", "on": [{"on": "timeout", "target": "fail"}]},
    {"name": "Send", "action": {"kind": "rpc", "service": "desk", "endpoint": "Mail.Send", "request": "Item"}, "irreversible": true}
  ]}]}`

// splitJSON is a parallel block whose branch Take retries after a long
// backoff: its first attempt fails, and Authorize, held until the run has
// recorded that retry (releaseAfterRetry), then fails for good, which
// cancels Take in its backoff. On Temporal a pending retry is cancelled
// at once, without an attempt: both executors must record Take's end with
// no attempt (none ended then) and its status the attempt it made.
const splitJSON = `{"version": 1, "flows": [{
  "name": "Split", "state": "SplitState",
  "timeout": "20s",
  "steps": [
    {"name": "Hold", "action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Hold", "request": "Item", "response": "Hold"},
     "rollback": {"action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Unhold", "request": "Hold"}}},
    {"name": "Both", "parallel": {"branches": [
      {"name": "Take", "action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Take", "request": "Item", "response": "Reservation"},
       "retry": {"attempts": 3, "initial": "1h", "jitter": "none"},
       "rollback": {"action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Return", "request": "Reservation"}}},
      {"name": "Authorize", "action": {"kind": "rpc", "service": "pay", "endpoint": "Card.Authorize", "request": "Amount", "response": "Authorization"},
       "rollback": {"action": {"kind": "rpc", "service": "pay", "endpoint": "Card.Void", "request": "Authorization"}}}
    ]}},
    {"name": "Send", "action": {"kind": "rpc", "service": "ship", "endpoint": "Parcel.Send", "request": "Item", "response": "Tracking"}, "irreversible": true}
  ]}]}`

// nudgeJSON routes an await's timeout to a step that loops back to the
// await: each visit is a wait of its own (its idempotency key "#n", on
// Temporal its own turn in the inbox), and an event sent for the order
// after the first visit timed out is taken by the second.
const nudgeJSON = `{"version": 1, "flows": [{
  "name": "Nudge", "state": "NudgeState",
  "timeout": "2s",
  "steps": [
    {"name": "Ask", "action": {"kind": "rpc", "service": "mail", "endpoint": "Mail.Ask", "request": "Item", "response": "Asked"}, "irreversible": true},
    {"name": "Reply", "action": {"kind": "await", "topic": "replies", "event": "received", "response": "Reply", "correlate": "OrderID", "timeout": "1s"},
     "on": [{"on": "timeout", "target": "Remind"}]},
    {"name": "Close", "action": {"kind": "rpc", "service": "desk", "endpoint": "Order.Close", "request": "Reply"}, "irreversible": true, "on": [{"on": "ok", "target": "done"}]},
    {"name": "Remind", "action": {"kind": "rpc", "service": "mail", "endpoint": "Mail.Nudge", "request": "Item"}, "irreversible": true,
     "on": [{"on": "ok", "target": "Reply"}]}
  ]}]}`

// loopJSON loops through two steps with rollbacks: Count sends the run
// back to Reserve once, so each completes twice, each visit with its own
// idempotency key ("#2"), its own attempts (Reserve retried on each
// visit, from attempt 1) and its own deadline, counted from its own entry; a failure
// after the loop rolls back every visit, newest first, each under its
// visit's key (Uncount writes the visits it undid in the state).
const loopJSON = `{"version": 1, "flows": [{
  "name": "Loop", "state": "LoopState",
  "retry": {"attempts": 3, "initial": "20ms", "max": "80ms", "jitter": "none"},
  "timeout": "2s",
  "steps": [
    {"name": "Reserve", "action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Reserve", "request": "Item", "response": "Reservation"},
     "deadline": "20s",
     "rollback": {"action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Release", "request": "Reservation"}}},
    {"name": "Count", "action": {"kind": "go"}, "rollback": {"name": "Uncount"},
     "outcomes": ["again", "enough"], "on": [{"on": "again", "target": "Reserve"}, {"on": "enough", "target": "Ship"}]},
    {"name": "Ship", "action": {"kind": "rpc", "service": "ship", "endpoint": "Parcel.Send", "request": "Item", "response": "Tracking"}, "irreversible": true}
  ]}]}`

// branchEndpoints are the endpoints Prepare's branches call at the same
// time: their calls may come in either order on either executor.
var branchEndpoints = []string{"Stock.Take", "Card.Authorize", "Stock.Reserve"}

// behaviour is what a scripted service does on one attempt.
type behaviour string

const (
	ok        behaviour = ""
	fail      behaviour = "fail"      // a retryable error
	permanent behaviour = "permanent" // runtime.Permanent
	slow      behaviour = "slow"      // answers only when the attempt's context ends
	panics    behaviour = "panic"
	defiant   behaviour = "defiant" // answers ok once its context ends: a call its block cancelled that completes all the same
	patient   behaviour = "patient" // answers ok after 5 s, or with its context's error if that ends first
	held      behaviour = "held"    // refuses for good once the test releases it (services.release), or its context's error if that ends first
	stuck     behaviour = "stuck"   // answers ok once the test releases it, whatever its context says
)

// script is the services of a case: per endpoint, what each attempt does
// (the last entry repeats; none: ok).
type script map[string][]behaviour

// services is a runtime.Caller playing a script, recording every call.
type services struct {
	script script
	mu     sync.Mutex
	calls  []string
	// released ends the calls that are held.
	releaseOnce sync.Once
	released    chan struct{}
}

// held is the channel whose closing releases the held calls.
func (s *services) held() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released == nil {
		s.released = make(chan struct{})
	}
	return s.released
}

// release ends the held calls.
func (s *services) release() { s.releaseOnce.Do(func() { close(s.held()) }) }

func (s *services) Call(ctx context.Context, service, endpoint string, req, rsp any) error {
	attempt := runtime.Attempt(ctx)
	body, _ := json.Marshal(req)
	s.mu.Lock()
	s.calls = append(s.calls, fmt.Sprintf("%s %s #%d %s", endpoint, runtime.IdempotencyKey(ctx), attempt, body))
	s.mu.Unlock()
	var b behaviour
	if bs := s.script[endpoint]; len(bs) > 0 {
		b = bs[min(attempt, len(bs))-1]
	}
	switch b {
	case fail:
		return fmt.Errorf("%s: unavailable", endpoint)
	case permanent:
		return runtime.Permanent(fmt.Errorf("%s: refused", endpoint))
	case slow:
		<-ctx.Done()
		return ctx.Err()
	case panics:
		panic(endpoint + " blew up")
	case defiant:
		<-ctx.Done()
	case held:
		select {
		case <-s.held():
			return runtime.Permanent(fmt.Errorf("%s: refused", endpoint))
		case <-ctx.Done():
			return ctx.Err()
		}
	case stuck:
		<-s.held()
	case patient:
		select {
		case <-time.After(5 * time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if out, isRaw := rsp.(*json.RawMessage); isRaw {
		*out = json.RawMessage(fmt.Sprintf("%q", response(endpoint, runtime.RunID(ctx))))
	}
	return nil
}

// response is what endpoint answers run: a value of its own per run, as a
// real service's IDs are, so that the awaits of runs that correlate on it
// (on one Temporal server, whose inboxes are per correlation value) take
// their own events.
func response(endpoint, run string) string {
	return strings.ToLower(strings.ReplaceAll(endpoint, ".", "-")) + "-" + run
}

func (s *services) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// handlers are the Go step and rollback of Order, the same on both.
func handlers(r *engine.Registry) {
	r.Step("Order.Score", func(ctx context.Context, s *engine.State) (string, error) {
		var amount float64
		_ = s.Get("Amount", &amount)
		if err := s.Set("Score", amount*2); err != nil {
			return "", err
		}
		if amount < 0 {
			return "odd", nil
		}
		return "fine", nil
	})
	r.Rollback("Order.Unscore", func(ctx context.Context, s *engine.State) error {
		s.Delete("Score")
		return nil
	})
	// The example flows' Go steps and rollbacks (examples/signup and
	// examples/cancellation; examples/order has none): what their
	// handlers do to the state.
	r.Step("Signup.Activate", func(ctx context.Context, s *engine.State) (string, error) { return "", s.Set("Active", true) })
	r.Step("Signup.ExpireTrial", func(ctx context.Context, s *engine.State) (string, error) { return "", nil })
	r.Rollback("Signup.Deactivate", func(ctx context.Context, s *engine.State) error { return s.Set("Active", false) })
	r.Rollback("Signup.CancelSubscription", func(ctx context.Context, s *engine.State) error {
		return s.Set("Cancelled", s.String("SubscriptionID"))
	})
	// Combo's branches' Go rollbacks (combo/combo.flow): each appends
	// its name, so the state tells their order.
	for _, name := range []string{"Release", "Void"} {
		r.Rollback("Combo."+name, func(ctx context.Context, s *engine.State) error {
			var undone []string
			_ = s.Get("Undone", &undone)
			return s.Set("Undone", append(undone, name))
		})
	}
	r.Step("Cancel.Inspect", func(ctx context.Context, s *engine.State) (string, error) { return s.String("Status"), nil })
	// Loop's: Count counts the laps, Uncount writes the lap it undid.
	r.Step("Loop.Count", func(ctx context.Context, s *engine.State) (string, error) {
		var laps int
		_ = s.Get("Laps", &laps)
		laps++
		if err := s.Set("Laps", laps); err != nil {
			return "", err
		}
		if laps < 2 {
			return "again", nil
		}
		return "enough", nil
	})
	r.Rollback("Loop.Uncount", func(ctx context.Context, s *engine.State) error {
		var undone []string
		_ = s.Get("Undone", &undone)
		return s.Set("Undone", append(undone, runtime.IdempotencyKey(ctx)))
	})
}

// side is one executor under test: an engine whose runs its services
// serve.
type side struct {
	name string
	eng  *engine.Engine
	svc  *services
}

func newLocal(t *testing.T, docs []string, sc script) *side {
	t.Helper()
	svc := &services{script: sc}
	e, err := engine.New(engine.Options{Store: store.NewMemory(), Caller: svc})
	if err != nil {
		t.Fatal(err)
	}
	return start(t, "runtime", e, svc, docs)
}

// serverMu serialises the cases' use of the one test server: its client
// and its list of workers are made and kept without a lock of their own,
// and the cases run in parallel.
var serverMu sync.Mutex

func newTemporal(t *testing.T, ts *temporaltest.TestServer, queue string, docs []string, sc script) *side {
	t.Helper()
	svc := &services{script: sc}
	serverMu.Lock()
	defer serverMu.Unlock()
	x := jsonflows.New(ts.GetDefaultClient(), jsonflows.Options{TaskQueue: queue})
	e, err := engine.New(engine.Options{Executor: x, Caller: svc})
	if err != nil {
		t.Fatal(err)
	}
	ts.NewWorker(queue, func(r worker.Registry) { x.Register(r, e) })
	return start(t, "temporal", e, svc, docs)
}

func start(t *testing.T, name string, e *engine.Engine, svc *services, docs []string) *side {
	t.Helper()
	handlers(e.Registry())
	for i, doc := range docs {
		if ds, err := e.LoadFlows(fmt.Sprintf("doc%d.json", i), []byte(doc)); err != nil {
			t.Fatalf("%s: load: %v %v", name, err, ds)
		}
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return &side{name: name, eng: e, svc: svc}
}

// waitFor polls the run's status until it is in one of states.
func (s *side) waitFor(t *testing.T, runID string, states ...runtime.RunState) engine.RunStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := s.eng.Status(context.Background(), runID)
		if err == nil && slices.Contains(states, st.State) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: run %s: want %v, have %+v (%v)", s.name, runID, states, st.Status, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// outcome is what the two executors must agree on.
type outcome struct {
	Calls []string
	State map[string]any
	Final runtime.RunState
	// Transitions are the run's history reduced (twoforms.Transitions),
	// its branches' events apart, each branch's in order: branches run at
	// the same time, so how their events interleave is the scheduler's.
	Transitions []string
	Branches    map[string][]string
	// Details are what each event of the run's machine carries besides
	// its transition (twoforms.Details), and Status the run's status once
	// it ended (twoforms.Finished): what GET /runs/{id} and /history show
	// an operator after the run.
	Details []string
	Status  runtime.Status
	// Children are the same of each child run the run's status names,
	// by run ID.
	Children map[string]childOutcome `json:",omitempty"`
	// Listed are the run and its children as GET /runs lists them once
	// they ended (listed).
	Listed []listedRun
}

// listedRun is what GET /runs shows of a run that both executors fill
// alike (not its events count and times: docs/temporal.md).
type listedRun struct {
	RunID, Flow, Parent, Step, Machine, Correlation string
	State                                           runtime.RunState
}

// childOutcome is what the executors must agree on of a child run.
type childOutcome struct {
	Transitions []string
	Details     []string
	Status      runtime.Status
}

// listed is how the engine's list of runs (GET /runs) shows run runID and
// its children (n in all) once each reads terminal.
// Temporal's list is its visibility, which follows the runs' memos: it is
// read until it shows them ended.
func listed(t *testing.T, s *side, runID string, n int) []listedRun {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		all, err := s.eng.Runs(context.Background(), store.Filter{})
		var runs []listedRun
		for _, r := range all {
			if r.RunID == runID || strings.HasPrefix(r.RunID, runID+"@") {
				runs = append(runs, listedRun{RunID: r.RunID, Flow: r.Flow, Parent: r.Parent, Step: r.Step, Machine: r.Machine, Correlation: r.Correlation, State: r.State})
			}
		}
		ended := err == nil && len(runs) == n && !slices.ContainsFunc(runs, func(r listedRun) bool { return !r.State.Terminal() })
		if ended {
			slices.SortFunc(runs, func(a, b listedRun) int { return strings.Compare(a.RunID, b.RunID) })
			return runs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: run %s and its children never listed ended: %+v (%v)", s.name, runID, runs, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// step is what a case does to its run after the start.
type step func(t *testing.T, s *side, runID string)

// deliver posts an approval for the order, a step of a case's before:
// the approval is there before the run starts, and both executors keep an
// event no run awaits yet (the engine's inbox, Temporal's inbox
// workflow), so Approval takes it as it begins. Posted once the run
// waited, it raced Approval's 3 s timeout, which under load fired first
// on one executor only.
func deliver(orderID string) step {
	return func(t *testing.T, s *side, runID string) {
		payload := fmt.Sprintf(`{"correlation_id": %q, "ok": true}`, orderID)
		if _, err := s.eng.PublishEvent(context.Background(), engine.Message{ID: "approval-" + runID, Topic: "approvals", Event: "decided", Payload: json.RawMessage(payload)}); err != nil {
			t.Fatal(err)
		}
	}
}

func abortWhenWaiting(t *testing.T, s *side, runID string) {
	s.waitFor(t, runID, runtime.StateWaiting)
	if err := s.eng.Abort(context.Background(), runID); err != nil {
		t.Fatal(err)
	}
}

// abortInBlock aborts the run once its block's branches run, Authorize
// has completed and Take has been called (under load Take's call may
// start after Authorize completed: an abort then would find Take not
// started on one executor and in flight on the other).
func abortInBlock(t *testing.T, s *side, runID string) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		h, err := s.eng.History(context.Background(), runID)
		taking := slices.ContainsFunc(s.svc.list(), func(c string) bool { return strings.HasPrefix(c, "Stock.Take "+runID+"/") })
		if err == nil && taking && slices.ContainsFunc(h, func(e runtime.Event) bool { return e.Branch == "Authorize" && e.Outcome == runtime.OutcomeOK }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: run %s: Authorize never completed, or Take never called (%v)", s.name, runID, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.eng.Abort(context.Background(), runID); err != nil {
		t.Fatal(err)
	}
}

// releaseAfterRetry releases the held calls once the run has recorded a
// retry of branch: its first attempt failed and it waits out its backoff.
func releaseAfterRetry(branch string) step {
	return func(t *testing.T, s *side, runID string) {
		waitForBranch(t, s, runID, branch, runtime.OutcomeRetry)
		s.svc.release()
	}
}

// releaseAfterCompleted releases the held calls once the run has recorded
// that branch completed: the branch held completes after it on both
// executors, which then roll it back first.
func releaseAfterCompleted(branch string) step {
	return func(t *testing.T, s *side, runID string) {
		waitForBranch(t, s, runID, branch, runtime.OutcomeOK)
		s.svc.release()
	}
}

// waitForBranch returns once the run has recorded an attempt of branch
// that ended with outcome.
func waitForBranch(t *testing.T, s *side, runID, branch string, outcome runtime.Outcome) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h, err := s.eng.History(context.Background(), runID)
		if err == nil && slices.ContainsFunc(h, func(e runtime.Event) bool { return e.Branch == branch && e.Outcome == outcome }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: run %s: branch %s never ended %s (%v)", s.name, runID, branch, outcome, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitInReply returns once the run waits in Nudge's Reply for the
// visit-th time.
func waitInReply(t *testing.T, s *side, runID string, visit int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h, err := s.eng.History(context.Background(), runID)
		n := 0
		for _, e := range h {
			if e.To == runtime.WaitingState("Reply") {
				n++
			}
		}
		if err == nil && n >= visit && h[len(h)-1].To == runtime.WaitingState("Reply") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: run %s never waited in Reply %d times (%v)", s.name, runID, visit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// replyInRemind posts the reply to order orderID while the run is in
// Remind (Mail.Nudge, stuck, is released only then): the first wait has
// timed out, and the reply is there before the run can reach the second,
// which takes it as it begins. Posted once the run waited there, it
// raced that wait's 1 s timeout, which under load fired first on one
// executor only. Both keep an event the run does not await yet (the
// runtime's bus, Temporal's signal channel).
func replyInRemind(orderID string) step {
	return func(t *testing.T, s *side, runID string) {
		waitCalled(t, s, runID, "Mail.Nudge")
		payload := fmt.Sprintf(`{"correlation_id": %q, "text": "yes"}`, orderID)
		if _, err := s.eng.PublishEvent(context.Background(), engine.Message{ID: "reply-" + runID, Topic: "replies", Event: "received", Payload: json.RawMessage(payload)}); err != nil {
			t.Fatal(err)
		}
		s.svc.release()
	}
}

// tookOnSecondVisit checks that Nudge's await timed out, was routed to
// Remind, which looped back, and that the second wait took the reply.
func tookOnSecondVisit(t *testing.T, o outcome) {
	t.Helper()
	want := []string{"Reply:waiting>Remind:running #0 timeout: ", "Remind:running>Reply:waiting #1 ok", "Reply:waiting>Reply:running"}
	i := 0
	for _, tr := range o.Transitions {
		if i < len(want) && strings.HasPrefix(tr, want[i]) {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("transitions %q: want in order %q", o.Transitions, want)
	}
}

// undidEachVisit requires of Loop's case the calls and rollbacks of each
// visit under its own key, newest first, on the runtime (which the
// Temporal side must then match).
func undidEachVisit(t *testing.T, o outcome) {
	t.Helper()
	run := "run-loop-visits-rolled-back"
	var calls []string
	for _, c := range o.Calls {
		calls = append(calls, strings.Join(strings.Fields(c)[:3], " "))
	}
	want := []string{
		"Stock.Reserve " + run + "/Reserve #1",
		"Stock.Reserve " + run + "/Reserve #2",
		"Stock.Reserve " + run + "/Reserve#2 #1",
		"Stock.Reserve " + run + "/Reserve#2 #2",
		"Parcel.Send " + run + "/Ship #1",
		"Stock.Release " + run + "/Reserve#2/rollback #1",
		"Stock.Release " + run + "/Reserve/rollback #1",
	}
	if !slices.Equal(calls, want) {
		t.Errorf("calls %q, want %q", calls, want)
	}
	undone, _ := o.State["Undone"].([]any)
	if got := fmt.Sprint(undone); got != "["+run+"/Count#2/rollback "+run+"/Count/rollback]" {
		t.Errorf("Uncount undid %s, want Count's second visit, then its first", got)
	}
}

// abortOnVisit aborts the run once it waits in Reply for the visit-th
// time.
func abortOnVisit(visit int) step {
	return func(t *testing.T, s *side, runID string) {
		waitInReply(t, s, runID, visit)
		if err := s.eng.Abort(context.Background(), runID); err != nil {
			t.Fatal(err)
		}
	}
}

// abortChildWhenCalled aborts the run's child run (the run's ID and
// suffix, "@Bill") once it has called endpoint: the parent is not
// aborted; its call fails.
func abortChildWhenCalled(suffix, endpoint string) step {
	return func(t *testing.T, s *side, runID string) {
		waitCalled(t, s, runID, endpoint)
		if err := s.eng.Abort(context.Background(), runID+suffix); err != nil {
			t.Fatal(err)
		}
	}
}

// waitCalled returns once the run or a child of it has called endpoint.
func waitCalled(t *testing.T, s *side, runID, endpoint string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !slices.ContainsFunc(s.svc.list(), func(c string) bool {
		return strings.HasPrefix(c, endpoint+" "+runID+"@") || strings.HasPrefix(c, endpoint+" "+runID+"/")
	}) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: run %s never called %s", s.name, runID, endpoint)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// abortWhenCalled aborts the run once its run or a child of it has
// called endpoint.
func abortWhenCalled(endpoint string) step {
	return func(t *testing.T, s *side, runID string) {
		waitCalled(t, s, runID, endpoint)
		if err := s.eng.Abort(context.Background(), runID); err != nil {
			t.Fatal(err)
		}
	}
}

type conformanceCase struct {
	name   string
	flow   string
	state  string
	script script
	// before runs before the run starts, then once it has.
	before []step
	then   []step
	want   runtime.RunState
	// example: the case runs the JSON form of this example's .flow file
	// (examples/<example>/<example>.flow) instead of the suite's flows,
	// some of whose names it shares.
	example string
	// quiet: the run calls no service on this path (it routes to fail at
	// once); the final state and the terminal state are compared.
	quiet bool
	// check, if set, checks the runtime's outcome (which Temporal's must
	// equal) for what the case is about.
	check func(t *testing.T, o outcome)
}

// run runs c on s under runID and returns its outcome.
func (c conformanceCase) run(t *testing.T, s *side, runID string) outcome {
	t.Helper()
	for _, f := range c.before {
		f(t, s, runID)
	}
	if _, err := s.eng.StartRun(context.Background(), c.flow, json.RawMessage(c.state), runID); err != nil {
		t.Fatalf("%s: start: %v", s.name, err)
	}
	for _, f := range c.then {
		f(t, s, runID)
	}
	st := s.waitFor(t, runID, runtime.StateDone, runtime.StateFailed, runtime.StateCompensated, runtime.StateAborted, runtime.StateCompensationFailed)
	var state map[string]any
	if err := json.Unmarshal(st.Snapshot, &state); err != nil {
		t.Fatalf("%s: snapshot %s: %v", s.name, st.Snapshot, err)
	}
	var calls []string
	for _, c := range s.svc.list() {
		if strings.Contains(c, " "+runID+"/") || strings.Contains(c, " "+runID+"@") { // its child runs' too
			calls = append(calls, c)
		}
	}
	h, err := s.eng.History(context.Background(), runID)
	if err != nil {
		t.Fatalf("%s: history: %v", s.name, err)
	}
	var run []runtime.Event
	branches := map[string][]runtime.Event{}
	for _, e := range h {
		if e.Branch != "" {
			branches[e.Branch] = append(branches[e.Branch], e)
		} else {
			run = append(run, e)
		}
	}
	out := outcome{Calls: concurrentSorted(calls), State: state, Final: st.State, Transitions: twoforms.Transitions(run), Status: twoforms.Finished(st.Status)}
	for _, e := range run {
		out.Details = append(out.Details, twoforms.Details(e))
	}
	for _, c := range st.Children {
		cst := s.waitFor(t, c.RunID, runtime.StateDone, runtime.StateFailed, runtime.StateCompensated, runtime.StateAborted, runtime.StateCompensationFailed)
		ch, err := s.eng.History(context.Background(), c.RunID)
		if err != nil {
			t.Fatalf("%s: history of child %s: %v", s.name, c.RunID, err)
		}
		co := childOutcome{Transitions: twoforms.Transitions(ch), Status: twoforms.Finished(cst.Status)}
		for _, e := range ch {
			co.Details = append(co.Details, twoforms.Details(e))
		}
		if out.Children == nil {
			out.Children = map[string]childOutcome{}
		}
		out.Children[c.RunID] = co
	}
	out.Listed = listed(t, s, runID, 1+len(out.Children))
	for b, events := range branches {
		if out.Branches == nil {
			out.Branches = map[string][]string{}
		}
		out.Branches[b] = twoforms.Transitions(events)
	}
	return out
}

// concurrentSorted sorts each run of consecutive calls of the branches'
// endpoints (branchEndpoints), which start at the same time: the order
// among them is the scheduler's; the order of everything else, the
// rollbacks included, is the flow's.
func concurrentSorted(calls []string) []string {
	inBlock := func(c string) bool {
		return slices.ContainsFunc(branchEndpoints, func(e string) bool { return strings.HasPrefix(c, e+" ") })
	}
	for i := 0; i < len(calls); {
		j := i
		for j < len(calls) && inBlock(calls[j]) {
			j++
		}
		slices.Sort(calls[i:j])
		i = max(j, i+1)
	}
	return calls
}

var cases = []conformanceCase{
	{name: "done", flow: "Order", state: `{"OrderID":"o1","Item":"book","Amount":40}`, want: runtime.StateDone},
	{name: "await", flow: "Order", state: `{"OrderID":"o2","Item":"car","Amount":900}`, before: []step{deliver("o2")}, want: runtime.StateDone},
	{name: "fails-permanently", flow: "Order", state: `{"OrderID":"o3","Item":"pen","Amount":3}`,
		script: script{"Card.Charge": {permanent}}, want: runtime.StateCompensated},
	{name: "fails-twice-then-succeeds", flow: "Order", state: `{"OrderID":"o4","Item":"cup","Amount":7}`,
		script: script{"Card.Charge": {fail, fail, ok}}, want: runtime.StateDone},
	{name: "times-out", flow: "Order", state: `{"OrderID":"o5","Item":"hat","Amount":9}`,
		script: script{"Card.Charge": {slow}}, want: runtime.StateCompensated},
	{name: "times-out-once", flow: "Order", state: `{"OrderID":"o6","Item":"hat","Amount":9}`,
		script: script{"Card.Charge": {slow, ok}}, want: runtime.StateDone},
	{name: "panics", flow: "Order", state: `{"OrderID":"o7","Item":"kit","Amount":11}`,
		script: script{"Parcel.Send": {panics, ok}}, want: runtime.StateDone},
	{name: "abort-while-waiting", flow: "Order", state: `{"OrderID":"o8","Item":"boat","Amount":500}`,
		then: []step{abortWhenWaiting}, want: runtime.StateAborted},
	// No OrderID: the await's correlation value is empty, and the step
	// fails at once (runtime.Step.CorrelationError) rather than take the
	// event sent with an empty correlation_id, meant for whichever run.
	{name: "await-correlation-unset", flow: "Order", state: `{"Item":"car","Amount":900}`, before: []step{deliver("")}, want: runtime.StateCompensated},
	{name: "await-times-out", flow: "Order", state: `{"OrderID":"o9","Item":"van","Amount":700}`, want: runtime.StateCompensated},
	{name: "rollback-keeps-failing", flow: "Order", state: `{"OrderID":"o10","Item":"map","Amount":5}`,
		script: script{"Parcel.Send": {permanent}, "Card.Refund": {fail}}, want: runtime.StateCompensationFailed},
	{name: "named-outcome-to-fail", flow: "Order", state: `{"OrderID":"o11","Item":"owl","Amount":-1}`, want: runtime.StateCompensated},
	// A parallel block: both branches complete and merge; a branch fails
	// for good once the other has been called (held until then), which,
	// cancelled, still completes (so both executors roll it back); a
	// branch that fails twice then succeeds.
	{name: "parallel-done", flow: "Prepare", state: `{"Item":"book","Amount":40}`, want: runtime.StateDone},
	{name: "parallel-branch-fails", flow: "Prepare", state: `{"Item":"pen","Amount":3}`,
		script: script{"Card.Authorize": {held}, "Stock.Take": {defiant}}, then: []step{releaseWhenCalled("Stock.Take")}, want: runtime.StateCompensated},
	{name: "parallel-branch-retries", flow: "Prepare", state: `{"Item":"cup","Amount":7}`,
		script: script{"Card.Authorize": {fail, fail, ok}}, want: runtime.StateDone},
	// A branch cancelled in its backoff (splitJSON).
	{name: "parallel-cancelled-in-backoff", flow: "Split", state: `{"Item":"vase","Amount":6}`,
		script: script{"Stock.Take": {fail, ok}, "Card.Authorize": {held}}, then: []step{releaseAfterRetry("Take")}, want: runtime.StateCompensated,
		check: cancelledAfterAttempt("Take", 1)},
	{name: "parallel-abort", flow: "Prepare", state: `{"Item":"mug","Amount":8}`,
		script: script{"Stock.Take": {slow}}, then: []step{abortInBlock}, want: runtime.StateAborted},
	// An await's timeout routed to a step that loops back to it: the
	// reply, sent in Remind, taken by the second wait; the run aborted in
	// it.
	{name: "await-timeout-routed-loop", flow: "Nudge", state: `{"OrderID":"n1","Item":"tent"}`,
		script: script{"Mail.Nudge": {stuck}}, then: []step{replyInRemind("n1")}, want: runtime.StateDone, check: tookOnSecondVisit},
	{name: "await-timeout-routed-abort", flow: "Nudge", state: `{"OrderID":"n2","Item":"tent"}`,
		then: []step{abortOnVisit(2)}, want: runtime.StateAborted},
	// A loop: each visit of a step its own key, attempts and deadline;
	// the compensation undoes every visit, newest first.
	{name: "loop-visits-rolled-back", flow: "Loop", state: `{"Item":"lamp"}`,
		script: script{"Stock.Reserve": {fail, ok}, "Parcel.Send": {permanent}}, want: runtime.StateCompensated, check: undidEachVisit},
	// Calls: the child's result in the parent's state; a child that fails
	// (it refunds its charge, then the parent releases); a later failure
	// rolled back by a rollback call; an abort while the child runs (the
	// child is aborted and compensates, then the parent).
	{name: "call-done", flow: "Shop", state: `{"Item":"tea","Invoice":{"Amount":12}}`, want: runtime.StateDone},
	{name: "call-child-fails", flow: "Shop", state: `{"Item":"jam","Invoice":{"Amount":13}}`,
		script: script{"Card.Confirm": {permanent}}, want: runtime.StateCompensated},
	{name: "call-rollback-call", flow: "Shop", state: `{"Item":"oil","Invoice":{"Amount":14}}`,
		script: script{"Parcel.Send": {permanent}}, want: runtime.StateCompensated},
	{name: "call-child-aborted", flow: "Shop", state: `{"Item":"pot","Invoice":{"Amount":16}}`,
		script: script{"Card.Confirm": {slow}}, then: []step{abortChildWhenCalled("@Bill", "Card.Confirm")}, want: runtime.StateCompensated},
	{name: "call-abort", flow: "Shop", state: `{"Item":"rug","Invoice":{"Amount":15}}`,
		script: script{"Card.Confirm": {slow}}, then: []step{abortWhenCalled("Card.Confirm")}, want: runtime.StateAborted},
	// Deadlines: a retry that would start past the step's deadline is not
	// made (outcome timeout); a sleep until a far time, cut by its
	// deadline; a sleep until a field not set (outcome error); a sleep
	// that wakes before its deadline.
	{name: "deadline-leaves-no-time", flow: "Remind", state: `{"Item":"desk","FollowUpAt":"2000-01-01T00:00:00Z"}`,
		script: script{"Slot.Book": {fail}}, want: runtime.StateFailed},
	{name: "deadline-cuts-sleep", flow: "Remind", state: `{"Item":"desk","FollowUpAt":"2999-01-01T00:00:00Z"}`, want: runtime.StateCompensated},
	{name: "sleep-until-unset", flow: "Remind", state: `{"Item":"desk"}`, want: runtime.StateCompensated},
	{name: "sleep-wakes-in-time", flow: "Remind", state: `{"Item":"desk","FollowUpAt":"2000-01-01T00:00:00Z"}`, want: runtime.StateDone},
	// A slow attempt cut by its step's deadline, the first or a retry:
	// the step ends timeout on that attempt, with the deadline's error.
	{name: "deadline-cuts-attempt", flow: "Remind", state: `{"Item":"desk"}`,
		script: script{"Slot.Book": {slow}}, want: runtime.StateFailed},
	{name: "deadline-cuts-retry", flow: "Remind", state: `{"Item":"desk"}`,
		script: script{"Slot.Book": {fail, slow}}, want: runtime.StateFailed},
	// The service's example flow (examples/serve/signup.json).
	{name: "signup-done", flow: "Signup", state: `{"Email":"ann@example.com"}`, then: []step{deliverPayment("ann@example.com")}, want: runtime.StateDone},
	{name: "signup-aborted", flow: "Signup", state: `{"Email":"bob@example.com"}`, then: []step{abortWhenWaiting}, want: runtime.StateAborted},
	{name: "signup-customer-fails", flow: "Signup", state: `{"Email":"cat@example.com"}`, script: script{"Customer.Create": {fail}}, want: runtime.StateFailed},
	// The example flows, compiled by flowgen json. Signup: paid; the
	// subscription refused (the customer deleted); aborted while it waits
	// for the payment (the Go rollbacks, then the customer deleted).
	{name: "example-signup-done", example: "signup", flow: "Signup", state: `{"Customer":{"name":"Ann","email":"ann@example.com"},"Plan":"pro"}`,
		then: []step{deliverTo("payments", "payment.succeeded", "Customer.Create")}, want: runtime.StateDone},
	{name: "example-signup-subscription-refused", example: "signup", flow: "Signup", state: `{"Customer":{"name":"Bob"},"Plan":"pro"}`,
		script: script{"Subscription.Create": {permanent}}, want: runtime.StateCompensated},
	{name: "example-signup-aborted", example: "signup", flow: "Signup", state: `{"Customer":{"name":"Cat"},"Plan":"pro"}`,
		then: []step{abortWhenWaiting}, want: runtime.StateAborted},
	// Cancel: an unpaid order closed; a paid one refunded, the refund
	// settled, then closed; a shipped one refused; an unpaid one whose
	// closing is refused; a refund that fails twice, then goes through.
	{name: "example-cancel-unpaid", example: "cancellation", flow: "Cancel", state: `{"OrderID":"c1","Status":"unpaid"}`, want: runtime.StateDone},
	{name: "example-cancel-paid", example: "cancellation", flow: "Cancel", state: `{"OrderID":"c2","Status":"paid"}`,
		then: []step{deliverTo("payments", "refund.settled", "Payment.Refund")}, want: runtime.StateDone},
	{name: "example-cancel-shipped", example: "cancellation", flow: "Cancel", state: `{"OrderID":"c3","Status":"shipped"}`,
		quiet: true, want: runtime.StateFailed},
	{name: "example-cancel-close-refused", example: "cancellation", flow: "Cancel", state: `{"OrderID":"c5","Status":"unpaid"}`,
		script: script{"Order.Close": {permanent}}, want: runtime.StateFailed},
	{name: "example-cancel-refund-retried", example: "cancellation", flow: "Cancel", state: `{"OrderID":"c4","Status":"paid"}`,
		script: script{"Payment.Refund": {fail, fail, ok}}, then: []step{deliverTo("payments", "refund.settled", "Payment.Refund")}, want: runtime.StateDone},
	// Order: the parcel refused (both branches of the block rolled back,
	// the one that completed last first: Stock.Reserve answers once
	// AuthorizeCard has completed); a
	// concierge that cannot be booked (the child Visit compensates, then
	// the parent); aborted during its two weeks' sleep after an express
	// shipment (the parcel is gone: only the block is rolled back).
	{name: "example-order-ship-refused", example: "order", flow: "Order", state: orderExample(`"Tier":"silver","Total":40`),
		script: script{"Stock.Reserve": {stuck}, "Ship.Standard": {permanent}}, then: []step{releaseAfterCompleted("AuthorizeCard")}, want: runtime.StateCompensated},
	{name: "example-order-concierge-refused", example: "order", flow: "Order", state: orderExample(`"Tier":"gold","Total":150`),
		script: script{"Stock.Reserve": {stuck}, "Concierge.Book": {permanent}}, then: []step{releaseAfterCompleted("AuthorizeCard")}, want: runtime.StateCompensated},
	{name: "example-order-abort-while-sleeping", example: "order", flow: "Order", state: orderExample(`"Tier":"silver","Total":40,"Express":true`),
		script: script{"Stock.Reserve": {stuck}}, then: []step{releaseAfterCompleted("AuthorizeCard"), abortWhenWaiting}, want: runtime.StateAborted},
}

// cancelledAfterAttempt checks that branch, cancelled in its backoff,
// ended with no attempt (none ended then) and that its status says the
// attempt it made (runtime.Branch.Attempt), after that attempt's retry.
func cancelledAfterAttempt(branch string, attempt int) func(*testing.T, outcome) {
	return func(t *testing.T, o outcome) {
		t.Helper()
		events := o.Branches[branch]
		retry := fmt.Sprintf("%s: %s>%s #%d retry: ", branch, runtime.RunningState(branch), runtime.RunningState(branch), attempt)
		if n := len(events); n < 2 || !strings.HasPrefix(events[n-2], retry) || !strings.Contains(events[n-1], ">Both:parallel #0 error: "+runtime.ErrBranchCancelled.Error()) {
			t.Errorf("branch %s's events %q: want its retry after attempt %d, then its end cancelled with no attempt", branch, events, attempt)
		}
		i := slices.IndexFunc(o.Status.Branches, func(b runtime.Branch) bool { return b.Step == branch })
		if i < 0 || !o.Status.Branches[i].Cancelled || o.Status.Branches[i].Attempt != attempt {
			t.Errorf("status branches %+v: want %s cancelled after attempt %d", o.Status.Branches, branch, attempt)
		}
	}
}

// orderExample is a state of examples/order's Order with the fields
// that route it.
func orderExample(route string) string {
	return `{"Items":[{"sku":"tea","quantity":2}],"Card":{"number":"4242","amount":40},"Contact":{"name":"Dee","email":"dee@example.com"},` +
		`"Parcel":{"address":"1 Main St","kilos":1.5},` + route + `}`
}

// deliverTo posts topic/event for the run once it waits, correlated with
// what endpoint answered the run (the value its await correlates on).
func deliverTo(topic, event, endpoint string) step {
	return func(t *testing.T, s *side, runID string) {
		s.waitFor(t, runID, runtime.StateWaiting)
		payload := fmt.Sprintf(`{"correlation_id": %q, "cents": 900}`, response(endpoint, runID))
		if _, err := s.eng.PublishEvent(context.Background(), engine.Message{ID: event + "-" + runID, Topic: topic, Event: event, Payload: json.RawMessage(payload)}); err != nil {
			t.Fatal(err)
		}
	}
}

// exampleJSON is the JSON form of examples/<name>/<name>.flow, as
// flowgen json prints it.
func exampleJSON(t *testing.T, name string) string {
	t.Helper()
	return flowJSON(t, filepath.Join("..", "..", "examples", name, name+".flow"))
}

// flowJSON is the JSON form of the .flow file at path, as flowgen json
// prints it.
func flowJSON(t *testing.T, path string) string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, ds := flowfile.Load(path, src, dsl.CheckOptions{})
	if f == nil || ds.HasErrors() {
		t.Fatalf("%s: %v", path, ds)
	}
	b, err := dsl.EncodeJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func deliverPayment(email string) step {
	return func(t *testing.T, s *side, runID string) {
		s.waitFor(t, runID, runtime.StateWaiting)
		payload := fmt.Sprintf(`{"correlation_id": %q, "cents": 900}`, email)
		if _, err := s.eng.PublishEvent(context.Background(), engine.Message{ID: "pay-" + runID, Topic: "payments", Event: "payment.succeeded", Payload: json.RawMessage(payload)}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestConformance runs every case on the runtime and on a real Temporal
// server, each case's runs in parallel, and compares them.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	signup, err := os.ReadFile("../../examples/serve/signup.json")
	if err != nil {
		t.Fatal(err)
	}
	suite := []string{orderJSON, prepareJSON, shopJSON, remindJSON, splitJSON, nudgeJSON, loopJSON, string(signup)}
	examples := map[string][]string{}
	for _, name := range []string{"signup", "cancellation", "order"} {
		examples[name] = []string{exampleJSON(t, name)}
	}
	ts := newServer(t)
	for i, c := range cases {
		docs := suite
		if c.example != "" {
			docs = examples[c.example]
		}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := c.compare(t, ts, fmt.Sprintf("conformance-%d", i), docs)
			if c.check != nil && !t.Failed() {
				c.check(t, o)
			}
		})
	}
}

// compare runs c on the runtime and on ts (its workers on queue), each
// engine with the flows of docs, and requires the same outcome of both.
func (c conformanceCase) compare(t *testing.T, ts *temporaltest.TestServer, queue string, docs []string) outcome {
	t.Helper()
	local := newLocal(t, docs, c.script)
	remote := newTemporal(t, ts, queue, docs, c.script)
	runID := "run-" + c.name
	var got [2]outcome
	var wg sync.WaitGroup
	for j, s := range []*side{local, remote} {
		wg.Go(func() { got[j] = c.run(t, s, runID) })
	}
	wg.Wait()
	if t.Failed() {
		return got[0]
	}
	if got[0].Final != c.want {
		t.Errorf("runtime ended %s, want %s", got[0].Final, c.want)
	}
	if d := cmp.Diff(got[0], got[1]); d != "" {
		t.Errorf("runtime (-) and Temporal (+) differ:\n%s", d)
	}
	if len(got[0].Calls) == 0 && c.want != runtime.StateAborted && !c.quiet {
		t.Errorf("no service calls: the case proves nothing")
	}
	return got[0]
}

// newServer starts the tests' Temporal server (testserver.New, set as
// docs/temporal.md asks of a server) whose workers (TestServer.NewWorker)
// take flowtemporal.WorkerOptions, as a user's do. opts are more server
// options (a test's hooks).
func newServer(t *testing.T, opts ...temporal.ServerOption) *temporaltest.TestServer {
	return testserver.New(t, temporaltest.WithBaseWorkerOptions(flowtemporal.WorkerOptions(worker.Options{})),
		temporaltest.WithBaseServerOptions(opts...))
}
