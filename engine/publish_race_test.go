package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/flowgen/flowgen/runtime/store"
)

// syncedEngine starts the fixture's engine on a store on disk, which
// syncs: a wide window between a request's checks and its record. The
// test's cleanup stops both.
func syncedEngine(t *testing.T) (*store.Store, *Engine) {
	fx := newFixture(t)
	st := openStore(t, t.TempDir())
	t.Cleanup(func() { _ = st.Close() })
	fx.st = st
	e := fx.start()
	t.Cleanup(fx.stop)
	return st, e
}

// Requests that publish one message ID with different payloads at the same
// time: one is applied, every other answers ErrIdempotencyMismatch (422),
// and the inbox holds the payload of the one applied; requests with the same
// payload all succeed.
func TestConcurrentPublishOneID(t *testing.T) {
	st, e := syncedEngine(t)
	for _, te := range [][2]string{{"payments", "payment.succeeded"}} {
		for round := range 10 {
			id := fmt.Sprintf("m-%s-%d", te[0], round)
			const n = 6
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					payload, _ := json.Marshal(map[string]any{"correlation_id": "nobody", "n": i % 3})
					_, errs[i] = e.PublishEvent(context.Background(), Message{ID: id, Topic: te[0], Event: te[1], Payload: payload})
				})
			}
			wg.Wait()
			m, ok, err := st.GetMessage(store.MessageKey{Topic: te[0], Event: te[1], ID: id})
			if err != nil || !ok {
				t.Fatalf("%s: the inbox has no message: %v", id, err)
			}
			var kept struct{ N int }
			_ = json.Unmarshal(m.Payload, &kept)
			for i, err := range errs {
				switch {
				case i%3 == kept.N && err != nil:
					t.Errorf("%s: request %d, with the payload kept, failed: %v", id, i, err)
				case i%3 != kept.N && !errors.Is(err, ErrIdempotencyMismatch):
					t.Errorf("%s: request %d, with payload %d while the inbox kept %d: %v, want ErrIdempotencyMismatch", id, i, i%3, kept.N, err)
				}
			}
		}
	}
}

// Starts that send one Idempotency-Key with different bodies at the same
// time: one starts the run (201), those with its body answer it (200
// existing), every other is a 422; the store holds one run, from the
// winner's body.
func TestConcurrentStartsOneKey(t *testing.T) {
	st, e := syncedEngine(t)
	c := apiClient{t, httptestServer(t, e)}
	for round := range 5 {
		key := fmt.Sprintf("key-%d", round)
		const n = 8
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				statuses[i], _ = c.doH("POST", "/flows/Signup/runs", fmt.Sprintf(`{"Plan": "p%d"}`, i%2), "Idempotency-Key", key)
			})
		}
		wg.Wait()
		id := KeyRunID("Signup", key)
		h, err := st.Load(id)
		if err != nil {
			t.Fatalf("%s: no run: %v", key, err)
		}
		var kept struct{ Plan string }
		_ = json.Unmarshal(h[0].State, &kept)
		created := 0
		for i, status := range statuses {
			same := kept.Plan == fmt.Sprintf("p%d", i%2)
			switch {
			case status == 201 && same:
				created++
			case status == 200 && same, status == 422 && !same:
			default:
				t.Errorf("%s: request %d (plan p%d, the run's %q): %d", key, i, i%2, kept.Plan, status)
			}
		}
		if created != 1 {
			t.Errorf("%s: %d requests answered 201, want 1: %v", key, created, statuses)
		}
	}
	if runs, _ := e.Runs(context.Background(), store.Filter{Flow: "Signup"}); len(runs) != 5 {
		t.Errorf("%d runs, want one a key", len(runs))
	}
}
