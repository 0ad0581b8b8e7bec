package httpcall

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/flowgen/flowgen/runtime"
)

// A call's client span has the attributes of OpenTelemetry's HTTP client
// conventions: http.request.method, url.full (its password and query not
// shown: urlpath.Shown), server.address and server.port, and
// http.response.status_code when an answer came; a failed call has
// error.type: the status of an answer that was not 2xx, or what ended it
// without one.
func TestCallSpanHTTPAttributes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The body read, the server notices the client gone (Slow's
		// context ends).
		_, _ = io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/rpc/Ok":
			_, _ = w.Write([]byte(`{"a": 1}`))
		case "/rpc/Busy":
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case "/rpc/Garbage":
			_, _ = w.Write([]byte("not json"))
		case "/rpc/Big":
			_, _ = w.Write([]byte(`{"a": 1, "b": 2, "c": 3, "d": 4}`))
		case "/rpc/Away":
			http.Redirect(w, r, "http://elsewhere.invalid/rpc/Ok", http.StatusTemporaryRedirect)
		case "/rpc/Slow":
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	// A base URL with credentials, as a Resolver may give one.
	base := "http://ann:s3cret@" + host + ":" + port + "/rpc"
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // nothing listens there: connection refused

	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	c := New(Static{"svc": base, "gone": gone.URL}, WithLogger(slog.New(slog.DiscardHandler)), WithLimits(Limits{MaxResponseBytes: 16}))
	for _, tc := range []struct {
		service, endpoint string
		timeout           time.Duration
		cause             error  // of the timeout: nil, context.DeadlineExceeded
		status            int    // 0: none came
		errType           string // "": the call succeeds
		noRequest         bool   // failed before any request
	}{
		{service: "svc", endpoint: "Ok", status: 200},
		{service: "svc", endpoint: "Busy", status: 503, errType: "503"},
		{service: "svc", endpoint: "Garbage", status: 200, errType: "invalid_response"},
		{service: "svc", endpoint: "Big", status: 200, errType: "response_too_large"},
		{service: "svc", endpoint: "Away", errType: "redirect"}, // refused: no answer kept
		{service: "svc", endpoint: "Slow", timeout: 50 * time.Millisecond, errType: "timeout"},
		// The run aborted while the call waits: its context's cause.
		{service: "svc", endpoint: "Slow", timeout: 50 * time.Millisecond, cause: runtime.ErrAborted, errType: "aborted"},
		{service: "gone", endpoint: "Ok", errType: "*net.OpError"},
		{service: "unknown", endpoint: "Ok", errType: "_OTHER", noRequest: true},
	} {
		exp.Reset()
		ctx, parent := tp.Tracer("test").Start(context.Background(), "step")
		if tc.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeoutCause(ctx, tc.timeout, tc.cause)
			defer cancel()
		}
		var out map[string]int
		err := c.Call(ctx, tc.service, tc.endpoint, nil, &out)
		parent.End()
		what := tc.service + " " + tc.endpoint
		if (err != nil) != (tc.errType != "") {
			t.Fatalf("%s: %v", what, err)
		}
		// The step that failed of the call takes its class: its span
		// says 503, as the call's does, not *httpcall.StatusError.
		if err != nil {
			if got := runtime.ErrorClass(fmt.Errorf("step: %w", err)); got != tc.errType {
				t.Errorf("%s: the step's error.type is %q, want the call's %q", what, got, tc.errType)
			}
		}
		var span *tracetest.SpanStub
		for _, s := range exp.GetSpans() {
			if s.Name == "call "+what {
				span = &s
			}
		}
		if span == nil {
			t.Fatalf("%s: no call span in %v", what, exp.GetSpans())
		}
		got := map[attribute.Key]attribute.Value{}
		for _, kv := range span.Attributes {
			got[kv.Key] = kv.Value
		}
		want := map[attribute.Key]string{"rpc.service": tc.service, "rpc.method": tc.endpoint}
		if !tc.noRequest {
			u, h, p := base+"/"+tc.endpoint, host, port
			if tc.service == "gone" {
				u = gone.URL + "/" + tc.endpoint
				h, p, _ = net.SplitHostPort(strings.TrimPrefix(gone.URL, "http://"))
			}
			want["http.request.method"] = "POST"
			want["url.full"] = strings.Replace(u, "s3cret", "xxxxx", 1)
			want["server.address"] = h
			want["server.port"] = p
		}
		if tc.status != 0 {
			want["http.response.status_code"] = strconv.Itoa(tc.status)
		}
		if tc.errType != "" {
			want["error.type"] = tc.errType
		}
		for k, v := range want {
			if g, ok := got[k]; !ok || g.String() != v {
				t.Errorf("%s: %s = %q (set: %v), want %q", what, k, g.String(), ok, v)
			}
		}
		for k, v := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: %s = %q, want none", what, k, v.String())
			}
		}
		if got["server.port"].Type() != attribute.INT64 && !tc.noRequest {
			t.Errorf("%s: server.port is a %s, want an int", what, got["server.port"].Type())
		}
		if failed := span.Status.Code == codes.Error; failed != (err != nil) {
			t.Errorf("%s: span status %v for error %v", what, span.Status, err)
		}
		if strings.Contains(got["url.full"].String(), "s3cret") {
			t.Errorf("%s: url.full shows the password: %s", what, got["url.full"].String())
		}
	}
}
