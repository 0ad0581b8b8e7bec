//go:build unix

package cli

// The kill test of parallel blocks: a real `flowgen serve` process (this
// test binary, re-executed as the CLI) runs JSON flows whose parallel
// block has a branch that answers at once and two that hang; the parent
// SIGKILLs the server while the slow branches are in flight. After a
// restart on the same store, each run finishes: the completed branch is
// not called again, and the branches that were in flight are called again
// with the same idempotency keys.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/runtime"
)

const killParallelFlow = `{"version": 1, "flows": [{
  "name": "Order", "state": "OrderState",
  "triggers": [{"kind": "rpc", "endpoint": "Order.Start"}],
  "steps": [
    {"name": "Prepare", "parallel": {"branches": [
      {"name": "Fast", "action": {"kind": "rpc", "service": "svc", "endpoint": "Fast", "request": "Items", "response": "FastOut"}, "irreversible": true},
      {"name": "SlowA", "action": {"kind": "rpc", "service": "svc", "endpoint": "SlowA", "request": "Items", "response": "A"}, "irreversible": true},
      {"name": "SlowB", "action": {"kind": "rpc", "service": "svc", "endpoint": "SlowB", "request": "Items", "response": "B"}, "irreversible": true}
    ]}},
    {"name": "Ship", "action": {"kind": "rpc", "service": "svc", "endpoint": "Ship", "request": "A", "response": "Shipped"}, "irreversible": true}
  ]}]}`

// serveChild is a `flowgen serve` process.
type serveChild struct {
	cmd  *exec.Cmd
	url  string
	errb *logtest.Buffer
}

var listenAddr = regexp.MustCompile(`msg="flowgen serve" addr=(\S+)`)

func startServeChild(t *testing.T, args ...string) *serveChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "-addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), envCLIMain+"=1")
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &serveChild{cmd: cmd, errb: &logtest.Buffer{}}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("serve stderr:\n%s", c.errb.String())
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			fmt.Fprintln(c.errb, sc.Text())
			if m := listenAddr.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, errPipe)
	}()
	select {
	case a := <-addr:
		c.url = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start:\n%s", c.errb.String())
	}
	return c
}

// runStatus is what GET /runs/{id} says of a run.
type runStatus struct {
	State    runtime.RunState `json:"state"`
	Snapshot map[string]any   `json:"snapshot"`
	Branches []runtime.Branch `json:"branches"`
}

func getStatus(t *testing.T, url, id string) runStatus {
	t.Helper()
	var st runStatus
	res, err := http.Get(url + "/runs/" + id)
	if err != nil {
		return st
	}
	defer res.Body.Close()
	_ = json.NewDecoder(res.Body).Decode(&st)
	return st
}

// branch returns the status of a run's branch named step.
func (st runStatus) branch(step string) runtime.Branch {
	for _, b := range st.Branches {
		if b.Step == step {
			return b
		}
	}
	return runtime.Branch{}
}

func TestKillServeDuringParallelBlock(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	const n = 20
	dir := t.TempDir()
	flows := filepath.Join(dir, "flows")
	if err := os.MkdirAll(flows, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(flows, "order.json"), killParallelFlow)
	// While hang is set, SlowA and SlowB answer only when their request is
	// cancelled (the server that sent it died).
	var hang atomic.Bool
	hang.Store(true)
	svc, svcURL := newLifeService(t, func(_ int32, endpoint, _ string, _ bool) int {
		if strings.HasPrefix(endpoint, "Slow") && hang.Load() {
			return 0
		}
		return http.StatusOK
	})
	args := []string{"-store", filepath.Join(dir, "store"), "-flows", flows, "-service", "svc=" + svcURL}

	child := startServeChild(t, args...)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := http.Post(fmt.Sprintf("%s/rpc/Order.Start?run_id=o-%d", child.url, i), "application/json", strings.NewReader(`{"Items": ["book"]}`))
			if err != nil {
				t.Errorf("start o-%d: %v", i, err)
				return
			}
			res.Body.Close()
			if res.StatusCode != http.StatusCreated {
				t.Errorf("start o-%d: %s", i, res.Status)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// Every run has completed Fast, and both slow branches are in flight:
	// recorded as running, and called.
	patiently(t, "every run inside its block", func() bool {
		for i := range n {
			st := getStatus(t, child.url, fmt.Sprintf("o-%d", i))
			if st.branch("Fast").Outcome != runtime.OutcomeOK || st.branch("SlowA").Machine != "SlowA:running" || st.branch("SlowB").Machine != "SlowB:running" {
				return false
			}
		}
		a, _ := svc.count("SlowA")
		b, _ := svc.count("SlowB")
		return a == n && b == n
	})
	if err := child.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.cmd.Wait()

	hang.Store(false)
	child = startServeChild(t, args...)
	patiently(t, "every run done after the restart", func() bool {
		for i := range n {
			if getStatus(t, child.url, fmt.Sprintf("o-%d", i)).State != runtime.StateDone {
				return false
			}
		}
		return true
	})
	for _, c := range []struct {
		endpoint    string
		calls, keys int
	}{
		{"Fast", n, n},      // completed before the kill: not called again
		{"SlowA", 2 * n, n}, // in flight: called again, with the same key
		{"SlowB", 2 * n, n},
		{"Ship", n, n},
	} {
		if calls, keys := svc.count(c.endpoint); calls != c.calls || keys != c.keys {
			t.Errorf("%s: %d calls with %d keys, want %d with %d", c.endpoint, calls, keys, c.calls, c.keys)
		}
	}
	st := getStatus(t, child.url, "o-0")
	for _, f := range []string{"FastOut", "A", "B", "Shipped"} {
		if st.Snapshot[f] == nil {
			t.Errorf("o-0's final state has no %s: %v", f, st.Snapshot)
		}
	}
	for _, b := range []string{"Fast", "SlowA", "SlowB"} {
		if got := st.branch(b); got.Outcome != runtime.OutcomeOK || got.Machine != "Prepare:parallel" {
			t.Errorf("o-0's branch %s: %+v", b, got)
		}
	}
}

// patiently is eventually with the patience of a test that starts
// processes on a loaded machine.
func patiently(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitUpTo(t, 90*time.Second, what, cond)
}
