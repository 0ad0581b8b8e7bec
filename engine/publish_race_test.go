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

// Requests that publish one message ID with different payloads at the same
// time: one is applied, every other answers ErrIdempotencyMismatch (422),
// and the inbox holds the payload of the one applied; requests with the same
// payload all succeed.
func TestConcurrentPublishOneID(t *testing.T) {
	fx := newFixture(t)
	st := openStore(t, t.TempDir()) // syncs: a wide window between the check and the record
	defer st.Close()
	fx.st = st
	e := fx.start()
	defer fx.stop()
	for _, te := range [][2]string{{"payments", "payment.succeeded"}, {"nobody", "listens"}} {
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
