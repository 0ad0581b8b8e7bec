//go:build unix

package cli

// Kill tests of JSON flows under a real `flowgen serve` (this test binary,
// re-executed as the CLI), at points TestKillServeDuringParallelBlock does
// not reach: a block with one branch completed, one in the backoff of its
// retry and one in flight, then (after a restart) the block failed and
// its completions rolling back, then a restart that finishes. And a run
// asleep at a kill, then waiting for its call's child at the next, aborted
// by the last process or left to finish. Every history is read from the
// store at the end.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

const killRollbackFlow = `{"version": 1, "flows": [{
  "name": "Order", "state": "OrderState",
  "triggers": [{"kind": "rpc", "endpoint": "Order.Start"}],
  "steps": [
    {"name": "Reserve", "action": {"kind": "rpc", "service": "svc", "endpoint": "Reserve", "request": "Items", "response": "Reservation"},
     "rollback": {"action": {"kind": "rpc", "service": "svc", "endpoint": "Release", "request": "Reservation"}}},
    {"name": "Prepare", "parallel": {"branches": [
      {"name": "Fast", "action": {"kind": "rpc", "service": "svc", "endpoint": "Fast", "request": "Items", "response": "FastOut"},
       "rollback": {"action": {"kind": "rpc", "service": "svc", "endpoint": "UnFast", "request": "FastOut"}}},
      {"name": "Flaky", "action": {"kind": "rpc", "service": "svc", "endpoint": "Flaky", "request": "Items", "response": "FlakyOut"},
       "retry": {"attempts": 3, "initial": "1h", "jitter": "none"},
       "rollback": {"action": {"kind": "rpc", "service": "svc", "endpoint": "UnFlaky", "request": "FlakyOut"}}},
      {"name": "Bad", "action": {"kind": "rpc", "service": "svc", "endpoint": "Bad", "request": "Items", "response": "BadOut"}, "irreversible": true}
    ]}},
    {"name": "Ship", "action": {"kind": "rpc", "service": "svc", "endpoint": "Ship", "request": "Items", "response": "Shipped"}, "irreversible": true}
  ]}]}`

// lifeService answers the flows' calls by the life of the server (1, 2,
// 3...) and counts each endpoint's calls per idempotency key, in order.
type lifeService struct {
	life   atomic.Int32
	answer func(life int32, endpoint, key string, first bool) int // the status; 0: hang until the caller goes
	done   chan struct{}
	mu     sync.Mutex
	calls  map[string]int // "endpoint key" -> calls
	order  map[string][]string
}

func (s *lifeService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	endpoint := strings.TrimPrefix(r.URL.Path, "/")
	key := r.Header.Get("Idempotency-Key")
	run, _, _ := strings.Cut(key, "/")
	s.mu.Lock()
	first := s.calls[endpoint+" "+key] == 0
	s.calls[endpoint+" "+key]++
	s.order[run] = append(s.order[run], endpoint)
	s.mu.Unlock()
	status := s.answer(s.life.Load(), endpoint, key, first)
	if status == 0 {
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, "%q", endpoint+" for "+key)
}

func (s *lifeService) count(endpoint string) (calls, keys int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range s.calls {
		if strings.HasPrefix(k, endpoint+" ") {
			calls += n
			keys++
		}
	}
	return calls, keys
}

func newLifeService(t *testing.T, answer func(life int32, endpoint, key string, first bool) int) (*lifeService, string) {
	svc := &lifeService{answer: answer, done: make(chan struct{}), calls: map[string]int{}, order: map[string][]string{}}
	svc.life.Store(1)
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(svc.done) })
	return svc, srv.URL
}

func (c *serveChild) kill9(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
}

// storedHistories reads every run's history of the store in dir, which
// no process holds.
func storedHistories(t *testing.T, dir string) map[string][]runtime.Event {
	t.Helper()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	infos, err := st.List(store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]runtime.Event{}
	for _, r := range infos {
		h, err := st.LoadHistory(context.Background(), r.RunID)
		if err != nil {
			t.Fatal(err)
		}
		out[r.RunID] = h
	}
	return out
}

func startOrders(t *testing.T, url, endpoint, body string, n int) {
	t.Helper()
	for i := range n {
		res, err := http.Post(fmt.Sprintf("%s/rpc/%s?run_id=o-%d", url, endpoint, i), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("start o-%d: %v", i, err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("start o-%d: %s", i, res.Status)
		}
	}
}

func TestKillServeBlockRollingBack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	const n = 8
	dir := t.TempDir()
	flows := filepath.Join(dir, "flows")
	if err := os.MkdirAll(flows, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(flows, "order.json"), killRollbackFlow)
	svc, svcURL := newLifeService(t, func(life int32, endpoint, key string, first bool) int {
		switch {
		case endpoint == "Flaky" && first:
			return http.StatusServiceUnavailable // retried, after an hour's backoff
		case endpoint == "Bad" && life == 1:
			return 0 // in flight at the first kill
		case endpoint == "Bad":
			return http.StatusBadRequest // fails the block
		case (endpoint == "UnFast" || endpoint == "UnFlaky") && life == 2:
			return 0 // in flight at the second kill
		}
		return http.StatusOK
	})
	args := []string{"-store", filepath.Join(dir, "store"), "-flows", flows, "-service", "svc=" + svcURL}

	child := startServeChild(t, args...)
	startOrders(t, child.url, "Order.Start", `{"Items": ["book"]}`, n)
	patiently(t, "every run inside its block: Fast done, Flaky in its backoff, Bad in flight", func() bool {
		for i := range n {
			st := getStatus(t, child.url, fmt.Sprintf("o-%d", i))
			if st.branch("Fast").Outcome != runtime.OutcomeOK || st.branch("Flaky").Attempt != 2 || st.branch("Bad").Machine != "Bad:running" {
				return false
			}
		}
		calls, _ := svc.count("Bad")
		return calls == n
	})
	replaysToStatus(t, child.url, orderIDs(n)...)
	child.kill9(t)

	svc.life.Store(2)
	child = startServeChild(t, args...)
	patiently(t, "every run rolling back, its first rollback in flight", func() bool {
		for i := range n {
			st := getStatus(t, child.url, fmt.Sprintf("o-%d", i))
			if st.State != runtime.StateRollingBack {
				return false
			}
		}
		a, _ := svc.count("UnFast")
		b, _ := svc.count("UnFlaky")
		return a+b == n
	})
	replaysToStatus(t, child.url, orderIDs(n)...)
	child.kill9(t)

	svc.life.Store(3)
	child = startServeChild(t, args...)
	patiently(t, "every run compensated", func() bool {
		for i := range n {
			if getStatus(t, child.url, fmt.Sprintf("o-%d", i)).State != runtime.StateCompensated {
				return false
			}
		}
		return true
	})
	replaysToStatus(t, child.url, orderIDs(n)...)
	child.kill9(t)

	for _, c := range []struct {
		endpoint    string
		calls, keys int
	}{
		{"Reserve", n, n}, {"Fast", n, n}, // completed before a kill: not called again
		{"Bad", 2 * n, n},                 // in flight at the first kill: called again, same key
		{"Release", n, n}, {"Ship", 0, 0}, // Release: after the kills
	} {
		if calls, keys := svc.count(c.endpoint); calls != c.calls || keys != c.keys {
			t.Errorf("%s: %d calls with %d keys, want %d with %d", c.endpoint, calls, keys, c.calls, c.keys)
		}
	}
	hs := storedHistories(t, filepath.Join(dir, "store"))
	for i := range n {
		id := fmt.Sprintf("o-%d", i)
		h := hs[id]
		s, err := runtime.Replay(h)
		if err != nil || s.State != runtime.StateCompensated {
			t.Fatalf("%s replays to %s (%v)", id, s.State, err)
		}
		var completed, undone []string
		for _, e := range h {
			step, phase, _ := runtime.ParseMachineState(e.From)
			switch {
			case phase == runtime.PhaseRunning && e.Error == "" && e.To != e.From && step != "Bad":
				completed = append([]string{step}, completed...)
			case phase == runtime.PhaseRollback && e.To != e.From:
				undone = append(undone, step)
			}
			if e.Branch == "Flaky" && e.Attempt > 2 {
				t.Errorf("%s: Flaky ended attempt %d: %+v", id, e.Attempt, e)
			}
		}
		if !slices.Equal(undone, completed) {
			t.Errorf("%s: rolled back %q, want the completions newest first %q", id, undone, completed)
		}
		// Each rollback's call: the one in flight at the second kill
		// twice, with its key, the others once; newest first.
		var calls []string
		svc.mu.Lock()
		for _, e := range svc.order[id] {
			if strings.HasPrefix(e, "Un") || e == "Release" {
				calls = append(calls, e)
			}
		}
		svc.mu.Unlock()
		want := []string{"Un" + undone[0]}
		for _, u := range undone {
			want = append(want, map[string]string{"Reserve": "Release", "Fast": "UnFast", "Flaky": "UnFlaky"}[u])
		}
		if !slices.Equal(calls, want) {
			t.Errorf("%s: rollback calls %q, want %q", id, calls, want)
		}
	}
}

const killSleepCallFlow = `{"version": 1, "flows": [
  {"name": "Visit", "state": "VisitState", "steps": [
    {"name": "Book", "action": {"kind": "rpc", "service": "svc", "endpoint": "Book", "request": "Who", "response": "Booking"},
     "rollback": {"action": {"kind": "rpc", "service": "svc", "endpoint": "Unbook", "request": "Booking"}}}
  ]},
  {"name": "Order", "state": "OrderState",
   "triggers": [{"kind": "rpc", "endpoint": "Order.Start"}],
   "steps": [
    {"name": "Reserve", "action": {"kind": "rpc", "service": "svc", "endpoint": "Reserve", "request": "Items", "response": "Reservation"},
     "rollback": {"action": {"kind": "rpc", "service": "svc", "endpoint": "Release", "request": "Reservation"}}},
    {"name": "Decide", "action": {"kind": "rpc", "service": "svc", "endpoint": "Decide", "request": "Items", "response": "Tier"}, "irreversible": true},
    {"name": "Plan", "action": {"kind": "rpc", "service": "svc", "endpoint": "Plan", "request": "Items", "response": "WakeAt"}, "irreversible": true},
    {"name": "Route", "action": {"kind": "choose", "when": [{"if": {"field": "Tier", "op": "==", "value": "gold"}, "target": "Nap"}], "otherwise": "Skip"}},
    {"name": "Skip", "action": {"kind": "rpc", "service": "svc", "endpoint": "Skip", "request": "Items", "response": "Skipped"}, "irreversible": true},
    {"name": "Nap", "action": {"kind": "sleep", "until": "WakeAt"}},
    {"name": "Call", "action": {"kind": "call", "flow": "Visit", "request": "Visit", "response": "Visited"}, "irreversible": true},
    {"name": "Ship", "action": {"kind": "rpc", "service": "svc", "endpoint": "Ship", "request": "Items", "response": "Shipped"}, "irreversible": true}
  ]}]}`

// TestKillServeSleepChooseCall kills flowgen serve while runs sleep (a
// sleep until, of a time a step before it wrote, after a choose on what
// another wrote), restarts it once half of the wake-up times have passed,
// kills it again while every run waits for its call's child (whose step
// is in flight), and restarts it to abort two runs and let the others
// finish. The choose's branch is the one recorded (the service would now
// answer otherwise), each sleep wakes once, at or after its recorded time,
// the children keep their IDs and keys, and the aborted runs end aborted
// with their children, their steps undone once.
func TestKillServeSleepChooseCall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	const n = 6
	dir := t.TempDir()
	flows := filepath.Join(dir, "flows")
	if err := os.MkdirAll(flows, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(flows, "order.json"), killSleepCallFlow)
	var mu sync.Mutex
	planned := map[string]time.Time{} // run -> the wake-up time Plan answered
	svc := &lifeService{done: make(chan struct{}), calls: map[string]int{}, order: map[string][]string{}}
	svc.life.Store(1)
	aborted := func(key string) bool { return strings.HasPrefix(key, "o-0") || strings.HasPrefix(key, "o-1") }
	mux := http.NewServeMux()
	mux.HandleFunc("/Decide", func(w http.ResponseWriter, r *http.Request) {
		svc.ServeHTTP(httptest.NewRecorder(), r)
		tier := "gold"
		if svc.life.Load() > 1 {
			tier = "basic" // what a second look would decide: no run must see it
		}
		fmt.Fprintf(w, "%q", tier)
	})
	mux.HandleFunc("/Plan", func(w http.ResponseWriter, r *http.Request) {
		svc.ServeHTTP(httptest.NewRecorder(), r)
		key := r.Header.Get("Idempotency-Key")
		run, _, _ := strings.Cut(key, "/")
		var i int
		fmt.Sscanf(run, "o-%d", &i)
		// Even runs: passed when the server restarts (the test waits for
		// it); odd runs: still ahead. The margin keeps every run asleep
		// until the first kill on a loaded machine.
		at := time.Now().Add(3 * time.Second).UTC()
		if i%2 == 1 {
			at = at.Add(5 * time.Second)
		}
		mu.Lock()
		if prev, ok := planned[run]; ok {
			at = prev
		}
		planned[run] = at
		mu.Unlock()
		fmt.Fprintf(w, "%q", at.Format(time.RFC3339Nano))
	})
	svc.answer = func(life int32, endpoint, key string, first bool) int {
		if endpoint == "Book" && (life == 2 || life == 3 && aborted(key)) {
			return 0 // in flight at the second kill; for the aborted runs, until the abort
		}
		return http.StatusOK
	}
	mux.Handle("/", svc)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(svc.done) })
	args := []string{"-store", filepath.Join(dir, "store"), "-flows", flows, "-service", "svc=" + srv.URL}

	child := startServeChild(t, args...)
	startOrders(t, child.url, "Order.Start", `{"Items": ["book"], "Visit": {"Who": "ann"}}`, n)
	patiently(t, "every run asleep", func() bool {
		for i := range n {
			var st runtime.Status
			getJSON(t, child.url+fmt.Sprintf("/runs/o-%d", i), &st)
			if st.Machine != runtime.WaitingState("Nap") {
				return false
			}
		}
		return true
	})
	for i := range n {
		var st runtime.Status
		if getJSON(t, child.url+fmt.Sprintf("/runs/o-%d", i), &st); st.Machine != runtime.WaitingState("Nap") {
			t.Fatalf("o-%d woke before the kill (%s): the machine is too slow for the test's margins", i, st.Machine)
		}
	}
	replaysToStatus(t, child.url, orderIDs(n)...)
	child.kill9(t)
	mu.Lock()
	var latestEven time.Time
	for run, at := range planned {
		var i int
		fmt.Sscanf(run, "o-%d", &i)
		if i%2 == 0 && at.After(latestEven) {
			latestEven = at
		}
	}
	mu.Unlock()
	time.Sleep(time.Until(latestEven) + 50*time.Millisecond)

	svc.life.Store(2)
	child = startServeChild(t, args...)
	patiently(t, "every run waiting for its child, whose Book is in flight", func() bool {
		for i := range n {
			st := getStatus(t, child.url, fmt.Sprintf("o-%d", i))
			if st.State != runtime.StateWaiting || st.Snapshot["Visited"] != nil {
				return false
			}
		}
		_, keys := svc.count("Book")
		return keys == n
	})
	replaysToStatus(t, child.url, append(orderIDs(n), childIDs(n)...)...)
	child.kill9(t)

	svc.life.Store(3)
	child = startServeChild(t, args...)
	for _, id := range []string{"o-0", "o-1"} {
		patiently(t, "abort of "+id+" accepted", func() bool {
			res, err := http.Post(child.url+"/runs/"+id+"/abort", "application/json", nil)
			if err != nil {
				return false
			}
			res.Body.Close()
			return res.StatusCode == http.StatusAccepted
		})
	}
	patiently(t, "every run over", func() bool {
		for i := range n {
			want := runtime.StateDone
			if i < 2 {
				want = runtime.StateAborted
			}
			if getStatus(t, child.url, fmt.Sprintf("o-%d", i)).State != want {
				return false
			}
		}
		return true
	})
	replaysToStatus(t, child.url, append(orderIDs(n), childIDs(n)...)...)
	child.kill9(t)

	for _, c := range []struct {
		endpoint    string
		calls, keys int
	}{
		{"Reserve", n, n}, {"Decide", n, n}, {"Plan", n, n}, {"Skip", 0, 0},
		{"Unbook", 0, 0}, {"Release", 2, 2}, {"Ship", n - 2, n - 2},
	} {
		if calls, keys := svc.count(c.endpoint); calls != c.calls || keys != c.keys {
			t.Errorf("%s: %d calls with %d keys, want %d with %d", c.endpoint, calls, keys, c.calls, c.keys)
		}
	}
	// Book was in flight at the second kill: called again, with the same
	// key (the child's), but for an aborted run only if the resumed child
	// called it before the abort came.
	svc.mu.Lock()
	for i := range n {
		key := fmt.Sprintf("Book o-%d@Call/Book", i)
		if got := svc.calls[key]; got != 2 && (i >= 2 || got != 1) {
			t.Errorf("%s: %d calls", key, got)
		}
	}
	svc.mu.Unlock()
	if _, keys := svc.count("Book"); keys != n {
		t.Errorf("Book called with %d keys, want %d", keys, n)
	}
	hs := storedHistories(t, filepath.Join(dir, "store"))
	for i := range n {
		id := fmt.Sprintf("o-%d", i)
		want, wantChild := runtime.StateDone, runtime.StateDone
		if i < 2 {
			want, wantChild = runtime.StateAborted, runtime.StateAborted
		}
		for run, w := range map[string]runtime.RunState{id: want, id + "@Call": wantChild} {
			if s, err := runtime.Replay(hs[run]); err != nil || s.State != w {
				t.Errorf("%s replays to %s (%v), want %s", run, s.State, err, w)
			}
		}
		var sleeps, wakes int
		for j, e := range hs[id] {
			if e.From == runtime.RunningState("Route") && (e.Outcome != runtime.ChoiceOutcome(0) || e.To != runtime.WaitingState("Nap")) {
				t.Errorf("%s: Route went %s to %s, want when1 to Nap:waiting", id, e.Outcome, e.To)
			}
			if e.To == runtime.WaitingState("Nap") {
				sleeps++
				mu.Lock()
				at := planned[id]
				mu.Unlock()
				if e.Wait == nil || !e.Wait.Until.Equal(at) {
					t.Errorf("%s: sleeps until %v, want %v", id, e.Wait, at)
				}
			}
			if e.From == runtime.WaitingState("Nap") {
				wakes++
				if until := hs[id][j-1].Wait.Until; e.Time.Before(until) || e.To != runtime.RunningState("Nap") {
					t.Errorf("%s: woke at %v to %s, before its time %v", id, e.Time, e.To, until)
				}
			}
		}
		if sleeps != 1 || wakes != 1 {
			t.Errorf("%s: %d sleeps and %d wake-ups, want one each", id, sleeps, wakes)
		}
	}
	if len(hs) != 2*n {
		t.Errorf("%d runs in the store, want %d orders and a child each", len(hs), 2*n)
	}
}

// replaysToStatus checks that GET /runs/{id} of each run is the Replay of
// its history as GET /runs/{id}/history gives it (the runs are still:
// asleep, waiting, hung in a call, or over).
func replaysToStatus(t *testing.T, url string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		var live runtime.Status
		getJSON(t, url+"/runs/"+id, &live)
		var page struct {
			Events []runtime.Event `json:"events"`
		}
		getJSON(t, url+"/runs/"+id+"/history", &page)
		replayed, err := runtime.Replay(page.Events)
		if err != nil {
			t.Errorf("%s: %v", id, err)
			continue
		}
		live.History, replayed.History = nil, nil
		live.Snapshot, replayed.Snapshot = nil, nil // JSON spacing aside, the last state: checked by the runs' ends
		if !reflect.DeepEqual(live, replayed) {
			t.Errorf("%s: GET /runs/{id} says %+v, its history replays to %+v", id, live, replayed)
		}
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func orderIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("o-%d", i)
	}
	return ids
}

func childIDs(n int) []string {
	ids := orderIDs(n)
	for i := range ids {
		ids[i] += "@Call"
	}
	return ids
}
