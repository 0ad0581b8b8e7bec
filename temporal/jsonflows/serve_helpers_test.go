package jsonflows

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// Helpers of the tests that serve the engine's API on an Executor.

// serveEngine starts an engine made with opts (its Executor one of this
// package) and serves its API until the test ends, at the URL returned.
func serveEngine(t *testing.T, opts engine.Options) (*engine.Engine, string) {
	t.Helper()
	e, err := engine.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(ctx) })
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(srv.Close)
	return e, srv.URL
}

// request sends a JSON body to url and returns the answer.
func request(t *testing.T, method, url, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// onTemporal is an engine of JSON flows on a Temporal test server of its
// own, its API served at url: its client, its Executor (task queue
// queue), and a way to start a worker of that queue.
type onTemporal struct {
	c     client.Client
	x     *Executor
	e     *engine.Engine
	url   string
	queue string
}

func newOnTemporal(t *testing.T, queue string) *onTemporal {
	t.Helper()
	return newOnTemporalWith(t, queue, 0)
}

// newOnTemporalWith is newOnTemporal with the engine's bound on a request
// body (engine.Options.MaxBody; 0: its default) and the test server's
// options (testserver.New's).
func newOnTemporalWith(t *testing.T, queue string, maxBody int64, server ...temporaltest.TestServerOption) *onTemporal {
	t.Helper()
	ts := testserver.New(t, server...)
	c := ts.GetDefaultClient()
	x := New(c, Options{TaskQueue: queue})
	e, url := serveEngine(t, engine.Options{Executor: x, FlowsDir: t.TempDir(), NoGoHandlers: true, FlowFile: engine.JSONOnly, MaxBody: maxBody})
	return &onTemporal{c: c, x: x, e: e, url: url, queue: queue}
}

// newOnTemporalOf is newOnTemporal with the executor that executor makes
// of the test server's client (its options, a client wrapped), and the
// test server's options (testserver.New's).
func newOnTemporalOf(t *testing.T, queue string, executor func(client.Client) *Executor, server ...temporaltest.TestServerOption) *onTemporal {
	t.Helper()
	c := testserver.New(t, server...).GetDefaultClient()
	x := executor(c)
	e, url := serveEngine(t, engine.Options{Executor: x, FlowsDir: t.TempDir(), NoGoHandlers: true, FlowFile: engine.JSONOnly})
	return &onTemporal{c: c, x: x, e: e, url: url, queue: queue}
}

// worker starts a worker of the executor's flows, which the caller stops.
func (o *onTemporal) worker(t *testing.T) worker.Worker {
	t.Helper()
	// The SDK fails a workflow task that runs a second without yielding
	// (its deadlock detector, which guards user code that blocks), 10 s
	// under flowtemporal.WorkerOptions (TaskTimeout). These
	// tests run under -race on two cores shared with other packages, where
	// a task that encodes megabytes of state (TestHistoryLargerThanAQuery:
	// 900 KB in each event) took longer than that in CI, and the run's
	// task failed and was retried until the test's deadline; a real
	// deadlock still fails each test, by its own timeout.
	w := worker.New(o.c, o.queue, flowtemporal.WorkerOptions(worker.Options{DeadlockDetectionTimeout: 15 * time.Second}))
	o.x.Register(w, o.e)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	return w
}

// must sends a JSON body to path of o's API and fails the test unless it
// answers want.
func (o *onTemporal) must(t *testing.T, method, path, body string, want int) {
	t.Helper()
	if status, _, answer := request(t, method, o.url+path, body); status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, status, answer, want)
	}
}

// queryStatus is run's status, as its workflow answers it.
func queryStatus(ctx context.Context, c client.Client, run string) (runtime.Status, error) {
	var st runtime.Status
	v, err := c.QueryWorkflow(ctx, run, "", flowtemporal.QueryStatus)
	if err == nil {
		err = v.Get(&st)
	}
	return st, err
}
