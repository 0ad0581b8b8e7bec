package engine

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// stuckExecutor is an Executor whose reads do not answer until their
// context ends, as a Temporal cluster that has stopped answering; each
// read reports on called that it began, and on ended that its context
// ended it.
type stuckExecutor struct {
	Executor // the rest is not called
	called   chan string
	ended    chan string
}

func newStuckExecutor() *stuckExecutor {
	return &stuckExecutor{called: make(chan string, 1), ended: make(chan string, 1)}
}

func (x *stuckExecutor) stuck(ctx context.Context, what string) error {
	x.called <- what
	<-ctx.Done()
	x.ended <- what
	return ctx.Err()
}

// endOf waits for the stuck read to end, failing t if it does not within
// a minute: a hang guard, not a timing.
func (x *stuckExecutor) endOf(t *testing.T, what string) {
	t.Helper()
	select {
	case <-x.ended:
	case <-time.After(time.Minute):
		t.Fatalf("%s: the executor's read did not end", what)
	}
}

func (x *stuckExecutor) History(ctx context.Context, _ string) ([]runtime.Event, error) {
	return nil, x.stuck(ctx, "history")
}

func (x *stuckExecutor) Runs(ctx context.Context, _ store.Filter) ([]store.RunInfo, error) {
	return nil, x.stuck(ctx, "runs")
}

func (x *stuckExecutor) HistoryPage(ctx context.Context, _ string, _ uint64, _, _ int, _ bool) ([]runtime.Event, bool, error) {
	return nil, false, x.stuck(ctx, "page")
}

// The engine's reads of an Executor's runs (Status, History, Runs, the
// history's pages) are made under the caller's context: an HTTP client
// that goes away ends the call it caused. They were made under the
// engine's own context, so a cluster that did not answer held every such
// request's handler, and its call, for as long as the engine lived.
func TestExecutorReadsEndWithTheCaller(t *testing.T) {
	x := newStuckExecutor()
	e, err := New(Options{Executor: x})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	// Before srv.Close, which waits for its handlers: a read that failed
	// to end with its request ends here, and the test fails, not hangs.
	defer func() { _ = e.Close(context.Background()) }()
	for _, path := range []string{"/runs/r1", "/runs/r1/history", "/runs"} {
		ctx, cancel := context.WithCancel(context.Background())
		req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		answered := make(chan error, 1)
		go func() {
			resp, err := srv.Client().Do(req)
			if err == nil {
				resp.Body.Close()
			}
			answered <- err
		}()
		<-x.called // the handler is in the executor's read
		cancel()   // the client goes away
		<-answered
		x.endOf(t, "GET "+path+" after the client left")
	}
	// Direct calls: a cancelled context ends them.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := e.Status(ctx, "r1"); done <- err }()
	<-x.called
	cancel()
	x.endOf(t, "Status with its context cancelled")
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Status with its context cancelled: %v, want context.Canceled", err)
	}
}

// A read under a context that never ends still ends when the engine
// closes: the engine's Close ends its reads, as it did when they were made
// under its own context.
func TestExecutorReadsEndWithTheEngine(t *testing.T) {
	x := newStuckExecutor()
	e, err := New(Options{Executor: x})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := e.History(context.Background(), "r1"); done <- err }()
	<-x.called
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	x.endOf(t, "History as the engine closed")
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("History as the engine closed: %v, want context.Canceled", err)
	}
}
