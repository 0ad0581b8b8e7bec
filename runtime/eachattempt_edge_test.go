package runtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// A waiting step whose outcome routes back to itself (a loop) enters its
// waiting state from its running state as a retry of Await.EachAttempt
// does, but it is a new visit: the history records it with a wait counted
// from then and a new key, Replay and CheckHistory read it, and the run
// goes on. Only the outcome retry makes that move a retry.
func TestAwaitLoopIsNotARetry(t *testing.T) {
	for _, each := range []bool{false, true} {
		clock := runtime.NewFakeClock(gateStart)
		sink, sub := runtime.NewMemorySink(), newProbeSub()
		sub.now = []byte(`{}`)
		flow := runtime.New[gateState]("Loop", runtime.WithSink(sink), runtime.WithClock(clock), runtime.WithSubscriber(sub))
		polls := 0
		poll := runtime.NewStep("Poll", func(ctx context.Context, s *gateState) (runtime.Outcome, error) {
			polls++
			if polls == 1 {
				clock.Advance(time.Minute) // the loop's second wait starts later than the first
				return "again", nil
			}
			return "", nil
		}, runtime.WithNext[gateState]("again", "Poll"), runtime.WithIrreversible[gateState]())
		poll.Await = &runtime.Await[gateState]{Topic: "ops", Event: "poll", Timeout: time.Hour, EachAttempt: each}
		if err := flow.Register(poll); err != nil {
			t.Fatal(err)
		}
		r, err := flow.Start(context.Background(), gateState{ID: "l-1"}, runtime.WithRunID("l-1"))
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.Wait(context.Background())
		if res.Final != runtime.StateDone {
			t.Fatalf("each %v: final %s (%v)", each, res.Final, err)
		}
		h := sink.History("l-1")
		if err := flow.CheckHistory(h); err != nil {
			t.Fatalf("each %v: %v", each, err)
		}
		sub.mu.Lock()
		waits := sub.waits
		sub.mu.Unlock()
		if len(waits) != 2 || waits[0].Key != "l-1/Poll" || waits[1].Key != "l-1/Poll#2" || !waits[1].Deadline.Equal(gateStart.Add(time.Minute+time.Hour)) {
			t.Fatalf("each %v: the loop's waits %+v, want a second visit's key and a deadline an hour after it began", each, waits)
		}
	}
}
