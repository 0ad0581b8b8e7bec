package otlp

import (
	"bytes"
	"context"
	"errors"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/flowgen/flowgen/internal/otlp/otlptest"
)

// An export that fails goes to the command's logger as a structured line,
// not to stderr in the log package's format (OpenTelemetry's default error
// handler), and repeats are held back and counted. The collector here
// refuses every export (400).
func TestExportErrorsGoToTheLogger(t *testing.T) {
	var refused atomic.Int64
	col := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refused.Add(1)
		http.Error(w, "no", http.StatusBadRequest)
	}))
	defer col.Close()
	var std bytes.Buffer
	defer log.SetOutput(log.Writer())
	log.SetOutput(&std)
	// A batch every 10ms: the processor reports each failed batch to the
	// error handler (ForceFlush would return its error instead).
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "10")
	var logs bytes.Buffer
	tp, stop, err := Config{Traces: col.URL + "/v1/traces", Sample: 1}.Start(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range int64(3) {
		_, sp := tp.Tracer("t").Start(context.Background(), "s")
		sp.End()
		for deadline := time.Now().Add(10 * time.Second); refused.Load() <= i; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the collector refused %d exports, want %d", refused.Load(), i+1)
			}
		}
	}
	stop() // once the processor has ended: every error handled
	if std.Len() != 0 {
		t.Errorf("OpenTelemetry wrote to the standard logger:\n%s", std.String())
	}
	out := logs.String()
	if got := strings.Count(out, `msg="OpenTelemetry error"`); got != 1 || !strings.Contains(out, "level=WARN") || !strings.Contains(out, "400") || !strings.Contains(out, "held_back=2") {
		t.Errorf("the logger got %d OpenTelemetry error lines, want 1 with the collector's answer, and the 2 held back:\n%s", got, out)
	}
}

// The limiter writes the first error at once, holds back the errors of
// the next ErrorEvery, and counts them on the next line and on flush: a
// collector down for an hour writes about 60 lines, not one per batch.
func TestErrorLimiter(t *testing.T) {
	var logs bytes.Buffer
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &errorLimiter{log: slog.New(slog.NewTextHandler(&logs, nil)), now: func() time.Time { return now }}
	// An hour of failed batches, one a second.
	for range 3600 {
		l.Handle(errors.New("traces export: connection refused"))
		now = now.Add(time.Second)
	}
	l.flush()
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 61 {
		t.Fatalf("an hour of errors, one a second, wrote %d lines, want 60 and the flush:\n%s", len(lines), logs.String())
	}
	if strings.Contains(lines[0], "held_back") || !strings.Contains(lines[1], "held_back=59") || !strings.Contains(lines[60], "held_back=59") {
		t.Errorf("the lines do not count the errors held back:\n%s\n%s\n%s", lines[0], lines[1], lines[60])
	}
	logs.Reset()
	l.flush()
	if logs.Len() != 0 {
		t.Errorf("a flush with nothing held back wrote %s", logs.String())
	}
}

// TestServiceName: the spans' service.name is "flowgen" unless
// OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES says otherwise
// (docs/observability.md, "Turning it on").
func TestServiceName(t *testing.T) {
	col := httptest.NewServer(&otlptest.Collector{})
	defer col.Close()
	for _, c := range []struct{ name, env, value, want string }{
		{"default", "", "", ServiceName},
		{"OTEL_SERVICE_NAME", "OTEL_SERVICE_NAME", "billing", "billing"},
		{"OTEL_RESOURCE_ATTRIBUTES", "OTEL_RESOURCE_ATTRIBUTES", "service.name=signup,team=a", "signup"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("OTEL_SERVICE_NAME", "")
			t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")
			if c.env != "" {
				t.Setenv(c.env, c.value)
			}
			tp, stop, err := Config{Traces: col.URL + "/v1/traces", Sample: 1}.Provider(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer stop(context.Background())
			_, span := tp.Tracer("test").Start(context.Background(), "s")
			defer span.End()
			got := ""
			for _, kv := range span.(sdktrace.ReadOnlySpan).Resource().Attributes() {
				if kv.Key == "service.name" {
					got = kv.Value.AsString()
				}
			}
			if got != c.want {
				t.Errorf("service.name %q, want %q", got, c.want)
			}
		})
	}
}
