package engine

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/flowgen/flowgen/engine/httpcall"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

func nested(depth int) string {
	return strings.Repeat("[", depth) + strings.Repeat("]", depth)
}

// jsonDepthCases are TestJSONUnfitDepth's documents, and FuzzJSONUnfit's
// seeds.
var jsonDepthCases = []struct {
	doc  string
	deep bool
}{
	{`{"a":` + nested(MaxJSONDepth-1) + `}`, false},
	{`{"a":` + nested(MaxJSONDepth) + `}`, true},
	{`"` + strings.Repeat("[", 2*MaxJSONDepth) + `"`, false},                // brackets in a string
	{`{"a\"[[":"\\",` + `"b":` + nested(MaxJSONDepth-1) + `}`, false},       // escapes
	{`[{"x":"\\\"{"}` + strings.Repeat(`,{}`, 3*MaxJSONDepth) + `]`, false}, // wide, not deep
}

func TestJSONUnfitDepth(t *testing.T) {
	for _, c := range jsonDepthCases {
		if got := jsonUnfit([]byte(c.doc)) != nil; got != c.deep {
			t.Errorf("%.40s...: too deep %v, want %v", c.doc, got, c.deep)
		}
	}
}

// A payload or a state nested deeper than MaxJSONDepth is refused before
// anything changes (a run's state holding it could no longer be
// recorded: the run would stop, stuck), and one that comes from the
// broker for an await is dead-lettered while the run goes on waiting.
func TestDeepJSONRefused(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	id, cust := startSignup(t, e, "ann")
	deep := `{"correlation_id":"` + cust + `","d":` + nested(9998) + `}`
	if _, err := e.PublishEvent(context.Background(), Message{ID: "deep", Topic: "payments", Event: "payment.succeeded", Payload: json.RawMessage(deep)}); !errors.Is(err, ErrBadState) {
		t.Fatalf("PublishEvent of a payload 9,999 levels deep: %v, want ErrBadState", err)
	}
	if _, err := e.StartRun(context.Background(), "Signup", json.RawMessage(`{"Customer":`+nested(2000)+`}`), "deep-state"); !errors.Is(err, ErrBadState) {
		t.Fatalf("StartRun with a state 2,001 levels deep: %v, want ErrBadState", err)
	}
	if _, ok := fx.st.Get("deep-state"); ok {
		t.Fatal("the refused start recorded its run")
	}
	// From the broker: dead-lettered; the run waits on and takes the next.
	publish(t, fx.broker, "deep", "payments", "payment.succeeded", json.RawMessage(deep))
	waitFor(t, "the deep payload dead-lettered", func() bool {
		ms, _ := fx.st.(*store.Memory).Messages(store.MessageFilter{State: store.MessageDead})
		return len(ms) == 1 && strings.Contains(ms[0].Reason, "nested more than")
	})
	if st, _ := e.Status(context.Background(), id); st.State != runtime.StateWaiting {
		t.Fatalf("after the deep payload: %s, want waiting", st.State)
	}
	publish(t, fx.broker, "paid", "payments", "payment.succeeded", map[string]any{"correlation_id": cust, "amount": 3})
	waitFor(t, "run done", func() bool { return runState(fx, id) == runtime.StateDone })
}

// JSON the engine takes in is UTF-8 and holds no number beyond a
// float64's range; the refusal says where. What escapes, non-ASCII text
// and large but finite numbers make is taken.
// jsonUnfitCases are TestJSONUnfit's documents, and FuzzJSONUnfit's
// seeds.
var jsonUnfitCases = []struct{ doc, want string }{
	{`{"s":"\u00e9\ud83d\ude00\"1e999"}`, ""}, // escapes; a number in a string
	{`{"s":"josé 日本 😀"}`, ""},
	{`{"n":1e308,"m":-1.7976931348623157E308,"k":[1e-999,0.5e+3]}`, ""},
	{`{"n":` + strings.Repeat("9", 308) + `}`, ""},
	{`{"n":0.` + strings.Repeat("1", 400) + `}`, ""},
	{"{\"s\":\"\xff\"}", "invalid UTF-8 at byte offset 6"},
	{"{\"s\":\"é\xe9\"}", "invalid UTF-8 at byte offset 8"},
	{"{\"s\":\"\xed\xa0\x80\"}", "invalid UTF-8 at byte offset 6"}, // a surrogate, encoded
	{`{"n":1e999}`, "the number 1e999 at byte offset 5 is out of the range of a float64"},
	{`[true,-1E+309]`, "the number -1E+309 at byte offset 6"},
	{`{"n":` + strings.Repeat("9", 309) + `}`, "the number " + strings.Repeat("9", 40) + "... at byte offset 5"},
}

func TestJSONUnfit(t *testing.T) {
	for _, c := range jsonUnfitCases {
		err := jsonUnfit([]byte(c.doc))
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%.50q: %v, want %q", c.doc, err, c.want)
		}
	}
}

// A start or an event whose JSON is not UTF-8, or holds a number no
// float64 holds, is refused (400, saying what and where) and changes
// nothing: GET /runs/{id} would give back bytes a strict client cannot
// read, or a number that fails whatever decodes it later. From the
// broker, such an awaited event is dead-lettered and the run waits on.
// Non-ASCII text, escapes and 1e308 are taken and given back as sent.
func TestUnfitJSONRefused(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	srv := httptestServer(t, e)
	id, cust := startSignup(t, e, "ann")
	for _, c := range []struct{ path, body, says string }{
		{"/flows/Signup/runs?run_id=bad-utf8", "{\"Customer\":{\"Email\":\"\xff\"}}", "the state: invalid UTF-8 at byte offset 22"},
		{"/rpc/Signup.Start?run_id=bad-number", `{"Customer":{"Email":"a","N":1e999}}`, "the state: the number 1e999 at byte offset 29 is out of the range of a float64"},
		{"/events/payments/payment.succeeded?id=bad-utf8", "{\"correlation_id\":\"" + cust + "\",\"n\":\"\xc3\"}", "the payload: invalid UTF-8"},
		{"/events/payments/payment.succeeded?id=bad-number", `{"correlation_id":"` + cust + `","amount":-2e400}`, "the payload: the number -2e400"},
	} {
		status, _, out := send(t, srv, "POST", c.path, "", "application/json", c.body)
		if status != 400 || !strings.Contains(out, c.says) {
			t.Errorf("POST %s: %d %s, want 400 saying %q", c.path, status, out, c.says)
		}
	}
	for _, run := range []string{"bad-utf8", "bad-number"} {
		if _, ok := fx.st.Get(run); ok {
			t.Errorf("the refused start recorded run %s", run)
		}
	}
	if ms, _ := fx.st.(*store.Memory).Messages(store.MessageFilter{}); len(ms) != 0 {
		t.Errorf("the refused events left messages: %+v", ms)
	}
	if st, _ := e.Status(context.Background(), id); st.State != runtime.StateWaiting {
		t.Fatalf("after the refused events: %s, want waiting", st.State)
	}
	// From the broker: dead-lettered.
	for _, m := range []Message{
		{ID: "b-utf8", Payload: json.RawMessage("{\"correlation_id\":\"" + cust + "\",\"n\":\"\xc3\"}")},
		{ID: "b-number", Payload: json.RawMessage(`{"correlation_id":"` + cust + `","amount":1e999}`)},
	} {
		m.Topic, m.Event = "payments", "payment.succeeded"
		if err := fx.broker.Publish(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the payloads dead-lettered", func() bool {
		ms, _ := fx.st.(*store.Memory).Messages(store.MessageFilter{State: store.MessageDead})
		return len(ms) == 2
	})
	ms, _ := fx.st.(*store.Memory).Messages(store.MessageFilter{State: store.MessageDead})
	if r := ms[0].Reason + " | " + ms[1].Reason; !strings.Contains(r, "invalid UTF-8 at byte offset") || !strings.Contains(r, "the number 1e999") {
		t.Errorf("dead-letter reasons: %s", r)
	}
	if st, _ := e.Status(context.Background(), id); st.State != runtime.StateWaiting {
		t.Fatalf("after the dead-lettered events: %s, want waiting", st.State)
	}
	// Listed as text: the answer stays UTF-8.
	if status, _, out := send(t, srv, "GET", "/deadletters", "", "", ""); status != 200 || !utf8.ValidString(out) || !strings.Contains(out, `"payload_text":"{\"correlation_id\":\"`+cust+`\",\"n\":\"\ufffd\"}"`) ||
		!strings.Contains(out, `"payload_text":"{\"correlation_id\":\"`+cust+`\",\"amount\":1e999}"`) {
		t.Errorf("GET /deadletters: %d %q", status, out)
	}
	// Taken, and given back as sent.
	const fine = `{"correlation_id":"CUST","amount":1e308,"note":"josé 日本 \u00e9\ud83d\ude00"}`
	payload := strings.Replace(fine, "CUST", cust, 1)
	if status, _, out := send(t, srv, "POST", "/events/payments/payment.succeeded?id=fine", "", "application/json", payload); status != 202 {
		t.Fatalf("a fine payload: %d %s", status, out)
	}
	waitFor(t, "run done", func() bool { return runState(fx, id) == runtime.StateDone })
	status, _, out := send(t, srv, "GET", "/runs/"+id, "", "", "")
	if status != 200 || !utf8.ValidString(out) || !strings.Contains(out, `"note":"josé 日本 \u00e9\ud83d\ude00"`) || !strings.Contains(out, `"amount":1e308`) {
		t.Errorf("GET /runs/%s: %d %s", id, status, out)
	}
}

// An rpc's response that is not UTF-8, or holds a number out of a
// float64's range, fails the attempt for good, as one that is not JSON
// does: the run's state could not hold it.
func TestRPCResponseUnfit(t *testing.T) {
	for _, c := range []struct{ body, says string }{
		{"{\"id\":\"\xff\"}", `response of customers Customer.Create: state field "Out": invalid UTF-8 at byte offset 7`},
		{`{"id":1e999}`, `response of customers Customer.Create: state field "Out": the number 1e999 at byte offset 6`},
	} {
		var calls atomic.Int64
		svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			_, _ = w.Write([]byte(c.body))
		}))
		e, err := New(Options{Store: store.NewMemory(), Caller: httpcall.New(httpcall.Static{"customers": svc.URL})})
		if err != nil {
			t.Fatal(err)
		}
		doc := `{"version": 1, "flows": [{"name": "F", "state": "S", "retry": {"attempts": 3, "initial": "1ms", "max": "1ms"}, "steps": [
		  {"name": "A", "action": {"kind": "rpc", "service": "customers", "endpoint": "Customer.Create", "response": "Out"}, "irreversible": true}]}]}`
		if ds, err := e.LoadFlows("f.json", []byte(doc)); err != nil {
			t.Fatal(err, ds)
		}
		if err := e.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		id, err := e.StartRun(t.Context(), "F", nil, "")
		if err != nil {
			t.Fatal(err)
		}
		var st RunStatus
		waitFor(t, "the run to end", func() bool {
			st, _ = e.Status(context.Background(), id)
			return st.State.Terminal()
		})
		_ = e.Close(t.Context())
		svc.Close()
		if st.State != runtime.StateFailed || calls.Load() != 1 || !strings.Contains(st.Err, c.says) {
			t.Errorf("%q: run %s after %d calls, error %q, want failed after 1 saying %q", c.body, st.State, calls.Load(), st.Err, c.says)
		}
	}
}

// BenchmarkJSONUnfit measures the check every start body, event payload
// and rpc response pays beside json.Valid, which it follows: a typical
// 200-byte start body and a 64 KiB one, numbers and non-ASCII text in
// both.
func BenchmarkJSONUnfit(b *testing.B) {
	small := []byte(`{"Customer":{"Email":"josé@example.com","Name":"José Müller","Plan":"pro-monthly"},"Amount":129.95,"Seats":12,"Coupon":null,"Tags":["new","eu"],"At":"2026-01-15T09:00:10Z"}`)
	var big []byte
	big = append(big, '[')
	for len(big) < 64<<10 {
		if len(big) > 1 {
			big = append(big, ',')
		}
		big = append(big, small...)
	}
	big = append(big, ']')
	for _, c := range []struct {
		name string
		doc  []byte
	}{{"200B", small}, {"64KiB", big}} {
		if jsonUnfit(c.doc) != nil || !json.Valid(c.doc) {
			b.Fatalf("%s: not fit", c.name)
		}
		b.Run(c.name+"/jsonUnfit", func(b *testing.B) {
			b.SetBytes(int64(len(c.doc)))
			for b.Loop() {
				_ = jsonUnfit(c.doc)
			}
		})
		b.Run(c.name+"/json.Valid", func(b *testing.B) {
			b.SetBytes(int64(len(c.doc)))
			for b.Loop() {
				_ = json.Valid(c.doc)
			}
		})
	}
}
