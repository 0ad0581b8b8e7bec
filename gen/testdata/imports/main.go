// Command imports runs the generated Imports flow in a package that
// declares context, runtime and time, which the generated file imports
// under other names; this file imports them under names of its own.
package main

import (
	stdcontext "context"
	stdtime "time"

	"goldens/check"

	flowruntime "github.com/flowgen/flowgen/runtime"
)

type handlers struct{}

func (handlers) Done(_ stdcontext.Context, s *ImportsState) error {
	s.Done = true
	return nil
}

func main() {
	caller := flowruntime.NewMemoryCaller()
	caller.Handle("clock", "Clock.Now", flowruntime.HandleFunc(func(_ stdcontext.Context, at stdtime.Time) (stdtime.Time, error) {
		return at.Add(stdtime.Hour), nil
	}))
	sink := flowruntime.NewMemorySink()
	f, err := NewImportsFlow(handlers{}, ImportsServicesFromCaller(caller), flowruntime.WithSink(sink))
	if err != nil {
		check.Fatalf("NewImportsFlow: %v", err)
	}
	at := stdtime.Date(2026, 3, 1, 9, 0, 0, 0, stdtime.UTC)
	res, err := f.Execute(stdcontext.Background(), ImportsState{At: at})
	check.Equal("error", err, nil)
	check.Run("imports", sink, res.RunID, res.Final, flowruntime.StateDone,
		"pending -> Stamp:running",
		"Stamp:running -> Done:running [ok]",
		"Done:running -> done [ok]")
	check.Equal("seen", res.State.Seen.Equal(at.Add(stdtime.Hour)), true)
	check.Equal("done", res.State.Done, true)
	// The package's own declarations are still what they were.
	check.Equal("time", time, "not the time package")
	check.Equal("runtime", runtime(), "not the runtime package")
	check.Equal("context", context{name: "c"}.name, "c")
}
