package engine

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

func nested(depth int) string {
	return strings.Repeat("[", depth) + strings.Repeat("]", depth)
}

func TestJSONTooDeep(t *testing.T) {
	for _, c := range []struct {
		doc  string
		deep bool
	}{
		{`{"a":` + nested(MaxJSONDepth-1) + `}`, false},
		{`{"a":` + nested(MaxJSONDepth) + `}`, true},
		{`"` + strings.Repeat("[", 2*MaxJSONDepth) + `"`, false},                // brackets in a string
		{`{"a\"[[":"\\",` + `"b":` + nested(MaxJSONDepth-1) + `}`, false},       // escapes
		{`[{"x":"\\\"{"}` + strings.Repeat(`,{}`, 3*MaxJSONDepth) + `]`, false}, // wide, not deep
	} {
		if got := jsonTooDeep([]byte(c.doc)) != nil; got != c.deep {
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
	if st, _ := e.Status(id); st.State != runtime.StateWaiting {
		t.Fatalf("after the deep payload: %s, want waiting", st.State)
	}
	publish(t, fx.broker, "paid", "payments", "payment.succeeded", map[string]any{"correlation_id": cust, "amount": 3})
	waitFor(t, "run done", func() bool { return runState(fx, id) == runtime.StateDone })
}
