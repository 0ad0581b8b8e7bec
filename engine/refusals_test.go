package engine

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime/store"
)

// A 4xx changes nothing (docs/engine.md, the HTTP/JSON API): every refusal
// of the write routes (PUT /flows, a start, POST /events, an abort), for
// each reason the docs give, leaves the store (runs, their events, the
// inbox, abort requests), the flows registered and the flows directory
// (its files and their bytes) as they were. Multi-flow documents of which
// one flow is valid are among them: a document is loaded whole or not at
// all.
func TestWriteRefusalsChangeNothing(t *testing.T) {
	fx := newFixture(t)
	dir := t.TempDir()
	auth := newTokenAuth(t, "admin "+adminToken+"\nclient "+clientToken+"\nprovider "+providerToken+"\n")
	e, err := New(Options{Store: fx.st, Broker: fx.broker, Caller: fx.caller, ID: fx.id, Authorizer: auth, FlowsDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	e.Provide(signupHandlers(fx.effects))
	for name, doc := range map[string][]byte{"signup.json": readTestdata(t, "signup.json"), "hello.json": []byte(helloFlow)} {
		if ds, err := e.LoadFlows(name, doc); err != nil {
			t.Fatalf("load %s: %v\n%v", name, err, ds)
		}
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	fx.e = e
	defer fx.stop()
	srv := httptestServer(t, e)
	req := func(method, path, token, ctype, body string, header ...string) (int, string) {
		t.Helper()
		status, _, b := send(t, srv, method, path, token, ctype, body, header...)
		return status, b
	}
	const js = "application/json"
	// What the refusals are refused against: a waiting run, finished ones
	// started with an Idempotency-Key and a run_id, an event in the inbox.
	waiting, _ := startSignup(t, e, "ada")
	status, body := req("POST", "/flows/Hello/runs", clientToken, js, `{"n": 1}`, "Idempotency-Key", "key-1")
	if status != 201 {
		t.Fatalf("start Hello: %d %s", status, body)
	}
	if status, body := req("POST", "/flows/Hello/runs?run_id=hello-1", clientToken, js, `{}`); status != 201 {
		t.Fatalf("start Hello: %d %s", status, body)
	}
	done := KeyRunID("Hello", "key-1")
	for _, id := range []string{done, "hello-1"} {
		waitFor(t, "Hello's runs to end", func() bool { info, _ := fx.st.Get(id); return info.State.Terminal() })
	}
	if status, body := req("POST", "/events/payments/payment.succeeded?id=p-1", clientToken, js, `{"correlation_id": "nobody"}`); status != 202 {
		t.Fatalf("post an event: %d %s", status, body)
	}
	snapshot := func() string {
		t.Helper()
		runs, err := e.Runs(context.Background(), store.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		for _, r := range runs {
			h, err := e.History(context.Background(), r.RunID)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(h)
			out.WriteString(r.RunID + " " + string(r.State) + " " + string(b) + "\n")
		}
		b, _ := json.Marshal(inboxOf(t, fx.st.(InboxStore), store.MessageFilter{}))
		out.Write(b)
		if fx.st.AbortRequested(waiting) {
			out.WriteString("\nabort requested")
		}
		for _, f := range e.Flows() {
			src, _ := e.FlowJSON(f.Name)
			out.WriteString("\nflow " + f.Name + " " + string(src))
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, ent := range ents {
			b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out.WriteString("\nfile " + ent.Name() + " " + string(b))
		}
		return out.String()
	}
	before := snapshot()
	newFlow := flowDoc(rpcFlow("Fresh", "Fresh.Start"))
	big := `{"x": "` + strings.Repeat("a", MaxBody) + `"}`
	refused := []struct {
		name, method, path, token, ctype, body string
		header                                 []string
		status                                 int
	}{
		// Access control and the middleware, before any handler.
		{"PUT /flows without a token", "PUT", "/flows", "", js, newFlow, nil, 401},
		{"PUT /flows with an unknown token", "PUT", "/flows", "not-a-token-0123456789", js, newFlow, nil, 401},
		{"PUT /flows as a client", "PUT", "/flows", clientToken, js, newFlow, nil, 403},
		{"POST /flows as a provider", "POST", "/flows", providerToken, js, newFlow, nil, 403},
		{"a start without a token", "POST", "/flows/Hello/runs", "", js, `{}`, nil, 401},
		{"a start as a provider", "POST", "/rpc/Hello.Start", providerToken, js, `{}`, nil, 403},
		{"an event without a token", "POST", "/events/payments/payment.succeeded", "", js, `{}`, nil, 401},
		{"an abort as a client", "POST", "/runs/" + waiting + "/abort", clientToken, js, ``, nil, 403},
		{"PUT /flows as text", "PUT", "/flows", adminToken, "text/plain", newFlow, nil, 415},
		{"a start as a form", "POST", "/flows/Hello/runs", clientToken, "application/x-www-form-urlencoded", `{}`, nil, 415},
		{"an event without a Content-Type", "POST", "/events/payments/payment.succeeded", clientToken, "", `{}`, nil, 415},
		{"an abort without a Content-Type", "POST", "/runs/" + waiting + "/abort", adminToken, "", ``, nil, 415},
		{"PUT /flows with an unknown parameter", "PUT", "/flows?nmae=x.json", adminToken, js, newFlow, nil, 400},
		{"a start with run_id twice", "POST", "/flows/Hello/runs?run_id=a&run_id=b", clientToken, js, `{}`, nil, 400},
		{"an abort with a parameter", "POST", "/runs/" + waiting + "/abort?reason=x", adminToken, js, ``, nil, 400},
		// Bodies over the bound.
		{"PUT /flows too large", "PUT", "/flows", adminToken, js, big, nil, 413},
		{"a start too large", "POST", "/flows/Hello/runs", clientToken, js, big, nil, 413},
		{"an event too large", "POST", "/events/payments/payment.succeeded", clientToken, js, big, nil, 413},
		{"an abort too large", "POST", "/runs/" + waiting + "/abort", adminToken, js, big, nil, 413},
		// PUT /flows: documents refused whole, a valid flow among them.
		{"a valid flow beside one that does not check", "PUT", "/flows", adminToken, js,
			flowDoc(rpcFlow("Fresh", "Fresh.Start"), `{"name": "Broken", "steps": [{"name": "A", "action": {"kind": "go"}, "irreversible": true}]}`), nil, 400},
		{"a valid flow beside one on another's endpoint", "PUT", "/flows", adminToken, js,
			flowDoc(rpcFlow("Fresh", "Fresh.Start"), rpcFlow("Taker", "Hello.Start")), nil, 409},
		{"a valid flow beside a Signup its waiting run does not fit", "PUT", "/flows", adminToken, js,
			flowDoc(rpcFlow("Fresh", "Fresh.Start"), rpcFlow("Signup", "Signup.Start")), nil, 409},
		{"a valid new Hello beside one that does not check", "PUT", "/flows", adminToken, js,
			flowDoc(rpcFlow("Hello", "Hello.Begin"), `{"name": "Broken", "steps": []}`), nil, 400},
		{"PUT /flows with a name too long", "PUT", "/flows?name=" + strings.Repeat("n", MaxNameLen+1), adminToken, js, newFlow, nil, 400},
		// Starts.
		{"a start of an unknown flow", "POST", "/flows/Nope/runs", clientToken, js, `{}`, nil, 404},
		{"a start of an unknown endpoint", "POST", "/rpc/Nope.Start", clientToken, js, `{}`, nil, 404},
		{"a start whose body is not JSON", "POST", "/flows/Hello/runs", clientToken, js, `{"n":`, nil, 400},
		{"a start whose state is not an object", "POST", "/flows/Hello/runs", clientToken, js, `[1]`, nil, 400},
		{"a start with run_id and a key", "POST", "/flows/Hello/runs?run_id=r-9", clientToken, js, `{}`, []string{"Idempotency-Key", "key-9"}, 400},
		{"a start with an empty key", "POST", "/flows/Hello/runs", clientToken, js, `{}`, []string{"Idempotency-Key", ""}, 400},
		{"a start with two keys", "POST", "/flows/Hello/runs", clientToken, js, `{}`, []string{"Idempotency-Key", "key-2", "Idempotency-Key", "key-3"}, 400},
		{"a start with an engine's run ID form", "POST", "/flows/Hello/runs?run_id=" + done, clientToken, js, `{"n": 1}`, nil, 400},
		{"a start with a key reused with another body", "POST", "/rpc/Hello.Start", clientToken, js, `{"n": 2}`, []string{"Idempotency-Key", "key-1"}, 422},
		{"a start with a run ID of the engine's form", "POST", "/flows/Hello/runs?run_id=" + waiting, clientToken, js, `{}`, nil, 400},
		{"a start with another flow's run ID", "POST", "/flows/Signup/runs?run_id=hello-1", clientToken, js, `{}`, nil, 409},
		{"a start with a run ID reused with another body", "POST", "/rpc/Hello.Start?run_id=hello-1", clientToken, js, `{"n": 3}`, nil, 422},
		// Events.
		{"an event whose payload is not JSON", "POST", "/events/payments/payment.succeeded", clientToken, js, `{x`, nil, 400},
		{"an event nested too deep", "POST", "/events/payments/payment.succeeded", clientToken, js, strings.Repeat("[", MaxJSONDepth+1) + strings.Repeat("]", MaxJSONDepth+1), nil, 400},
		{"an event whose ID is reused with another payload", "POST", "/events/payments/payment.succeeded?id=p-1", clientToken, js, `{"correlation_id": "other"}`, nil, 422},
		{"an event whose key and id differ", "POST", "/events/payments/payment.succeeded?id=p-2", clientToken, js, `{}`, []string{"Idempotency-Key", "p-3"}, 400},
		{"an event with an empty id", "POST", "/events/payments/payment.succeeded?id=", clientToken, js, `{}`, nil, 400},
		{"an event of a topic with a control character", "POST", "/events/pay%00ments/x", clientToken, js, `{}`, nil, 400},
		// Aborts.
		{"an abort with a reason", "POST", "/runs/" + waiting + "/abort", adminToken, js, `{"reason": "x"}`, nil, 400},
		{"an abort of an unknown run", "POST", "/runs/nope/abort", adminToken, js, ``, nil, 404},
		{"an abort of a finished run", "POST", "/runs/" + done + "/abort", adminToken, js, ``, nil, 409},
		// Methods and paths.
		{"DELETE /flows", "DELETE", "/flows", adminToken, js, ``, nil, 405},
		{"PATCH a run", "PATCH", "/runs/" + waiting, adminToken, js, `{}`, nil, 405},
		{"a path not clean", "PUT", "//flows", adminToken, js, newFlow, nil, 404},
	}
	for _, tc := range refused {
		status, body := req(tc.method, tc.path, tc.token, tc.ctype, tc.body, tc.header...)
		if status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, status, body, tc.status)
		}
		if after := snapshot(); after != before {
			t.Fatalf("%s: answered %d, and changed\n%s\ninto\n%s", tc.name, status, before, after)
		}
	}
}
