package engine

// The kill test of an accepted abort: a child process (this test binary,
// re-executed) serves the engine's API on the durable store; its run's
// second step ignores its context and never returns, so the run cannot
// record its abort ("-> aborting") before the child is SIGKILLed right
// after answering 202 to it. After a restart the run must still end
// aborted, its completed step rolled back: the 202 was durable.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

const (
	envAbortChild = "FLOWGEN_ENGINE_ABORT_CHILD" // the test's directory, for the child
	envAbortHang  = "FLOWGEN_ENGINE_ABORT_HANG"  // set: the Hold step never returns
)

const abortKillFlows = `{"version": 1, "flows": [{"name": "Hold", "state": "HoldState",
  "triggers": [{"kind": "rpc", "endpoint": "Hold.Start"}],
  "steps": [
    {"name": "Reserve", "action": {"kind": "go"}, "rollback": {"name": "Release"}},
    {"name": "Hold", "action": {"kind": "go"}, "irreversible": true}]}]}`

// abortChild serves the Hold flow on the store in dir/store until it is
// killed. Each handler appends "<handler> <idempotency key>" to dir/ledger
// as it starts; with envAbortHang the Hold step then waits forever,
// whatever its context says.
func abortChild(dir string) int {
	st, err := store.Open(filepath.Join(dir, "store"), store.Options{})
	if err != nil {
		return childFailed(err)
	}
	e, err := New(Options{Store: st, ID: "abort-killed"})
	if err != nil {
		return childFailed(err)
	}
	note := func(ctx context.Context, what string) error {
		f, err := os.OpenFile(filepath.Join(dir, "ledger"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(f, "%s %s\n", what, runtime.IdempotencyKey(ctx))
		return errors.Join(err, f.Close())
	}
	hang := os.Getenv(envAbortHang) != ""
	e.Registry().Step("Reserve", func(ctx context.Context, _ *State) (string, error) { return "", note(ctx, "reserve") })
	e.Registry().Rollback("Release", func(ctx context.Context, _ *State) error { return note(ctx, "release") })
	e.Registry().Step("Hold", func(ctx context.Context, _ *State) (string, error) {
		if err := note(ctx, "hold"); err != nil || !hang {
			return "", err
		}
		select {} // a step that ignores its context: the run cannot record the abort
	})
	if ds, err := e.LoadFlows("hold.json", []byte(abortKillFlows)); err != nil {
		return childFailed(fmt.Errorf("%v %v", err, ds))
	}
	return serveUntilKilled(e)
}

// ledgerCount counts the lines of dir/ledger that start with what.
func ledgerCount(t *testing.T, dir, what string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "ledger"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return bytes.Count(append([]byte("\n"), b...), []byte("\n"+what+" "))
}

// A 202 to an abort is durable: the server is killed after answering it
// while the run's step, which ignores its context, is still in flight (so
// the run has recorded nothing of the abort), and after a restart the run
// ends aborted, its completed step rolled back, the step in flight not run
// again. Before the store kept abort requests, the run resumed as if never
// aborted and ended done.
func TestKillAfterAbortAccepted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	child := startKillChild(t, envAbortChild+"="+dir, envAbortHang+"=1")
	client := &http.Client{Timeout: 30 * time.Second}
	if status, out := post(client, child.url+"/rpc/Hold.Start?run_id=h-1", "", `{}`); status != http.StatusCreated {
		t.Fatalf("start: %d %v", status, out)
	}
	waitFor(t, "the Hold step in flight", func() bool { return ledgerCount(t, dir, "hold") == 1 })
	if status, out := post(client, child.url+"/runs/h-1/abort", "", ``); status != http.StatusAccepted {
		t.Fatalf("abort: %d %v", status, out)
	}
	if err := child.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.cmd.Wait()

	// The run recorded nothing of the abort: what the test is about.
	ro, err := store.OpenReadOnly(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := ro.Get("h-1")
	ro.Close()
	if info.Machine != "Hold:running" {
		t.Fatalf("the run is at %q after the kill, want Hold:running (the abort unrecorded by the run)", info.Machine)
	}

	child = startKillChild(t, envAbortChild+"="+dir) // Hold returns at once now
	var final store.RunInfo
	waitFor(t, "the run over after the restart", func() bool {
		final = listRuns(t, client, child.url, "Hold")["h-1"]
		return final.State.Terminal()
	})
	if final.State != runtime.StateAborted {
		t.Errorf("after the restart the run ended %s, want aborted", final.State)
	}
	for what, want := range map[string]int{"reserve": 1, "release": 1, "hold": 1} {
		if got := ledgerCount(t, dir, what); got != want {
			t.Errorf("%s ran %d times, want %d", what, got, want)
		}
	}
}
