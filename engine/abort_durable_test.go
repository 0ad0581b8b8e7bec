package engine

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// abortsFail is a store whose abort requests cannot be written (a full
// disk, a failed sync).
type abortsFail struct{ *store.Memory }

var errAbortWrite = errors.New("test: abort request not written")

func (abortsFail) RequestAbort(context.Context, string) error { return errAbortWrite }

// An abort whose request cannot be made durable answers 5xx and changes
// nothing: the run is not told, it goes on waiting, and a payment still
// completes it.
func TestAbortNotRecordedChangesNothing(t *testing.T) {
	fx := newFixture(t)
	fx.st = abortsFail{store.NewMemory()}
	e, c := parkedSignup(t, fx)
	defer fx.stop()
	defer c.srv.Close()
	if status, out := c.do("POST", "/runs/s-1/abort", ""); status != 500 {
		t.Fatalf("abort not recorded: %d %v, want 500", status, out)
	}
	if _, err := e.PublishEvent(context.Background(), Message{Topic: "payments", Event: "payment.succeeded", ID: "pay-1",
		Payload: []byte(`{"correlation_id": "cus-ann-1"}`)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the run done", func() bool { return runState(fx, "s-1") == runtime.StateDone })
	if n := fx.effects.count("delete:"); n != 0 {
		t.Fatalf("%d rollbacks of a run whose abort answered 500", n)
	}
}

// A run with an abort request in the store (an abort answered 202 by an
// engine that died before the run recorded it) is resumed aborted when an
// engine starts on the store: it rolls back and ends aborted.
func TestAbortRequestResumesAborted(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	if _, err := e.StartRun(context.Background(), "Signup", []byte(`{"Customer": {"Email": "bob"}}`), "s-1"); err != nil {
		t.Fatal(err)
	}
	waitParked(t, e, "s-1")
	fx.stop()
	if err := fx.st.RequestAbort(context.Background(), "s-1"); err != nil {
		t.Fatal(err)
	}

	fx.start()
	defer fx.stop()
	waitFor(t, "the run over", func() bool { return runState(fx, "s-1").Terminal() })
	if got := runState(fx, "s-1"); got != runtime.StateAborted {
		t.Fatalf("the run ended %s, want aborted", got)
	}
	if n := fx.effects.count("delete:"); n != 1 {
		t.Fatalf("the customer deleted %d times, want once (rolled back)", n)
	}
	if fx.st.AbortRequested("s-1") {
		t.Fatal("the request pending once the run is over")
	}
}

// A run's status says that an abort is accepted and not yet recorded by
// the run (its step in flight has not returned, here: the request written
// behind the run's back), and so does GET /runs; neither once the run is
// over.
func TestStatusShowsAbortRequested(t *testing.T) {
	fx := newFixture(t)
	_, c := parkedSignup(t, fx)
	defer fx.stop()
	defer c.srv.Close()
	listed := func() any {
		_, out := c.do("GET", "/runs", "")
		runs, _ := out["runs"].([]any)
		if len(runs) != 1 {
			t.Fatalf("GET /runs: %v, want s-1", out)
		}
		return runs[0].(map[string]any)["abort_requested"]
	}
	if _, out := c.do("GET", "/runs/s-1", ""); out["abort_requested"] != nil || listed() != nil {
		t.Fatalf("abort_requested before any abort: %v, listed %v", out, listed())
	}
	if err := fx.st.RequestAbort(context.Background(), "s-1"); err != nil {
		t.Fatal(err)
	}
	if status, out := c.do("GET", "/runs/s-1", ""); status != 200 || out["abort_requested"] != true || out["state"] != "waiting" {
		t.Fatalf("GET /runs/s-1: %d %v, want waiting with abort_requested", status, out)
	}
	if got := listed(); got != true {
		t.Fatalf("GET /runs lists s-1 with abort_requested %v, want true", got)
	}
	if status, out := c.do("POST", "/runs/s-1/abort", ""); status != 202 {
		t.Fatalf("abort: %d %v", status, out)
	}
	waitFor(t, "the run over", func() bool { return runState(fx, "s-1").Terminal() })
	if _, out := c.do("GET", "/runs/s-1", ""); out["abort_requested"] != nil || out["state"] != "aborted" || listed() != nil {
		t.Fatalf("GET /runs/s-1 once over: %v (listed: abort_requested %v), want aborted without abort_requested", out, listed())
	}
}

// parkedSignup starts fx's engine, serves its API, and starts Signup run
// s-1 through it, parked on its payment.
func parkedSignup(t *testing.T, fx *fixture) (*Engine, apiClient) {
	t.Helper()
	e := fx.start()
	c := apiClient{t, httptest.NewServer(e.Handler())}
	if status, out := c.do("POST", "/flows/Signup/runs?run_id=s-1", `{"Customer": {"Email": "ann"}}`); status != 201 {
		t.Fatalf("start: %d %v", status, out)
	}
	waitParked(t, e, "s-1")
	return e, c
}

// A run rolling back has nothing left to abort: its status says no
// abort_requested, though the store keeps the request until the run is
// over. One fails and rolls back, and an abort accepted then changes
// nothing (it ends compensated); the other is aborted at its step in
// flight, and once it records that and rolls back the abort is no longer
// pending. Both wait in their rollback, a call of Refund.
func TestStatusAbortRequestedUntilTaken(t *testing.T) {
	broker := NewMemoryBroker()
	st := store.NewMemory()
	e := startCompensate(t, Options{Store: st, Broker: broker},
		func(_ context.Context, s *State) (runtime.Outcome, error) {
			return "", s.Set("Payment", map[string]string{"ID": s.String("Order")})
		},
		func(ctx context.Context, s *State) (runtime.Outcome, error) {
			if s.String("Order") == "holds" {
				<-ctx.Done() // until the abort
				return "", ctx.Err()
			}
			return "", runtime.Permanent(errors.New("no parcel service"))
		})
	runState := func(id string) runtime.RunState { info, _ := st.Get(id); return info.State }
	parked := func(id string) func() bool {
		return func() bool {
			s, err := e.Status(context.Background(), id)
			return err == nil && s.Machine == "Pay:rollback" && s.Wait != nil
		}
	}

	failed, err := e.StartRun(context.Background(), "Order", json.RawMessage(`{"Order": "fails"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failed order parked in its rollback", parked(failed))
	// An abort would change nothing: it is refused (409) and recorded
	// nowhere.
	if err := e.Abort(context.Background(), failed); !errors.Is(err, ErrConflict) {
		t.Fatalf("abort of a run rolling back after a failure: %v; want ErrConflict", err)
	}
	if s, _ := e.Status(context.Background(), failed); s.AbortRequested || st.AbortRequested(failed) {
		t.Errorf("a run rolling back after a failure, aborted: abort_requested %v (the store's request %v), want false (false)", s.AbortRequested, st.AbortRequested(failed))
	}

	held, err := e.StartRun(context.Background(), "Order", json.RawMessage(`{"Order": "holds"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the held order at Ship", func() bool { s, _ := e.Status(context.Background(), held); return s.Machine == "Ship:running" })
	if err := e.Abort(context.Background(), held); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the aborted order parked in its rollback", parked(held))
	if s, _ := e.Status(context.Background(), held); s.AbortRequested || s.Err != runtime.ErrAborted.Error() {
		t.Errorf("a run rolling back after its abort: abort_requested %v, error %q; want false, aborted", s.AbortRequested, s.Err)
	}
	if err := e.Abort(context.Background(), held); !errors.Is(err, ErrConflict) {
		t.Errorf("a second abort of a run rolling back after its abort: %v; want ErrConflict", err)
	}

	for _, id := range []string{failed, held} {
		publish(t, broker, "refund-"+id, "bank", "refunded", map[string]any{"correlation_id": map[string]string{failed: "fails", held: "holds"}[id]})
	}
	waitFor(t, "both over", func() bool { return runState(failed).Terminal() && runState(held).Terminal() })
	if a, b := runState(failed), runState(held); a != runtime.StateCompensated || b != runtime.StateAborted {
		t.Errorf("the failed order %s, the held one %s; want compensated, aborted", a, b)
	}
}
