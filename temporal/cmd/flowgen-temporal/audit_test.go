package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/engine/httpcall"
	"github.com/flowgen/flowgen/internal/listen"
	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/runtime/store"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// tripJSON puts a JSON flow's constructs together as an operator's flow
// would: an rpc with a rollback, a parallel block whose branches have
// rollbacks, a call with a rollback call, a choose, an await correlated
// with a timeout, a sleep until a state field, a step's publication and a
// publish step; an event trigger starts it too.
const tripJSON = `{"version": 1, "flows": [{
  "name": "Trip", "state": "TripState",
  "triggers": [{"kind": "rpc", "endpoint": "Trip.Start"}, {"kind": "event", "topic": "trips", "event": "requested"}],
  "retry": {"attempts": 2, "initial": "50ms", "max": "100ms"},
  "timeout": "5s",
  "steps": [
    {"name": "Reserve", "action": {"kind": "rpc", "service": "svc", "endpoint": "Stock.Reserve", "request": "Item", "response": "Reservation"},
     "rollback": {"action": {"kind": "rpc", "service": "svc", "endpoint": "Stock.Release", "request": "Reservation"}}},
    {"name": "Both", "parallel": {"branches": [
      {"name": "Take", "action": {"kind": "rpc", "service": "svc", "endpoint": "Stock.Take", "request": "Item", "response": "Taken"}, "timeout": "20s",
       "rollback": {"action": {"kind": "rpc", "service": "svc", "endpoint": "Stock.Return", "request": "Taken"}}},
      {"name": "Authorize", "action": {"kind": "rpc", "service": "svc", "endpoint": "Card.Authorize", "request": "Amount", "response": "Auth"},
       "rollback": {"action": {"kind": "rpc", "service": "svc", "endpoint": "Card.Void", "request": "Auth"}}}
    ]}},
    {"name": "Bill", "action": {"kind": "call", "flow": "Billing", "request": "Invoice", "response": "Receipt"},
     "rollback": {"action": {"kind": "call", "flow": "Refund", "request": "Receipt"}}},
    {"name": "Decide", "action": {"kind": "choose", "when": [{"if": {"field": "Amount", "op": ">", "value": 100}, "target": "Approval"}], "otherwise": "Nap"}},
    {"name": "Approval", "action": {"kind": "await", "topic": "approvals", "event": "decided", "response": "Approval", "correlate": "TripID", "timeout": "10s"},
     "on": [{"on": "timeout", "target": "fail"}]},
    {"name": "Nap", "action": {"kind": "sleep", "until": "WakeAt"}},
    {"name": "Ship", "action": {"kind": "rpc", "service": "svc", "endpoint": "Parcel.Send", "request": "Item", "response": "Tracking"}, "irreversible": true,
     "publish": [{"topic": "trips", "event": "shipped", "payload": "Tracking"}]},
    {"name": "Announce", "action": {"kind": "publish", "topic": "trips", "event": "done", "request": "Tracking"}, "irreversible": true}
  ]}, {
  "name": "Billing", "state": "Invoice", "timeout": "5s",
  "steps": [
    {"name": "Charge", "action": {"kind": "rpc", "service": "svc", "endpoint": "Card.Charge", "request": "Amount", "response": "ChargeID"},
     "rollback": {"action": {"kind": "rpc", "service": "svc", "endpoint": "Card.Refund", "request": "ChargeID"}}}
  ]}, {
  "name": "Refund", "state": "Invoice",
  "steps": [
    {"name": "PayBack", "action": {"kind": "rpc", "service": "svc", "endpoint": "Card.PayBack", "request": "ChargeID"}, "irreversible": true}
  ]}]}`

// tripService answers each call with its endpoint and idempotency key,
// and holds Stock.Take of the runs in hold until the caller goes away.
type tripService struct {
	api   string // the API whose runs call it, where a branch waits for the other's end (branchFirst)
	hold  map[string]bool
	mu    sync.Mutex
	calls []string
}

func (s *tripService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ep := strings.TrimPrefix(r.URL.Path, "/")
	key := r.Header.Get("Idempotency-Key")
	s.mu.Lock()
	s.calls = append(s.calls, ep+" "+key+" "+strings.TrimSpace(string(body)))
	s.mu.Unlock()
	run, _, _ := strings.Cut(key, "/")
	if ep == "Stock.Take" && s.hold[run] {
		<-r.Context().Done()
		return
	}
	s.mu.Lock()
	api := s.api
	s.mu.Unlock()
	if first := branchFirst[ep]; first != "" && api != "" {
		// The other branch's end recorded first, on both executors, so
		// that the block's events come in one order: how branches
		// interleave is the scheduler's, not what is compared.
		for !branchDone(api, run, first) {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `"`+ep+`:`+key+`"`)
}

// branchFirst is, per endpoint of a branch, the branch whose end it waits
// for: Trip's Take for Authorize, Nightly's Settle for Count.
var branchFirst = map[string]string{"Stock.Take": "Authorize", "Card.Settle": "Count"}

// branchDone reports whether run's history at api has branch ended ok.
func branchDone(api, run, branch string) bool {
	res, err := http.Get(api + "/runs/" + run + "/history")
	if err != nil {
		return false
	}
	defer res.Body.Close()
	var h struct {
		Events []struct{ Branch, Outcome string }
	}
	if json.NewDecoder(res.Body).Decode(&h) != nil {
		return false
	}
	return slices.ContainsFunc(h.Events, func(e struct{ Branch, Outcome string }) bool {
		return e.Branch == branch && e.Outcome == "ok"
	})
}

func (s *tripService) setAPI(api string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.api = api
}

func (s *tripService) called(prefix string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.calls, func(c string) bool { return strings.HasPrefix(c, prefix) })
}

// embedded is flowgen serve's engine on its own store, behind its HTTP
// API, for the same flows.
func embedded(t *testing.T, flowsDir, svcURL string) string {
	t.Helper()
	e, err := engine.New(engine.Options{Store: store.NewMemory(), FlowsDir: flowsDir, Logger: slog.New(slog.NewTextHandler(&logtest.Buffer{}, nil)),
		Caller: httpcall.New(httpcall.Static{"svc": svcURL})})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e.LoadFlowsDir(); err != nil {
		t.Fatal(err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	hs := httptest.NewServer(e.Handler())
	t.Cleanup(hs.Close)
	return hs.URL
}

var (
	rfc3339 = regexp.MustCompile(`\b2\d{3}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)`)
	// "5.6ms" in an error text: what took time.
	took = regexp.MustCompile(`\d+(\.\d+)?(ns|µs|ms|s)\b`)
)

// masked is v with what only the clock decides masked: times, and
// durations in texts.
func masked(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			out[k] = masked(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = masked(x)
		}
		return out
	case string:
		v = rfc3339.ReplaceAllStringFunc(v, func(s string) string {
			if strings.HasPrefix(s, "2000-") || strings.HasPrefix(s, "2999-") {
				return s // the states' own times
			}
			return "<time>"
		})
		return took.ReplaceAllString(v, "<d>")
	}
	return v
}

// view is what GET /runs/{id} and its history answer, masked.
func view(t *testing.T, base, id string) map[string]any {
	t.Helper()
	_, st := call(t, "GET", base+"/runs/"+id, "")
	_, h := call(t, "GET", base+"/runs/"+id+"/history", "")
	return map[string]any{"status": masked(st), "history": masked(h)}
}

// waitIn polls GET /runs/{id} until the run waits in step.
func waitIn(t *testing.T, base, id, step string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, st := call(t, "GET", base+"/runs/"+id, "")
		if st["step"] == step && st["state"] == "waiting" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s never waited in %s: %v", id, step, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A JSON flow with every construct, run the same ways through the HTTP API
// of flowgen-temporal serve and of the embedded engine (flowgen serve):
// the runs' status, history and terminal state read the same JSON.
func TestServeTripAsTheEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t)
	hold := map[string]bool{"t5": true}
	svcT, svcE := &tripService{hold: hold}, &tripService{hold: hold}
	hT, hE := httptest.NewServer(svcT), httptest.NewServer(svcE)
	defer hT.Close()
	defer hE.Close()
	tURL := startServe(t, config{temporal: ts.GetFrontendHostPort(), namespace: ts.GetDefaultNamespace(), taskQueue: "trip-test",
		flows: writeFlows(t, "trip.json", tripJSON), services: map[string]string{"svc": hT.URL}}).url
	eURL := embedded(t, writeFlows(t, "trip.json", tripJSON), hE.URL)
	svcT.setAPI(tURL)
	svcE.setAPI(eURL)
	sides := []struct {
		name, url string
		svc       *tripService
	}{{"temporal", tURL, svcT}, {"engine", eURL, svcE}}

	type tc struct {
		id, state, final string
		then             func(t *testing.T, base string, svc *tripService)
	}
	abort := func(t *testing.T, base, id string) {
		if code, out := call(t, "POST", base+"/runs/"+id+"/abort", ""); code != 202 {
			t.Fatalf("abort %s: %d %v", id, code, out)
		}
	}
	cases := []tc{
		{id: "t5", state: `{"TripID":"t5","Item":"mug","Amount":8,"Invoice":{"Amount":8},"WakeAt":"2000-01-01T00:00:00Z"}`, final: "aborted",
			then: func(t *testing.T, base string, svc *tripService) {
				deadline := time.Now().Add(30 * time.Second)
				for !svc.called("Stock.Take t5/") || !svc.called("Card.Authorize t5/") {
					if time.Now().After(deadline) {
						t.Fatal("t5: the block's branches were not both called")
					}
					time.Sleep(20 * time.Millisecond)
				}
				// Authorize has completed: its end is in the history.
				for !slices.ContainsFunc(events(t, base, "t5"), func(e map[string]any) bool {
					return e["branch"] == "Authorize" && e["outcome"] == "ok"
				}) {
					if time.Now().After(deadline) {
						t.Fatal("t5: Authorize never completed")
					}
					time.Sleep(20 * time.Millisecond)
				}
				abort(t, base, "t5")
			}},
		{id: "t1", state: `{"TripID":"t1","Item":"book","Amount":40,"Invoice":{"Amount":40},"WakeAt":"2000-01-01T00:00:00Z"}`, final: "done"},
		{id: "t2", state: `{"TripID":"t2","Item":"car","Amount":900,"Invoice":{"Amount":900},"WakeAt":"2000-01-01T00:00:00Z"}`, final: "done",
			then: func(t *testing.T, base string, _ *tripService) {
				waitIn(t, base, "t2", "Approval")
				if code, out := call(t, "POST", base+"/events/approvals/decided?id=a-t2", `{"correlation_id":"t2","ok":true}`); code != 202 {
					t.Fatalf("event: %d %v", code, out)
				}
			}},
		{id: "t3", state: `{"TripID":"t3","Item":"van","Amount":700,"Invoice":{"Amount":700},"WakeAt":"2000-01-01T00:00:00Z"}`, final: "compensated"},
		{id: "t4", state: `{"TripID":"t4","Item":"boat","Amount":5,"Invoice":{"Amount":5},"WakeAt":"2999-01-01T00:00:00Z"}`, final: "aborted",
			then: func(t *testing.T, base string, _ *tripService) {
				waitIn(t, base, "t4", "Nap")
				abort(t, base, "t4")
			}},
	}
	for _, s := range sides {
		for _, c := range cases {
			if code, out := call(t, "POST", s.url+"/flows/Trip/runs?run_id="+c.id, c.state); code != 201 {
				t.Fatalf("%s: start %s: %d %v", s.name, c.id, code, out)
			}
			if c.then != nil {
				c.then(t, s.url, s.svc)
			}
		}
		// An event trigger.
		code, out := call(t, "POST", s.url+"/events/trips/requested?id=m6", `{"TripID":"t6","Item":"cap","Amount":3,"Invoice":{"Amount":3},"WakeAt":"2000-01-01T00:00:00Z"}`)
		if runs, _ := out["runs"].([]any); code != 202 || len(runs) != 1 {
			t.Fatalf("%s: trigger: %d %v", s.name, code, out)
		}
	}
	ids := []string{"t1", "t2", "t3", "t4", "t5", "t1@Bill", "t2@Bill", "t3@Bill", "t3@Bill:rollback", "t4@Bill", "t4@Bill:rollback", engine.EventRunID("Trip", "trips", "requested", "m6")}
	// The runs go on meanwhile: an abort unwinds while the next case
	// runs (on Temporal, a running attempt learns of it from its
	// heartbeat, within about 10 s).
	for _, s := range sides {
		for _, c := range cases {
			waitState(t, s.url, c.id, c.final)
		}
		waitState(t, s.url, engine.EventRunID("Trip", "trips", "requested", "m6"), "done")
	}
	for _, id := range ids {
		tv, ev := view(t, tURL, id), view(t, eURL, id)
		if d := cmp.Diff(ev, tv); d != "" {
			t.Errorf("run %s: GET /runs/{id} and its history (-engine +temporal):\n%s", id, d)
		}
	}
}

// pinJSON is flow Pin: it waits for its event, then calls END, the
// endpoint that tells which definition the run followed.
func pinJSON(end string) string {
	return `{"version": 1, "flows": [{"name": "Pin", "state": "PinState", "triggers": [{"kind": "rpc", "endpoint": "Pin.Start"}],
  "steps": [
    {"name": "Hold", "action": {"kind": "await", "topic": "pins", "event": "go", "response": "Go", "correlate": "ID", "timeout": "1m"}, "on": [{"on": "timeout", "target": "fail"}]},
    {"name": "End", "action": {"kind": "rpc", "service": "svc", "endpoint": "` + end + `", "request": "ID"}, "irreversible": true}
  ]}]}`
}

// put sends a flows document to PUT /flows with token ("" for none).
func put(t *testing.T, base, token, doc string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("PUT", base+"/flows?name=pin.json", strings.NewReader(doc))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// Two serve processes on one task queue, each with its own flows: one
// redefines a flow. The runs started before keep the definition they
// started with, whichever process's worker runs them; a run started
// through the process that redefined it follows the new one, and one
// started through the other the other's. A refused definition, a bad
// event and a client's PUT change nothing.
func TestServeRedefinitionKeepsPinnedRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t)
	svc := &tripService{}
	hs := httptest.NewServer(svc)
	defer hs.Close()
	dir := t.TempDir()
	const admin, client = "admin-token-0123456789", "client-token-0123456789"
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("admin "+admin+"\nclient "+client+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := func() config {
		return config{temporal: ts.GetFrontendHostPort(), namespace: ts.GetDefaultNamespace(), taskQueue: "pin-test",
			flows: writeFlows(t, "Pin.json", pinJSON("V1.End")), services: map[string]string{"svc": hs.URL}, net: listen.Config{Tokens: tokens}}
	}
	ca, cb := cfg(), cfg()
	a, b := startServe(t, ca), startServe(t, cb)
	do := func(method, url, token, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	waiting := func(base, id string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, st := do("GET", base+"/runs/"+id, client, "")
			if code == 200 && st["state"] == "waiting" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %s never waited: %d %v", id, code, st)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	start := func(base, id string) {
		t.Helper()
		if code, out := do("POST", base+"/flows/Pin/runs?run_id="+id, client, `{"ID":"`+id+`"}`); code != 201 {
			t.Fatalf("start %s: %d %v", id, code, out)
		}
		waiting(base, id)
	}
	start(a.url, "p1")

	// Refused: without a token, with a client's, and a definition that
	// does not check (a step routing nowhere), or has a Go step: each
	// answers 4xx, and the flow stays as it was.
	if code, _ := put(t, a.url, "", pinJSON("V9.End")); code != 401 {
		t.Errorf("PUT /flows without a token: %d, want 401", code)
	}
	if code, _ := put(t, a.url, client, pinJSON("V9.End")); code != 403 {
		t.Errorf("PUT /flows with a client token: %d, want 403", code)
	}
	bad := strings.Replace(pinJSON("V9.End"), `"target": "fail"`, `"target": "Nowhere"`, 1)
	goStep := strings.Replace(pinJSON("V9.End"), `{"kind": "rpc", "service": "svc", "endpoint": "V9.End", "request": "ID"}`, `{"kind": "go"}`, 1)
	for _, doc := range []string{bad, goStep, `{"version": 1, "flows": [`} {
		if code, out := put(t, a.url, admin, doc); code != 400 {
			t.Errorf("PUT /flows of a definition that does not check: %d %v, want 400", code, out)
		}
	}
	if saved, err := os.ReadFile(filepath.Join(ca.flows, "Pin.json")); err != nil || string(saved) != pinJSON("V1.End") {
		t.Errorf("the flows directory changed after refusals: %v %s", err, saved)
	}
	start(a.url, "p2") // still V1

	if code, out := put(t, a.url, admin, pinJSON("V2.End")); code != 200 {
		t.Fatalf("PUT /flows: %d %v", code, out)
	}
	start(a.url, "p3") // V2, through A
	start(b.url, "p4") // V1, through B, which was not redefined

	// A bad event changes nothing: the runs still wait.
	if code, out := do("POST", b.url+"/events/pins/go", client, `{"correlation_id":`); code != 400 {
		t.Errorf("an event that is not JSON: %d %v, want 400", code, out)
	}
	for _, id := range []string{"p1", "p2", "p3", "p4"} {
		waiting(a.url, id)
	}
	// Each run's event through the other process than the one that
	// started it: any worker may run the rest.
	for _, id := range []string{"p1", "p2", "p3", "p4"} {
		if code, out := do("POST", b.url+"/events/pins/go?id=go-"+id, client, `{"correlation_id":"`+id+`"}`); code != 202 || out["inbox"] != true {
			t.Fatalf("event for %s: %d %v", id, code, out)
		}
	}
	for _, id := range []string{"p1", "p2", "p3", "p4"} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, st := do("GET", b.url+"/runs/"+id, client, "")
			if code == 200 && st["state"] == "done" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %s: %d %v", id, code, st)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	want := map[string]string{"p1": "V1.End", "p2": "V1.End", "p3": "V2.End", "p4": "V1.End"}
	for id, ep := range want {
		if !svc.called(ep + " " + id + "/End ") {
			t.Errorf("run %s did not call %s: calls %v", id, ep, svc.calls)
		}
	}
	// No remote providers serve Go steps here (docs/temporal.md).
	if code, out := do("PUT", a.url+"/providers/billing", admin, "{}"); code != 404 {
		t.Errorf("PUT /providers/billing: %d %v, want 404", code, out)
	}
	if svc.called("V9.End") {
		t.Errorf("a refused definition ran: %v", svc.calls)
	}
}

// nightlyJSON is started by its schedule: a parallel block whose branches
// have rollbacks, a sleep, a publish.
const nightlyJSON = `{"version": 1, "flows": [{
  "name": "Nightly", "state": "NightlyState",
  "triggers": [{"kind": "schedule", "schedule": "@every 2s"}],
  "timeout": "5s",
  "steps": [
    {"name": "Both", "parallel": {"branches": [
      {"name": "Count", "action": {"kind": "rpc", "service": "svc", "endpoint": "Stock.Count", "request": "scheduled_at", "response": "Counted"},
       "rollback": {"action": {"kind": "rpc", "service": "svc", "endpoint": "Stock.Uncount", "request": "Counted"}}},
      {"name": "Settle", "action": {"kind": "rpc", "service": "svc", "endpoint": "Card.Settle", "request": "scheduled_at", "response": "Settled"}, "irreversible": true}
    ]}},
    {"name": "Nap", "action": {"kind": "sleep", "duration": "50ms"}},
    {"name": "Announce", "action": {"kind": "publish", "topic": "nightly", "event": "done", "request": "Counted"}, "irreversible": true}
  ]}]}`

// A run started by a schedule reads the same on both executors, its run
// ID and its tick's time aside (each executor names its ticks' runs).
func TestServeScheduledRunAsTheEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t)
	svcT, svcE := &tripService{}, &tripService{}
	hT, hE := httptest.NewServer(svcT), httptest.NewServer(svcE)
	defer hT.Close()
	defer hE.Close()
	tURL := startServe(t, config{temporal: ts.GetFrontendHostPort(), namespace: ts.GetDefaultNamespace(), taskQueue: "nightly-test",
		flows: writeFlows(t, "nightly.json", nightlyJSON), services: map[string]string{"svc": hT.URL}}).url
	eURL := embedded(t, writeFlows(t, "nightly.json", nightlyJSON), hE.URL)
	svcT.setAPI(tURL)
	svcE.setAPI(eURL)
	var views []any
	for _, base := range []string{tURL, eURL} {
		var id string
		deadline := time.Now().Add(30 * time.Second)
		for id == "" {
			_, out := call(t, "GET", base+"/runs?flow=Nightly&status=done", "")
			// The latest: the ones before may have run before the
			// service knew the API (setAPI), their branches in any order.
			if ids := runIDs(out); len(ids) > 1 {
				id = ids[len(ids)-1]
			} else if time.Now().After(deadline) {
				t.Fatalf("%s: no scheduled run done: %v", base, out)
			} else {
				time.Sleep(100 * time.Millisecond)
			}
		}
		v := view(t, base, id)
		// view masked the tick's time in Temporal's run IDs too.
		var buf strings.Builder
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		b := strings.ReplaceAll(buf.String(), masked(id).(string), "<run>")
		var m any
		if err := json.Unmarshal([]byte(b), &m); err != nil {
			t.Fatal(err)
		}
		views = append(views, m)
	}
	if d := cmp.Diff(views[1], views[0]); d != "" {
		t.Errorf("a scheduled run: GET /runs/{id} and its history (-engine +temporal):\n%s", d)
	}
}
