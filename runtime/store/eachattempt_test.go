package store

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

type payState struct {
	ID     string `json:"id"`
	Charge string `json:"charge"`
}

// newEachPay is a flow whose Pay waits for an "ops"/"pay.allowed" event
// of the run's ID before each attempt (runtime.Await.EachAttempt); its
// first attempt fails. tries collects the attempts' numbers and keys.
func newEachPay(t *testing.T, sink runtime.Sink, clock runtime.Clock, bus *runtime.MemoryBus, tries *[]string, mu *sync.Mutex) *runtime.Flow[payState] {
	t.Helper()
	f := runtime.New[payState]("EachPay", runtime.WithSink(sink), runtime.WithClock(clock), runtime.WithSubscriber(bus))
	pay := runtime.NewStep("Pay", func(ctx context.Context, s *payState) (runtime.Outcome, error) {
		mu.Lock()
		defer mu.Unlock()
		n := runtime.Attempt(ctx)
		*tries = append(*tries, runtime.IdempotencyKey(ctx)+"@"+string(rune('0'+n)))
		if n == 1 {
			return "", errors.New("card service unavailable")
		}
		s.Charge = "ch-1"
		return "", nil
	}, runtime.WithRetry[payState](runtime.RetryPolicy{Attempts: 3, Initial: time.Minute}), runtime.WithIrreversible[payState]())
	pay.Await = &runtime.Await[payState]{Topic: "ops", Event: "pay.allowed", Field: "run",
		Correlate: func(s *payState) string { return s.ID }, EachAttempt: true}
	if err := f.Register(pay); err != nil {
		t.Fatal(err)
	}
	return f
}

// A run whose retry waits again, with the durable store as its sink: it
// hibernates in its wait and thaws from the store's history; the store
// lists it waiting in Pay with the wait's correlation; a new process
// (store reopened) resumes it in that wait and runs attempt 2 under the
// same key.
func TestEachAttemptWaitsInStore(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{CompactEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	clock := runtime.NewFakeClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	var mu sync.Mutex
	var tries []string
	bus := runtime.NewMemoryBus()
	allow := func(bus *runtime.MemoryBus) {
		if err := bus.Publish(context.Background(), "ops", "pay.allowed", json.RawMessage(`{"run":"p-1"}`)); err != nil {
			t.Fatal(err)
		}
	}
	f := newEachPay(t, s, clock, bus, &tries, &mu)
	if _, err := f.Start(context.Background(), payState{ID: "p-1"}, runtime.WithRunID("p-1")); err != nil {
		t.Fatal(err)
	}
	events := func(s *Store, n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if h, err := s.Load("p-1"); err == nil && len(h) == n {
				return
			}
		}
		h, _ := s.Load("p-1")
		t.Fatalf("%d events, want %d", len(h), n)
	}
	events(s, 1)
	allow(bus) // the first attempt fails: Pay:running -> Pay:waiting, after a minute's backoff
	events(s, 3)
	clock.BlockUntil(1)
	clock.Advance(time.Minute)
	waitUntilStore(t, func() bool {
		st, err := f.Status(context.Background(), "p-1")
		return err == nil && st.Machine == runtime.WaitingState("Pay") && st.Attempt == 2
	})
	runs, err := s.List(Filter{NonTerminal: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].State != runtime.StateWaiting || runs[0].Step != "Pay" || runs[0].Machine != runtime.WaitingState("Pay") ||
		runs[0].Correlation != "p-1" || runs[0].Events != 3 {
		t.Fatalf("listed %+v", runs)
	}
	// The process ends; another opens the store and resumes the run.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, Options{CompactEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	bus2 := runtime.NewMemoryBus()
	f2 := newEachPay(t, s2, clock, bus2, &tries, &mu)
	resumed, err := ResumeAll(context.Background(), f2, s2)
	if err != nil || len(resumed) != 1 {
		t.Fatalf("resumed %d: %v", len(resumed), err)
	}
	st, err := f2.Status(context.Background(), "p-1")
	if err != nil || st.Attempt != 2 || st.Err != "card service unavailable" || st.Wait == nil {
		t.Fatalf("resumed status %+v (%v)", st, err)
	}
	allow(bus2)
	res, err := resumed[0].Wait(context.Background())
	if res.Final != runtime.StateDone || res.State.Charge != "ch-1" {
		t.Fatalf("final %s (%v)", res.Final, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(tries) != 2 || tries[0] != "p-1/Pay@1" || tries[1] != "p-1/Pay@2" {
		t.Fatalf("attempts %v", tries)
	}
	h, err := s2.Load("p-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := f2.CheckHistory(h); err != nil {
		t.Fatal(err)
	}
}

func waitUntilStore(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
	}
}
