package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// gatedStore holds the loads of the histories of some runs until its gate
// opens, and counts how many are held at once.
type gatedStore struct {
	*store.Memory
	gate       chan struct{}
	mu         sync.Mutex
	gated      map[string]bool
	held, most atomic.Int64
}

func (g *gatedStore) Load(runID string) ([]runtime.Event, error) {
	g.mu.Lock()
	gated := g.gated[runID]
	g.mu.Unlock()
	if gated {
		n := g.held.Add(1)
		for m := g.most.Load(); n > m && !g.most.CompareAndSwap(m, n); m = g.most.Load() {
		}
		<-g.gate
		g.held.Add(-1)
	}
	return g.Memory.Load(runID)
}

// Start returns before the unfinished runs are resumed, and the engine
// serves meanwhile: with every resume held on a gate, GET /runs and
// GET /flows answer, a run not resumed yet answers its status and can be
// aborted (and is then not driven twice), and no more than ResumeWorkers
// runs are resumed at once. Before, Start resumed every run before it
// returned, so a server with 20,000 unfinished runs answered nothing
// until all were resumed.
func TestStartResumesInBackground(t *testing.T) {
	mem := store.NewMemory()
	const n = 10
	// Runs waiting for an event, left in the store by an engine that stopped.
	{
		e, _ := boundEngineOn(t, mem, 0)
		for i := range n {
			id := fmt.Sprintf("w-%d", i)
			if _, err := e.StartRun(context.Background(), "Wait", json.RawMessage(fmt.Sprintf(`{"Key": "k-%d"}`, i)), id); err != nil {
				t.Fatal(err)
			}
			waitParked(t, e, id)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	gs := &gatedStore{Memory: mem, gate: make(chan struct{}), gated: map[string]bool{}}
	for i := range n - 1 { // w-9 is not gated: the test aborts it
		gs.gated[fmt.Sprintf("w-%d", i)] = true
	}
	e, _ := boundEngineOn(t, gs, 2) // Start returns with the resumes held
	c := apiClient{t, httptestServer(t, e)}
	waitFor(t, "two resumes held", func() bool { return gs.held.Load() == 2 })
	if status, out := c.do("GET", "/runs?limit=1000", ""); status != 200 || len(out["runs"].([]any)) != n {
		t.Fatalf("GET /runs while resuming: %d %v", status, out)
	}
	if status, _ := c.do("GET", "/flows", ""); status != 200 {
		t.Fatalf("GET /flows while resuming: %d", status)
	}
	if s := e.Stats(); s.Resuming != n {
		t.Fatalf("stats while resuming: %+v, want %d resuming", s, n)
	}
	// w-9 waits behind the held resumes: not driven here yet.
	if _, live := e.liveRunOf("w-9"); live {
		t.Fatal("w-9 resumed before its turn")
	}
	if status, out := c.do("GET", "/runs/w-9", ""); status != 200 || out["state"] != "waiting" {
		t.Fatalf("status of a run not resumed yet: %d %v", status, out)
	}
	if err := e.Abort(context.Background(), "w-9"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "w-9 aborted", func() bool { return runStateOf(mem, "w-9") == string(runtime.StateAborted) })
	abortedLen := len(mustLoad(t, mem, "w-9"))

	close(gs.gate)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.WaitResumed(ctx); err != nil {
		t.Fatal(err)
	}
	if m := gs.most.Load(); m > 2 {
		t.Fatalf("%d runs resumed at once, want at most ResumeWorkers (2)", m)
	}
	waitFor(t, "the others parked again", func() bool { return e.Parked() == n-1 })
	if s := e.Stats(); s.Resuming != 0 || s.Waiting != n-1 || s.Running != 0 {
		t.Fatalf("stats after resuming: %+v", s)
	}
	if got := len(mustLoad(t, mem, "w-9")); got != abortedLen {
		t.Fatalf("w-9 has %d events after the background resume reached it, %d when it was aborted: driven twice", got, abortedLen)
	}
	// The resumed runs work: their events complete them.
	for i := range n - 1 {
		if _, err := e.PublishEvent(context.Background(), Message{Topic: "t", Event: "go", ID: fmt.Sprintf("ev-%d", i),
			Payload: json.RawMessage(fmt.Sprintf(`{"correlation_id": "k-%d"}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n - 1 {
		id := fmt.Sprintf("w-%d", i)
		waitFor(t, id+" done", func() bool { return runStateOf(mem, id) == string(runtime.StateDone) })
	}
}

func mustLoad(t *testing.T, st Store, id string) []runtime.Event {
	t.Helper()
	h, err := st.Load(id)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
