package cli

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

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
