package natsbus

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// Messages another client publishes to a trigger's and an await's subject
// that no run can take (a payload that is not JSON, not UTF-8) are
// dead-lettered, each once; so are those of an ID POST /events would
// refuse (an ID header of 60 KB, one with control bytes, a Nats-Msg-Id with
// a space), under a digest of their ID (no run derives its ID from theirs,
// and the store keeps no more of it); odd ones a run can take (no ID, an
// empty payload) are taken; and the events after them all flow.
func TestPoisonMessagesDeadLettered(t *testing.T) {
	s := startServer(t, t.TempDir())
	b := connect(t, s)
	e, st := trigWaitEngine(t, b, "p")
	if _, err := e.StartRun(context.Background(), "Wait", json.RawMessage(`{"Key":"k"}`), "w1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "run parked", func() bool { return e.Parked() == 1 })

	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	raw := func(subject, id string, data string) {
		t.Helper()
		m := nats.NewMsg(subject)
		m.Data = []byte(data)
		if msgID, ok := strings.CutPrefix(id, "nats:"); ok {
			m.Header.Set(jetstream.MsgIDHeader, msgID)
		} else if id != "" {
			m.Header.Set(idHeader, id)
		}
		if _, err := js.PublishMsg(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	for _, sub := range []string{b.Subject("t", "start"), b.Subject("t", "go")} {
		raw(sub, "bad-json", "{not json")
		raw(sub, strings.Repeat("x", 60_000), `{"Key":"big"}`)
		raw(sub, "ctl\x00\n\x1b", `{"Key":"ctl"}`)
		raw(sub, "nats:a b "+sub, `{"Key":"space"}`) // JetStream drops a Nats-Msg-Id it has
		raw(sub, "", "")
		raw(sub, "bin", "\xff\xfe")
	}
	if err := b.Publish(context.Background(), engine.Message{ID: "good", Topic: "t", Event: "start", Payload: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(context.Background(), engine.Message{ID: "good", Topic: "t", Event: "go", Payload: json.RawMessage(`{"correlation_id":"k"}`)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the good trigger event's run", func() bool {
		info, ok := st.Get(engine.EventRunID("Trig", "t", "start", "good"))
		return ok && info.State == runtime.StateDone
	})
	waitFor(t, "the awaited event applied", func() bool {
		info, ok := st.Get("w1")
		return ok && info.State == runtime.StateDone
	})
	dls, err := e.DeadLetters("", "")
	if err != nil {
		t.Fatal(err)
	}
	dead := map[string]int{}
	for _, d := range dls {
		dead[d.Event+" "+d.ID]++
	}
	for _, ev := range []string{"start", "go"} {
		for _, id := range []string{"bad-json", "bin"} {
			if dead[ev+" "+id] != 1 {
				t.Errorf("%s %s dead-lettered %d times, want once (dead letters: %v)", ev, id, dead[ev+" "+id], dead)
			}
		}
	}
	for _, d := range dls {
		if len(d.ID) > engine.MaxKeyLen || strings.ContainsAny(d.ID, "\x00\n\x1b ") {
			t.Errorf("a dead letter kept under ID %.40q", d.ID)
		}
	}
	badIDs := 0
	for _, d := range dls {
		if strings.HasPrefix(d.ID, "invalid-id:") && strings.Contains(d.Reason, "message ID") {
			badIDs++
		}
	}
	if badIDs != 6 {
		t.Errorf("%d dead letters of IDs out of the limits, want 6 (3 on each subject): %v", badIDs, dls)
	}
	if len(dls) != 10 {
		t.Errorf("%d dead letters, want 10: %v", len(dls), dead)
	}
}

// trigWaitEngine starts an engine of ID id on b and a store of its own with the Trig
// (triggerFlow) and Wait (waitFlow) flows, their Go steps doing nothing;
// both are closed when the test ends.
func trigWaitEngine(t *testing.T, b *Broker, id string) (*engine.Engine, *store.Store) {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e, err := engine.New(engine.Options{Store: st, Broker: b, ID: id})
	if err != nil {
		t.Fatal(err)
	}
	e.Registry().Step("Work", func(context.Context, *engine.State) (string, error) { return "", nil })
	e.Registry().Step("After", func(context.Context, *engine.State) (string, error) { return "", nil })
	for name, f := range map[string]string{"trig.json": triggerFlow, "wait.json": waitFlow} {
		if ds, err := e.LoadFlows(name, []byte(f)); err != nil {
			t.Fatal(err, ds)
		}
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e, st
}
