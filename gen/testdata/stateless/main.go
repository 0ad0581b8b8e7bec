// Command stateless runs the generated Ping flow, which has no state type.
package main

import (
	"context"

	"goldens/check"

	"github.com/flowgen/flowgen/runtime"
)

type handlers struct{ logged int }

func (h *handlers) Log(context.Context, *struct{}) error {
	h.logged++
	return nil
}

func main() {
	caller := runtime.NewMemoryCaller()
	caller.Handle("health", "Health.Ping", runtime.HandleFunc(func(context.Context, any) (string, error) { return "pong", nil }))
	sink := runtime.NewMemorySink()
	h := &handlers{}
	f, err := NewPingFlow(h, PingServicesFromCaller(caller), runtime.WithSink(sink))
	if err != nil {
		check.Fatalf("NewPingFlow: %v", err)
	}
	res, err := f.Execute(context.Background(), struct{}{})
	check.Equal("error", err, nil)
	check.Run("ping", sink, res.RunID, res.Final, runtime.StateDone,
		"pending -> Ping:running",
		"Ping:running -> Log:running [ok]",
		"Log:running -> done [ok]")
	check.Equal("logged", h.logged, 1)
	check.Equal("calls", len(caller.Calls()), 1)
}
