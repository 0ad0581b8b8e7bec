package engine

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/internal/growth"
	"github.com/flowgen/flowgen/runtime/store"
)

// BenchmarkPickGrowth: on an engine holding n providers of 256 handlers
// each, n provider calls each pick the provider of their handler, as each
// provider call does under rm.mu. A pick looks at the providers of its
// handler's names alone (leaseIndex): it scanned every handler of every
// lease, about 1 ms a call at 256 providers and 9 to 19 ms at 1000 (the
// bounds allow 1024), holding every other call, registration and renewal
// meanwhile (docs/benchmarks.md).
func BenchmarkPickGrowth(b *testing.B) {
	pick := func(n int) growth.Case {
		e, err := New(Options{Store: store.NewMemory(), ID: "bench", Providers: &ProviderOptions{},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		for l := range n {
			hs := make([]provider.Handler, MaxProviderHandlers)
			for i := range hs {
				hs[i] = provider.Handler{Name: fmt.Sprintf("F%d.S%d", l, i), URL: "http://127.0.0.1:9/h"}
			}
			if _, err := e.RegisterProvider(fmt.Sprintf("p%d", l), provider.Registration{Handlers: hs}); err != nil {
				b.Fatal(err)
			}
		}
		return growth.Case{N: n, Run: func() {
			for l := range n {
				if _, err := e.remote.pick(handlerKey{flow: fmt.Sprintf("F%d", l), name: "S7"}, nil); err != nil {
					b.Fatal(err)
				}
			}
		}}
	}
	growth.Report(b, "call", pick(16), pick(256))
}
