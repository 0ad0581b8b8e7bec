package engine

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// parcelFlow: Go step Ship (outcome "lost", rolled back by Unship) then
// Go step Seal; Hurry's Go step Ship has 100ms an attempt.
const parcelFlow = `{"version": 1, "flows": [{
  "name": "Parcel", "state": "S",
  "triggers": [{"kind": "rpc", "endpoint": "Parcel.Start"}],
  "retry": {"attempts": 2, "initial": "1ms", "max": "1ms"},
  "timeout": "1m",
  "steps": [
    {"name": "Ship", "action": {"kind": "go"}, "outcomes": ["lost"], "rollback": {"name": "Unship"},
     "on": [{"on": "lost", "target": "fail"}]},
    {"name": "Seal", "action": {"kind": "go"}, "irreversible": true}
  ]}, {
  "name": "Hurry", "state": "S",
  "retry": {"attempts": 2, "initial": "1ms", "max": "1ms"},
  "timeout": "100ms",
  "steps": [{"name": "Ship", "action": {"kind": "go"}, "irreversible": true}]}]}`

// handCall is a call a hand-written provider received: its headers and its
// body, as bytes.
type handCall struct {
	header http.Header
	body   []byte
}

// A provider written from docs/engine.md alone, with net/http and no
// package of flowgen: it registers with PUT /providers/{name}?replica=,
// reads the lease's call_token, checks each call's members and headers
// against "The protocol", answers each documented kind of answer, and
// renews and withdraws. Each malformed answer fails the attempt as the
// page says (permanently, or retried), and none stalls the run.
func TestHandWrittenProvider(t *testing.T) {
	_, e, srv := remoteFixture(t, ProviderOptions{})
	if ds, err := e.LoadFlows("parcel.json", []byte(parcelFlow)); err != nil {
		t.Fatalf("load: %v\n%v", err, ds)
	}
	var mu sync.Mutex
	var calls []handCall
	var token string
	answers := map[string]func(w http.ResponseWriter, r *http.Request){}
	prov := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tok := token
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+tok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls = append(calls, handCall{r.Header.Clone(), body})
		mu.Unlock()
		var req struct {
			Handler  string
			Rollback bool
			State    struct{ Mode string }
		}
		_ = json.Unmarshal(body, &req)
		if req.Handler == "Hurry.Ship" {
			<-r.Context().Done() // no answer by the deadline: the engine gives up
			return
		}
		if req.Rollback || req.Handler == "Seal" {
			_, _ = io.WriteString(w, `{"outcome": "ok"}`)
			return
		}
		if a, ok := answers[req.State.Mode]; ok {
			a(w, r)
			return
		}
		_, _ = io.WriteString(w, `{"state": {"Mode": "`+req.State.Mode+`", "Shipped": true}, "outcome": "ok"}`)
	}))
	defer prov.Close()
	say := func(s string) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, s) }
	}
	answers["lost"] = say(`{"outcome": "lost"}`)
	answers["unknown"] = say(`{"outcome": "misrouted"}`)
	answers["array"] = say(`{"state": [1, 2]}`)
	answers["string"] = say(`{"state": "Shipped"}`)
	answers["number"] = say(`{"state": 7}`)
	answers["broken"] = say(`{"state": {"Shipped": tru`)
	answers["typed"] = say(`{"outcome": 5}`)
	answers["empty"] = say(``)
	answers["member"] = say(`{"state": {}, "retry_after": "1s"}`)
	answers["huge"] = func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"state": {"Pad": "`+strings.Repeat("x", MaxProviderResponse)+`"}}`)
	}
	answers["longoutcome"] = say(`{"outcome": "` + strings.Repeat("o", MaxNameLen+1) + `"}`)
	answers["longerror"] = say(`{"error": {"message": "` + strings.Repeat("é", MaxProviderErrorBytes) + `", "class": "permanent"}}`)
	answers["errstring"] = say(`{"error": "boom"}`)
	answers["errempty"] = say(`{"error": {}}`)
	answers["retryable"] = say(`{"error": {"message": "ledger busy"}}`)
	answers["permanent"] = say(`{"error": {"message": "no such parcel", "class": "permanent"}}`)
	answers["status"] = func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) }
	answers["unavailable"] = func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }

	// Register, as the page says, with a replica ID.
	do := func(method, path, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	status, out := do("PUT", "/providers/parcels?replica=r1", `{"ttl": "1m", "handlers": [
		{"name": "Parcel.Ship", "outcomes": ["lost"], "url": "`+prov.URL+`/ship"},
		{"name": "Seal", "url": "`+prov.URL+`/seal"},
		{"name": "Hurry.Ship", "url": "`+prov.URL+`/hurry"},
		{"name": "Unship", "rollback": true, "url": "`+prov.URL+`/unship"}]}`)
	if status != http.StatusOK {
		t.Fatalf("register: %d %s", status, out)
	}
	var lease map[string]json.RawMessage
	if err := json.Unmarshal(out, &lease); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"provider", "replica", "ttl", "expires", "call_token", "handlers"} {
		if _, ok := lease[k]; !ok {
			t.Errorf("the lease lacks %q: %s", k, out)
		}
	}
	for k := range lease {
		if !slices.Contains([]string{"provider", "replica", "ttl", "expires", "call_token", "handlers", "warnings"}, k) {
			t.Errorf("the lease has a member the page does not name: %q", k)
		}
	}
	if string(lease["ttl"]) != `"1m0s"` || string(lease["replica"]) != `"r1"` {
		t.Errorf("lease ttl %s replica %s, want \"1m0s\" and \"r1\"", lease["ttl"], lease["replica"])
	}
	mu.Lock()
	_ = json.Unmarshal(lease["call_token"], &token)
	mu.Unlock()

	run := func(mode string) (RunStatus, []runtime.Event) {
		t.Helper()
		flow := "Parcel"
		if mode == "slow" {
			flow = "Hurry"
		}
		id, err := e.StartRun(context.Background(), flow, json.RawMessage(`{"Mode": "`+mode+`"}`), "")
		if err != nil {
			t.Fatal(err)
		}
		var st RunStatus
		waitFor(t, mode+" run to end", func() bool {
			st, _ = e.Status(context.Background(), id)
			return st.State.Terminal()
		})
		h, _ := e.History(context.Background(), id)
		return st, h
	}
	shipAttempts := func(h []runtime.Event) (n int, last string) {
		for _, ev := range h {
			if ev.From == "Ship:running" && ev.Outcome != "" {
				n++
				last = ev.Error
			}
		}
		return n, last
	}

	st, _ := run("ok")
	if st.State != runtime.StateDone || !strings.Contains(string(st.Snapshot), `"Shipped":true`) {
		t.Fatalf("ok: %s %s", st.State, st.Snapshot)
	}
	// The calls, member by member, as the page shows them.
	deadline := regexp.MustCompile(`^"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z"$`)
	mu.Lock()
	for _, c := range calls {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(c.body, &m); err != nil {
			t.Fatalf("a call is not a JSON object: %s", c.body)
		}
		want := []string{"version", "run_id", "flow", "step", "handler", "idempotency_key", "attempt", "deadline", "state"}
		for _, k := range want {
			if _, ok := m[k]; !ok {
				t.Errorf("a call lacks %q: %s", k, c.body)
			}
		}
		for k := range m {
			if !slices.Contains(want, k) {
				t.Errorf("a call of a step has a member the page does not name: %q in %s", k, c.body)
			}
		}
		var key string
		_ = json.Unmarshal(m["idempotency_key"], &key)
		if c.header.Get("Idempotency-Key") != key || c.header.Get("Content-Type") != "application/json" ||
			string(m["version"]) != "1" || string(m["attempt"]) != "1" || !deadline.Match(m["deadline"]) ||
			!strings.HasPrefix(string(m["state"]), "{") {
			t.Errorf("call headers %v, body %s", c.header, c.body)
		}
	}
	calls = nil
	mu.Unlock()

	// Named outcome: routed to fail, Ship undone through Unship, whose
	// call says rollback and names the step it undoes.
	if st, _ := run("lost"); st.State != runtime.StateCompensated {
		t.Errorf("lost: %s, want compensated", st.State)
	}
	mu.Lock()
	var rb map[string]json.RawMessage
	for _, c := range calls {
		if strings.Contains(string(c.body), `"rollback":true`) {
			_ = json.Unmarshal(c.body, &rb)
		}
	}
	calls = nil
	mu.Unlock()
	if string(rb["step"]) != `"Ship"` || string(rb["handler"]) != `"Unship"` || !strings.HasSuffix(string(rb["idempotency_key"]), `/rollback"`) {
		t.Errorf("the rollback's call: %v", rb)
	}

	for _, tc := range []struct {
		mode     string
		attempts int
		err      string
	}{
		{"unknown", 1, `unknown outcome "misrouted"`},
		{"array", 1, "state is not a JSON object"},
		{"string", 1, "state is not a JSON object"},
		{"number", 1, "state is not a JSON object"},
		{"broken", 1, "the answer is not a provider response"},
		{"typed", 1, "the answer is not a provider response"},
		{"empty", 1, "the answer is not a provider response"},
		{"member", 1, `unknown member "retry_after"`},
		{"huge", 1, "larger than"},
		{"permanent", 1, `provider "parcels", handler "Parcel.Ship": no such parcel`},
		{"status", 1, "HTTP 202"},
		{"retryable", 2, "ledger busy"},
		{"unavailable", 2, "HTTP 503"},
		{"slow", 2, "runtime: timeout after 100ms"},
		{"errstring", 1, "the answer is not a provider response"},
		{"longoutcome", 1, "outcome \"oooooooooooooooooooooooooooooooo\"... is 129 bytes long, longer than 128"},
		{"longerror", 1, strings.Repeat("é", MaxProviderErrorBytes/2) + "..."},
		{"errempty", 2, `handler "Parcel.Ship": an error without a message`},
	} {
		st, h := run(tc.mode)
		if n, last := shipAttempts(h); st.State != runtime.StateFailed || n != tc.attempts || !strings.Contains(last, tc.err) {
			t.Errorf("%s: %s after %d attempts (%q), want failed after %d with %q", tc.mode, st.State, n, last, tc.attempts, tc.err)
		}
	}

	// Renew, then withdraw: the page's status codes.
	if status, out := do("POST", "/providers/parcels/renew?replica=r1", ""); status != http.StatusOK || strings.Contains(string(out), "call_token") || strings.Contains(string(out), "handlers") {
		t.Errorf("renew: %d %s, want 200, the lease without its handlers or call token", status, out)
	}
	if status, out := do("DELETE", "/providers/parcels?replica=r1", ""); status != http.StatusNoContent {
		t.Errorf("withdraw: %d %s", status, out)
	}
	if status, out := do("POST", "/providers/parcels/renew?replica=r1", ""); status != http.StatusNotFound {
		t.Errorf("renew after withdrawal: %d %s, want 404", status, out)
	}
}
