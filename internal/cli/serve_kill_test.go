package cli

// The kill -9 load test of `flowgen serve`: a real serve process (this test
// binary re-executed as the flowgen command, TestMain) takes HTTP starts
// and events at the same time, calling a service of the test for its rpc
// steps, and is SIGKILLed in the middle. After a restart on the same store
// and flows, every run answered 201 and every event answered 202 must be
// applied, and a service call made twice must be of a step that was in
// flight at the kill (its end recorded only after the restart).

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

const envCLIMain = "FLOWGEN_CLI_MAIN" // set: the test binary is the flowgen command

func TestMain(m *testing.M) {
	if os.Getenv(envCLIMain) == "1" {
		os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	if os.Getenv(envProviderMain) != "" { // serve_provider_test.go
		os.Exit(providerMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// serveProc is a `flowgen serve` process.
type serveProc struct {
	cmd  *exec.Cmd
	url  string
	logs *logtest.Buffer
	done chan struct{} // closed when its stderr ends
}

// startServeProc runs `flowgen serve args...` (with -addr 127.0.0.1:0) and
// waits for it to listen.
func startServeProc(t testing.TB, args ...string) *serveProc {
	t.Helper()
	return startServeCmd(t, exec.Command(os.Args[0], append([]string{"serve", "-addr", "127.0.0.1:0"}, args...)...))
}

// startServeCmd runs cmd, which runs `flowgen serve` (this test binary),
// and waits for it to listen.
func startServeCmd(t testing.TB, cmd *exec.Cmd) *serveProc {
	t.Helper()
	cmd.Env = append(os.Environ(), envCLIMain+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, logs: &logtest.Buffer{}, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.logs, line)
			if strings.Contains(line, `msg="flowgen serve"`) {
				for _, f := range strings.Fields(line) {
					if a, ok := strings.CutPrefix(f, "addr="); ok {
						addr <- a
					}
				}
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("serve's log:\n%s", p.logs.String())
		}
	})
	select {
	case a := <-addr:
		p.url = "http://" + a
	case <-p.done:
		t.Fatalf("serve did not start:\n%s", p.logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not listen within a minute:\n%s", p.logs.String())
	}
	return p
}

// kill9 SIGKILLs the process and waits for it.
func (p *serveProc) kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	<-p.done
}

const killLoadFlows = `{"version": 1, "flows": [
 {"name": "Order", "state": "OrderState",
  "triggers": [{"kind": "rpc", "endpoint": "Order.Start"}, {"kind": "event", "topic": "orders", "event": "order.placed"}],
  "steps": [
   {"name": "Charge", "action": {"kind": "rpc", "service": "svc", "endpoint": "Charge", "request": "OrderID"}, "irreversible": true},
   {"name": "Ship", "action": {"kind": "rpc", "service": "svc", "endpoint": "Ship", "request": "OrderID"}, "irreversible": true}]},
 {"name": "Pay", "state": "PayState", "triggers": [{"kind": "rpc", "endpoint": "Pay.Start"}],
  "steps": [
   {"name": "AwaitPayment", "action": {"kind": "await", "topic": "payments", "event": "order.paid", "response": "Payment", "correlate": "OrderID", "timeout": "100h"}, "irreversible": true},
   {"name": "Receipt", "action": {"kind": "rpc", "service": "svc", "endpoint": "Receipt", "request": "OrderID"}, "irreversible": true}]}
]}`

// serviceLog counts the calls of the test's service by idempotency key
// and by life of the server (0 before the kill, 1 after). Each serve
// process is given its own base URL, serviceBase(life), so that a call is
// counted in the life of the process that made it: when it reaches the
// handler is no guide, as a call the killed process sent may be read only
// after the kill, on a loaded machine.
type serviceLog struct {
	mu    sync.Mutex
	calls map[string][2]int
}

// serviceBase is the base path of the service for the serve process of life.
func serviceBase(life int) string { return fmt.Sprintf("/life%d", life) }

func (l *serviceLog) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		life := -1
		for i := range 2 {
			if strings.HasPrefix(r.URL.Path, serviceBase(i)+"/") {
				life = i
			}
		}
		if life < 0 {
			http.Error(w, "no life in the path", http.StatusNotFound)
			return
		}
		l.mu.Lock()
		c := l.calls[key]
		c[life]++
		l.calls[key] = c
		l.mu.Unlock()
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond) // steps in flight at the kill
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	})
}

func postJSON(client *http.Client, url, key, body string) int {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// allRuns lists every run of flow through GET /runs, page by page.
func allRuns(t *testing.T, client *http.Client, url, flow string) map[string]store.RunInfo {
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

func TestServeKill9UnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serve processes")
	}
	const pays, orders = 100, 150
	dir := t.TempDir()
	storeDir, flowsDir := filepath.Join(dir, "store"), filepath.Join(dir, "flows")
	if err := os.MkdirAll(flowsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(flowsDir, "kill.json"), []byte(killLoadFlows), 0o644); err != nil {
		t.Fatal(err)
	}
	svc := &serviceLog{calls: map[string][2]int{}}
	srv := httptest.NewServer(svc.handler())
	defer srv.Close()
	args := func(life int) []string {
		return []string{"-store", storeDir, "-flows", flowsDir, "-service", "svc=" + srv.URL + serviceBase(life), "-id", "kill"}
	}
	p := startServeProc(t, args(0)...)
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

	// Runs waiting for their payment.
	work(pays, func(i int) {
		if s := postJSON(client, fmt.Sprintf("%s/rpc/Pay.Start?run_id=pay-%d", p.url, i), "", fmt.Sprintf(`{"OrderID": "p-%d"}`, i)); s != 201 {
			t.Errorf("start pay-%d: %d", i, s)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting for %s", what)
			}
		}
	}
	waitFor("the Pay runs waiting", func() bool {
		n := 0
		for _, r := range allRuns(t, client, p.url, "Pay") {
			if r.State == runtime.StateWaiting {
				n++
			}
		}
		return n == pays
	})

	// The load: HTTP starts, events that start runs, and the payments the
	// waiting runs await, interleaved; the server dies at a random
	// acknowledgement past the first third.
	jobs := 3 * max(orders, pays)
	killAt := int64(jobs/3 + rand.IntN(jobs/3))
	var acked atomic.Int64
	var killed atomic.Bool
	var killTime time.Time
	ackHTTP, ackEvent, ackPay := make([]atomic.Bool, orders), make([]atomic.Bool, orders), make([]atomic.Bool, pays)
	work(jobs, func(j int) {
		if killed.Load() {
			return
		}
		var status int
		var ack *atomic.Bool
		switch i := j / 3; {
		case j%3 == 0 && i < orders:
			status, ack = postJSON(client, p.url+"/rpc/Order.Start", fmt.Sprintf("h-%d", i), fmt.Sprintf(`{"OrderID": "h-%d"}`, i)), &ackHTTP[i]
		case j%3 == 1 && i < orders:
			status, ack = postJSON(client, fmt.Sprintf("%s/events/orders/order.placed?id=e-%d", p.url, i), "", fmt.Sprintf(`{"OrderID": "e-%d"}`, i)), &ackEvent[i]
		case i < pays:
			status, ack = postJSON(client, fmt.Sprintf("%s/events/payments/order.paid?id=pay-ev-%d", p.url, i), "", fmt.Sprintf(`{"correlation_id": "p-%d"}`, i)), &ackPay[i]
		default:
			return
		}
		ok := status == 201 || status == 202
		if ok {
			ack.Store(true)
		} else if !killed.Load() {
			t.Errorf("job %d: status %d before the kill", j, status)
		}
		if ok && acked.Add(1) == killAt && killed.CompareAndSwap(false, true) {
			p.kill9()
			killTime = time.Now()
		}
	})
	if !killed.Load() {
		t.Fatalf("the load ended before the kill (%d acknowledged, kill at %d)", acked.Load(), killAt)
	}

	p = startServeProc(t, args(1)...)
	type want struct{ flow, id string }
	var wants []want
	for i := range orders {
		if ackHTTP[i].Load() {
			wants = append(wants, want{"Order", engine.KeyRunID("Order", fmt.Sprintf("h-%d", i))})
		}
		if ackEvent[i].Load() {
			wants = append(wants, want{"Order", engine.EventRunID("Order", "orders", "order.placed", fmt.Sprintf("e-%d", i))})
		}
	}
	for i := range pays {
		if ackPay[i].Load() {
			wants = append(wants, want{"Pay", fmt.Sprintf("pay-%d", i)})
		}
	}
	var lost []string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		runs := map[string]map[string]store.RunInfo{"Order": allRuns(t, client, p.url, "Order"), "Pay": allRuns(t, client, p.url, "Pay")}
		lost = lost[:0]
		for _, w := range wants {
			if runs[w.flow][w.id].State != runtime.StateDone {
				lost = append(lost, w.id)
			}
		}
		if len(lost) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(lost) > 0 {
		t.Fatalf("%d of %d acknowledged runs and events not applied after the restart: %v", len(lost), len(wants), lost)
	}

	// Service calls made twice: at most once in each life of the server,
	// and only for a step whose end was recorded after the kill (it was in
	// flight then).
	svc.mu.Lock()
	defer svc.mu.Unlock()
	dups := 0
	for key, c := range svc.calls {
		if c[0] > 1 || c[1] > 1 {
			t.Errorf("service key %s called %v times in one life of the server", key, c)
		}
		if c[0] == 0 || c[1] == 0 {
			continue
		}
		dups++
		cut := strings.LastIndex(key, "/")
		runID, step := key[:cut], key[cut+1:]
		res, err := client.Get(p.url + "/runs/" + runID + "/history")
		if err != nil {
			t.Fatal(err)
		}
		var h struct {
			Events []runtime.Event `json:"events"`
		}
		err = json.NewDecoder(res.Body).Decode(&h)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range h.Events {
			if ev.Step == step && ev.Outcome == runtime.OutcomeOK && ev.Time.Before(killTime) {
				t.Errorf("service key %s called again after the restart, but its step ended before the kill (%v)", key, ev.Time)
			}
		}
	}
	t.Logf("%d of %d jobs acknowledged before the kill; %d runs checked; %d service calls repeated (steps in flight at the kill)", killAt, jobs, len(wants), dups)
}
