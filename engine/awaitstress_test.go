package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// stressPayFlow awaits a run's own payment for an hour; the run ends done
// when it takes it, and failed with the outcome timeout when the deadline
// wins.
const stressPayFlow = `{"version": 1, "flows": [{
  "name": "Pay", "state": "PayState",
  "triggers": [{"kind": "rpc", "endpoint": "Pay.Start"}],
  "steps": [{"name": "AwaitPayment",
    "action": {"kind": "await", "topic": "payments", "event": "order.paid", "response": "Payment", "correlate": "OrderID", "timeout": "1h"}}]
}]}`

// Many runs await their correlated event with deadlines spread over a
// few seconds of a fake clock, while their events are posted concurrently
// with the clock moved to and past the deadlines, and some runs are
// aborted meanwhile. For every run the recorded times decide: a run not
// aborted ends ok iff its event was accepted (PublishEvent returned nil,
// as POST /events answers 202) with a received time before its deadline,
// else it times out; a run that took its event has it claimed, and a
// run that did not leaves it pending (never both); a refused event is not
// in the inbox. And the engine closes with no goroutine left behind.
// No assertion depends on how long anything took.
func TestAwaitDeadlinesUnderConcurrentEventsAndAborts(t *testing.T) {
	t.Run("store", func(t *testing.T) { awaitDeadlinesUnderLoad(t, false, false) })
	// The inbox's writes take a while (a yield, a sleep of up to 200µs
	// now and then): more of them are in flight when deadlines pass.
	t.Run("slow inbox writes", func(t *testing.T) { awaitDeadlinesUnderLoad(t, true, false) })
	// The engine closed halfway through and a new one started on the
	// store, the clock going on: the runs resumed over their deadlines
	// take the events received before them, pending or claimed at the
	// close.
	t.Run("restart", func(t *testing.T) { awaitDeadlinesUnderLoad(t, true, true) })
}

// slowInbox is an InboxStore whose writes let other goroutines run
// first, sometimes for a while.
type slowInbox struct{ InboxStore }

func (slowInbox) pause() {
	goruntime.Gosched()
	if rand.IntN(4) == 0 {
		time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
	}
}

func (s slowInbox) PutMessages(ctx context.Context, ms []store.Message) ([]store.Message, []bool, error) {
	s.pause()
	return s.InboxStore.PutMessages(ctx, ms)
}

func (s slowInbox) ClaimMessage(ctx context.Context, k store.MessageKey, key string, at time.Time) error {
	s.pause()
	return s.InboxStore.ClaimMessage(ctx, k, key, at)
}

func (s slowInbox) ReleaseMessage(ctx context.Context, k store.MessageKey, key string, at time.Time) error {
	s.pause()
	return s.InboxStore.ReleaseMessage(ctx, k, key, at)
}

func awaitDeadlinesUnderLoad(t *testing.T, slow, restart bool) {
	const runs = 300
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	before := goruntime.NumGoroutine()
	st := store.NewMemory()
	clock := runtime.NewFakeClock(t0)
	opts := Options{Store: st, Broker: NewMemoryBroker(), Clock: clock}
	if slow {
		opts.Inbox = slowInbox{st}
	}
	e := startJSONEngine(t, opts, stressPayFlow)
	var cur atomic.Pointer[Engine] // the engine the clients reach
	cur.Store(e)
	ctx := context.Background()

	// Deadlines spread: a second of the clock every ten runs.
	ids := make([]string, runs)
	for i := range ids {
		if i > 0 && i%10 == 0 {
			clock.Advance(time.Second)
		}
		id, err := e.StartRun(ctx, "Pay", json.RawMessage(fmt.Sprintf(`{"OrderID":"o%d"}`, i)), "")
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	waitFor(t, "every run parked", func() bool { return e.Parked() == runs })
	last := t0.Add(time.Hour + runs/10*time.Second)
	// Move the clock to a few seconds before the first deadline: the
	// events and the deadlines then interleave.
	clock.Advance(time.Hour - time.Duration(runs/10)*time.Second - 2*time.Second)

	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	order := rng.Perm(runs)
	accepted := make([]bool, runs)
	posted := make([]bool, runs)
	aborted := make([]bool, runs)
	for i := range runs {
		posted[i] = i%7 != 0 // some runs get no event at all
		aborted[i] = i%11 == 0
	}
	var wg sync.WaitGroup
	errs := make(chan error, runs)
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				if aborted[i] {
					// Over, or rolling back after its timeout; or the engine closed.
					if err := cur.Load().Abort(ctx, ids[i]); err != nil && !errors.Is(err, runtime.ErrFinished) && !errors.Is(err, ErrConflict) && !errors.Is(err, ErrClosed) {
						errs <- fmt.Errorf("abort %s: %w", ids[i], err)
					}
				}
				if !posted[i] {
					continue
				}
				_, err := cur.Load().PublishEvent(ctx, Message{ID: fmt.Sprintf("pay-o%d", i), Topic: "payments", Event: "order.paid",
					Payload: json.RawMessage(fmt.Sprintf(`{"correlation_id":"o%d","amount":%d}`, i, i))})
				accepted[i] = err == nil
			}
		})
	}
	clockDone := make(chan struct{})
	go func() { // the clock, to and past every deadline, as events come
		defer close(clockDone)
		for now := clock.Now(); now.Before(last.Add(2 * time.Second)); now = clock.Now() {
			clock.Advance(100 * time.Millisecond)
			goruntime.Gosched()
		}
	}()
	for n, i := range order {
		if restart && n == runs/2 {
			closeEngine(t, e)
			e = startJSONEngine(t, opts, stressPayFlow)
			cur.Store(e)
		}
		work <- i
	}
	close(work)
	wg.Wait()
	<-clockDone
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitFor(t, "every run over", func() bool {
		for _, id := range ids {
			if i, _ := st.Get(id); !i.State.Terminal() {
				return false
			}
		}
		return true
	})

	for i, id := range ids {
		h, err := e.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var deadline time.Time
		var took, timedOut bool
		for _, ev := range h {
			if ev.Wait != nil && deadline.IsZero() {
				deadline = ev.Wait.Deadline
			}
			took = took || ev.Woke()
			timedOut = timedOut || ev.Outcome == runtime.OutcomeTimeout
		}
		k := store.MessageKey{Topic: "payments", Event: "order.paid", ID: fmt.Sprintf("pay-o%d", i)}
		m, inInbox, err := st.GetMessage(k)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := st.Get(id)
		what := fmt.Sprintf("run %d (%s, aborted %v, posted %v, accepted %v, received %s, deadline %s): %s, took %v, timed out %v, message %+v (%v)",
			i, id, aborted[i], posted[i], accepted[i], m.Received.Format(time.TimeOnly+".000"), deadline.Format(time.TimeOnly), info.State, took, timedOut, m.State, inInbox)
		if posted[i] && !accepted[i] && inInbox {
			t.Errorf("a refused event is in the inbox: %s", what)
		}
		if accepted[i] && !inInbox {
			t.Errorf("an accepted event is not in the inbox: %s", what)
		}
		inTime := accepted[i] && m.Received.Before(deadline)
		switch {
		case took:
			if !inTime {
				t.Errorf("took an event not received in time: %s", what)
			}
			if m.State != store.MessageClaimed || !strings.HasPrefix(m.ClaimedBy, id+"/") {
				t.Errorf("took its event, which is not claimed for it: %s", what)
			}
		case inInbox && m.State != store.MessagePending:
			t.Errorf("did not take its event, which is not pending: %s", what)
		case aborted[i] && info.State == runtime.StateAborted:
			// The abort came first.
		case inTime:
			t.Errorf("did not take its event, received in time: %s", what)
		case !timedOut:
			t.Errorf("neither took an event nor timed out: %s", what)
		}
		if !aborted[i] && (info.State == runtime.StateDone) != took {
			t.Errorf("ended %s: %s", info.State, what)
		}
	}
	closeEngine(t, e)
	waitFor(t, "goroutines back to where they were", func() bool { return goruntime.NumGoroutine() <= before+5 })
}
