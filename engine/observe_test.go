package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// stubTelemetry records what the engine reports; its metrics page is
// "metrics".
type stubTelemetry struct {
	mu        sync.Mutex
	runs      []string
	delivered []string
	dead      []string
}

type carried struct{}

func (s *stubTelemetry) ObserveRun(ctx context.Context, info runtime.RunInfo) (context.Context, runtime.RunObserver) {
	s.mu.Lock()
	defer s.mu.Unlock()
	from, _ := ctx.Value(carried{}).(string)
	s.runs = append(s.runs, info.Flow+" from "+from)
	return ctx, nopRunObserver{}
}

func (s *stubTelemetry) Metrics() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("metrics\n")) })
}

func (s *stubTelemetry) Carry(req, run context.Context) context.Context {
	if v, ok := req.Value(carried{}).(string); ok {
		return context.WithValue(run, carried{}, v)
	}
	return run
}

func (s *stubTelemetry) Inject(context.Context, http.Header) {}

func (s *stubTelemetry) Publishing(ctx context.Context, system, topic, event, id string) (context.Context, func(error)) {
	return ctx, func(error) {}
}

func (s *stubTelemetry) Defined(string) {}

func (s *stubTelemetry) Refused(topic, event string) {}

func (s *stubTelemetry) InFlight(func() (int64, int64, iter.Seq2[string, uint64])) func() {
	return func() {}
}

func (s *stubTelemetry) Sender(ctx context.Context, link string) context.Context { return ctx }

func (s *stubTelemetry) Delivered(topic, event string, lag time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lag < 0 {
		topic = "negative lag: " + topic
	}
	s.delivered = append(s.delivered, topic+"/"+event)
}

func (s *stubTelemetry) DeadLettered(topic, event string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dead = append(s.dead, topic+"/"+event)
}

// Link is "link of X" for a context that carried X.
func (s *stubTelemetry) Link(ctx context.Context) string {
	if v, ok := ctx.Value(carried{}).(string); ok {
		return "link of " + v
	}
	return ""
}

type nopRunObserver struct{}

func (nopRunObserver) Trace() string { return "" }
func (nopRunObserver) Action(ctx context.Context, _ runtime.Action) (context.Context, func(runtime.Outcome, error)) {
	return ctx, func(runtime.Outcome, error) {}
}
func (nopRunObserver) Recorded(*runtime.Event)       {}
func (nopRunObserver) Ended(runtime.RunState, error) {}

// TestTelemetryHooks: the engine's runs are observed, a run started by a
// request gets what Carry keeps of the request's context, GET /metrics
// serves the Telemetry's page, and dead letters are reported.
func TestTelemetryHooks(t *testing.T) {
	fx := newFixture(t)
	tel := &stubTelemetry{}
	fx.tel = tel
	e := fx.start()
	defer fx.stop()
	ctx := context.WithValue(context.Background(), carried{}, "request")
	if _, err := e.StartRun(ctx, "Signup", json.RawMessage(`{"Customer":{"Email":"ann"}}`), ""); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /metrics: %d", res.StatusCode)
	}
	if err := e.in.deadLetter(context.Background(), Message{ID: "m1", Topic: "t", Event: "e", Payload: json.RawMessage(`1`)}, "test"); err != nil {
		t.Fatal(err)
	}
	tel.mu.Lock()
	defer tel.mu.Unlock()
	if len(tel.runs) != 1 || tel.runs[0] != "Signup from request" {
		t.Errorf("observed runs %q, want [Signup from request]", tel.runs)
	}
	if len(tel.dead) != 1 || tel.dead[0] != "t/e" {
		t.Errorf("dead letters %q", tel.dead)
	}
}

// TestDeliveryLag: a message from the broker is reported with its topic
// and event, once per delivery.
func TestDeliveryLag(t *testing.T) {
	tel := &stubTelemetry{}
	got := make(chan Message, 1)
	h := observeDelivery(tel, func(_ context.Context, m Message) error { got <- m; return nil })
	b := NewMemoryBroker()
	stop, err := b.Consume(context.Background(), "c", "payments", "paid", h)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := b.Publish(context.Background(), Message{Topic: "payments", Event: "paid"}); err != nil {
		t.Fatal(err)
	}
	if m := <-got; m.Published.IsZero() {
		t.Error("MemoryBroker did not stamp the publication time")
	}
	stop() // waits for the handler: the lag is counted once it returned
	tel.mu.Lock()
	defer tel.mu.Unlock()
	if len(tel.delivered) != 1 || tel.delivered[0] != "payments/paid" {
		t.Errorf("delivered %q", tel.delivered)
	}
}

// TestDeliveryLagOncePerMessage: a batch the consumer refuses, as the
// inbox does while it is full, comes again until it is taken, and each of
// its messages is counted once, when taken, not at every try; so is a
// message of one at a time.
func TestDeliveryLagOncePerMessage(t *testing.T) {
	const refusals = 3
	tel := &stubTelemetry{}
	b := NewMemoryBroker()
	ctx := context.Background()
	var tries, took int
	taken := make(chan struct{})
	stopBatch, err := b.ConsumeBatch(ctx, "c", "payments", "paid", 10, observeDeliveries(tel, func(_ context.Context, ms []Message) error {
		if tries++; tries <= refusals {
			return ErrInboxFull
		}
		if took += len(ms); took == 2 {
			close(taken)
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	var oneTries int
	oneTaken := make(chan struct{})
	stopOne, err := b.Consume(ctx, "c", "stock", "gone", observeDelivery(tel, func(context.Context, Message) error {
		if oneTries++; oneTries <= refusals {
			return ErrInboxFull
		}
		close(oneTaken)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []Message{{ID: "a", Topic: "payments", Event: "paid"}, {ID: "b", Topic: "payments", Event: "paid"}, {ID: "c", Topic: "stock", Event: "gone"}} {
		if err := b.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	<-taken
	<-oneTaken
	stopBatch() // each waits for its handler: a message is counted once it returned
	stopOne()
	tel.mu.Lock()
	defer tel.mu.Unlock()
	slices.Sort(tel.delivered)
	if want := []string{"payments/paid", "payments/paid", "stock/gone"}; !slices.Equal(tel.delivered, want) {
		t.Errorf("lag samples %q, want one per message %q (the batches were tried %d times, the message %d)", tel.delivered, want, tries, oneTries)
	}
}

// TestMetricsWithoutTelemetry: GET /metrics answers 404 in JSON on an
// engine without Telemetry.
func TestMetricsWithoutTelemetry(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	rec := httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("status %d, want 404", rec.Code)
	}
}

// TestAwaitedEventLink: an event posted under a request keeps what
// Telemetry.Link says of its sender, durably in the inbox, and the run
// whose await it wakes records it on its wake event (runtime.Event.Link):
// for an event that came while the run waited, and for one kept in the
// inbox across a restart before its run reached the await.
func TestAwaitedEventLink(t *testing.T) {
	dir := t.TempDir()
	fx := newFixture(t)
	fx.tel = &stubTelemetry{}
	st := openStore(t, dir)
	fx.st = st
	e := fx.start()
	post := func(e *Engine, id, cust, from string) {
		t.Helper()
		ctx := context.WithValue(context.Background(), carried{}, from)
		raw, _ := json.Marshal(map[string]any{"correlation_id": cust, "amount": 7})
		if _, err := e.PublishEvent(ctx, Message{ID: id, Topic: "payments", Event: "payment.succeeded", Payload: raw}); err != nil {
			t.Fatal(err)
		}
	}
	wakeLink := func(id string) string {
		t.Helper()
		h, err := fx.st.Load(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range h {
			if ev.From == "AwaitPayment:waiting" && ev.To == "AwaitPayment:running" {
				return ev.Link
			}
		}
		t.Fatalf("run %s has no wake event: %+v", id, h)
		return ""
	}
	waiting, err := e.StartRun(context.Background(), "Signup", json.RawMessage(`{"Customer":{"Email":"ann"}}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitParked(t, e, waiting)
	post(e, "pay-1", "cus-ann-1", "payer 1")
	waitFor(t, "run done", func() bool { return runState(fx, waiting) == runtime.StateDone })
	if got := wakeLink(waiting); got != "link of payer 1" {
		t.Errorf("woken while waiting: link %q", got)
	}

	// The event comes first, and the engine restarts before the run.
	post(e, "pay-2", "cus-bob-2", "payer 2")
	fx.stop()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, dir)
	defer st.Close()
	fx.st = st
	e = fx.start()
	defer fx.stop()
	later, err := e.StartRun(context.Background(), "Signup", json.RawMessage(`{"Customer":{"Email":"bob"}}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "run done", func() bool { return runState(fx, later) == runtime.StateDone })
	if got := wakeLink(later); got != "link of payer 2" {
		t.Errorf("woken by a kept event: link %q", got)
	}
}

// TestPublishedEventLink: an event a step publishes carries what
// Telemetry.Link says of the step's context, so that a run of another flow
// that awaits it links to the publishing step.
func TestPublishedEventLink(t *testing.T) {
	tel := &stubTelemetry{}
	var got []Message
	p := brokerPublisher{publish: func(_ context.Context, m Message) error { got = append(got, m); return nil }, link: tel.Link}
	ctx := context.WithValue(context.Background(), carried{}, "the step")
	if err := p.Publish(ctx, "billing", "invoiced", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(context.Background(), "billing", "invoiced", 2); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Link != "link of the step" || got[1].Link != "" {
		t.Fatalf("published %+v", got)
	}
}

// GET /session lists GET /metrics only where it answers: an engine
// without Telemetry (flowgen-temporal serve, an embedded engine that sets
// none) answers it 404, and a client that reads the session (the web
// view, a scraper's setup) must not be told it is there.
func TestSessionListsMetricsOnlyWithTelemetry(t *testing.T) {
	for _, tel := range []Telemetry{nil, &stubTelemetry{}} {
		fx := newFixture(t)
		fx.tel = tel
		srv := httptestServer(t, fx.start())
		status, _, _ := send(t, srv, "GET", "/metrics", "", "", "")
		_, _, body := send(t, srv, "GET", "/session", "", "", "")
		var got struct {
			Routes []string `json:"routes"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil || len(got.Routes) == 0 {
			t.Fatalf("GET /session: %v %s", err, body)
		}
		if listed, want := slices.Contains(got.Routes, "GET /metrics"), tel != nil; status != map[bool]int{false: 404, true: 200}[want] || listed != want {
			t.Errorf("telemetry %v: GET /metrics = %d, listed by GET /session %v; want it listed only where it answers 200", tel != nil, status, listed)
		}
		fx.stop()
	}
}

// publishTelemetry records what Publishing is told, and what each
// publication returned.
type publishTelemetry struct {
	stubTelemetry
	told []string
}

func (p *publishTelemetry) Publishing(ctx context.Context, system, topic, event, id string) (context.Context, func(error)) {
	p.told = append(p.told, system+" "+topic+" "+event+" "+id)
	return context.WithValue(ctx, carried{}, "the publication"), func(err error) { p.told = append(p.told, fmt.Sprint("ended: ", err)) }
}

// namedBroker is a Broker that names its messaging system.
type namedBroker struct{ *MemoryBroker }

func (namedBroker) MessagingSystem() string { return "nats" }

// TestPublishingSpansEachPublication: each event a step publishes goes
// under the span Telemetry.Publishing starts (its Message.Link is that
// span's), told the broker's messaging system ("flowgen" for one that
// names none, as MemoryBroker), the topic, the event and the message's
// ID, and then what the publication returned.
func TestPublishingSpansEachPublication(t *testing.T) {
	full := errors.New("full")
	for _, c := range []struct {
		broker Broker
		system string
		err    error
	}{
		{NewMemoryBroker(), "flowgen", nil},
		{namedBroker{NewMemoryBroker()}, "nats", full},
	} {
		tel := &publishTelemetry{}
		var got []Message
		p := brokerPublisher{publish: func(_ context.Context, m Message) error { got = append(got, m); return c.err }, link: tel.Link,
			span: publishing(tel, c.broker)}
		err := p.Publish(context.Background(), "billing", "invoiced", 1)
		if !errors.Is(err, c.err) || len(got) != 1 || got[0].Link != "link of the publication" {
			t.Fatalf("published %+v: %v", got, err)
		}
		want := []string{c.system + " billing invoiced " + got[0].ID, fmt.Sprint("ended: ", c.err)}
		if !slices.Equal(tel.told, want) {
			t.Errorf("Publishing told %q, want %q", tel.told, want)
		}
	}
	if publishing(nil, NewMemoryBroker()) != nil {
		t.Error("an engine without Telemetry spans its publications")
	}
}
