package engine

import (
	"context"
	"net/http/httptest"
	"testing"
)

// publishingExecutor is an Executor that counts its publications.
type publishingExecutor struct {
	Executor  // the rest is not called
	published int
}

func (x *publishingExecutor) Publish(_ context.Context, m Message, _ []EventStart, _ []ExecFlow) (Published, error) {
	x.published++
	return Published{ID: m.ID, Runs: []EventRun{}}, nil
}

// With an executor (flowgen-temporal serve), POST /events for a topic no
// flow starts on or awaits answers 404, as with the in-process broker: the
// executor keeps an event only for the flows it is given, and it was
// answered 202 with nothing kept.
func TestExecutorEventNoFlowConsumes(t *testing.T) {
	x := &publishingExecutor{}
	e, err := New(Options{Executor: x})
	if err != nil {
		t.Fatal(err)
	}
	c := apiClient{t, httptest.NewServer(e.Handler())}
	defer c.srv.Close()
	if status, out := c.do("POST", "/events/nobody/listens", `{}`); status != 404 || x.published != 0 {
		t.Errorf("POST an event nobody consumes: %d %v, %d publications; want 404 and none", status, out, x.published)
	}
}
