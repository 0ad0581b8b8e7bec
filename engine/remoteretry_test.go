package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
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
		st, err := e.Status(context.Background(), id)
		return err == nil && st.Machine == "Reserve:waiting" && st.Attempt == 2 && e.Stats().Waiting == 1 && e.Stats().Running == 0
	})
	// Many times ProviderOptions.Wait, and every attempt's backoff: no
	// attempt runs or fails meanwhile.
	time.Sleep(200 * time.Millisecond)
	st, _ := e.Status(context.Background(), id)
	if st.State != runtime.StateWaiting || st.Wait == nil || st.Wait.Topic != ProviderTopic || st.Wait.Event != "Reserve" ||
		st.Attempt != 2 || st.Err == "" {
		t.Fatalf("status while the retry waits: %s attempt %d error %q wait %+v", st.State, st.Attempt, st.Err, st.Wait)
	}
	h, _ := e.History(context.Background(), id)
	if last := h[len(h)-1]; last.From != "Reserve:running" || last.To != "Reserve:waiting" || last.Outcome != runtime.OutcomeRetry || last.Attempt != 1 {
		t.Fatalf("the last event while the retry waits: %+v", last)
	}
	if _, err := e.RegisterProvider("billing", reg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the run done", func() bool {
		st, err := e.Status(context.Background(), id)
		return err == nil && st.State == runtime.StateDone
	})
	// GET /runs/{id}/history: the retry's wait ends "woken" as Reserve's
	// first and Check's did; nothing was interrupted.
	h, _ = e.History(context.Background(), id)
	var wakes []uint64
	for _, ev := range h {
		if strings.HasSuffix(ev.From, ":waiting") && strings.HasSuffix(ev.To, ":running") {
			wakes = append(wakes, ev.Seq)
		}
	}
	if got := historyAnswer(id, h); len(wakes) != 3 || fmt.Sprint(got["woken"]) != fmt.Sprint(wakes) || got["interrupted"] != nil {
		t.Errorf("history answer woken %v interrupted %v, want woken %v", got["woken"], got["interrupted"], wakes)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reserves) != 2 || reserves[0].Attempt != 1 || reserves[1].Attempt != 2 || reserves[0].IdempotencyKey != reserves[1].IdempotencyKey {
		t.Fatalf("Reserve calls: %+v", reserves)
	}
}

// A Go step served by providers whose outcome routes back to itself (a
// poll loop) waits for a provider on each visit, and the run goes on: its
// second visit is a new visit, not a retry of the first (it failed with
// "waits again without a retry" once every attempt of such a step waited,
// runtime.Await.EachAttempt). GET /runs/{id}/history names both events
// that ended a wait.
func TestProviderStepLoops(t *testing.T) {
	_, e, _ := remoteFixture(t, ProviderOptions{})
	const poll = `{"version": 1, "flows": [{"name": "Poll", "triggers": [{"kind": "rpc", "endpoint": "Poll.Start"}],
	  "steps": [{"name": "Ask", "action": {"kind": "go"}, "outcomes": ["again"], "irreversible": true,
	    "on": [{"on": "again", "target": "Ask"}]}]}]}`
	if _, err := e.LoadFlows("poll.json", []byte(poll)); err != nil {
		t.Fatalf("load: %v", err)
	}
	var mu sync.Mutex
	asked := 0
	e.Registry().Step("Poll.Ask", func(context.Context, *State) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if asked++; asked == 1 {
			return "again", nil
		}
		return "", nil
	})
	id, err := e.StartRun(context.Background(), "Poll", json.RawMessage(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the run over", func() bool {
		st, err := e.Status(context.Background(), id)
		return err == nil && st.State.Terminal()
	})
	st, _ := e.Status(context.Background(), id)
	h, _ := e.History(context.Background(), id)
	if st.State != runtime.StateDone {
		t.Fatalf("run %s: %s", st.State, st.Err)
	}
	var wakes []uint64
	for _, ev := range h {
		if ev.From == "Ask:waiting" && ev.To == "Ask:running" {
			wakes = append(wakes, ev.Seq)
		}
	}
	got := historyAnswer(id, h)
	if len(wakes) != 2 || fmt.Sprint(got["woken"]) != fmt.Sprint(wakes) || got["interrupted"] != nil {
		t.Fatalf("history answer woken %v interrupted %v, want woken %v", got["woken"], got["interrupted"], wakes)
	}
}
