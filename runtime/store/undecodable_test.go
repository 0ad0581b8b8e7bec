package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// heldSub is a Subscriber that keeps each wait's deliver function, so a
// test offers payloads to it as another publisher on a broker would.
type heldSub struct {
	mu      sync.Mutex
	deliver map[string]func(runtime.Delivery) bool
	ready   chan struct{} // closed at the first Subscribe
}

func (h *heldSub) Subscribe(_ context.Context, w runtime.Wait, deliver func(runtime.Delivery) bool) (func(), error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.deliver) == 0 {
		close(h.ready)
	}
	h.deliver[w.Key] = deliver
	return func() {}, nil
}

func (h *heldSub) send(key, payload string) bool {
	h.mu.Lock()
	d := h.deliver[key]
	h.mu.Unlock()
	return d != nil && d(runtime.Delivery{Payload: json.RawMessage(payload)})
}

type paidState struct {
	Reserved bool `json:"reserved"`
	Paid     struct {
		Amount int `json:"amount"`
	} `json:"paid"`
}

// A generated-style flow on the durable store (its runs hibernate in their
// waits and thaw from the store) whose await takes any payload of its event
// (no correlation): a payload that is not JSON is refused and the run waits
// on; one that is JSON but does not decode into the await's target
// ({"amount": "x"} into an int) fails the step with the decode error, and
// the run is compensated, every event of it in the store. Before, the
// payload that is not JSON was taken, and the run ended its life with the
// store saying "running".
func TestUndecodablePayloadOnStore(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sub := &heldSub{deliver: map[string]func(runtime.Delivery) bool{}, ready: make(chan struct{})}
	f := runtime.New[paidState]("Pay", runtime.WithSink(s), runtime.WithSubscriber(sub))
	reserve := runtime.NewStep("Reserve", func(ctx context.Context, s *paidState) (runtime.Outcome, error) {
		s.Reserved = true
		return "", nil
	}, runtime.WithRollback(func(ctx context.Context, s *paidState) error {
		s.Reserved = false
		return nil
	}))
	paid := runtime.NewAwait("payments", "paid", func(s *paidState) any { return &s.Paid }, nil, time.Hour,
		runtime.WithID[paidState]("Paid"))
	if err := f.Register(reserve, paid); err != nil {
		t.Fatal(err)
	}
	run, err := f.Start(context.Background(), paidState{}, runtime.WithRunID("p-1"))
	if err != nil {
		t.Fatal(err)
	}
	<-sub.ready
	if sub.send("p-1/Paid", `not json`) {
		t.Fatal("the run took a payload that is not JSON")
	}
	if info, _ := s.Get("p-1"); info.State != runtime.StateWaiting {
		t.Fatalf("after the payload that is not JSON the store has the run %s, want waiting", info.State)
	}
	if !sub.send("p-1/Paid", `{"amount": "x"}`) {
		t.Fatal("the run refused a JSON payload")
	}
	res, err := run.Wait(context.Background())
	var se *runtime.StepError
	if res.Final != runtime.StateCompensated || !errors.As(err, &se) || se.Step != "Paid" || !strings.Contains(se.Error(), "decoding payments paid") {
		t.Fatalf("Wait = %s, %v; want compensated by Paid's decode error", res.Final, err)
	}
	if info, _ := s.Get("p-1"); info.State != runtime.StateCompensated {
		t.Errorf("the store has the run %s, want compensated", info.State)
	}
	h, err := s.LoadHistory(context.Background(), "p-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := json.Marshal(h); err != nil {
		t.Errorf("the history does not encode as JSON: %v", err)
	}
	if err := f.CheckHistory(h); err != nil {
		t.Error(err)
	}
}
