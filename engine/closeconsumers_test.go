package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/flowgen/flowgen/runtime/store"
)

// handlerGate holds the first call that passes through it until released.
type handlerGate struct {
	once     sync.Once
	entered  chan struct{} // closed as the first call enters
	release  chan struct{} // closed by the test: the call goes on
	returned chan struct{} // closed as the first call returns
}

func newHandlerGate() *handlerGate {
	return &handlerGate{entered: make(chan struct{}), release: make(chan struct{}), returned: make(chan struct{})}
}

// pass runs f, held first until released (or ctx is done: then f does
// not run) if it is the first call.
func (g *handlerGate) pass(ctx context.Context, f func()) {
	first := false
	g.once.Do(func() { first = true })
	if !first {
		f()
		return
	}
	close(g.entered)
	defer close(g.returned)
	select {
	case <-g.release:
		f()
	case <-ctx.Done():
	}
}

// heldStore holds, at its gates, the first look-up of an event-triggered
// run (startRun's, before the run is tracked) and the first recording of
// awaited events (the inbox's).
type heldStore struct {
	*store.Memory
	get, put *handlerGate
}

func (s *heldStore) Get(runID string) (info store.RunInfo, ok bool) {
	if !strings.HasPrefix(runID, "e-") {
		return s.Memory.Get(runID)
	}
	s.get.pass(context.Background(), func() { info, ok = s.Memory.Get(runID) })
	return info, ok
}

func (s *heldStore) PutMessages(ctx context.Context, ms []store.Message) (out []store.Message, fresh []bool, err error) {
	err = ctx.Err()
	s.put.pass(ctx, func() { out, fresh, err = s.Memory.PutMessages(ctx, ms) })
	return out, fresh, err
}

// TestCloseWaitsForConsumerHandlers: Close returns only once the broker
// handlers it finds in progress have returned: a trigger's, which was
// starting a run, and the inbox's, which was recording an awaited event.
// Before, stopping a MemoryBroker consumer did not wait for its handler,
// so Close returned, its caller closed the store, and then the handler
// went on: the trigger's started a run (tracked after Close had stopped
// waiting for runs, its steps running on a closed engine) and the inbox's
// wrote to the store. synctest.Wait is the hook: once every goroutine of
// the bubble is blocked, Close has either returned or is waiting.
func TestCloseWaitsForConsumerHandlers(t *testing.T) {
	for _, tc := range []struct{ name, topic, event string }{
		{"Trigger", "orders", "placed"},
		{"Inbox", "payments", "paid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := &heldStore{Memory: store.NewMemory(), get: newHandlerGate(), put: newHandlerGate()}
				g := map[string]*handlerGate{"Trigger": st.get, "Inbox": st.put}[tc.name]
				e := startJSONEngine(t, Options{Store: st, EventWorkers: 1}, `{"version": 1, "flows": [{"name": "A",
  "triggers": [{"kind": "event", "topic": "orders", "event": "placed"}],
  "steps": [{"name": "Wait", "action": {"kind": "await", "topic": "payments", "event": "paid", "timeout": "1h"}}]}]}`)
				if err := e.broker.Publish(context.Background(), Message{ID: "m1", Topic: tc.topic, Event: tc.event, Payload: []byte(`{}`)}); err != nil {
					t.Fatal(err)
				}
				<-g.entered
				closed := make(chan error, 1)
				go func() { closed <- e.Close(context.Background()) }()
				synctest.Wait()
				select {
				case <-closed:
					t.Error("Close returned while a broker handler was still running")
					close(g.release) // let it end within the bubble
					<-g.returned
					return
				default:
				}
				close(g.release)
				if err := <-closed; err != nil {
					t.Fatal(err)
				}
				select {
				case <-g.returned:
				default:
					t.Error("Close returned before the handler's store call did")
				}
			})
		})
	}
}

// TestCloseBoundsConsumerWaitByItsContext: Close waits for a broker
// handler in progress only within its context: past it, Close returns
// the context's error and cancels the handlers' context, which ends a
// handler waiting on it (here, the inbox's write to a store that does not
// answer). Before, a consumer's stop (which waits for its handler) was
// called before Close looked at its context, and Close never returned.
func TestCloseBoundsConsumerWaitByItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &heldStore{Memory: store.NewMemory(), get: newHandlerGate(), put: newHandlerGate()}
		e := startJSONEngine(t, Options{Store: st}, `{"version": 1, "flows": [{"name": "A",
  "steps": [{"name": "Wait", "action": {"kind": "await", "topic": "payments", "event": "paid", "timeout": "1h"}}]}]}`)
		if err := e.broker.Publish(context.Background(), Message{ID: "m1", Topic: "payments", Event: "paid", Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		<-st.put.entered
		ctx, cancel := context.WithCancel(context.Background())
		closed := make(chan error, 1)
		go func() { closed <- e.Close(ctx) }()
		synctest.Wait()
		cancel()
		if err := <-closed; !errors.Is(err, context.Canceled) {
			t.Errorf("Close past its context: %v, want context.Canceled", err)
		}
		<-st.put.returned // ended by the handlers' context, cancelled
	})
}
