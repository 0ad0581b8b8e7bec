package engine

// The kill test of the HTTP door for events: a child process (this test
// binary, re-executed) serves the engine's API on the durable store with
// the in-process broker; the parent parks runs on an await, posts the
// events that complete them and events that start runs, and SIGKILLs the
// child while it posts. After a restart, every event the child answered
// 2xx must be applied: its waiting run completed, or its run started.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

const envKillChild = "FLOWGEN_ENGINE_KILL_CHILD" // the store directory of the child

func TestMain(m *testing.M) {
	if dir := os.Getenv(envKillChild); dir != "" {
		os.Exit(killChild(dir))
	}
	if dir := os.Getenv(envAbortChild); dir != "" { // abort_kill_test.go
		os.Exit(abortChild(dir))
	}
	os.Exit(m.Run())
}

const killFlows = `{"version": 1, "flows": [
  {"name": "Pay", "state": "PayState", "triggers": [{"kind": "rpc", "endpoint": "Pay.Start"}],
   "steps": [{"name": "AwaitPayment", "irreversible": true,
     "action": {"kind": "await", "topic": "payments", "event": "order.paid", "response": "Payment", "correlate": "OrderID", "timeout": "100h"}}]},
  {"name": "Order", "state": "OrderState", "triggers": [{"kind": "event", "topic": "orders", "event": "order.placed"}],
   "steps": [{"name": "Accept", "irreversible": true, "action": {"kind": "publish", "topic": "orders", "event": "order.accepted"}}]}
]}`

// killChild serves the engine's API on the store in dir, with the
// in-process broker, until it is killed; it prints the address it listens
// on.
func killChild(dir string) int {
	fail := childFailed
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		return fail(err)
	}
	e, err := New(Options{Store: st, ID: "killed"})
	if err != nil {
		return fail(err)
	}
	if ds, err := e.LoadFlows("kill.json", []byte(killFlows)); err != nil {
		return fail(fmt.Errorf("%v %v", err, ds))
	}
	return serveUntilKilled(e)
}

// childFailed reports why a child process stops, and its exit code.
func childFailed(err error) int { fmt.Fprintln(os.Stderr, "child:", err); return 1 }

// serveUntilKilled starts e and serves its API until the process is
// killed; it prints the address it listens on.
func serveUntilKilled(e *Engine) int {
	fail := childFailed
	if err := e.Start(context.Background()); err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	fmt.Printf("ADDR %s\n", ln.Addr())
	return fail(http.Serve(ln, e.Handler()))
}

// killable is a child engine process.
type killable struct {
	cmd  *exec.Cmd
	url  string
	errb *strings.Builder
}

// startKillChild runs this test binary as a child process with env added
// to its environment (what its TestMain serves), and waits for its address.
func startKillChild(t *testing.T, env ...string) *killable {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	k := &killable{cmd: cmd, errb: &errb}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("child stderr:\n%s", errb.String())
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ADDR ")
	if err != nil || !ok {
		t.Fatalf("child did not start: %q %v\n%s", line, err, errb.String())
	}
	k.url = "http://" + addr
	return k
}

// post sends a JSON request and returns the status (0 if the request
// failed) and the answer.
func post(client *http.Client, url, key, body string) (int, map[string]any) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil
	}
	defer res.Body.Close()
	var out map[string]any
	if json.NewDecoder(res.Body).Decode(&out) != nil {
		return 0, nil
	}
	return res.StatusCode, out
}

func listRuns(t *testing.T, client *http.Client, url, flow string) map[string]store.RunInfo {
	t.Helper()
	m := map[string]store.RunInfo{}
	for cursor := ""; ; {
		res, err := client.Get(url + "/runs?limit=1000&flow=" + flow + "&cursor=" + cursor)
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Runs []store.RunInfo `json:"runs"`
			Next string          `json:"next_cursor"`
		}
		err = json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Runs {
			m[r.RunID] = r
		}
		if cursor = out.Next; cursor == "" {
			return m
		}
	}
}

// Events answered 202 are applied after a kill -9: 200 runs wait for
// their payment, 200 payments and 200 orders (each starting a run) are
// posted at once, and the server is killed while it answers them. After a
// restart every acknowledged payment has completed its run, and every
// acknowledged order has its run. Before the inbox recorded an event before
// the answer, 177 of 200 acknowledged payments were lost this way.
func TestKillEventsDurable(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	const n = 200
	dir := t.TempDir()
	child := startKillChild(t, envKillChild+"="+dir)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

	work := func(jobs int, do func(i int)) {
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 8 {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < jobs; i = int(next.Add(1)) - 1 {
					do(i)
				}
			})
		}
		wg.Wait()
	}
	work(n, func(i int) {
		if status, out := post(client, fmt.Sprintf("%s/rpc/Pay.Start?run_id=pay-%d", child.url, i), "", fmt.Sprintf(`{"OrderID": "o-%d"}`, i)); status != 201 {
			t.Errorf("start pay-%d: %d %v", i, status, out)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	waitFor(t, "all runs waiting", func() bool {
		waiting := 0
		for _, r := range listRuns(t, client, child.url, "Pay") {
			if r.Machine == "AwaitPayment:waiting" {
				waiting++
			}
		}
		return waiting == n
	})

	// 2n events, payments and orders interleaved; the child dies at a
	// random acknowledgement in the last quarter.
	killAt := int64(2*n*3/4 + rand.IntN(2*n/4))
	var acked atomic.Int64
	var killed atomic.Bool
	ackedPay := make([]atomic.Bool, n)
	ackedOrder := make([]atomic.Bool, n)
	work(2*n, func(j int) {
		if killed.Load() {
			return
		}
		i := j / 2
		var status int
		if j%2 == 0 {
			status, _ = post(client, child.url+"/events/payments/order.paid", fmt.Sprintf("pay-ev-%d", i), fmt.Sprintf(`{"correlation_id": "o-%d", "amount": %d}`, i, i))
			if status == 202 {
				ackedPay[i].Store(true)
			}
		} else {
			status, _ = post(client, child.url+"/events/orders/order.placed", fmt.Sprintf("order-%d", i), fmt.Sprintf(`{"OrderID": "x-%d"}`, i))
			if status == 202 {
				ackedOrder[i].Store(true)
			}
		}
		if status == 202 && acked.Add(1) == killAt {
			killed.Store(true)
			_ = child.cmd.Process.Signal(syscall.SIGKILL)
		} else if status != 202 && !killed.Load() {
			t.Errorf("event %d: status %d before the kill", j, status)
		}
	})
	_ = child.cmd.Wait()
	t.Logf("%d events acknowledged, the child killed at the %d-th", acked.Load(), killAt)

	child = startKillChild(t, envKillChild+"="+dir)
	lost := func() (pays, orders []int) {
		payRuns := listRuns(t, client, child.url, "Pay")
		orderRuns := listRuns(t, client, child.url, "Order")
		for i := range n {
			if ackedPay[i].Load() && payRuns[fmt.Sprintf("pay-%d", i)].State != runtime.StateDone {
				pays = append(pays, i)
			}
			if ackedOrder[i].Load() && orderRuns[EventRunID("Order", "orders", "order.placed", fmt.Sprintf("order-%d", i))].State != runtime.StateDone {
				orders = append(orders, i)
			}
		}
		return pays, orders
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		pays, orders := lost()
		if len(pays) == 0 && len(orders) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart, acknowledged events not applied: %d payments %v, %d orders %v", len(pays), pays, len(orders), orders)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Nothing was applied twice: one run per order at most, each payment
	// in its own run.
	if runs := listRuns(t, client, child.url, "Order"); len(runs) > n {
		t.Fatalf("%d order runs for %d orders", len(runs), n)
	}
}
