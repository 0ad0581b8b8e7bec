package engine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// A start of a generated flow (its state a Go struct) is refused, 400 and
// nothing stored, when its body names a member the state type does not
// have as written: encoding/json alone would drop {"ordr_id": ...} and
// read {"Order_ID": ...} as order_id, and the client would get 201 and a
// run with an empty field, or one it did not mean. The rule is the
// provider protocol's (provider.DecodeStrict). An event's payload is not
// held to it: other services publish it, with members of their own.
func TestTypedStartRefusesUnknownMembers(t *testing.T) {
	st := store.NewMemory()
	e := startGenEngine(t, Options{Store: st, Broker: NewMemoryBroker()}, &ledger{}, 0, OnEvent("orders", "order.placed"))
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()

	post := func(path, body string) (int, string) {
		t.Helper()
		res, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, c := range []struct{ body, says string }{
		{`{"ordr_id": "o1"}`, `unknown member \"ordr_id\"`},
		{`{"order_id": "o1", "payment": {"amnt": 3}}`, `payment: unknown member \"amnt\"`},
		{`{"Order_ID": "o1"}`, `unknown member \"Order_ID\" (names are case-sensitive)`},
		{`{"order_id": "o1", "payment": {"Amount": 3}}`, `payment: unknown member \"Amount\"`},
		{`{"order_id": "o1", "order_id": "o2"}`, `member \"order_id\" given twice`},
		{`[1]`, `not a JSON object`},
		// Not JSON: where, for StartRun as for a POST.
		{`{"order_id": "o1",}`, `invalid JSON at line 1, column 19`},
	} {
		for _, path := range []string{"/rpc/GenOrder.Start", "/flows/GenOrder/runs?run_id=r1"} {
			code, body := post(path, c.body)
			if code != http.StatusBadRequest || !strings.Contains(body, `the state of flow \"GenOrder\"`) || !strings.Contains(body, c.says) {
				t.Errorf("POST %s %s: %d %s, want 400 saying %s", path, c.body, code, body, c.says)
			}
		}
		if _, err := e.StartRun(context.Background(), "GenOrder", json.RawMessage(c.body), ""); !errors.Is(err, ErrBadState) || !strings.Contains(err.Error(), strings.ReplaceAll(c.says, `\"`, `"`)) {
			t.Errorf("StartRun(%s): %v, want ErrBadState saying %s", c.body, err, c.says)
		}
	}
	// A member's name is the caller's text, as long as the body: the
	// answer quotes its start (snippet.BodyBytes). Before, the 400 of
	// {"mmm...": 1} was 200 KB long.
	long := strings.Repeat("m", 200000)
	// (A member misspelt by case before it, `{"Order_ID": ..., "Payment":
	// {"mmm...": 3}}`, is the one the error names: the first in the body.)
	for _, body := range []string{`{"` + long + `": "o1"}`, `{"order_id": "o1", "payment": {"` + long + `": 3}}`} {
		if code, answer := post("/rpc/GenOrder.Start", body); code != http.StatusBadRequest || len(answer) > 1000 || !strings.Contains(answer, "mmm") {
			t.Errorf("POST a member name of 200 KB: %d, %d bytes: %.300s", code, len(answer), answer)
		}
	}
	if n := countRuns(t, st, "GenOrder"); n != 0 {
		t.Fatalf("%d runs stored after refused starts", n)
	}

	// What the state type names, as written, starts; so do an empty body
	// and null, the zero state.
	for _, body := range []string{`{"order_id": "o1", "payment": {"amount": 3}}`, ``, `null`} {
		if code, answer := post("/rpc/GenOrder.Start", body); code != http.StatusCreated {
			t.Errorf("POST %q: %d %s, want 201", body, code, answer)
		}
	}
	code, answer := post("/events/orders/order.placed?id=m1", `{"order_id": "e1", "channel": "web"}`)
	if code != http.StatusAccepted {
		t.Fatalf("POST /events with a member of the publisher's own: %d %s, want 202", code, answer)
	}
	if s, _ := orderState(t, e, EventRunID("GenOrder", "orders", "order.placed", "m1")); s.OrderID != "e1" {
		t.Errorf("the event's run has order_id %q, want e1", s.OrderID)
	}
	if n := countRuns(t, st, "GenOrder"); n != 4 {
		t.Errorf("%d runs stored, want 4", n)
	}
}

type startCommon struct {
	ID string `json:"id"`
}

type startEmbedding struct {
	startCommon
	Name string `json:"name"`
}

// A state type that embeds a struct has its members as its own, as
// encoding/json decodes them: a start names them as such ({"id": ...}),
// and the case rule holds for them too.
func TestTypedStartTakesEmbeddedMembers(t *testing.T) {
	ty := &typed[startEmbedding]{f: runtime.New[startEmbedding]("Embedding")}
	if err := ty.checkStart(json.RawMessage(`{"id": "a", "name": "n"}`)); err != nil {
		t.Errorf("a start naming an embedded struct's member: %v", err)
	}
	if err := ty.checkStart(json.RawMessage(`{"ID": "a"}`)); !errors.Is(err, ErrBadState) || !strings.Contains(err.Error(), `unknown member "ID"`) {
		t.Errorf("a start naming it in another case: %v, want ErrBadState", err)
	}
}
