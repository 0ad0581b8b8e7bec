package engine

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// failingLoads is a store whose reads of a run's history for the runtime
// (runtime.HistoryLoader) fail while fail is set: a resume fails after
// the engine read the history itself.
type failingLoads struct {
	*store.Memory
	fail atomic.Bool
}

func (f *failingLoads) LoadHistory(ctx context.Context, runID string) ([]runtime.Event, error) {
	if f.fail.Load() {
		return nil, errors.New("test: the store failed")
	}
	return f.Memory.LoadHistory(ctx, runID)
}

// An abort of a run this engine is not driving, whose resume fails after
// the abort request is recorded, is answered 202: the request is durable,
// and the run's next resume takes it (here the next start's: the run ends
// aborted). Before, the answer was 500 with the request recorded all the
// same: a 5xx that changed the store.
func TestAbortWhoseResumeFailsAnswersDurable(t *testing.T) {
	st := &failingLoads{Memory: store.NewMemory()}
	opts := Options{Store: st, Broker: NewMemoryBroker()}
	e := startJSONEngine(t, opts, payFlow)
	id, err := e.StartRun(context.Background(), "Pay", []byte(`{"OrderID":"o1"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitParked(t, e, id)
	closeEngine(t, e)

	st.fail.Store(true) // the restart's resume of the run fails too
	e = startJSONEngine(t, opts, payFlow)
	_ = e.WaitResumed(context.Background())
	c := apiClient{t, httptest.NewServer(e.Handler())}
	status, out := c.do("POST", "/runs/"+id+"/abort", "")
	c.srv.Close()
	if status != http.StatusAccepted || !st.AbortRequested(id) {
		t.Fatalf("abort: %d %v, request recorded %v; want 202 and recorded", status, out, st.AbortRequested(id))
	}
	closeEngine(t, e)

	st.fail.Store(false)
	e = startJSONEngine(t, opts, payFlow)
	defer closeEngine(t, e)
	waitFor(t, "the run over", func() bool { i, _ := st.Get(id); return i.State.Terminal() })
	if i, _ := st.Get(id); i.State != runtime.StateAborted {
		t.Fatalf("the run ended %s, want aborted", i.State)
	}
}
