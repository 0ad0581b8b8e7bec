package engine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// doH sends a request with headers (name, value, ...) and returns the
// status and the JSON answer.
func (c apiClient) doH(method, path, body string, header ...string) (int, map[string]any) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	res, err := c.srv.Client().Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		c.t.Fatalf("%s %s: answer is not a JSON object: %q", method, path, b)
	}
	return res.StatusCode, out
}

const helloFlow = `{"version": 1, "flows": [{"name": "Hello", "triggers": [{"kind": "rpc", "endpoint": "Hello.Start"}],
  "steps": [{"name": "Greet", "action": {"kind": "publish", "topic": "t", "event": "hello"}, "irreversible": true}]}]}`

// A run ID belongs to its flow: starting another flow with a run ID that
// exists is a conflict, not "200 existing" (which told the client that its
// run of the second flow had started).
func TestRunIDScopedToFlow(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptestServer(t, e)}
	if status, out := c.do("PUT", "/flows", helloFlow); status != 200 {
		t.Fatalf("PUT Hello: %d %v", status, out)
	}
	if status, out := c.do("POST", "/flows/Signup/runs?run_id=shared-1", `{}`); status != 201 {
		t.Fatalf("start Signup: %d %v", status, out)
	}
	status, out := c.do("POST", "/flows/Hello/runs?run_id=shared-1", `{}`)
	if status != 409 || !strings.Contains(mustString(t, out), `run of flow "Signup"`) {
		t.Fatalf("start Hello with Signup's run ID: %d %v, want 409", status, out)
	}
	status, out = c.do("POST", "/rpc/Hello.Start?run_id=shared-1", `{}`)
	if status != 409 {
		t.Fatalf("POST /rpc/Hello.Start with Signup's run ID: %d %v, want 409", status, out)
	}
	if status, out := c.do("POST", "/flows/Signup/runs?run_id=shared-1", `{}`); status != 200 || out["existing"] != true {
		t.Fatalf("the same start again: %d %v, want 200 existing", status, out)
	}
}

// Run IDs and idempotency keys have a charset and a length: a control
// character, white space or an overlong ID is a 400 that starts nothing.
func TestRunIDAndKeyLimits(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptestServer(t, e)}
	bad := []struct {
		path   string
		header []string
		says   string
	}{
		{"/flows/Signup/runs?run_id=a%01b", nil, "run ID"},
		{"/flows/Signup/runs?run_id=a%0Ab", nil, "run ID"},
		{"/flows/Signup/runs?run_id=a/b", nil, "run ID"},
		{"/flows/Signup/runs?run_id=-a", nil, "starting with a letter or a digit"},
		{"/flows/Signup/runs?run_id=" + strings.Repeat("r", MaxRunIDLen+1), nil, "run ID of 129 bytes"},
		{"/flows/Signup/runs?run_id=caf%C3%A9", nil, "run ID"},
		{"/flows/Signup/runs?run_id=", nil, "run ID of 0 bytes"},
		{"/flows/Signup/runs?run_id=a&run_id=b", nil, "given 2 times"},
		{"/flows/Signup/runs?run_id=a", []string{"Idempotency-Key", "a b"}, "Idempotency-Key"},
		// Both name the run: a key sent again with another run_id would
		// start a second run.
		{"/flows/Signup/runs?run_id=r-1", []string{"Idempotency-Key", "req-9"}, "give one of them"},
		{"/rpc/Signup.Start?run_id=r-1", []string{"Idempotency-Key", "req-9"}, "give one of them"},
		// The forms of the engine's own run IDs, which a caller taking
		// first would hijack.
		{"/flows/Signup/runs?run_id=" + EventRunID("Signup", "accounts", "signup.requested", "m-1"), nil, "which the engine makes itself"},
		{"/flows/Signup/runs?run_id=" + KeyRunID("Signup", "req-1"), nil, "which the engine makes itself"},
		{"/flows/Signup/runs?run_id=" + tickRunID("Signup", "@every 1m", time.Unix(1e9, 0)), nil, "which the engine makes itself"},
		{"/flows/Signup/runs?run_id=o-1@Bill", nil, "contains '@' at byte 3"},
		{"/flows/Signup/runs?run_id=" + runtime.NewID(), nil, "which the engine makes itself"},
		{"/flows/Signup/runs", []string{"Idempotency-Key", "a b"}, "Idempotency-Key"},
		{"/flows/Signup/runs", []string{"Idempotency-Key", "a\tb"}, "Idempotency-Key"},
		{"/flows/Signup/runs", []string{"Idempotency-Key", strings.Repeat("k", MaxKeyLen+1)}, "Idempotency-Key of 256 bytes"},
		// POST /events names the key as the client sent it, as a start
		// does; it said "message ID", a name the client never wrote.
		{"/events/payments/payment.succeeded?id=a%01b", nil, `the id parameter "a\x01b" contains '\x01' at byte 1`},
		{"/events/payments/payment.succeeded", []string{"Idempotency-Key", strings.Repeat("k", MaxKeyLen+1)}, "Idempotency-Key of 256 bytes"},
		{"/events/payments/payment.succeeded", []string{"Idempotency-Key", "a\tb"}, `Idempotency-Key "a\tb" contains '\t' at byte 1`},
		{"/events/payments/payment.succeeded?id=m-1", []string{"Idempotency-Key", "m-2"}, "name the event differently"},
		// An empty key or ID is not one left out, as an empty ?run_id= is
		// not: a client that sends its unset variable would start a new
		// run, or publish a new event, at every retry.
		{"/flows/Signup/runs", []string{"Idempotency-Key", ""}, "Idempotency-Key of 0 bytes"},
		{"/rpc/Signup.Start", []string{"Idempotency-Key", ""}, "Idempotency-Key of 0 bytes"},
		{"/events/payments/payment.succeeded", []string{"Idempotency-Key", ""}, "Idempotency-Key of 0 bytes"},
		{"/events/payments/payment.succeeded?id=", nil, "the id parameter of 0 bytes"},
		{"/events/payments/payment.succeeded?id=", []string{"Idempotency-Key", "m-3"}, "the id parameter of 0 bytes"},
		// A key given twice: honouring the first left the second
		// unchecked, and a proxy or a retry may read the other one.
		{"/flows/Signup/runs", []string{"Idempotency-Key", "a", "Idempotency-Key", "b"}, "Idempotency-Key header is given 2 times"},
		{"/rpc/Signup.Start", []string{"Idempotency-Key", "a", "Idempotency-Key", "a"}, "Idempotency-Key header is given 2 times"},
		{"/events/payments/payment.succeeded", []string{"Idempotency-Key", "m-4", "Idempotency-Key", "m-5"}, "Idempotency-Key header is given 2 times"},
	}
	for _, tc := range bad {
		status, out := c.doH("POST", tc.path, `{}`, tc.header...)
		if status != 400 || !strings.Contains(mustString(t, out), tc.says) {
			t.Errorf("POST %.60s %q: %d %v, want 400 saying %q", tc.path, tc.header, status, out, tc.says)
		}
	}
	if runs, _ := e.Runs(context.Background(), storeFilter("Signup")); len(runs) != 0 {
		t.Fatalf("runs started: %v", runs)
	}
	for _, id := range []string{"a.b_c-d:e", "0", strings.Repeat("r", MaxRunIDLen), "e-commerce-1", "k-9", "0123456789ab-x1"} {
		if status, out := c.do("POST", "/flows/Signup/runs?run_id="+id, `{}`); status != 201 || out["run_id"] != id {
			t.Errorf("run ID %q: %d %v, want 201", id, status, out)
		}
	}
	if status, out := c.doH("POST", "/flows/Signup/runs", `{}`, "Idempotency-Key", strings.Repeat("k", MaxKeyLen)); status != 201 {
		t.Errorf("a key of %d bytes: %d %v", MaxKeyLen, status, out)
	}
}

// A 404 for an unknown run quotes the ID of the request's path whole up
// to MaxRunIDLen bytes, the longest a caller chooses, and only the start
// of a longer one: a path is as long as a request line may be, and the
// answer echoed all of it.
func TestUnknownRunQuotesBoundedID(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptestServer(t, e)}
	long := strings.Repeat("r", MaxRunIDLen) + strings.Repeat("x", 10000)
	for _, tc := range []struct{ id, says string }{
		{"nope", `runtime: unknown run: "nope"`},
		{strings.Repeat("r", MaxRunIDLen), `runtime: unknown run: "` + strings.Repeat("r", MaxRunIDLen) + `"`},
		{long, `runtime: unknown run: "` + strings.Repeat("r", MaxRunIDLen) + `"...`},
	} {
		for _, route := range []struct{ method, path string }{
			{"GET", "/runs/" + tc.id}, {"GET", "/runs/" + tc.id + "/history"},
			{"GET", "/runs/" + tc.id + "/diagram"}, {"POST", "/runs/" + tc.id + "/abort"},
		} {
			status, out := c.do(route.method, route.path, "")
			if msg, _ := out["error"].(string); status != 404 || msg != tc.says {
				t.Errorf("%s %.60s: %d %.300q, want 404 %.300q", route.method, route.path, status, msg, tc.says)
			}
		}
	}
}

// An abort answered 503 as the engine closes quotes the run's ID as the
// 404 does, its first MaxRunIDLen bytes: it echoed the whole path's ID,
// as long as a request line may be.
func TestAbortWhileClosingQuotesBoundedID(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	c := apiClient{t, httptestServer(t, e)}
	fx.stop()
	long := strings.Repeat("r", MaxRunIDLen) + strings.Repeat("x", 10000)
	status, out := c.do("POST", "/runs/"+long+"/abort", "")
	msg, _ := out["error"].(string)
	if says := `"` + strings.Repeat("r", MaxRunIDLen) + `"...`; status != 503 || !strings.Contains(msg, says) || len(msg) > 1000 {
		t.Errorf("abort while closing: %d %.300q (%d bytes), want 503 quoting %.40q... in at most 1000 bytes", status, msg, len(msg), says)
	}
}

// An error answer echoes no more than shownBytes of the request's own
// text, its path or a parameter, which are as long as a request line may
// be: each answer here echoed all of it.
func TestErrorsEchoBoundedText(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptestServer(t, e)}
	long := strings.Repeat("x", 20000)
	for _, tc := range []struct {
		method, path string
		header       []string
		status       int
		says         string
	}{
		{"GET", "/nope/" + long, nil, 404, "no such endpoint: GET /nope/xxx"},
		{"DELETE", "/runs/r-1/history/" + long, nil, 404, "no such endpoint"},
		{"GET", "//runs/" + long, nil, 404, "the API does not clean paths"},
		{"GET", "/runs?cursor=" + long, nil, 400, `cursor "xxx`},
		{"GET", "/runs?limit=" + long, nil, 400, `limit "xxx`},
		{"GET", "/runs?status=" + long, nil, 400, `unknown status "xxx`},
		{"GET", "/runs?order=" + long, nil, 400, `order "xxx`},
		{"GET", "/runs?since=" + long, nil, 400, `since "xxx`},
		{"GET", "/runs/r-1/history?after=" + long, nil, 400, `after "xxx`},
		{"GET", "/runs/r-1/history?state=" + long, nil, 400, `state="xxx`},
		{"GET", "/runs?" + long + "=1", nil, 400, `unknown parameter "xxx`},
		// Checked before it is compared with the key, it is not echoed.
		{"POST", "/events/payments/payment.succeeded?id=" + long, []string{"Idempotency-Key", "m-1"}, 400, "the id parameter of 20000 bytes"},
		// A method is any token of the request line.
		{"X" + long, "/runs", nil, 405, "method Xxxx"},
		{"X" + long, "/nope", nil, 404, "no such endpoint: Xxxx"},
		{"X" + long, "//runs", nil, 404, "no such endpoint: Xxxx"},
	} {
		status, out := c.doH(tc.method, tc.path, "", tc.header...)
		msg, _ := out["error"].(string)
		if status != tc.status || !strings.Contains(msg, tc.says) || len(msg) > 1000 {
			t.Errorf("%s %.40s: %d %.400q (%d bytes), want %d saying %q in at most 1000 bytes", tc.method, tc.path, status, msg, len(msg), tc.status, tc.says)
		}
	}
}

// The middlewares' refusals echo no more than shownBytes of the header
// they refuse, which is as long as -max-header-bytes lets it be: a Host
// that is not this machine's (LoopbackOnly), a Content-Type that is not
// JSON (RequireJSON). Each echoed all of it.
func TestMiddlewaresEchoBoundedText(t *testing.T) {
	long := strings.Repeat("x", 20000)
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, tc := range []struct {
		name   string
		h      http.Handler
		header map[string]string
		status int
		says   string
	}{
		{"LoopbackOnly", LoopbackOnly(ok), map[string]string{"Host": "a" + long + ".example"}, 403, `Host "axxx`},
		{"RequireJSON", RequireJSON(ok), map[string]string{"Content-Type": "text/" + long}, 415, "found text/xxx"},
	} {
		r := httptest.NewRequest("POST", "/runs", strings.NewReader("{}"))
		for k, v := range tc.header {
			r.Header.Set(k, v)
		}
		if h, ok := tc.header["Host"]; ok {
			r.Host = h
		}
		w := httptest.NewRecorder()
		tc.h.ServeHTTP(w, r)
		var out map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &out)
		msg, _ := out["error"].(string)
		if w.Code != tc.status || !strings.Contains(msg, tc.says) || len(msg) > 1000 {
			t.Errorf("%s: %d %.400q (%d bytes), want %d saying %q in at most 1000 bytes", tc.name, w.Code, msg, len(msg), tc.status, tc.says)
		}
	}
}

// PUT /flows?name= names the document in every diagnostic of the answer:
// a name outside the limits of names (MaxNameLen) is a 400 that quotes
// its start. Before, a name of 20,000 bytes came back in each of the
// diagnostics, 50 of them a megabyte.
func TestPutFlowsNameLimits(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptestServer(t, e)}
	bad := `{"version": 1, "flows": [{"name": "P", "steps": [{"name": "S", "action": {"kind": "await", "topic": "t", "event": "e"}}]}]}`
	status, out := c.do("PUT", "/flows?name="+strings.Repeat("n", 20000)+".json", bad)
	if msg, _ := out["error"].(string); status != 400 || !strings.Contains(msg, "document name") || len(msg) > 1000 || out["diagnostics"] != nil {
		t.Errorf("PUT /flows with a name of 20,000 bytes: %d %.300v", status, out)
	}
	name := strings.Repeat("n", MaxNameLen-5) + ".json"
	status, out = c.do("PUT", "/flows?name="+name, bad)
	if ds, _ := out["diagnostics"].([]any); status != 400 || len(ds) == 0 || !strings.Contains(fmt.Sprint(ds[0]), name) {
		t.Errorf("PUT /flows with a name of %d bytes: %d %.300v, want its diagnostics naming it", len(name), status, out)
	}
}

// An Idempotency-Key (or a ?run_id=) used again with another body is
// refused with 422; with the same body (the same initial state: member
// order and white space do not matter) it answers the existing run.
func TestIdempotencyKeyOtherBody(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptestServer(t, e)}
	status, first := c.doH("POST", "/rpc/Signup.Start", `{"Customer": {"Email": "ann", "Name": "Ann"}, "Plan": "pro"}`, "Idempotency-Key", "req-1")
	if status != 201 {
		t.Fatalf("first start: %d %v", status, first)
	}
	status, out := c.doH("POST", "/flows/Signup/runs", `{"Plan":"pro","Customer":{"Name":"Ann","Email":"ann"}}`, "Idempotency-Key", "req-1")
	if status != 200 || out["existing"] != true || out["run_id"] != first["run_id"] {
		t.Fatalf("the same body again: %d %v, want 200 existing %v", status, out, first["run_id"])
	}
	status, out = c.doH("POST", "/rpc/Signup.Start", `{"Customer": {"Email": "bob"}, "Plan": "pro"}`, "Idempotency-Key", "req-1")
	if status != 422 || !strings.Contains(mustString(t, out), "req-1") {
		t.Fatalf("another body with the key: %d %v, want 422", status, out)
	}
	if status, out := c.do("POST", "/flows/Signup/runs?run_id=fixed-1", `{"Plan": "pro"}`); status != 201 {
		t.Fatalf("start fixed-1: %d %v", status, out)
	}
	if status, out := c.do("POST", "/flows/Signup/runs?run_id=fixed-1", `{"Plan": "basic"}`); status != 422 {
		t.Fatalf("another body with the run ID: %d %v, want 422", status, out)
	}
	if runs, _ := e.Runs(context.Background(), storeFilter("Signup")); len(runs) != 2 {
		t.Fatalf("%d runs, want 2", len(runs))
	}
}

// Overlong names get a clear 400, not a 500 that shows a server path.
func TestOverlongNames(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptestServer(t, e)}
	long := strings.Repeat("x", 300)
	for _, tc := range []struct{ method, path, says string }{
		{"POST", "/events/" + long + "/e", "topic"},
		{"POST", "/events/t/" + long, "event"},
		{"POST", "/flows/" + long + "/runs", "flow name"},
		{"GET", "/flows/" + long, "flow name"},
		{"POST", "/rpc/" + long, "rpc endpoint"},
		{"PUT", "/flows", "flow name"},
	} {
		body := `{}`
		if tc.path == "/flows" {
			body = strings.Replace(helloFlow, `"Hello"`, `"H`+long+`"`, 1)
		}
		status, out := c.do(tc.method, tc.path, body)
		if msg := mustString(t, out); status != 400 || !strings.Contains(msg, tc.says) || !strings.Contains(msg, "longer than 128") {
			t.Errorf("%s %.40s...: %d %v, want 400 about the %s", tc.method, tc.path, status, out, tc.says)
		}
	}
}

func storeFilter(flow string) store.Filter { return store.Filter{Flow: flow} }

// POST /events answers with the runs the event starts (EventRunID of the
// flow and the message ID), once they are durable; the event is in the
// inbox unless it only starts runs. A payload a flow cannot start from is
// a 400, a message ID used again with another payload a 422; neither
// changes anything.
func TestEventDoor(t *testing.T) {
	fx, e := genOrderEngine(t)
	c := apiClient{t, httptestServer(t, e)}
	status, out := c.doH("POST", "/events/accounts/signup.requested", `{"Customer": {"Email": "eve"}}`, "Idempotency-Key", "evt-1")
	want := EventRunID("Signup", "accounts", "signup.requested", "evt-1")
	runs, _ := out["runs"].([]any)
	if status != 202 || out["id"] != "evt-1" || len(runs) != 1 || out["inbox"] != false {
		t.Fatalf("trigger event: %d %v", status, out)
	}
	if r := runs[0].(map[string]any); r["flow"] != "Signup" || r["run_id"] != want || r["existing"] != nil {
		t.Fatalf("trigger event's run: %v, want %s", r, want)
	}
	if _, ok := fx.st.Get(want); !ok {
		t.Fatalf("run %s not in the store at the answer", want)
	}
	status, out = c.doH("POST", "/events/accounts/signup.requested", ` {"Customer":{"Email":"eve"}}`, "Idempotency-Key", "evt-1")
	if runs, _ := out["runs"].([]any); status != 202 || len(runs) != 1 || runs[0].(map[string]any)["existing"] != true {
		t.Fatalf("the same event again: %d %v", status, out)
	}
	if status, out = c.doH("POST", "/events/accounts/signup.requested", `{"Customer": {"Email": "eva"}}`, "Idempotency-Key", "evt-1"); status != 422 {
		t.Fatalf("the same ID with another payload: %d %v, want 422", status, out)
	}
	// The generated flow's state has a string order_id.
	if status, out = c.do("POST", "/events/orders/order.placed?id=o-1", `{"order_id": 42}`); status != 400 || !strings.Contains(mustString(t, out), "GenOrder") {
		t.Fatalf("a payload GenOrder cannot start from: %d %v, want 400", status, out)
	}
	// An awaited event is in the inbox at the answer; one nobody consumes
	// is dropped (404), as the broker drops it.
	status, out = c.do("POST", "/events/payments/payment.succeeded?id=p-1", `{"correlation_id": "c-1"}`)
	if runs, _ := out["runs"].([]any); status != 202 || len(runs) != 0 || out["inbox"] != true {
		t.Fatalf("POST an awaited event: %d %v", status, out)
	}
	if status, out = c.do("POST", "/events/nobody/listens?id=n-1", `{"correlation_id": "c-1"}`); status != 404 {
		t.Fatalf("POST an event nobody consumes: %d %v, want 404", status, out)
	}
	if status, out = c.do("POST", "/events/payments/payment.succeeded?id=p-1", `{"correlation_id": "c-2"}`); status != 422 {
		t.Fatalf("an awaited event's ID with another payload: %d %v, want 422", status, out)
	}
	ms := inboxOf(t, fx.st.(InboxStore), store.MessageFilter{})
	if len(ms) != 1 || ms[0].ID != "p-1" {
		t.Fatalf("inbox: %+v", ms)
	}
	waitParked(t, e, want)
	time.Sleep(20 * time.Millisecond) // let a wrong start by the trigger's consumer show
	if all, _ := e.Runs(context.Background(), store.Filter{}); len(all) != 1 {
		t.Fatalf("runs: %+v, want the one of evt-1", all)
	}
}

// A message ID the inbox holds is the same event wherever it goes next: a
// flow defined since with an event trigger on its topic does not make the
// ID new again. Posted again with another payload, it is a 422 that
// starts no run; the inbox's record is the event.
func TestEventIDInboxThenTrigger(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptestServer(t, e)}
	const waiter = `{"version": 1, "flows": [{"name": "Waiter", "triggers": [{"kind": "rpc", "endpoint": "Waiter.Start"}],
  "steps": [{"name": "W", "action": {"kind": "await", "topic": "late", "event": "ev", "timeout": "1h"}}]}]}`
	if ds, err := e.LoadFlows("waiter.json", []byte(waiter)); err != nil {
		t.Fatalf("load: %v\n%v", err, ds)
	}
	if status, out := c.do("POST", "/events/late/ev?id=m-1", `{"a": 1}`); status != 202 || out["inbox"] != true {
		t.Fatalf("an awaited event: %d %v, want 202 in the inbox", status, out)
	}
	const delta = `{"version": 1, "flows": [{"name": "Delta", "triggers": [{"kind": "event", "topic": "late", "event": "ev"}],
  "steps": [{"name": "P", "action": {"kind": "publish", "topic": "t", "event": "e"}, "irreversible": true}]}]}`
	if ds, err := e.LoadFlows("delta.json", []byte(delta)); err != nil {
		t.Fatalf("load: %v\n%v", err, ds)
	}
	if status, out := c.do("POST", "/events/late/ev?id=m-1", `{"a": 2}`); status != 422 {
		t.Fatalf("the inbox's message ID with another payload: %d %v, want 422", status, out)
	}
	if _, ok := fx.st.Get(EventRunID("Delta", "late", "ev", "m-1")); ok {
		t.Fatal("the refused event started a run of Delta")
	}
	m, ok, err := fx.st.(InboxStore).GetMessage(store.MessageKey{Topic: "late", Event: "ev", ID: "m-1"})
	if err != nil || !ok || !sameJSON(m.Payload, []byte(`{"a": 1}`)) {
		t.Fatalf("the inbox's message: %+v %v %v, want the first payload", m, ok, err)
	}
}

// A dead letter is no event applied: posted again with its ID and
// payload, it is refused as the payload is (400), though the inbox holds
// a record of its ID.
func TestEventDeadLetterPostedAgain(t *testing.T) {
	fx, e := genOrderEngine(t)
	publish(t, fx.broker, "o-1", "orders", "order.placed", map[string]any{"order_id": 42}) // GenOrder's order_id is a string
	waitFor(t, "the dead letter", func() bool {
		m, ok, _ := fx.st.(InboxStore).GetMessage(store.MessageKey{Topic: "orders", Event: "order.placed", ID: "o-1"})
		return ok && m.State == store.MessageDead
	})
	c := apiClient{t, httptestServer(t, e)}
	if status, out := c.do("POST", "/events/orders/order.placed?id=o-1", `{"order_id": 42}`); status != 400 || !strings.Contains(mustString(t, out), "GenOrder") {
		t.Fatalf("the dead letter posted again: %d %v, want 400 naming GenOrder", status, out)
	}
}

// GET /runs answers a page at a time: 250 runs by 100 give every run once,
// in the order they started; a cursor it did not answer is a 400.
func TestListRunsPages(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptestServer(t, e)}
	var want []string
	for i := range 250 {
		id := fmt.Sprintf("run-%03d", (i*7)%250) // not in ID order
		ev := runtime.Event{RunID: id, Seq: 1, Time: time.Now(), Flow: "F", From: runtime.MachinePending, To: "A:running"}
		if err := fx.st.Emit(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	var got []string
	pages := 0
	for cursor := ""; ; pages++ {
		status, out := c.do("GET", "/runs?limit=100&cursor="+cursor, "")
		if status != 200 {
			t.Fatalf("page %d: %d %v", pages, status, out)
		}
		for _, r := range out["runs"].([]any) {
			got = append(got, r.(map[string]any)["run_id"].(string))
		}
		next, _ := out["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if pages != 2 || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%d pages: %v\nwant %v", pages+1, got, want)
	}
	if _, out := c.do("GET", "/runs", ""); len(out["runs"].([]any)) != DefaultListLimit {
		t.Errorf("default page: %d runs, want %d", len(out["runs"].([]any)), DefaultListLimit)
	}
	for _, q := range []string{"cursor=nope", "cursor=c1.!!", "cursor=c1." + base64.RawURLEncoding.EncodeToString([]byte("gone")), "limit=0", "limit=1001", "limit=x"} {
		if status, out := c.do("GET", "/runs?"+q, ""); status != 400 {
			t.Errorf("GET /runs?%s: %d %v, want 400", q, status, out)
		}
	}
}

// Names refuse Unicode's format characters as they refuse control
// characters: a bidirectional override (U+202E) or a zero-width character
// makes a name show, in the web view and the logs, as another one.
func TestNamesRefuseFormatCharacters(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptestServer(t, e)}
	for _, tc := range []struct{ method, path, body, says string }{
		{"POST", "/events/pay%E2%80%AEments/payment.succeeded?id=m-1", `{}`, `topic "pay\u202ements" contains the invisible format character U+202E`},
		{"POST", "/events/payments/payment%E2%80%8B.succeeded?id=m-1", `{}`, "format character U+200B"},
		{"PUT", "/flows", strings.Replace(helloFlow, `"topic": "t"`, `"topic": "t\u200dx"`, 1), "format character U+200D"},
	} {
		status, out := c.do(tc.method, tc.path, tc.body)
		if status != 400 || !strings.Contains(mustString(t, out), tc.says) {
			t.Errorf("%s %s: %d %v, want 400 saying %q", tc.method, tc.path, status, out, tc.says)
		}
	}
}

// A name too long to be valid gets its name-limit diagnostic whatever else
// is wrong, and every diagnostic quotes it cut (diag.Quote): the answer is
// bounded by the limits, not by the body. Before, a step name of 300 KB in
// an await without a timeout came back twice (await-no-timeout, in the
// message and the error), 600 KB, and name-limit, which the engine checked
// only after the compiler's checks had passed, never came.
func TestPutFlowsLongNamesBounded(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptestServer(t, e)}
	long := "S" + strings.Repeat("x", 300000)
	long2 := long[:40000] // 17 of them within the body's limit
	for _, body := range []string{
		`{"version": 1, "flows": [{"name": "P", "steps": [{"name": "` + long + `", "action": {"kind": "await", "topic": "t", "event": "e"}}]}]}`,
		// an unknown member, which the diagnostic's JSON path names
		`{"version": 1, "flows": [{"name": "P", "` + long + `": 1, "steps": [{"name": "A", "action": {"kind": "go"}}]}]}`,
		// every kind of name at once
		`{"version": 1, "flows": [{"name": "` + long2 + `", "state": "` + long2 + `", "triggers": [{"kind": "event", "topic": "` + long2 + `", "event": "` + long2 + `"}], "steps": [
			{"name": "` + long2 + `", "action": {"kind": "rpc", "service": "` + long2 + `", "endpoint": "` + long2 + `", "request": "` + long2 + `"}, "outcomes": ["` + long2 + `"], "on": [{"on": "` + long2 + `", "target": "` + long2 + `"}]},
			{"name": "B", "parallel": {"branches": [{"name": "` + long2 + `", "action": {"kind": "call", "flow": "` + long2 + `"}}]}},
			{"name": "C", "action": {"kind": "publish", "topic": "` + long2 + `", "event": "` + long2 + `"}, "rollback": {"name": "` + long2 + `"}}]}]}`,
	} {
		status, out := c.do("PUT", "/flows", body)
		b, _ := json.Marshal(out)
		ds, _ := out["diagnostics"].([]any)
		if status != 400 || len(b) > 64<<10 || !strings.Contains(string(b), `"name-limit"`) && !strings.Contains(string(b), "unknown field") || len(ds) == 0 {
			t.Errorf("PUT /flows with names of 300 KB: %d, %d bytes, %d diagnostics", status, len(b), len(ds))
		}
		for _, d := range ds {
			if b, _ := json.Marshal(d); len(b) > 2000 {
				t.Errorf("a diagnostic of %d bytes: %.600s", len(b), b)
			}
		}
		if msg, _ := out["error"].(string); len(msg) > 2000 {
			t.Errorf("an error of %d bytes: %.600s", len(msg), msg)
		}
	}
}

// A run whose flow this engine does not define (an engine without a
// flows directory, restarted: the run waits in the store for its flow) is a run all the
// same: aborting it is a 409 that says why and what to do, and records
// nothing, not the 404 of an unknown run, which told the client that the
// run it reads with GET /runs/{id} does not exist.
func TestAbortRunOfUndefinedFlow(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	id, _ := startSignup(t, e, "ada")
	fx.stop()
	e = fx.startNoFlows(t, nil)
	defer fx.stop()
	c := apiClient{t, httptestServer(t, e)}
	if status, out := c.do("GET", "/runs/"+id, ""); status != 200 || out["state"] != "waiting" {
		t.Fatalf("GET the run: %d %v, want 200 waiting", status, out)
	}
	status, out := c.do("POST", "/runs/"+id+"/abort", "")
	if msg := mustString(t, out); status != 409 || !strings.Contains(msg, `"Signup"`) || !strings.Contains(msg, "PUT /flows") {
		t.Fatalf("abort a run of a flow not defined: %d %v, want 409 naming the flow and how to define it", status, out)
	}
	if fx.st.AbortRequested(id) {
		t.Fatal("the refused abort is recorded")
	}
}

// Start logs the unfinished runs of flows it does not define, as an
// engine restarted without a flows directory has them: they wait in the
// store, and before this line the log said nothing of why they did not
// move. A run of a
// flow it defines is resumed, not named.
func TestStartLogsRunsOfUndefinedFlows(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	startSignup(t, e, "ada")
	startSignup(t, e, "bob")
	fx.stop()
	var buf logtest.Buffer
	fx.startNoFlows(t, slog.New(slog.NewTextHandler(&buf, nil)))
	defer fx.stop()
	const want = `level=WARN msg="unfinished runs wait for their flows to be defined" runs=2 flows=[Signup]`
	if !strings.Contains(buf.String(), want+"\n") {
		t.Fatalf("Start's log:\n%s\nwant a line ending %s", buf.String(), want)
	}
}

// startNoFlows starts, on fx's store, broker and ID, an engine that
// defines no flow, as one restarted without a flows directory is, logging to log
// (nil: the default); fx.stop stops it.
func (fx *fixture) startNoFlows(t *testing.T, log *slog.Logger) *Engine {
	t.Helper()
	e, err := New(Options{Store: fx.st, Broker: fx.broker, Caller: fx.caller, ID: fx.id, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	fx.e = e
	return e
}

// eventsRead is a store that counts the events its reads return.
type eventsRead struct {
	*store.Memory
	n atomic.Int64
}

func (s *eventsRead) Load(runID string) ([]runtime.Event, error) {
	h, err := s.Memory.Load(runID)
	s.n.Add(int64(len(h)))
	return h, err
}

func (s *eventsRead) LoadPage(runID string, after uint64, limit, maxBytes int, states bool) ([]runtime.Event, bool, error) {
	h, more, err := s.Memory.LoadPage(runID, after, limit, maxBytes, states)
	s.n.Add(int64(len(h)))
	return h, more, err
}

// A start sent again (its Idempotency-Key, its ?run_id=) is compared with
// the run's first event, the initial state it recorded, and reads nothing
// more of its history: a run may hold 25,000 events, each with a state of
// up to a megabyte, and every retry read them all.
func TestRetriedStartReadsFirstEventOnly(t *testing.T) {
	fx := newFixture(t)
	st := &eventsRead{Memory: store.NewMemory()}
	fx.st = st
	e := fx.start()
	defer fx.stop()
	if ds, err := e.LoadFlows("hello.json", []byte(helloFlow)); err != nil {
		t.Fatalf("load: %v\n%v", err, ds)
	}
	c := apiClient{t, httptestServer(t, e)}
	if status, out := c.doH("POST", "/flows/Hello/runs", `{"n": 1}`, "Idempotency-Key", "key-1"); status != 201 {
		t.Fatalf("start: %d %v", status, out)
	}
	id := KeyRunID("Hello", "key-1")
	waitFor(t, "the run to end", func() bool { info, _ := st.Get(id); return info.State.Terminal() })
	if info, _ := st.Get(id); info.Events < 2 {
		t.Fatalf("the run has %d events, want more than the first", info.Events)
	}
	for _, tc := range []struct {
		body   string
		status int
	}{{`{"n": 1}`, 200}, {`{"n": 2}`, 422}} {
		st.n.Store(0)
		if status, out := c.doH("POST", "/flows/Hello/runs", tc.body, "Idempotency-Key", "key-1"); status != tc.status {
			t.Fatalf("the start again with %s: %d %v, want %d", tc.body, status, out, tc.status)
		}
		if n := st.n.Load(); n != 1 {
			t.Errorf("the start again with %s read %d events of the run's history, want its first alone", tc.body, n)
		}
	}
}

// A 409 to an abort names the run as a 404 does, its ID quoted up to
// MaxRunIDLen bytes: a call's child run has a longer ID (its parent's, '@'
// and its step, at each level) than a caller may choose, and the path is
// the caller's text.
func TestAbortConflictQuotesBoundedID(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	long := strings.Repeat("r", MaxRunIDLen) + "@" + strings.Repeat("S", MaxNameLen) + "@" + strings.Repeat("T", MaxNameLen)
	for seq, to := range []string{"A:running", "done"} {
		ev := runtime.Event{RunID: long, Seq: uint64(seq + 1), Time: time.Now(), Flow: "Signup", Step: "A", To: to, State: json.RawMessage(`{}`)}
		if err := fx.st.Emit(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	c := apiClient{t, httptestServer(t, e)}
	status, out := c.do("POST", "/runs/"+long+"/abort", "")
	want := `runtime: run finished: "` + long[:MaxRunIDLen] + `"... is done`
	if msg, _ := out["error"].(string); status != 409 || msg != want {
		t.Errorf("abort of a finished run of a long ID: %d %.400q, want 409 %q", status, msg, want)
	}
}

// A start whose run ID another request is starting, and has not recorded
// yet (its lock held), answers 503 with Retry-After once it has waited a
// little: the same request sent again then gets that run (200, or 422
// for another body). It answered 409, which the docs give a run of
// another flow, that a client does not send again.
func TestStartOfRunBeingStarted(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	if ds, err := e.LoadFlows("hello.json", []byte(helloFlow)); err != nil {
		t.Fatalf("load: %v\n%v", err, ds)
	}
	unlock, err := e.locker.Lock(context.Background(), "busy-1") // as a start of it holds it
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	srv := httptestServer(t, e)
	status, h, body := send(t, srv, "POST", "/flows/Hello/runs?run_id=busy-1", "", "application/json", `{}`)
	if status != 503 || h.Get("Retry-After") == "" || !strings.Contains(body, "try again") {
		t.Fatalf("a start of a run being started: %d (Retry-After %q) %s, want 503 with Retry-After", status, h.Get("Retry-After"), body)
	}
	if _, ok := fx.st.Get("busy-1"); ok {
		t.Fatal("the refused start recorded the run")
	}
}

// PUT /flows without a body says so, at the document's start, rather than
// "unexpected end of JSON input", which reads as a JSON cut short.
func TestPutFlowsEmptyBody(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptestServer(t, e)}
	status, out := c.do("PUT", "/flows", "")
	if ds, _ := out["diagnostics"].([]any); status != 400 || len(ds) != 1 || !strings.Contains(fmt.Sprint(ds[0]), "the document is empty") {
		t.Errorf("PUT /flows with no body: %d %.300v, want 400 saying the document is empty", status, out)
	}
}
