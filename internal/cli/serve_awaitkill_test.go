package cli

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// awaitKillFlows: a run awaits its own payment for a few seconds; taking
// it ends the run done, the deadline ends it failed (outcome timeout).
const awaitKillFlows = `{"version": 1, "flows": [
 {"name": "Pay", "state": "PayState", "triggers": [{"kind": "rpc", "endpoint": "Pay.Start"}],
  "steps": [{"name": "AwaitPayment", "action": {"kind": "await", "topic": "payments", "event": "order.paid", "response": "Payment", "correlate": "OrderID", "timeout": "4s"}}]}
]}`

// runHistory reads a run's events through GET /runs/{id}/history.
func runHistory(t *testing.T, client *http.Client, url, runID string) []runtime.Event {
	t.Helper()
	events, err := getHistory(client, url, runID)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// getHistory is runHistory for a goroutine of the test: it returns the error.
func getHistory(client *http.Client, url, runID string) ([]runtime.Event, error) {
	res, err := client.Get(url + "/runs/" + runID + "/history")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var h struct {
		Events []runtime.Event `json:"events"`
	}
	err = json.NewDecoder(res.Body).Decode(&h)
	return h.Events, err
}

// `flowgen serve` is SIGKILLed while the events runs await are posted
// around the runs' deadlines, some just before, some just after, and
// restarted at once on the same store: every event answered 202 before its
// run's deadline (so received before it) is taken by its run, which ends
// done, though the deadline may have passed while the server was down or
// the event's claim was in flight at the kill; the events not acknowledged
// are posted (again) to the restarted server, and a run never takes one
// sent after its deadline; and no run is left waiting past its deadline.
func TestServeKill9AwaitDeadlines(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serve processes")
	}
	const pays = 100
	dir := t.TempDir()
	storeDir, flowsDir := filepath.Join(dir, "store"), filepath.Join(dir, "flows")
	if err := os.MkdirAll(flowsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(flowsDir, "pay.json"), []byte(awaitKillFlows), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-store", storeDir, "-flows", flowsDir, "-id", "kill"}
	p := startServeProc(t, args...)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

	// The runs start over two seconds: their deadlines spread, and the
	// payments sent just before and just after them interleave. Each
	// payment is posted near its run's deadline (below: most before it),
	// scheduled as soon as that deadline is read, right
	// after the run's start: the starts and reads of the other runs take
	// their time (more than the runs' 4s on a loaded machine, which left
	// every payment late when they all came first). The server dies at a
	// random acknowledgement once every run has started, and the events
	// that reach no server meanwhile are not posted again.
	deadlines := make([]time.Time, pays)
	at := make([]time.Time, pays)
	killAt := int64(pays/4 + rand.IntN(pays/2))
	var acked, started atomic.Int64
	var killed atomic.Bool
	// sentAt is when the payment's first POST was sent (zero: never): one
	// in flight at the kill may have been recorded, received in time, by
	// the killed server though its 202 was lost, and the restarted server
	// then counts that received time when the payment is posted again.
	sentAt := make([]time.Time, pays)
	ackAt := make([]time.Time, pays) // when the 202 came; zero: none
	pay := func(url string, i int, beforeKill bool) {
		time.Sleep(time.Until(at[i]))
		if beforeKill && killed.Load() {
			return // posted after the restart
		}
		if sentAt[i].IsZero() {
			sentAt[i] = time.Now()
		}
		status := postJSON(client, fmt.Sprintf("%s/events/payments/order.paid?id=pay-ev-%d", url, i), "", fmt.Sprintf(`{"correlation_id": "p-%d"}`, i))
		if status != 202 {
			if !beforeKill || !killed.Load() {
				t.Errorf("payment %d: status %d before the kill", i, status)
			}
			return
		}
		ackAt[i] = time.Now()
		if acked.Add(1) >= killAt && beforeKill && started.Load() == pays && killed.CompareAndSwap(false, true) {
			p.kill9()
		}
	}
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range pays {
		wg.Go(func() {
			time.Sleep(time.Until(t0.Add(time.Duration(i) * 20 * time.Millisecond)))
			id := fmt.Sprintf("pay-%d", i)
			if s := postJSON(client, fmt.Sprintf("%s/rpc/Pay.Start?run_id=%s", p.url, id), "", fmt.Sprintf(`{"OrderID": "p-%d"}`, i)); s != 201 {
				t.Errorf("start %s: %d", id, s)
				return
			}
			started.Add(1)
			events, err := getHistory(client, p.url, id)
			for _, ev := range events {
				if ev.Wait != nil {
					deadlines[i] = ev.Wait.Deadline
					break
				}
			}
			if deadlines[i].IsZero() {
				t.Errorf("%s has no wait recorded (%v)", id, err)
				return
			}
			// Odd runs are paid around the deadline, 300ms before to 100ms
			// after it: the edge. Even ones up to 1.5s before it, so that
			// some 202s come in time however slow a loaded machine's
			// answers are (all of them came late at a load average of 6,
			// and the test then tested no payment in time).
			offset := time.Duration(rand.IntN(400)-300) * time.Millisecond
			if i%2 == 0 {
				offset = -time.Duration(rand.IntN(1500)) * time.Millisecond
			}
			at[i] = deadlines[i].Add(offset)
			pay(p.url, i, true)
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if !killed.Load() {
		t.Fatalf("the load ended before the kill (%d acknowledged, kill at %d)", acked.Load(), killAt)
	}
	order := make([]int, pays)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return at[a].Compare(at[b]) })

	// The restart, and the payments not posted yet posted to it as it
	// resumes the runs: most are late (their runs' deadlines passed while
	// the server was down) and must not wake their runs, which time out.
	p = startServeProc(t, args...)
	var rest []int
	for _, i := range order {
		if ackAt[i].IsZero() {
			rest = append(rest, i)
		}
	}
	// By eight clients, in the order of their times (mostly past).
	var next atomic.Int64
	for range 8 {
		wg.Go(func() {
			for n := int(next.Add(1)) - 1; n < len(rest); n = int(next.Add(1)) - 1 {
				pay(p.url, rest[n], false)
			}
		})
	}
	wg.Wait()
	var waiting []string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		waiting = waiting[:0]
		for id, r := range allRuns(t, client, p.url, "Pay") {
			if !r.State.Terminal() {
				waiting = append(waiting, id)
			}
		}
		if len(waiting) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(waiting) > 0 {
		t.Fatalf("%d runs not over after their deadlines: %v", len(waiting), waiting)
	}
	runs := allRuns(t, client, p.url, "Pay")
	inTime, done := 0, 0
	for i := range pays {
		id := fmt.Sprintf("pay-%d", i)
		var took, timedOut bool
		for _, ev := range runHistory(t, client, p.url, id) {
			took = took || ev.Woke()
			timedOut = timedOut || ev.Outcome == runtime.OutcomeTimeout
		}
		acknowledged := !ackAt[i].IsZero()
		what := fmt.Sprintf("%s (deadline %s, sent at %s, 202 at %s): %s, took %v, timed out %v", id,
			deadlines[i].Format(time.TimeOnly+".000"), sentAt[i].Format(time.TimeOnly+".000"), ackAt[i].Format(time.TimeOnly+".000"), runs[id].State, took, timedOut)
		if acknowledged && ackAt[i].Before(deadlines[i]) {
			inTime++
			if !took || runs[id].State != runtime.StateDone {
				t.Errorf("an event acknowledged before its run's deadline was not taken: %s", what)
			}
		}
		if took {
			done++
			if sentAt[i].After(deadlines[i]) {
				t.Errorf("took an event first sent after its run's deadline: %s", what)
			}
		} else if !timedOut {
			t.Errorf("neither took its event nor timed out: %s", what)
		}
	}
	t.Logf("%d payments acknowledged (kill at %d), %d before their deadlines; %d runs took theirs", acked.Load(), killAt, inTime, done)
	if inTime == 0 || done == pays {
		t.Errorf("the load did not straddle the deadlines")
	}
}
