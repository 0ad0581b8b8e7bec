package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

const tickFlow = `{"version": 1, "flows": [{
  "name": "Tick",
  "triggers": [{"kind": "schedule", "schedule": "@every 1m"}],
  "steps": [{"name": "Work", "action": {"kind": "go"}, "irreversible": true}]
}]}`

// tickEngine starts an engine of the Tick flow on st. Each has an ID of
// its own: engines sharing a store (locker) must.
func tickEngine(t *testing.T, st Store, clock runtime.Clock, locker Locker, ran *ledger) *Engine {
	t.Helper()
	e, err := New(Options{Store: st, Clock: clock, Locker: locker, ID: "tick-" + itoa(tickEngines.Add(1))})
	if err != nil {
		t.Fatal(err)
	}
	e.Registry().Step("Work", func(ctx context.Context, s *State) (string, error) {
		ran.add(runtime.RunID(ctx))
		return "", nil
	})
	if ds, err := e.LoadFlows("tick.json", []byte(tickFlow)); err != nil {
		t.Fatal(err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

var tickEngines atomic.Int64

func closeEngine(t *testing.T, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func doneRuns(st Store, flow string) int {
	runs, _ := st.List(store.Filter{Flow: flow, State: runtime.StateDone})
	return len(runs)
}

// A schedule fires once per tick; across a restart the latest missed tick
// fires once, and two engines on one store never fire a tick twice.
func TestScheduleAcrossRestart(t *testing.T) {
	st := store.NewMemory()
	clock := runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC))
	ran := &ledger{}
	e := tickEngine(t, st, clock, nil, ran)
	clock.BlockUntil(1)
	clock.Advance(30 * time.Second) // 00:01:00
	waitFor(t, "first tick", func() bool { return doneRuns(st, "Tick") == 1 })
	closeEngine(t, e)

	clock.Advance(150 * time.Second) // 00:03:30: ticks 00:02 and 00:03 missed
	// A second engine on the same store, sharing its Locker as engines on
	// one store must: otherwise its start could resume the catch-up run
	// while the first engine runs it.
	locker := NewLocker()
	e1 := tickEngine(t, st, clock, locker, ran)
	e2 := tickEngine(t, st, clock, locker, ran)
	waitFor(t, "catch-up tick", func() bool { return doneRuns(st, "Tick") == 2 })
	clock.BlockUntil(2)
	clock.Advance(30 * time.Second) // 00:04:00, seen by both engines
	waitFor(t, "next tick", func() bool { return doneRuns(st, "Tick") == 3 })
	closeEngine(t, e1)
	closeEngine(t, e2)
	var ids []string
	runs, _ := st.List(store.Filter{Flow: "Tick"})
	for _, r := range runs {
		tick, ok := tickOf(r.RunID, "Tick", "@every 1m")
		if !ok {
			t.Fatalf("run %s is not a tick's", r.RunID)
		}
		ids = append(ids, tick.UTC().Format("15:04"))
	}
	if got := strings.Join(ids, " "); got != "00:01 00:03 00:04" {
		t.Fatalf("ticks fired: %s, want 00:01 00:03 00:04", got)
	}
	if d := ran.dups(); len(d) > 0 {
		t.Fatalf("runs executed twice: %v", d)
	}
}

// An event trigger starts one run per message, with the payload as state.
func TestEventTriggerStartsOneRunPerMessage(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	publish(t, fx.broker, "signup-1", "accounts", "signup.requested", map[string]any{"Customer": map[string]string{"Email": "eve"}})
	publish(t, fx.broker, "signup-1", "accounts", "signup.requested", map[string]any{"Customer": map[string]string{"Email": "eve"}})
	id := EventRunID("Signup", "accounts", "signup.requested", "signup-1")
	waitParked(t, e, id)
	st, _ := e.Status(context.Background(), id)
	if !strings.Contains(string(st.Snapshot), `"cus-eve-`) {
		t.Fatalf("state %s", st.Snapshot)
	}
	time.Sleep(20 * time.Millisecond) // let a wrong second start show
	runs, _ := e.Runs(context.Background(), store.Filter{Flow: "Signup"})
	if len(runs) != 1 {
		t.Fatalf("%d runs, want 1", len(runs))
	}
}

type apiClient struct {
	t   *testing.T
	srv *httptest.Server
}

func (c apiClient) do(method, path, body string) (int, map[string]any) {
	c.t.Helper()
	return c.doH(method, path, body)
}

// Malformed requests and malformed flows get 4xx with a JSON error and
// change nothing.
func TestHTTPErrorsChangeNothing(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptest.NewServer(e.Handler())}
	defer c.srv.Close()
	bad := []struct {
		method, path, body string
		status             int
		contains           string
	}{
		// A start that is not JSON says where, as a registration does
		// (provider.CheckJSON), on either path that starts a run.
		{"POST", "/flows/Signup/runs", `{"Customer":`, 400, `the state of flow \"Signup\": invalid JSON: the body ends, at line 1, column 13, before its object does`},
		{"POST", "/rpc/Signup.Start", "\n{\"Customer\": \"a\",}", 400, `the state of flow \"Signup\": invalid JSON at line 2, column 18: invalid character '}' looking for beginning of object key string`},
		{"POST", "/flows/Signup/runs", `{} x`, 400, `the state of flow \"Signup\": data after the JSON value`},
		{"POST", "/flows/Signup/runs", `[1,2]`, 400, "must be a JSON object, found an array"},
		{"POST", "/flows/Nope/runs", `{}`, 404, "unknown flow"},
		{"POST", "/rpc/Nope.Start", `{}`, 404, "no flow has rpc trigger"},
		// A name one typo away says which it may be.
		{"POST", "/rpc/Signup.Strat", `{}`, 404, `no flow has rpc trigger \"Signup.Strat\"; did you mean \"Signup.Start\"?`},
		{"POST", "/flows/Sigup/runs", `{}`, 404, `unknown flow: \"Sigup\"; did you mean \"Signup\"?`},
		{"POST", "/flows/Nope/runs", `{}`, 404, `unknown flow: \"Nope\""`}, // no guess
		{"POST", "/flows/Signup/runs?run_id=a/b", `{}`, 400, "contains '/'"},
		{"POST", "/flows/Signup/runs?run_id=a%20b", `{}`, 400, "contains ' '"},
		// The character as written, not its first byte read as Latin-1 ('Ã').
		{"POST", "/flows/Signup/runs?run_id=%C3%84b", `{}`, 400, "contains 'Ä' at byte 0"},
		{"POST", "/flows/Signup/runs?run_id=a%FFb", `{}`, 400, "contains the byte 0xff at byte 1"},
		{"POST", "/events/payments/payment.succeeded?id=caf%C3%A9", `{}`, 400, "contains 'é' at byte 3"},
		{"GET", "/runs/nope", ``, 404, "unknown run"},
		{"GET", "/runs/nope/history", ``, 404, "unknown run"},
		{"POST", "/runs/nope/abort", ``, 404, "unknown run"},
		{"GET", "/runs?status=sleeping", ``, 400, "unknown status"},
		{"PUT", "/flows", `{"version": 1, "flows": [`, 400, "invalid JSON"},
		{"PUT", "/flows", "{\"version\": 1,\n \"flows\": [}", 400, "request.json:2:12: error: invalid JSON"},
		{"PUT", "/flows", `{"version": 2, "flows": []}`, 400, "unsupported version"},
		{"PUT", "/flows", `{"version": 1, "flows": [{"name": "X", "steps": [{"name": "A", "action": {"kind": "go"}, "irreversible": true}]}]}`, 400, "no handler registered"},
		{"PUT", "/flows", `{"version": 1, "flows": [{"name": "X", "steps": [{"name": "A", "action": {"kind": "rpc", "service": "s", "endpoint": "E"}, "irreversible": true, "on": [{"on": "ok", "target": "Nowhere"}]}]}]}`, 400, "undefined"},
		// An event that is not JSON says where too, as a start does.
		{"POST", "/events/payments/payment.succeeded", `{not json`, 400, `the event's payload: invalid JSON at line 1, column 2: invalid character 'n' looking for beginning of object key string`},
		{"POST", "/events/payments/payment.succeeded", "\n{\"a\": 1,\n \"b\": ", 400, `the event's payload: invalid JSON: the body ends, at line 3, column 7, before its object does`},
		{"DELETE", "/flows", ``, 405, "not allowed"},
		{"GET", "/nope", ``, 404, "no such endpoint"},
		// A path that is not clean is no endpoint: no redirect (HTML, and
		// a POST sent again to the clean path), and nothing changes.
		{"GET", "//runs", ``, 404, "the API does not clean paths; did you mean /runs?"},
		{"GET", "/runs/../runs", ``, 404, "did you mean /runs?"},
		// The clean path as a client sends it: net/http's ServeMux
		// redirects //runs/a%3Cb to /runs/a%253Cb, another run's.
		{"GET", "//runs/a%3Cb?x=%26", ``, 404, "did you mean /runs/a%3Cb?x=%26?"},
		{"POST", "//flows/Signup/runs", `{}`, 404, "did you mean /flows/Signup/runs?"},
		{"POST", "/rpc/./Signup.Start", `{}`, 404, "did you mean /rpc/Signup.Start?"},
		{"PUT", "/./flows", `{"version": 1, "flows": [{"name": "Y", "steps": [{"name": "A", "action": {"kind": "publish", "topic": "t", "event": "e"}, "irreversible": true}]}]}`, 404, "did you mean /flows?"},
		{"POST", "/flows/Signup/runs", `{"x": "` + strings.Repeat("a", MaxBody) + `"}`, 413, "larger than"},
	}
	for _, tc := range bad {
		req, _ := http.NewRequest(tc.method, c.srv.URL+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		res, err := c.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q, want the API's JSON error", tc.method, tc.path, ct)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: no X-Content-Type-Options: nosniff", tc.method, tc.path)
		}
		if res.StatusCode != tc.status {
			t.Errorf("%s %s: status %d, want %d (%s)", tc.method, tc.path, res.StatusCode, tc.status, b)
			continue
		}
		if tc.contains != "" && !bytes.Contains(b, []byte(tc.contains)) {
			t.Errorf("%s %s: %s does not say %q", tc.method, tc.path, b, tc.contains)
		}
	}
	// Engine.StartRun, the Go door to the same start, says the same of a
	// state: where JSON that is not JSON breaks, and that a .json flow's
	// state is an object.
	for _, tc := range bad {
		if tc.method != "POST" || tc.status != 400 || !strings.HasPrefix(tc.path, "/flows/Signup/runs") && !strings.HasPrefix(tc.path, "/rpc/Signup.Start") || strings.Contains(tc.path, "?") {
			continue
		}
		_, err := e.StartRun(context.Background(), "Signup", json.RawMessage(tc.body), "")
		if want := strings.ReplaceAll(tc.contains, `\"`, `"`); !errors.Is(err, ErrBadState) || !strings.Contains(err.Error(), want) {
			t.Errorf("StartRun(%q): %v, want ErrBadState saying %s", tc.body, err, want)
		}
	}
	// A flow error is positioned by JSON path.
	_, out := c.do("PUT", "/flows", `{"version": 1, "flows": [{"name": "X", "steps": [{"name": "A", "action": {"kind": "go"}, "irreversible": true}]}]}`)
	ds, _ := out["diagnostics"].([]any)
	if len(ds) == 0 || !strings.Contains(fmt.Sprint(ds[0]), "$.flows[0].steps[0].name") {
		t.Fatalf("diagnostics %v", out)
	}
	runs, _ := fx.st.List(store.Filter{})
	if len(runs) != 0 {
		t.Fatalf("bad requests started runs: %v", runs)
	}
	if got := len(e.Flows()); got != 1 {
		t.Fatalf("%d flows after bad definitions, want 1", got)
	}
}

// The API end to end: define a flow, start runs, read status, history and
// lists, abort.
func TestHTTPAPI(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptest.NewServer(e.Handler())}
	defer c.srv.Close()

	status, out := c.do("PUT", "/flows", `{"version": 1, "flows": [{"name": "Hello", "state": "HelloState",
	  "triggers": [{"kind": "rpc", "endpoint": "Hello.Start"}],
	  "steps": [{"name": "Greet", "action": {"kind": "rpc", "service": "customers", "endpoint": "Customer.Create", "request": "Customer", "response": "Greeting"}, "irreversible": true}]}]}`)
	if status != 200 {
		t.Fatalf("PUT /flows: %d %v", status, out)
	}
	status, out = c.do("POST", "/rpc/Hello.Start", `{"Customer": {"Email": "zoe"}}`)
	if status != 201 {
		t.Fatalf("start: %d %v", status, out)
	}
	id := out["run_id"].(string)
	waitFor(t, "run done", func() bool { return runState(fx, id) == runtime.StateDone })
	status, out = c.do("GET", "/runs/"+id, "")
	if status != 200 || out["state"] != "done" || !strings.Contains(fmt.Sprint(out["snapshot"]), "cus-zoe") {
		t.Fatalf("status: %d %v", status, out)
	}
	status, out = c.do("GET", "/runs/"+id+"/history", "")
	if evs, _ := out["events"].([]any); status != 200 || len(evs) != 2 {
		t.Fatalf("history: %d %v", status, out)
	}
	// Idempotent starts.
	_, a := c.do("POST", "/flows/Signup/runs?run_id=fixed-1", `{}`)
	status, b := c.do("POST", "/flows/Signup/runs?run_id=fixed-1", `{}`)
	if a["run_id"] != "fixed-1" || status != 200 || b["existing"] != true {
		t.Fatalf("idempotent start: %v then %d %v", a, status, b)
	}
	waitParked(t, e, "fixed-1")
	status, out = c.do("GET", "/runs?flow=Signup&status=active", "")
	if runs, _ := out["runs"].([]any); status != 200 || len(runs) != 1 {
		t.Fatalf("list: %d %v", status, out)
	}
	if status, out = c.do("POST", "/runs/fixed-1/abort", ""); status != 202 {
		t.Fatalf("abort: %d %v", status, out)
	}
	waitFor(t, "aborted", func() bool { return runState(fx, "fixed-1") == runtime.StateAborted })
	if status, out = c.do("POST", "/runs/fixed-1/abort", ""); status != 409 {
		t.Fatalf("abort again: %d %v", status, out)
	}
	// Flows without an rpc trigger do not start over HTTP.
	if ds, err := e.LoadFlows("tick.json", []byte(strings.Replace(tickFlow, `"Work"`, `"Work2"`, 1))); err == nil {
		t.Fatalf("loaded without a handler: %v", ds)
	}
}

// Concurrent starts through every trigger, under -race: every run
// completes once.
func TestConcurrentTriggers(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	const n = 40
	var wg sync.WaitGroup
	ids := make(chan string, 3*n)
	for i := 0; i < n; i++ {
		wg.Add(3)
		go func() {
			defer wg.Done()
			res, err := srv.Client().Post(srv.URL+"/flows/Signup/runs", "application/json", strings.NewReader(fmt.Sprintf(`{"Customer":{"Email":"h%d"}}`, i)))
			if err != nil {
				t.Error(err)
				return
			}
			var out map[string]string
			json.NewDecoder(res.Body).Decode(&out)
			res.Body.Close()
			ids <- out["run_id"]
		}()
		go func() {
			defer wg.Done()
			id, err := e.StartRun(context.Background(), "Signup", json.RawMessage(fmt.Sprintf(`{"Customer":{"Email":"d%d"}}`, i)), "")
			if err != nil {
				t.Error(err)
			}
			ids <- id
		}()
		go func() {
			defer wg.Done()
			msg := fmt.Sprintf("ev-%d", i)
			publish(t, fx.broker, msg, "accounts", "signup.requested", map[string]any{"Customer": map[string]string{"Email": "e" + fmt.Sprint(i)}})
			ids <- EventRunID("Signup", "accounts", "signup.requested", msg)
		}()
	}
	wg.Wait()
	close(ids)
	var all []string
	for id := range ids {
		all = append(all, id)
	}
	for _, id := range all {
		waitParked(t, e, id)
	}
	// Pay for every run at once.
	var pw sync.WaitGroup
	for _, id := range all {
		st, _ := e.Status(context.Background(), id)
		pw.Add(1)
		go func() {
			defer pw.Done()
			publish(t, fx.broker, "pay-"+id, "payments", "payment.succeeded", map[string]any{"correlation_id": st.Wait.Correlation})
		}()
	}
	pw.Wait()
	for _, id := range all {
		waitFor(t, "run "+id+" done", func() bool { return runState(fx, id) == runtime.StateDone })
	}
	if d := fx.effects.dups(); len(d) > 0 {
		t.Fatalf("effects applied twice: %v", d)
	}
	if fx.effects.count("activate:") != 3*n {
		t.Fatalf("%d activations, want %d", fx.effects.count("activate:"), 3*n)
	}
}

func httptestServer(t *testing.T, e *Engine) *httptest.Server {
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// After an outage the latest missed tick is found however many ticks were
// missed: a frequent schedule down for years, a yearly one, and none when
// no tick fell after the last fired one.
func TestLatestMissedTick(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tt := range []struct {
		spec, last, now, want string // want "" for none
	}{
		{"@every 1h", "2026-01-01T00:00:00Z", "2026-01-01T03:30:00Z", "2026-01-01T03:00:00Z"},
		{"@every 1s", "2026-01-01T00:00:00Z", "2029-06-01T12:00:00.5Z", "2029-06-01T12:00:00Z"},
		{"@every 1m", "2026-01-01T00:00:00Z", "2030-01-01T00:00:30Z", "2030-01-01T00:00:00Z"},
		{"@yearly", "2026-01-01T00:00:00Z", "2028-03-01T00:00:00Z", "2028-01-01T00:00:00Z"},
		{"@every 1h", "2026-01-01T00:00:00Z", "2026-01-01T00:59:59Z", ""},
		{"@yearly", "2026-01-01T00:00:00Z", "2026-12-31T23:59:59Z", ""},
	} {
		s, err := runtime.ParseSchedule(tt.spec)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := latestTick(s, at(tt.last), at(tt.now))
		if tt.want == "" {
			if ok {
				t.Errorf("%s, last %s, now %s: latest missed tick %v, want none", tt.spec, tt.last, tt.now, got)
			}
			continue
		}
		if !ok || !got.Equal(at(tt.want)) {
			t.Errorf("%s, last %s, now %s: latest missed tick %v (%v), want %s", tt.spec, tt.last, tt.now, got.UTC(), ok, tt.want)
		}
	}
}

// Two engines on one store whose machines are set to different zones fire
// a daily cron tick once, at its time in UTC: a cron expression without a
// zone is not read in the machine's zone (which fired it at 03:00 Paris
// on one and 03:00 New York on the other: two runs for one daily tick).
func TestScheduleCronIgnoresTheMachineZone(t *testing.T) {
	const daily = `{"version": 1, "flows": [{
  "name": "Daily",
  "triggers": [{"kind": "schedule", "schedule": "0 3 * * *"}],
  "steps": [{"name": "Work", "action": {"kind": "go"}, "irreversible": true}]
}]}`
	st := store.NewMemory()
	locker := NewLocker()
	start := time.Date(2026, 3, 4, 1, 0, 0, 0, time.UTC)
	var clocks []*runtime.FakeClock
	for _, zone := range []string{"Europe/Paris", "America/New_York"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Skip(err)
		}
		clock := runtime.NewFakeClock(start.In(loc)) // the machine's zone, as time.Now gives it
		e, err := New(Options{Store: st, Clock: clock, Locker: locker, ID: zone})
		if err != nil {
			t.Fatal(err)
		}
		e.Registry().Step("Work", func(ctx context.Context, s *State) (string, error) { return "", nil })
		if ds, err := e.LoadFlows("daily.json", []byte(daily)); err != nil {
			t.Fatal(err, ds)
		}
		if err := e.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer closeEngine(t, e)
		clock.BlockUntil(1)
		clocks = append(clocks, clock)
	}
	for _, clock := range clocks {
		clock.Advance(9 * time.Hour) // 10:00 UTC: past 03:00 in UTC, Paris and New York
	}
	waitFor(t, "the daily tick", func() bool { return doneRuns(st, "Daily") >= 1 })
	for _, clock := range clocks {
		clock.BlockUntil(1) // each engine has fired what was due and waits for tomorrow
	}
	waitFor(t, "runs to end", func() bool {
		runs, _ := st.List(store.Filter{Flow: "Daily"})
		return doneRuns(st, "Daily") == len(runs)
	})
	runs, _ := st.List(store.Filter{Flow: "Daily"})
	var ticks []string
	for _, r := range runs {
		tick, ok := tickOf(r.RunID, "Daily", "0 3 * * *")
		if !ok {
			t.Fatalf("run %s is not a tick's", r.RunID)
		}
		ticks = append(ticks, tick.UTC().Format(time.RFC3339))
	}
	if got := strings.Join(ticks, " "); got != "2026-03-04T03:00:00Z" {
		t.Fatalf("ticks fired: %s, want 2026-03-04T03:00:00Z once", got)
	}
}

// A tick's timer that fires late, past later ticks (the process stopped,
// the machine asleep), fires the latest tick due, once, as a start after
// an outage does: not the first one missed, hours stale.
func TestScheduleLateTimerFiresTheLatestTick(t *testing.T) {
	st := store.NewMemory()
	clock := runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC))
	ran := &ledger{}
	e := tickEngine(t, st, clock, nil, ran)
	defer closeEngine(t, e)
	clock.BlockUntil(1)
	clock.Advance(3 * time.Minute) // 00:03:30: the timer of 00:01 fires, late
	waitFor(t, "a tick", func() bool { return doneRuns(st, "Tick") == 1 })
	clock.BlockUntil(1) // waiting for 00:04
	runs, _ := st.List(store.Filter{Flow: "Tick"})
	var ids []string
	for _, r := range runs {
		tick, _ := tickOf(r.RunID, "Tick", "@every 1m")
		ids = append(ids, tick.UTC().Format("15:04"))
	}
	if got := strings.Join(ids, " "); got != "00:03" {
		t.Fatalf("ticks fired: %s, want 00:03", got)
	}
}

// countingStore counts the runs List returns.
type countingStore struct {
	*store.Memory
	mu   sync.Mutex
	read int
}

func (s *countingStore) List(f store.Filter) ([]store.RunInfo, error) {
	runs, err := s.Memory.List(f)
	s.mu.Lock()
	s.read += len(runs)
	s.mu.Unlock()
	return runs, err
}

// At start the latest fired tick is found among the newest runs, not by
// reading every run the flow ever had (a flow that ticks every minute has
// half a million a year), and the latest missed tick still fires.
func TestScheduleStartReadsTheNewestRuns(t *testing.T) {
	mem := store.NewMemory()
	clock := runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC))
	ran := &ledger{}
	e := tickEngine(t, mem, clock, nil, ran)
	fe, err := e.lookup("Tick")
	if err != nil {
		t.Fatal(err)
	}
	clock.BlockUntil(1) // the schedule has looked for missed ticks (none) before these
	const ticks = 1000
	for i := range ticks {
		e.sc.fire(context.Background(), fe, "@every 1m", time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Minute))
	}
	waitFor(t, "the ticks' runs", func() bool { return doneRuns(mem, "Tick") == ticks })
	closeEngine(t, e)

	st := &countingStore{Memory: mem}
	e = tickEngine(t, st, clock, nil, ran)
	defer closeEngine(t, e)
	waitFor(t, "the catch-up tick", func() bool { return doneRuns(mem, "Tick") == ticks+1 })
	if _, ok := st.Get(tickRunID("Tick", "@every 1m", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))); !ok {
		t.Fatal("the latest missed tick, 00:00, did not fire")
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.read > ticks/2 {
		t.Fatalf("the start read %d runs of %d", st.read, ticks)
	}
}

// busyTickEngine is an engine of boundFlows and tickFlow with MaxRunning
// 1, on a fake clock at 00:00:30, whose Busy run "holder" holds the one
// slot until release is called.
func busyTickEngine(t *testing.T) (e *Engine, st *store.Memory, clock *runtime.FakeClock, ran *ledger, logs *lockedBuffer, release func()) {
	t.Helper()
	gate := make(chan struct{})
	release = sync.OnceFunc(func() { close(gate) })
	st = store.NewMemory()
	clock = runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC))
	logs = &lockedBuffer{}
	e = boundEngineWith(t, Options{Store: st, Clock: clock, MaxRunning: 1, Logger: slog.New(slog.NewTextHandler(logs, nil))}, gate)
	t.Cleanup(release) // before the close, which waits for the holder
	ran = &ledger{}
	e.Registry().Step("Work", func(ctx context.Context, _ *State) (string, error) {
		ran.add(runtime.RunID(ctx))
		return "", nil
	})
	if _, err := e.StartRun(context.Background(), "Busy", nil, "holder"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the holder running", func() bool { return e.Stats().Running == 1 })
	if ds, err := e.LoadFlows("tick.json", []byte(tickFlow)); err != nil {
		t.Fatal(err, ds)
	}
	return e, st, clock, ran, logs, release
}

// tickRuns lists the ticks Tick's runs are for, as 15:04:05.
func tickRuns(t *testing.T, st Store) string {
	t.Helper()
	runs, err := st.List(store.Filter{Flow: "Tick"})
	if err != nil {
		t.Fatal(err)
	}
	var ticks []string
	for _, r := range runs {
		tick, ok := tickOf(r.RunID, "Tick", "@every 1m")
		if !ok {
			t.Fatalf("run %s is not a tick's", r.RunID)
		}
		ticks = append(ticks, tick.UTC().Format("15:04:05"))
	}
	return strings.Join(ticks, " ")
}

// advanceRefused moves the clock by d, the schedule's timer pending, and
// waits for the tick it fires to be refused.
func advanceRefused(t *testing.T, e *Engine, st Store, clock *runtime.FakeClock, d time.Duration) {
	t.Helper()
	clock.BlockUntil(1)
	before := e.Stats().RefusedStarts
	clock.Advance(d)
	started := func() bool { runs, _ := st.List(store.Filter{Flow: "Tick"}); return len(runs) > 0 }
	waitFor(t, "a tick refused", func() bool { return e.Stats().RefusedStarts > before || started() })
	if started() {
		t.Fatalf("ticks started beyond MaxRunning 1, the holder in flight: %s", tickRuns(t, st))
	}
}

// A tick counts against Options.MaxRunning: at the bound it starts no run
// (it started one beyond, and a schedule faster than its runs grew them
// without bound). It is not lost: once the run in flight ends, the latest
// tick due starts, once, with its tick's run ID; the ticks in between do
// not catch up, and the next tick, which fits, starts as before.
func TestScheduleTickBeyondMaxRunning(t *testing.T) {
	e, st, clock, ran, _, release := busyTickEngine(t)

	advanceRefused(t, e, st, clock, 30*time.Second) // 00:01:00
	advanceRefused(t, e, st, clock, time.Second)    // the retry
	advanceRefused(t, e, st, clock, 2*time.Minute)  // 00:03:01: ticks 00:02 and 00:03 due
	if s := e.Stats(); s.Running != 1 {
		t.Fatalf("%d runs in flight, want the holder's 1", s.Running)
	}

	release()
	waitFor(t, "the holder done", func() bool { return runStateOf(st, "holder") == "done" })
	waitFor(t, "no run in flight", func() bool { return e.Stats().Running == 0 })
	clock.BlockUntil(1)
	clock.Advance(time.Second) // 00:03:02: the retry finds room
	waitFor(t, "the latest missed tick done", func() bool { return doneRuns(st, "Tick") == 1 })
	if got := tickRuns(t, st); got != "00:03:00" {
		t.Fatalf("ticks started: %s, want 00:03:00 once", got)
	}

	clock.BlockUntil(1)
	clock.Advance(58 * time.Second) // 00:04:00: a tick that fits
	waitFor(t, "the next tick done", func() bool { return doneRuns(st, "Tick") == 2 })
	if got := tickRuns(t, st); got != "00:03:00 00:04:00" {
		t.Fatalf("ticks started: %s, want 00:03:00 00:04:00", got)
	}
	if d := ran.dups(); len(d) > 0 {
		t.Fatalf("runs executed twice: %v", d)
	}
}

// A schedule refused for the runs in flight says so in the log once, not
// once a try or a tick, and counts each try as a refused start.
func TestScheduleTickBeyondMaxRunningLogged(t *testing.T) {
	e, st, clock, _, logs, _ := busyTickEngine(t)
	advanceRefused(t, e, st, clock, 30*time.Second) // 00:01:00
	for range 3 {
		advanceRefused(t, e, st, clock, time.Second)
	}
	advanceRefused(t, e, st, clock, time.Minute) // 00:02:03, past the tick 00:02
	if n := strings.Count(logs.String(), "scheduled run delayed"); n != 1 {
		t.Fatalf("%d lines of a delayed tick, want 1:\n%s", n, logs)
	}
	if s := e.Stats(); s.RefusedStarts != 5 {
		t.Fatalf("%d refused starts, want 5 (a tick and 4 tries)", s.RefusedStarts)
	}
}
