package jsonflows

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/internal/listen"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// quickCalls is a Temporal client whose calls of a start, a query and a
// list, once the cluster is down, give up sooner than the SDK's 10 s: each
// has at most 2 s, of which the SDK gives its call half. The caller's
// context is not the one that ends. While the cluster is up they have the
// SDK's time: on a loaded machine a first start took longer than 2 s.
type quickCalls struct {
	client.Client
	down *atomic.Bool
}

func (c quickCalls) quick(ctx context.Context) (context.Context, context.CancelFunc) {
	if !c.down.Load() {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, 2*time.Second)
}

func (c quickCalls) ExecuteWorkflow(ctx context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	ctx, cancel := c.quick(ctx)
	defer cancel()
	return c.Client.ExecuteWorkflow(ctx, o, wf, args...)
}

func (c quickCalls) QueryWorkflow(ctx context.Context, id, runID, query string, args ...any) (converter.EncodedValue, error) {
	ctx, cancel := c.quick(ctx)
	defer cancel()
	return c.Client.QueryWorkflow(ctx, id, runID, query, args...)
}

func (c quickCalls) ListWorkflow(ctx context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	ctx, cancel := c.quick(ctx)
	defer cancel()
	return c.Client.ListWorkflow(ctx, req)
}

// syncBuffer is a log that handlers on several goroutines write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// With the Temporal cluster down, a request the executor cannot serve
// answers 503 with Retry-After (engine.ErrUnavailable), not a 500, and
// without the cluster's address; the log says that Temporal did not
// answer, and to what, where it said only "context deadline exceeded".
func TestTemporalDownAnswers503(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t)
	// A client of its own: Stop closes the server's clients, and a closed
	// client fails otherwise than an unreachable cluster.
	c, err := client.Dial(client.Options{HostPort: ts.GetFrontendHostPort(), Namespace: ts.GetDefaultNamespace(),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var logs syncBuffer
	var down atomic.Bool
	_, url := serveEngine(t, engine.Options{Executor: New(quickCalls{c, &down}, Options{TaskQueue: "unavailable-test"}),
		NoGoHandlers: true, FlowFile: engine.JSONOnly, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	do := func(method, path, body string) (int, http.Header, string) {
		t.Helper()
		return request(t, method, url+path, body)
	}
	if status, _, body := do("PUT", "/flows", `{"version": 1, "flows": [{"name": "F", "triggers": [{"kind": "rpc", "endpoint": "f"}],
  "steps": [{"name": "Nap", "action": {"kind": "sleep", "duration": "1h"}}]}]}`); status != 200 {
		t.Fatalf("PUT /flows: %d %s", status, body)
	}
	if status, _, body := do("POST", "/flows/F/runs?run_id=r1", `{}`); status != 201 {
		t.Fatalf("start: %d %s", status, body)
	}
	ts.Stop()
	down.Store(true)

	host := ts.GetFrontendHostPort()
	for _, c := range []struct{ method, path, op string }{
		{"POST", "/flows/F/runs?run_id=r2", "temporal: starting run r2 of flow F: the cluster did not answer"},
		{"GET", "/runs/r1", "temporal: reading the history of run r1: the cluster did not answer"},
		{"GET", "/runs?flow=F", "temporal: listing runs: the cluster did not answer"},
	} {
		status, h, body := do(c.method, c.path, `{}`)
		var out struct{ Error string }
		_ = json.Unmarshal([]byte(body), &out)
		if status != 503 || h.Get("Retry-After") != "5" || !strings.Contains(out.Error, "unavailable") || strings.Contains(body, host) {
			t.Errorf("%s %s with Temporal down: %d, Retry-After %q, %s; want 503, Retry-After 5, saying the service is unavailable, not where it is",
				c.method, c.path, status, h.Get("Retry-After"), body)
		}
		if !strings.Contains(logs.String(), c.op) {
			t.Errorf("%s %s with Temporal down: the log does not say %q:\n%s", c.method, c.path, c.op, logs.String())
		}
	}
}

// With the cluster down, a request's 503 reaches the client when the
// server's write timeout is shorter than the SDK's 10 s a call: the
// executor's calls end within listen.Server.AnswerWithin (Options.Answer,
// as flowgen-temporal serve sets it), before the write timeout cuts the
// connection. Without the bound the client got no answer (EOF) after
// 10 s, for a start, a status and a list alike.
func TestTemporalDownAnswersWithinWriteTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t)
	c, err := client.Dial(client.Options{HostPort: ts.GetFrontendHostPort(), Namespace: ts.GetDefaultNamespace(),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv, err := listen.New(listen.Config{Addr: "127.0.0.1:0", Limits: listen.Limits{WriteTimeout: 3 * time.Second}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.Options{Executor: New(c, Options{TaskQueue: "answer-test", Answer: srv.AnswerWithin()}),
		NoGoHandlers: true, FlowFile: engine.JSONOnly, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	addr := make(chan string, 1)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, "test", e.Handler(), nil, func(a string) { addr <- a }) }()
	defer func() { cancel(); <-served }()
	base := "http://" + <-addr
	do := func(method, path, body string) (int, error) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.ReadAll(resp.Body)
		return resp.StatusCode, nil
	}
	if status, err := do("PUT", "/flows", `{"version": 1, "flows": [{"name": "F", "triggers": [{"kind": "rpc", "endpoint": "f"}],
  "steps": [{"name": "Nap", "action": {"kind": "sleep", "duration": "1h"}}]}]}`); status != 200 {
		t.Fatalf("PUT /flows: %d %v", status, err)
	}
	if status, err := do("POST", "/flows/F/runs?run_id=r1", `{}`); status != 201 {
		t.Fatalf("start: %d %v", status, err)
	}
	ts.Stop()
	for _, c := range []struct{ method, path string }{
		{"POST", "/flows/F/runs?run_id=r2"},
		{"GET", "/runs/r1"},
		{"GET", "/runs?flow=F"},
		{"POST", "/runs/r1/abort"},
	} {
		if status, err := do(c.method, c.path, `{}`); status != 503 {
			t.Errorf("%s %s with Temporal down and a write timeout of 3 s: %d %v; want 503", c.method, c.path, status, err)
		}
	}
}
