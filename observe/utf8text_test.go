package observe_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/flowgen/flowgen/internal/otlp/otlptest"
	"github.com/flowgen/flowgen/observe"
	"github.com/flowgen/flowgen/runtime"
)

// otlpBatched returns telemetry that exports its spans over OTLP/HTTP to
// the collector it returns, through a batch processor: the spans ended
// before the provider's Shutdown go out together, in one batch.
func otlpBatched(t *testing.T) (*observe.Telemetry, *sdktrace.TracerProvider, *otlptest.Collector) {
	t.Helper()
	col := &otlptest.Collector{}
	cs := httptest.NewServer(col)
	t.Cleanup(cs.Close)
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(cs.URL+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	tel, err := observe.New(observe.Options{TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	return tel, tp, col
}

// A Go step's error is its code's: it may quote bytes it read that are
// not UTF-8. The step's span records it, and so does the run's, and an
// OTLP exporter refuses to encode a batch holding a string that is not
// UTF-8: every span exported with them was lost. The spans hold the text
// with U+FFFD for those bytes, and the batch goes out.
func TestErrorTextNotUTF8(t *testing.T) {
	tel, tp, col := otlpBatched(t)
	f := runtime.New[resumeState]("Bytes", runtime.WithObserver(tel))
	if err := f.Register(
		runtime.NewStep("Read", func(context.Context, *resumeState) (runtime.Outcome, error) { return "", nil }, runtime.WithIrreversible[resumeState]()),
		runtime.NewStep("Parse", func(context.Context, *resumeState) (runtime.Outcome, error) {
			return "", runtime.Permanent(errors.New("record \xff\xfe is not a header"))
		}, runtime.WithIrreversible[resumeState]()),
	); err != nil {
		t.Fatal(err)
	}
	if res, _ := f.Execute(context.Background(), resumeState{}); res.Final != runtime.StateFailed {
		t.Fatalf("run ended %s", res.Final)
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Errorf("exporting the spans: %v", err)
	}
	spans, _ := col.Spans()
	status := map[string]string{}
	for _, sp := range spans {
		status[sp.Name] = sp.GetStatus().GetMessage()
	}
	if len(spans) != 3 || status["step Read"] != "" {
		t.Fatalf("the collector got %d spans, want 3 (run, Read, Parse): %q", len(spans), status)
	}
	for _, name := range []string{"step Parse", "run Bytes"} {
		if msg := status[name]; !utf8.ValidString(msg) || !strings.Contains(msg, "record \uFFFD is not a header") {
			t.Errorf("%s: status %q, want the error with U+FFFD for its bytes", name, msg)
		}
	}
}
