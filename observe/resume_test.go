package observe_test

import (
	"context"
	"errors"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/flowgen/flowgen/observe"
	"github.com/flowgen/flowgen/runtime"
)

type resumeState struct{ N int }

// traced returns telemetry that traces, through the provider it returns,
// to the exporter it returns; the provider is shut down when the test ends.
func traced(t *testing.T) (*observe.Telemetry, *tracetest.InMemoryExporter, *sdktrace.TracerProvider) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tel, err := observe.New(observe.Options{TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	return tel, exp, tp
}

// untilMachine waits until r is in the machine state m.
func untilMachine[S any](r *runtime.Run[S], m string) {
	for r.Status().Machine != m {
		time.Sleep(time.Millisecond)
	}
}

// spansNamed returns the exported spans called name, in the order they ended.
func spansNamed(exp *tracetest.InMemoryExporter, name string) []tracetest.SpanStub {
	var spans []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == name {
			spans = append(spans, s)
		}
	}
	return spans
}

// twoSteps is a flow whose step B waits for release.
func twoSteps(t *testing.T, tel *observe.Telemetry, sink runtime.Sink, release <-chan struct{}) *runtime.Flow[resumeState] {
	f := runtime.New[resumeState]("R", runtime.WithSink(sink), runtime.WithObserver(tel))
	step := func(id string) *runtime.Step[resumeState] {
		return runtime.NewStep(id, func(ctx context.Context, s *resumeState) (runtime.Outcome, error) {
			if id == "B" {
				<-release
			}
			return "", nil
		})
	}
	if err := f.Register(step("A"), step("B"), step("C")); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestResumedRunLinksToItsEarlierSpan: a run suspended (as by a shutdown)
// and resumed from its history gets a new run span in the same trace,
// linked to the span of its first life, whose traceparent the history
// kept.
func TestResumedRunLinksToItsEarlierSpan(t *testing.T) {
	tel, exp, _ := traced(t)
	sink := runtime.NewMemorySink()
	release := make(chan struct{})
	f := twoSteps(t, tel, sink, release)
	r, err := f.Start(context.Background(), resumeState{}, runtime.WithRunID("r1"))
	if err != nil {
		t.Fatal(err)
	}
	untilMachine(r, "B:running")
	_ = r.Suspend()
	close(release)
	if _, err := r.Wait(context.Background()); !errors.Is(err, runtime.ErrSuspended) {
		t.Fatal(err)
	}
	g := twoSteps(t, tel, sink, release)
	r2, err := g.Resume(context.Background(), sink.History("r1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	runs := spansNamed(exp, "run R")
	if len(runs) != 2 {
		t.Fatalf("%d run spans, want 2", len(runs))
	}
	first, second := runs[0], runs[1]
	if attr(first, "flowgen.suspended") != "true" || attr(second, "flowgen.resumed") != "true" || attr(second, "flowgen.final") != "done" {
		t.Errorf("attributes: first %v, second %v", first.Attributes, second.Attributes)
	}
	if len(second.Links) != 1 || second.Links[0].SpanContext.SpanID() != first.SpanContext.SpanID() {
		t.Errorf("the resumed run's span links to %v, want the first life's span %s", second.Links, first.SpanContext.SpanID())
	}
	if second.SpanContext.TraceID() != first.SpanContext.TraceID() || second.Parent.SpanID() != first.SpanContext.SpanID() {
		t.Errorf("the resumed run's span is not in its first life's trace, under its span")
	}
}

// TestResumedWaitSaysWhatFor: a run resumed while it awaits an event gets
// a wait span that names the event and the deadline its history recorded,
// as the span of its first life's wait did.
func TestResumedWaitSaysWhatFor(t *testing.T) {
	tel, exp, _ := traced(t)
	sink, bus := runtime.NewMemorySink(), runtime.NewMemoryBus()
	awaits := func() *runtime.Flow[resumeState] {
		f := runtime.New[resumeState]("W", runtime.WithSink(sink), runtime.WithSubscriber(bus), runtime.WithObserver(tel))
		if err := f.Register(runtime.NewAwait[resumeState]("payments", "paid", nil, nil, time.Hour, runtime.WithID[resumeState]("Paid"))); err != nil {
			t.Fatal(err)
		}
		return f
	}
	r, err := awaits().Start(context.Background(), resumeState{}, runtime.WithRunID("w1"))
	if err != nil {
		t.Fatal(err)
	}
	untilMachine(r, "Paid:waiting")
	_ = r.Suspend()
	if _, err := r.Wait(context.Background()); !errors.Is(err, runtime.ErrSuspended) {
		t.Fatal(err)
	}
	r2, err := awaits().Resume(context.Background(), sink.History("w1"))
	if err != nil {
		t.Fatal(err)
	}
	_ = r2.Abort()
	if _, err := r2.Wait(context.Background()); !errors.Is(err, runtime.ErrAborted) {
		t.Fatal(err)
	}
	waits := spansNamed(exp, "wait Paid")
	if len(waits) != 2 {
		t.Fatalf("%d wait spans, want 2", len(waits))
	}
	first, second := waits[0], waits[1]
	if attr(first, "flowgen.outcome") != "suspended" || attr(second, "flowgen.outcome") != "aborted" {
		t.Errorf("outcomes %q and %q, want suspended and aborted", attr(first, "flowgen.outcome"), attr(second, "flowgen.outcome"))
	}
	if got := attr(first, "flowgen.idempotency_key"); got != "w1/Paid" {
		t.Errorf("wait span's idempotency key %q, want w1/Paid (the waiting visit's)", got)
	}
	for _, key := range []string{"flowgen.topic", "flowgen.event", "flowgen.deadline", "flowgen.waiting_since", "flowgen.idempotency_key"} {
		if a, b := attr(first, key), attr(second, key); a == "" || a != b {
			t.Errorf("%s: first life's wait %q, resumed wait %q", key, a, b)
		}
	}
}
