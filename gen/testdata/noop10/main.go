// Command noop10 runs the generated ten-step Noop flow once and checks
// that every step ran once, in order.
package main

import (
	"context"
	"fmt"

	"goldens/check"

	"github.com/flowgen/flowgen/runtime"
)

type handlers struct{}

func (handlers) S1(_ context.Context, s *NoopState) error  { s.Count++; return nil }
func (handlers) S2(_ context.Context, s *NoopState) error  { s.Count++; return nil }
func (handlers) S3(_ context.Context, s *NoopState) error  { s.Count++; return nil }
func (handlers) S4(_ context.Context, s *NoopState) error  { s.Count++; return nil }
func (handlers) S5(_ context.Context, s *NoopState) error  { s.Count++; return nil }
func (handlers) S6(_ context.Context, s *NoopState) error  { s.Count++; return nil }
func (handlers) S7(_ context.Context, s *NoopState) error  { s.Count++; return nil }
func (handlers) S8(_ context.Context, s *NoopState) error  { s.Count++; return nil }
func (handlers) S9(_ context.Context, s *NoopState) error  { s.Count++; return nil }
func (handlers) S10(_ context.Context, s *NoopState) error { s.Count++; return nil }

func main() {
	sink := runtime.NewMemorySink()
	f, err := NewNoopFlow(handlers{}, runtime.WithSink(sink))
	if err != nil {
		check.Fatalf("NewNoopFlow: %v", err)
	}
	res, err := f.Execute(context.Background(), NoopState{})
	check.Equal("error", err, nil)
	want := []string{"pending -> S1:running"}
	for i := 1; i < 10; i++ {
		want = append(want, fmt.Sprintf("S%d:running -> S%d:running [ok]", i, i+1))
	}
	want = append(want, "S10:running -> done [ok]")
	check.Run("noop", sink, res.RunID, res.Final, runtime.StateDone, want...)
	check.Equal("count", res.State.Count, 10)
}
