package engine

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/flowgen/flowgen/runtime/store"
)

// downExecutor is an Executor whose service does not answer.
type downExecutor struct {
	Executor // the rest is not called
}

var errDown = fmt.Errorf("%w: temporal: listing runs: the cluster at 10.0.0.7:7233 did not answer", ErrUnavailable)

func (downExecutor) Runs(context.Context, store.Filter) ([]store.RunInfo, error) { return nil, errDown }

func (downExecutor) Attach(context.Context, ExecFlow) (func(), error) { return nil, errDown }

// lockedBuffer is a log written from the handlers' goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// An executor whose service did not answer (ErrUnavailable) makes a
// request answer 503 with Retry-After, so that a client tries again later
// rather than taking it for a failure of its request or a lasting one;
// as for a 500, the error whole, which names the service's address, is
// the log's, not the answer's. PUT /flows answers so too.
func TestExecutorUnavailableAnswers503(t *testing.T) {
	var logs lockedBuffer
	e, err := New(Options{Executor: downExecutor{}, FlowsDir: t.TempDir(), NoGoHandlers: true, FlowFile: JSONOnly,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/runs", ""},
		{"PUT", "/flows", `{"version": 1, "flows": [{"name": "F", "steps": [{"name": "Nap", "action": {"kind": "sleep", "duration": "1s"}}]}]}`},
	} {
		ct := ""
		if r.body != "" {
			ct = "application/json"
		}
		status, h, body := send(t, srv, r.method, r.path, "", ct, r.body)
		if status != 503 || h.Get("Retry-After") != "5" || !strings.Contains(body, "unavailable") || strings.Contains(body, "10.0.0.7") {
			t.Errorf("%s %s: %d, Retry-After %q, %s; want 503, Retry-After 5, unavailable without the address", r.method, r.path, status, h.Get("Retry-After"), body)
		}
	}
	if n := strings.Count(logs.String(), "10.0.0.7"); n != 2 {
		t.Errorf("the log names the service's address %d times, want once per request:\n%s", n, logs.String())
	}
}
