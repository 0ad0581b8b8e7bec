package runtime_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// hookLog records the WithRunParked and WithRunEnded calls of runs.
type hookLog struct {
	mu  sync.Mutex
	got []string
}

func (h *hookLog) add(s string) { h.mu.Lock(); h.got = append(h.got, s); h.mu.Unlock() }
func (h *hookLog) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

// A run says when it parks and wakes, in that order, before it ends: an
// await that gets its event, then a sleep that times out, then the end.
func TestRunParkedHook(t *testing.T) {
	var h hookLog
	sub := newProbeSub()
	clock := runtime.NewFakeClock(epoch)
	f := runtime.New[order]("Orders", runtime.WithSubscriber(sub), runtime.WithClock(clock),
		runtime.WithRunParked(func(id string, parked bool) {
			if parked {
				h.add("park " + id)
			} else {
				h.add("wake " + id)
			}
		}),
		runtime.WithRunEnded(func(id string, final runtime.RunState, _ error) { h.add("end " + id + " " + string(final)) }))
	if err := f.Register(awaitPaid(time.Hour),
		runtime.NewSleep[order]("Nap", time.Minute, nil)); err != nil {
		t.Fatal(err)
	}
	run, err := f.Start(context.Background(), order{OrderID: "o-1"}, runtime.WithRunID("r1"))
	if err != nil {
		t.Fatal(err)
	}
	sub.waitFor(t, "r1/Pay")
	if got := h.all(); !slices.Equal(got, []string{"park r1"}) {
		t.Fatalf("while awaiting: %v", got)
	}
	payThenNap(t, run, sub, clock, &h, 3, 5)
	want := []string{"park r1", "wake r1", "park r1", "wake r1", "end r1 done"}
	if got := h.all(); !slices.Equal(got, want) {
		t.Fatalf("hooks %v, want %v", got, want)
	}
}

// payThenNap drives run r1 (awaitPaid, then a one-minute sleep on clock),
// which awaits: it delivers the payment, lets the sleep's time come once
// h has slept hooks (the run parked again), and returns once the run is
// done and h has all its hooks (WithRunEnded comes after Done).
func payThenNap(t *testing.T, run *runtime.Run[order], sub *probeSub, clock *runtime.FakeClock, h *hookLog, slept, all int) {
	t.Helper()
	sub.send("r1/Pay", `{"correlation_id":"o-1"}`)
	for deadline := time.Now().Add(5 * time.Second); len(h.all()) < slept && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	clock.Advance(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := run.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); len(h.all()) < all && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}
