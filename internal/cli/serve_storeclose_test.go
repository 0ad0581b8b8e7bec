package cli

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/internal/listen"
	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/runtime/store"
)

// TestServeReportsStoreCloseError: the store's Close failing as serve
// stops is the operator's to see: serve logs it at error level and ends
// with an error (exit 1), not as a clean stop.
func TestServeReportsStoreCloseError(t *testing.T) {
	dir := t.TempDir()
	failed := errors.New("close segment: input/output error")
	closed := false
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &logtest.Buffer{}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, serveConfig{store: filepath.Join(dir, "store"), id: "t", stderr: logs,
			net: listen.Config{Addr: "127.0.0.1:0"},
			closeStore: func(st *store.Store) error {
				closed = true
				return errors.Join(st.Close(), failed)
			}}, func(a string) { ready <- a })
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, logs.String())
	}
	cancel() // a signal's stop: not an error by itself
	err := <-done
	if !closed {
		t.Fatal("serve did not close its store")
	}
	if !errors.Is(err, failed) {
		t.Fatalf("serve ended with %v, want the store's Close error\n%s", err, logs.String())
	}
	if log := logs.String(); !strings.Contains(log, "level=ERROR") || !strings.Contains(log, "closing the store failed") || !strings.Contains(log, failed.Error()) {
		t.Fatalf("serve's log does not say, at error level, that closing the store failed, and why:\n%s", log)
	}
}

// A run whose step outlasts the shutdown bound is left in it: serve says
// so, with the bound, and that the step runs again at the next start (it
// logged `stopping error="engine: runs still in progress at close:
// context deadline exceeded"`, which says neither).
func TestServeSaysWhatItLeftAtTheShutdownBound(t *testing.T) {
	old := runsShutdownTimeout
	runsShutdownTimeout = 50 * time.Millisecond
	defer func() { runsShutdownTimeout = old }()
	called, release := make(chan struct{}, 1), make(chan struct{})
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case called <- struct{}{}:
		default:
		}
		<-release
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`"ok"`))
	}))
	defer svc.Close()
	defer close(release) // before svc.Close, which waits for the call

	dir := t.TempDir()
	url, logs, stop := serveWith(t, serveConfig{
		store: filepath.Join(dir, "store"), flows: filepath.Join(dir, "flows"),
		net:      listen.Config{Addr: "127.0.0.1:0"},
		services: map[string]string{"svc": svc.URL},
	})
	const flow = `{"version": 1, "flows": [{"name": "Slow", "state": "T", "triggers": [{"kind": "rpc", "endpoint": "Slow.Start"}], "timeout": "1h",
  "steps": [{"name": "Call", "action": {"kind": "rpc", "service": "svc", "endpoint": "Slow.Call", "request": "In", "response": "Out"}, "irreversible": true}]}]}`
	if code, out := call(t, "PUT", url+"/flows", flow); code != 200 {
		t.Fatalf("PUT /flows: %d %v", code, out)
	}
	if code, out := call(t, "POST", url+"/flows/Slow/runs", `{"In": "x"}`); code != 201 {
		t.Fatalf("start: %d %v", code, out)
	}
	<-called
	stop()
	want := `level=WARN msg="flowgen serve: runs still in a step at the shutdown bound were left in it: each runs that step again at the next start, with the same idempotency key" after=50ms`
	if got := logs.String(); !strings.Contains(got, want) {
		t.Fatalf("the log does not say what was left at the shutdown bound, want %s:\n%s", want, got)
	}
}
