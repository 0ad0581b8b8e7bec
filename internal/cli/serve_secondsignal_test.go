//go:build unix

package cli

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A second SIGTERM while serve stops gracefully ends the process at once,
// as the signal's default does, rather than being ignored while serve
// waits up to a minute for a step still running. The step runs again at
// the next start, which kill -9 tests prove loses nothing.
func TestServeSecondSignalEndsTheStop(t *testing.T) {
	dir := t.TempDir()
	flowsDir := filepath.Join(dir, "flows")
	if err := os.MkdirAll(flowsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(flowsDir, "kill.json"), killLoadFlows)
	called := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case called <- struct{}{}:
		default:
		}
		<-release // the step runs until the test ends
	}))
	defer srv.Close()
	defer close(release)
	p := startServeProc(t, "-store", filepath.Join(dir, "store"), "-flows", flowsDir, "-service", "svc="+srv.URL)
	go func() {
		_ = postJSON(http.DefaultClient, p.url+"/rpc/Order.Start?run_id=held", "", `{"OrderID": "held"}`)
	}()
	select {
	case <-called:
	case <-time.After(20 * time.Second):
		t.Fatalf("the step never called its service:\n%s", p.logs.String())
	}

	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, "serve to begin stopping", func() bool { return strings.Contains(p.logs.String(), "stopping") })
	// Again until it ends: the signal handler is given back as the stop
	// begins, so one sent at that very moment may still be taken by it.
	// Well before the graceful stop's bounds (30s for the requests, 30s
	// for the runs), which it waited for before.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	patience := time.After(20 * time.Second)
	for {
		select {
		case err := <-exited:
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("serve ended with %v, want it killed by SIGTERM", err)
			}
			if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
				t.Fatalf("serve ended with %v, want it killed by SIGTERM\n%s", err, p.logs.String())
			}
			return
		case <-tick.C:
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
				t.Fatal(err)
			}
		case <-patience:
			t.Fatalf("serve still stopping 20s after a second SIGTERM:\n%s", p.logs.String())
		}
	}
}
