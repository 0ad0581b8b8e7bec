package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// collect consumes name's messages of t/e, returning what stops it and
// the IDs it got so far.
func collect(t *testing.T, b *Broker, name string) (stop func(), ids func() []string) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	stop, err := b.Consume(context.Background(), name, "t", "e", func(_ context.Context, m engine.Message) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, m.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return stop, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), got...) }
}

func publishIDs(t *testing.T, b *Broker, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := b.Publish(context.Background(), engine.Message{ID: id, Topic: "t", Event: "e", Payload: json.RawMessage(`1`)}); err != nil {
			t.Fatal(err)
		}
	}
}

// A consumer created anew (a trigger added to a flow, an engine with a new
// ID) starts at the messages published after it, where it replayed the
// stream's whole past (another consumer's messages still held); a durable
// consumer that exists keeps its place: what was published while it was
// stopped comes to it when it consumes again.
func TestNewConsumerStartsAtNewMessages(t *testing.T) {
	b := connect(t, startServer(t, t.TempDir()))
	ensureConsumer(t, b, "old", "t", "e")
	publishIDs(t, b, "before")
	stop, got := collect(t, b, "new")
	publishIDs(t, b, "after")
	waitFor(t, "the new consumer's message", func() bool { return len(got()) >= 1 })
	stop()
	if ids := got(); strings.Join(ids, " ") != "after" {
		t.Fatalf("a new consumer got %v, want only what was published after it", ids)
	}
	// The existing consumer, never pulled from, gets both.
	stop, got = collect(t, b, "old")
	defer stop()
	waitFor(t, "the existing consumer's messages", func() bool { return len(got()) >= 2 })
	if ids := got(); strings.Join(ids, " ") != "before after" {
		t.Fatalf("an existing consumer got %v, want before and after", ids)
	}
}

// The stream is bounded: interest retention (a message acknowledged by
// every consumer of its subject, or that no consumer's subject matches, is
// not kept), MaxBytes with new messages refused beyond, and MaxAge. A
// stream an older natsbus created without bounds is updated to them, and
// its consumer, which delivers all, keeps its place and its messages.
func TestStreamBounds(t *testing.T) {
	s := startServer(t, t.TempDir())
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	// As the older natsbus made them.
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "FLOWGEN", Subjects: []string{"flowgen.>"}, Duplicates: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	old := &Broker{opts: Options{Prefix: "flowgen"}}
	if _, err := js.CreateConsumer(ctx, "FLOWGEN", jetstream.ConsumerConfig{Durable: consumerName("c", old.Subject("t", "e")),
		FilterSubject: old.Subject("t", "e"), AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"kept", "x"} {
		if _, err := js.Publish(ctx, old.Subject("t", "e"), []byte(`1`), jetstream.WithMsgID(id)); err != nil {
			t.Fatal(err)
		}
	}

	b := connectWith(t, s, Options{MaxBytes: 4096, MaxAge: time.Hour, Redeliver: 10 * time.Millisecond})
	stream, err := js.Stream(ctx, "FLOWGEN")
	if err != nil {
		t.Fatal(err)
	}
	cfg := stream.CachedInfo().Config
	if cfg.Retention != jetstream.InterestPolicy || cfg.Discard != jetstream.DiscardNew || cfg.MaxBytes != 4096 || cfg.MaxAge != time.Hour {
		t.Fatalf("stream %+v, want interest retention, discard new, 4096 bytes, 1h", cfg)
	}
	// Nobody consumes t/other: not kept.
	if err := b.Publish(ctx, engine.Message{ID: "nobody", Topic: "t", Event: "other", Payload: json.RawMessage(`1`)}); err != nil {
		t.Fatal(err)
	}
	// The older consumer still delivers all, from where it stood.
	stop, got := collect(t, b, "c")
	waitFor(t, "the older consumer's messages", func() bool { return len(got()) >= 2 })
	stop()
	if ids := got(); strings.Join(ids, " ") != "kept x" {
		t.Fatalf("older consumer got %v", ids)
	}
	cons, err := js.Consumer(ctx, "FLOWGEN", consumerName("c", b.Subject("t", "e")))
	if err != nil {
		t.Fatal(err)
	}
	if c := cons.CachedInfo().Config; c.DeliverPolicy != jetstream.DeliverAllPolicy || c.InactiveThreshold != time.Hour {
		t.Fatalf("older consumer's config %+v: want deliver all kept, inactive threshold 1h", c)
	}
	waitFor(t, "acknowledged messages released", func() bool {
		info, err := stream.Info(ctx)
		return err == nil && info.State.Msgs == 0
	})
	// Stopped, the consumer holds what is published for it, up to
	// MaxBytes: then publishing fails, and nothing is stored.
	payload := json.RawMessage(`"` + strings.Repeat("x", 500) + `"`)
	var full error
	for i := 0; i < 20 && full == nil; i++ {
		full = b.Publish(ctx, engine.Message{ID: fmt.Sprint("fill-", i), Topic: "t", Event: "e", Payload: payload})
	}
	if full == nil {
		t.Fatal("20 messages of 500 bytes published to a stream of 4096 bytes")
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Bytes > 4096 {
		t.Fatalf("stream holds %d bytes, over its 4096", info.State.Bytes)
	}
}

// A MaxAge shorter than the default duplicate window (2 minutes) makes a
// stream: the window is cut to it. JetStream refuses a window longer than
// MaxAge, and flowgen serve -nats -broker-max-age 1m failed to start
// ("duplicates window can not be larger then max age"). A window given
// longer is still refused, saying so.
func TestShortMaxAgeCutsDuplicateWindow(t *testing.T) {
	s := startServer(t, t.TempDir())
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx := context.Background()
	for _, age := range []time.Duration{MinMaxAge, 30 * time.Second, time.Hour} {
		b, err := New(ctx, nc, Options{MaxAge: age})
		if err != nil {
			t.Fatalf("MaxAge %s: %v", age, err)
		}
		stream, err := b.js.Stream(ctx, "FLOWGEN")
		if err != nil {
			t.Fatal(err)
		}
		if cfg := stream.CachedInfo().Config; cfg.MaxAge != age || cfg.Duplicates != min(age, defaultDuplicates) {
			t.Errorf("MaxAge %s: stream max age %s, duplicate window %s", age, cfg.MaxAge, cfg.Duplicates)
		}
	}
	if _, err := New(ctx, nc, Options{MaxAge: time.Minute, Duplicates: time.Hour}); err == nil || !strings.Contains(err.Error(), "duplicates window") {
		t.Errorf("a duplicate window of 1h for a max age of 1m: %v, want JetStream's refusal", err)
	}
}

// A flow redefined without one of its event triggers (PUT /flows) leaves
// no consumer behind on JetStream (Broker.Forget, as the engine calls
// MemoryBroker.Forget): the old trigger's consumer stayed, holding its
// topic/event's messages in the stream, and a trigger added back later
// started with them all. A redefinition that keeps the trigger keeps its
// consumer.
func TestRedefinedFlowDeletesItsOldTriggerConsumer(t *testing.T) {
	s := startServer(t, t.TempDir())
	b := connect(t, s)
	e, err := engine.New(engine.Options{Store: store.NewMemory(), Broker: b, EventWorkers: 2})
	if err != nil {
		t.Fatal(err)
	}
	e.Registry().Step("Work", func(context.Context, *engine.State) (string, error) { return "", nil })
	flow := func(topic, doc string) []byte {
		return fmt.Appendf(nil, `{"version": 1, "flows": [{"name": "A", "doc": %q,
  "triggers": [{"kind": "event", "topic": %q, "event": "e"}],
  "steps": [{"name": "Work", "action": {"kind": "go"}, "irreversible": true}]}]}`, doc, topic)
	}
	load := func(src []byte) {
		t.Helper()
		if ds, err := e.LoadFlows("a.json", src); err != nil {
			t.Fatal(err, ds)
		}
	}
	exists := func(topic string) bool {
		_, err := b.js.Consumer(context.Background(), "FLOWGEN", consumerName("trigger-A", b.Subject(topic, "e")))
		if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	load(flow("old", "v1"))
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		e.Close(ctx)
	}()
	load(flow("old", "v2"))
	if !exists("old") {
		t.Fatal("the trigger kept by the redefinition lost its consumer")
	}
	load(flow("new", "v3"))
	if exists("old") {
		t.Fatal("the trigger A no longer has kept its consumer")
	}
	if !exists("new") {
		t.Fatal("the new trigger has no consumer")
	}
	// Nothing is kept for the old trigger.
	if err := b.Publish(context.Background(), engine.Message{ID: "late", Topic: "old", Event: "e", Payload: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	stream, _ := b.js.Stream(context.Background(), "FLOWGEN")
	info, err := stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Fatalf("stream holds %d messages after the trigger was removed", info.State.Msgs)
	}
}

// An event posted onto a full stream is refused as the in-process broker
// refuses it (engine.ErrBrokerFull, POST /events 502) and changes nothing:
// no run started, nothing stored, so the same event posted again once there
// is room starts its run. natsbus returned JetStream's raw "maximum bytes
// exceeded", which was no ErrBrokerFull.
func TestFullStreamRefusesEvent(t *testing.T) {
	s := startServer(t, t.TempDir())
	b := connectWith(t, s, Options{MaxBytes: 4096, Redeliver: 10 * time.Millisecond})
	// A consumer nobody pulls from holds what is published on t/e.
	ensureConsumer(t, b, "idle", "t", "e")
	e, err := engine.New(engine.Options{Store: store.NewMemory(), Broker: b, EventWorkers: 2})
	if err != nil {
		t.Fatal(err)
	}
	e.Registry().Step("Work", func(context.Context, *engine.State) (string, error) { return "", nil })
	if ds, err := e.LoadFlows("a.json", []byte(`{"version": 1, "flows": [{"name": "A",
  "triggers": [{"kind": "event", "topic": "t", "event": "e"}],
  "steps": [{"name": "Work", "action": {"kind": "go"}, "irreversible": true}]}]}`)); err != nil {
		t.Fatal(err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		e.Close(ctx)
	}()
	h := e.Handler()
	payload := `{"x": "` + strings.Repeat("x", 500) + `"}`
	post := func(id string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/events/t/e", strings.NewReader(payload))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Idempotency-Key", id)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	var refused string
	for i := 0; i < 20 && refused == ""; i++ {
		id := fmt.Sprint("ev-", i)
		switch w := post(id); w.Code {
		case http.StatusAccepted:
		case http.StatusBadGateway:
			if !strings.Contains(w.Body.String(), engine.ErrBrokerFull.Error()) {
				t.Fatalf("502 %s: want the broker full (engine.ErrBrokerFull)", w.Body)
			}
			refused = id
		default:
			t.Fatalf("POST /events: %d %s", w.Code, w.Body)
		}
	}
	if refused == "" {
		t.Fatal("20 events of 500 bytes accepted by a stream of 4096 bytes")
	}
	_, err = e.PublishEvent(context.Background(), engine.Message{ID: refused, Topic: "t", Event: "e", Payload: json.RawMessage(payload)})
	if !errors.Is(err, engine.ErrBrokerFull) || !errors.Is(err, engine.ErrPublish) {
		t.Fatalf("PublishEvent onto a full stream: %v, want ErrBrokerFull and ErrPublish", err)
	}
	run := engine.EventRunID("A", "t", "e", refused)
	if _, err := e.Status(context.Background(), run); !errors.Is(err, runtime.ErrUnknownRun) {
		t.Fatalf("the refused event's run: %v, want none", err)
	}
	// Room again (the idle consumer gone, its messages with it): the same
	// event is stored and starts its run.
	b.Forget("idle", "t", "e")
	if w := post(refused); w.Code != http.StatusAccepted {
		t.Fatalf("the refused event posted again: %d %s", w.Code, w.Body)
	}
	if _, err := e.Status(context.Background(), run); err != nil {
		t.Fatalf("the refused event posted again started no run: %v", err)
	}
}

// triggerEngine starts an engine of ID id on its own connection (another
// serve process, which needs an ID of its own) and store, with flow A's
// definition src.
func triggerEngine(t *testing.T, b *Broker, id, src string) *engine.Engine {
	t.Helper()
	e, err := engine.New(engine.Options{Store: store.NewMemory(), Broker: b, ID: id, EventWorkers: 2})
	if err != nil {
		t.Fatal(err)
	}
	e.Registry().Step("Work", func(context.Context, *engine.State) (string, error) { return "", nil })
	if ds, err := e.LoadFlows("a.json", []byte(src)); err != nil {
		t.Fatal(err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		e.Close(ctx)
	})
	return e
}

func flowA(topic, doc string) string {
	return fmt.Sprintf(`{"version": 1, "flows": [{"name": "A", "doc": %q,
  "triggers": [{"kind": "event", "topic": %q, "event": "e"}],
  "steps": [{"name": "Work", "action": {"kind": "go"}, "irreversible": true}]}]}`, doc, topic)
}

// Two engines on one stream, each with its own connection and store (two
// serve processes), both with flow A triggered by t/e. One is redefined
// without the trigger and deletes its consumer (Forget); the other still
// consumes it, and creates it again: its events still start its runs.
// Before, its pull requests failed for good (logged) and every event of
// its trigger was lost to it until it was redefined too.
//
// The other engine's creations are refused at first, as JetStream refuses
// one that reaches it while it is still deleting the consumer (closed,
// not yet removed from its stream: "consumer does not exist"; or its
// files being removed: "error creating store for consumer"): a pull
// loop's look-up and creation race the deletion whose answer (409
// Consumer Deleted) woke it, about 1 in 300 on an idle machine. This test
// waited for any log line with "created again", which the warning that
// the creation failed has too ("could not be created again"), then read
// the consumer once: under CI's load, it was not there yet. It is created
// at the loop's next failed pull request once JetStream accepts it.
func TestForgetByAnotherEngineKeepsTriggerConsumed(t *testing.T) {
	s := startServer(t, t.TempDir())
	var logs logtest.Buffer
	one := triggerEngine(t, connect(t, s), "one", flowA("t", "v1"))
	two := connectWith(t, s, Options{Redeliver: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	deleting := &refuseCreate{JetStream: two.js}
	two.js = deleting
	other := triggerEngine(t, two, "other", flowA("t", "v1"))
	durable := consumerName("trigger-A", two.Subject("t", "e"))
	deleting.refuse.Store(true)
	if ds, err := one.LoadFlows("a.json", []byte(flowA("u", "v2"))); err != nil {
		t.Fatal(err, ds)
	}
	waitFor(t, "the refused creation's warning", func() bool {
		return strings.Contains(logs.String(), "could not be created again")
	})
	if _, err := two.js.Consumer(context.Background(), "FLOWGEN", durable); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("the consumer while its creation is refused: %v, want not found", err)
	}
	deleting.refuse.Store(false)
	// Created again by the other engine's pull loops.
	waitFor(t, "the consumer the other engine still uses to be created again", func() bool {
		return strings.Contains(logs.String(), "created again; it starts")
	})
	if _, err := two.js.Consumer(context.Background(), "FLOWGEN", durable); err != nil {
		t.Fatalf("the consumer logged as created again: %v\n%s", err, logs.String())
	}
	publishIDs(t, two, "after")
	waitFor(t, "the other engine's run", func() bool {
		_, err := other.Status(context.Background(), engine.EventRunID("A", "t", "e", "after"))
		return err == nil
	})
	if _, err := one.Status(context.Background(), engine.EventRunID("A", "t", "e", "after")); err == nil {
		t.Fatal("the engine whose flow no longer has the trigger started a run")
	}
}

// refuseCreate is a JetStream that, while refuse is set, answers a
// consumer's creation as nats-server 2.15 answers one that reaches it
// while it is deleting a consumer of that name (code 10149).
type refuseCreate struct {
	jetstream.JetStream
	refuse atomic.Bool
}

func (r *refuseCreate) CreateConsumer(ctx context.Context, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	if r.refuse.Load() {
		return nil, &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeConsumerDoesNotExist, Description: "consumer does not exist"}
	}
	return r.JetStream.CreateConsumer(ctx, stream, cfg)
}

// Forget keeps a consumer its own Broker still consumes (two engines in one
// process on one Broker, one still with the trigger), as
// MemoryBroker.Forget keeps a name that has consumers: it was deleted
// under the consumer pulling from it.
func TestForgetKeepsAConsumerItsBrokerConsumes(t *testing.T) {
	b := connect(t, startServer(t, t.TempDir()))
	stop, got := collect(t, b, "c")
	defer stop()
	durable := consumerName("c", b.Subject("t", "e"))
	before, err := b.js.Consumer(context.Background(), "FLOWGEN", durable)
	if err != nil {
		t.Fatal(err)
	}
	b.Forget("c", "t", "e")
	after, err := b.js.Consumer(context.Background(), "FLOWGEN", durable)
	if err != nil {
		t.Fatalf("a consumer its Broker consumes was deleted: %v", err)
	}
	if !after.CachedInfo().Created.Equal(before.CachedInfo().Created) {
		t.Fatal("a consumer its Broker consumes was deleted and created again")
	}
	publishIDs(t, b, "m")
	waitFor(t, "the message", func() bool { return len(got()) == 1 })
	// Stopped, it is forgotten.
	stop()
	b.Forget("c", "t", "e")
	if _, err := b.js.Consumer(context.Background(), "FLOWGEN", durable); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("a consumer nobody consumes, forgotten: %v, want deleted", err)
	}
}

// The durable consumers on the stream are what docs/engine.md#limits
// says: one per event trigger and topic/event, shared by the trigger's
// EventWorkers subscriptions and by every engine of the flow, and one per
// engine ID and awaited topic/event.
func TestDurableConsumersPerTriggerAndAwait(t *testing.T) {
	s := startServer(t, t.TempDir())
	b := connect(t, s)
	count := func() []string {
		stream, err := b.js.Stream(context.Background(), "FLOWGEN")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for name := range stream.ConsumerNames(context.Background()).Name() {
			names = append(names, name)
		}
		return names
	}
	trigWaitEngine(t, b, "one")
	if names := count(); len(names) != 2 {
		t.Fatalf("consumers %v, want 2: the trigger's and the await's", names)
	}
	trigWaitEngine(t, connect(t, s), "two")
	if names := count(); len(names) != 3 {
		t.Fatalf("consumers %v, want 3: the trigger's, shared, and each engine's await", names)
	}
}
