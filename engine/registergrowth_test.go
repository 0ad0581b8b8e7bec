package engine

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/internal/growth"
	"github.com/flowgen/flowgen/runtime/store"
)

// BenchmarkRegisterGrowth registers a provider of n handlers on an engine
// whose flows hold 16n Go steps (flows of 8; the handlers serve the first
// n), for n of 32 and of 256 (MaxProviderHandlers), in each iteration,
// and reports the cost per handler of the large one over the small one's
// (internal/growth): 1.0 is linear. A registration checks its handlers
// against the registered flows (checkFlows) under rm.mu, which every
// provider call takes too: each handler against each step, n², was held
// from every call of every run (120 ms a registration of 256 handlers
// beside 20,000 Go steps).
//
//	go test -run '^$' -bench RegisterGrowth -benchtime 20x ./engine
func BenchmarkRegisterGrowth(b *testing.B) {
	register := func(n int) growth.Case {
		e, err := New(Options{Store: store.NewMemory(), ID: "bench", Providers: &ProviderOptions{},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		const perFlow = 8
		var flows []string
		var hs []provider.Handler
		for f := range 16 * n / perFlow {
			steps := make([]string, perFlow)
			for s := range perFlow {
				steps[s] = fmt.Sprintf(`{"name": "S%d", "action": {"kind": "go"}, "outcomes": ["declined"], "irreversible": true}`, s)
				if len(hs) < n {
					hs = append(hs, provider.Handler{Name: fmt.Sprintf("F%d.S%d", f, s), Outcomes: []string{"declined"}, URL: "http://127.0.0.1:9/h"})
				}
			}
			flows = append(flows, fmt.Sprintf(`{"name": "F%d", "triggers": [{"kind": "rpc", "endpoint": "F%d.Start"}], "steps": [%s]}`, f, f, strings.Join(steps, ",")))
		}
		if ds, err := e.LoadFlows("flows.json", []byte(`{"version": 1, "flows": [`+strings.Join(flows, ",")+`]}`)); err != nil {
			b.Fatal(err, ds)
		}
		return growth.Case{N: n, Run: func() {
			if _, err := e.RegisterProvider("p", provider.Registration{Handlers: hs}); err != nil {
				b.Fatal(err)
			}
		}}
	}
	growth.Report(b, "handler", register(32), register(MaxProviderHandlers))
}
