package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// TestNilPointerOptionsRefused gives each option of a flow a nil pointer
// inside its interface, a `var bus *MemoryBus` never set: Register refuses
// it, naming the option and the type, where before it passed the options'
// nil tests and the run panicked when it first used it (a nil Subscriber
// at the first await, after the steps before it had done their work, took
// the process down; a nil store failed the first event with a panic).
func TestNilPointerOptionsRefused(t *testing.T) {
	type observer struct{ runtime.Observer }
	type children struct{ runtime.ChildRuns }
	for _, tc := range []struct {
		opt  runtime.Option
		want string
	}{
		{runtime.WithSink((*runtime.MemorySink)(nil)), "WithSink got a nil *runtime.MemorySink"},
		{runtime.WithClock((*runtime.FakeClock)(nil)), "WithClock got a nil *runtime.FakeClock"},
		{runtime.WithCaller((*runtime.MemoryCaller)(nil)), "WithCaller got a nil *runtime.MemoryCaller"},
		{runtime.WithPublisher((*runtime.MemoryBus)(nil)), "WithPublisher got a nil *runtime.MemoryBus"},
		{runtime.WithSubscriber((*runtime.MemoryBus)(nil)), "WithSubscriber got a nil *runtime.MemoryBus"},
		{runtime.WithSink(runtime.SinkFunc(nil)), "WithSink got a nil runtime.SinkFunc"},
		{runtime.WithObserver((*observer)(nil)), "WithObserver got a nil *runtime_test.observer"},
		{runtime.WithChildren((*children)(nil)), "WithChildren got a nil *runtime_test.children"},
	} {
		f := runtime.New[state]("nil-pointer", tc.opt)
		err := f.Register(
			runtime.NewStep("A", func(context.Context, *state) (runtime.Outcome, error) { return "", nil }, runtime.WithIrreversible[state]()),
			runtime.NewAwait[state]("topic", "awaited", nil, nil, 0, runtime.WithID[state]("B")),
		)
		if !errors.Is(err, runtime.ErrNotConfigured) || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Register = %v; want ErrNotConfigured saying %q", err, tc.want)
		}
	}
	// What a nil pointer is not: an option left out, or nil itself, is the
	// default (or, for a step that needs it, checkNeeds's error).
	f := runtime.New[state]("nil-interface", runtime.WithSink(nil), runtime.WithClock(nil))
	mustRegister(t, f, runtime.NewStep("A", func(context.Context, *state) (runtime.Outcome, error) { return "", nil }, runtime.WithIrreversible[state]()))
}
