package engine

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/runtime"
)

// A provider that leaves while its step is retried: the retry waits for
// another in the step's recorded waiting state (Reserve:running ->
// Reserve:waiting, outcome retry, the attempt's error), holding no
// goroutine and spending no attempt however long that takes, where it
// used to wait ProviderOptions.Wait in memory per attempt and fail the
// step once its attempts were spent; the provider's return runs attempt 2
// under the same idempotency key.
func TestProviderRetryWaitsRecorded(t *testing.T) {
	var e *Engine
	var mu sync.Mutex
	var reserves []provider.Request
	tr := stubTransport{reqs: make(chan provider.Request, 64), answer: func(_ string, req provider.Request) []byte {
		if req.Handler != "Reserve" {
			return []byte(`{}`)
		}
		mu.Lock()
		reserves = append(reserves, req)
		first := len(reserves) == 1
		mu.Unlock()
		if first { // the provider goes away, its call failing
			if err := e.WithdrawProvider("billing", ""); err != nil {
				t.Error(err)
			}
			return []byte(`{"error": {"class": "retryable", "message": "shutting down"}}`)
		}
		return []byte(`{}`)
	}}
	_, e, _ = remoteFixture(t, ProviderOptions{NATS: tr, Wait: 20 * time.Millisecond})
	reg := provider.Registration{Handlers: []provider.Handler{
		{Name: "Reserve", Subject: "flowgen_provider.billing.step.Reserve"},
		{Name: "Check", Outcomes: []string{"declined"}, Subject: "flowgen_provider.billing.step.Check"},
		{Name: "Release", Rollback: true, Subject: "flowgen_provider.billing.rollback.Release"}}}
	if _, err := e.RegisterProvider("billing", reg); err != nil {
		t.Fatal(err)
	}
	id, err := e.StartRun(context.Background(), "Bill", json.RawMessage(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the retry waiting for a provider", func() bool {
		st, err := e.Status(id)
		return err == nil && st.Machine == "Reserve:waiting" && st.Attempt == 2 && e.Stats().Waiting == 1 && e.Stats().Running == 0
	})
	// Many times ProviderOptions.Wait, and every attempt's backoff: no
	// attempt runs or fails meanwhile.
	time.Sleep(200 * time.Millisecond)
	st, _ := e.Status(id)
	if st.State != runtime.StateWaiting || st.Wait == nil || st.Wait.Topic != ProviderTopic || st.Wait.Event != "Reserve" ||
		st.Attempt != 2 || st.Err == "" {
		t.Fatalf("status while the retry waits: %s attempt %d error %q wait %+v", st.State, st.Attempt, st.Err, st.Wait)
	}
	h, _ := e.History(id)
	if last := h[len(h)-1]; last.From != "Reserve:running" || last.To != "Reserve:waiting" || last.Outcome != runtime.OutcomeRetry || last.Attempt != 1 {
		t.Fatalf("the last event while the retry waits: %+v", last)
	}
	if _, err := e.RegisterProvider("billing", reg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the run done", func() bool {
		st, err := e.Status(id)
		return err == nil && st.State == runtime.StateDone
	})
	mu.Lock()
	defer mu.Unlock()
	if len(reserves) != 2 || reserves[0].Attempt != 1 || reserves[1].Attempt != 2 || reserves[0].IdempotencyKey != reserves[1].IdempotencyKey {
		t.Fatalf("Reserve calls: %+v", reserves)
	}
}
