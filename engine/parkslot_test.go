package engine

import (
	"context"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// parkFlows: Nap sleeps, Hold awaits an event no one sends, for 100
// hours, each after a first step (a start whose first event waits records
// it on the caller's goroutine, which the gate would hold).
const parkFlows = `{"version": 1, "flows": [
  {"name": "Nap", "triggers": [{"kind": "rpc", "endpoint": "Nap.Start"}], "steps": [` + goStep + `, {"name": "Wait", "action": {"kind": "sleep", "duration": "100h"}}]},
  {"name": "Hold", "steps": [` + goStep + `, {"name": "Wait", "action": {"kind": "await", "topic": "t", "event": "go", "timeout": "100h"}, "irreversible": true}]}]}`

const goStep = `{"name": "Go", "action": {"kind": "publish", "topic": "t", "event": "went"}, "irreversible": true}`

// parks picks the events after which a run parks: the endGate holds the
// run's goroutine there, the waiting run visible to every reader.
func parks(e *runtime.Event) bool { return e.Parks() != nil }

// A waiting run holds no slot of the runs in flight (docs/engine.md#limits)
// from the moment it can be seen waiting: with MaxRunning 1, a client that
// starts a run, reads its status until it waits, then starts the next, is
// never refused as busy. The slot was given back only as the run parked,
// after its waiting event was in the store, and such a start was refused
// (ErrBusy) whenever it came before the run's goroutine got there. Then
// every run, woken by its abort, takes a slot again and gives it back
// once: the count ends at 0 running, 0 waiting.
func TestWaitingRunFreesItsSlot(t *testing.T) {
	for _, flow := range []string{"Nap", "Hold"} {
		t.Run(flow, func(t *testing.T) {
			e, st := gatedEngineOf(t, parks, parkFlows)
			const n = 200
			busy, ids := startsAfterReads(t, e, st, flow, n, "waiting", waiting)
			if busy > 0 {
				t.Errorf("%d of %d starts after the run before read waiting were refused as busy", busy, n)
			}
			<-st.ended
			close(st.next) // the last run parks; none holds after it
			waitFor(t, "every run parked", func() bool {
				s := e.Stats()
				return s.Running == 0 && s.Waiting == int64(len(ids))
			})
			for _, id := range ids {
				if err := e.Abort(context.Background(), id); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "every run ended", func() bool {
				s := e.Stats()
				return s.Running == 0 && s.Waiting == 0 && e.running.Load() == 0
			})
		})
	}
}

// The same over HTTP: a POST start right after GET /runs/{id} answered
// waiting is not answered 429.
func TestWaitingRunFreesItsSlotHTTP(t *testing.T) {
	e, st := gatedEngineOf(t, parks, parkFlows)
	const n = 100
	if busy := httpStartsAfterReads(t, e, st, "Nap", n, "waiting", waiting); busy > 0 {
		t.Errorf("%d of %d starts after GET /runs/{id} read waiting were answered 429", busy, n)
	}
}

func waiting(s runtime.RunState) bool { return s == runtime.StateWaiting }
