package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// A run whose history the flow's definition on this engine does not fit
// (a generated flow registered from Go, changed since the run stopped: the
// step it waits on is gone) cannot resume, so it cannot roll back: its
// abort is answered 409 and records nothing. The abort request was
// recorded first, the resume then failed, and the answer was 500, "the
// run is not aborted", with the run's status saying abort_requested: a
// 5xx that changed the store, and a request that a later definition that
// fits would act on.
func TestAbortOfARunThatCannotResumeChangesNothing(t *testing.T) {
	st := store.NewMemory()
	e := startGenEngine(t, Options{Store: st}, &ledger{}, 0)
	id := startOrder(t, e, "o1")
	waitParked(t, e, id)
	closeEngine(t, e)

	e, err := New(Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	f := runtime.New[genOrder]("GenOrder", e.RuntimeOptions()...)
	if err := f.Register(runtime.NewStep[genOrder]("Ship", func(context.Context, *genOrder) (runtime.Outcome, error) {
		return runtime.OutcomeOK, nil
	})); err != nil {
		t.Fatal(err)
	}
	if err := RegisterFlow(e, f, RPC("GenOrder.Start")); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer closeEngine(t, e)
	if err := e.WaitResumed(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := apiClient{t, httptest.NewServer(e.Handler())}
	defer c.srv.Close()
	status, out := c.do("POST", "/runs/"+id+"/abort", "")
	if status != http.StatusConflict {
		t.Errorf("abort of a run that cannot resume: %d %v, want 409", status, out)
	}
	if st.AbortRequested(id) {
		t.Errorf("abort answered %d: its request is recorded all the same", status)
	}
	if s, err := e.Status(context.Background(), id); err != nil || s.AbortRequested {
		t.Errorf("status after the abort: abort_requested %v (%v)", s.AbortRequested, err)
	}
	t.Logf("abort: %d %v", status, out)
}
