package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/flowgen/flowgen/engine/provider"
)

// A registration that serves none of the steps runs wait for costs the
// same however many runs wait: the runs waiting on one step share its
// handler, and whether a provider serves it is asked once. It was asked
// for each waiting run, under the lock every call and registration takes:
// with 20,000 runs waiting and 50 providers of 20 handlers, each
// registration held it 1.6s, so a replica that registers again and again
// (a crash loop) stalled every provider call of the engine.
func TestProviderRegistrationCostNotPerWaitingRun(t *testing.T) {
	_, e, _ := remoteFixture(t, ProviderOptions{})
	k := handlerKey{flow: "Bill", name: "Reserve"}
	waiting := func() int {
		e.remote.mu.Lock()
		defer e.remote.mu.Unlock()
		return len(e.remote.waits[k])
	}
	park := func(n int) {
		for range n {
			if _, err := e.StartRun(context.Background(), "Bill", json.RawMessage(`{}`), ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	other := provider.Registration{Handlers: []provider.Handler{{Name: "Other", URL: "http://127.0.0.1:9/x"}}}
	register := func() float64 {
		return testing.AllocsPerRun(20, func() {
			if _, err := e.RegisterProvider("flapping", other); err != nil {
				t.Fatal(err)
			}
		})
	}
	park(1)
	waitFor(t, "a run waiting for Reserve's provider", func() bool { return waiting() == 1 })
	one := register()
	const more = 200
	park(more)
	waitFor(t, "the runs waiting for Reserve's provider", func() bool { return waiting() == 1+more })
	if many := register(); many-one >= more {
		t.Fatalf("a registration allocates %.0f times with 1 run waiting, %.0f with %d: work for each waiting run", one, many, 1+more)
	}
	if got := waiting(); got != 1+more {
		t.Fatalf("%d runs waiting after the registrations, want %d: the registration of another handler woke them", got, 1+more)
	}
}

// Picking the provider of a call costs the same however many handlers of
// other names the providers registered: the handlers of the step's names
// are picked out before anything is built. Every handler was gathered
// first, under the lock every call and registration takes: one provider
// of 256 replicas with 256 handlers each (within every bound) made each
// call of the engine, of any flow, hold it 53ms.
func TestProviderPickCostNotPerOtherHandler(t *testing.T) {
	_, e, _ := remoteFixture(t, ProviderOptions{})
	k := handlerKey{flow: "Bill", name: "Reserve"}
	pickAllocs := func(n int) float64 {
		hs := []provider.Handler{{Name: "Reserve", URL: "http://127.0.0.1:9/Reserve"}}
		for i := range n {
			hs = append(hs, provider.Handler{Name: fmt.Sprintf("Other%d", i), URL: "http://127.0.0.1:9/x"})
		}
		if _, err := e.RegisterProvider("billing", provider.Registration{Handlers: hs}); err != nil {
			t.Fatal(err)
		}
		return testing.AllocsPerRun(20, func() {
			if _, err := e.remote.pick(k, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
	one := pickAllocs(0)
	const others = MaxProviderHandlers - 1
	if many := pickAllocs(others); many-one >= others/4 {
		t.Fatalf("a pick allocates %.0f times beside 1 handler, %.0f beside %d others: work for each handler registered", one, many, others)
	}
}
