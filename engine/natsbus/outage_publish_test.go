package natsbus

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/internal/natstest"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// outageEvent is one event a client of postThroughOutage posts: one that
// starts a run of Trig (trigger), or one that the Wait run run awaits;
// answers are the status of each POST of it (0: a transport
// error), in order.
type outageEvent struct {
	id, event, body, run string
	trigger              bool
	answers              []int
}

// linkOutage is how a test of postThroughOutage takes NATS away from the
// engine, in the middle of its clients' POSTs, and gives it back.
type linkOutage struct {
	down, up func()
	// upAfter is how many POSTs answered other than 2xx before up, or
	// none answered for a second (every client held in a publish sent
	// before down, sent again until NATS is back: PublishRetry), or
	// every client has posted each of its events once.
	upAfter int
	// reached, if set, says whether the event of an ID reached the NATS
	// server: up comes instead once the POST in flight of every client
	// has its event there, its acknowledgement lost (down dropped it),
	// and each of these POSTs must be answered 2xx all the same, the
	// outage shorter than natsbus.Options.PublishRetry (their sending
	// again answered as a duplicate).
	reached func(id string) bool
}

// The NATS server stops while many clients POST events (postThroughOutage)
// and starts again on its store. A POST whose publish had left when it
// stopped waited 5s, answered 502, and JetStream may have stored its
// event; it is now sent again until the server is back, and answered 202
// (JetStream, started again, still knows the message IDs of its duplicate
// window). One whose publish comes while it is down answers 502 at once.
func TestEventsPostedThroughNATSRestart(t *testing.T) {
	srv := natstest.JetStreamServer(t)
	postThroughOutage(t, srv.URL, linkOutage{down: srv.Stop, up: srv.Start, upAfter: 20})
}

// The engine's link to NATS loses what the server sends while many
// clients POST events (postThroughOutage): the events published meanwhile
// are stored, their acknowledgements lost; then the link is cut and the
// engine reconnects. The POSTs in flight answered 502 once their publish
// timed out (5s), though JetStream had stored their events: an awaited
// one was applied all the same (3 to 8 a run), a 5xx that changed
// something. Now their publish sends the event again, with the same
// Nats-Msg-Id, until JetStream answers (a duplicate) or
// natsbus.Options.PublishRetry passes: they are answered 202, and no
// event answered 5xx is stored (docs/engine.md#nats-jetstream-enginenatsbus).
func TestEventsPostedThroughLostAcks(t *testing.T) {
	srv := natstest.JetStreamServer(t)
	link := natstest.NewLink(t, srv.URL)
	// What reaches the server, seen on a connection of its own.
	var mu sync.Mutex
	reached := map[string]bool{}
	direct := natstest.Connect(t, srv.URL)
	if _, err := direct.Subscribe("flowgen.>", func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		reached[m.Header.Get(idHeader)] = true
	}); err != nil {
		t.Fatal(err)
	}
	if err := direct.Flush(); err != nil {
		t.Fatal(err)
	}
	postThroughOutage(t, link.URL, linkOutage{down: link.Mute, up: link.Cut, reached: func(id string) bool {
		mu.Lock()
		defer mu.Unlock()
		return reached[id]
	}})
}

// outageClients post the events of postThroughOutage concurrently.
const outageClients = 8

// postThroughOutage: many clients POST events through the engine's HTTP
// API, on a broker of the NATS server at url, events that start runs (an
// event trigger) and events that waiting runs await, while NATS goes away
// (o.down) once some were answered 202, and comes back (o.up); each client
// then posts every event that did not get a 2xx again, with its
// Idempotency-Key, until it does. Every event is applied exactly once:
// each trigger event started one run (its derived run ID, its step run
// once), each awaited event woke its run and no other, the inbox holds
// each awaited event claimed by its run and nothing else, and nothing is
// dead-lettered. A POST answered 5xx changed nothing before its event was
// posted again: JetStream did not store the event (the stream holds the
// events answered 2xx, no more), an awaited one woke no run, a trigger
// event started none. Closed, the engine leaves no goroutine behind.
func postThroughOutage(t *testing.T, url string, o linkOutage) {
	const (
		clients   = outageClients
		perClient = 50 // half of them trigger events, half awaited ones
		waiting   = clients * perClient / 2
		// NATS goes away once this many events were answered 202.
		stopAfter = 100
	)
	nc, err := nats.Connect(url, ConnOptions(nil)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	// AckWait short: what the consumers had pulled and could not
	// acknowledge while NATS was down comes back during the test, and is
	// applied once.
	b, err := New(context.Background(), nc, Options{Redeliver: 10 * time.Millisecond, AckWait: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e, err := engine.New(engine.Options{Store: st, Broker: b, ID: "outage"})
	if err != nil {
		t.Fatal(err)
	}
	var stepsMu sync.Mutex
	steps := map[string]int{} // "RUN STEP": how many times it ran
	for _, step := range []string{"Work", "After"} {
		e.Registry().Step(step, func(ctx context.Context, _ *engine.State) (string, error) {
			stepsMu.Lock()
			defer stepsMu.Unlock()
			steps[runtime.RunID(ctx)+" "+step]++
			return "", nil
		})
	}
	for name, f := range map[string]string{"trig.json": triggerFlow, "wait.json": waitFlow} {
		if ds, err := e.LoadFlows(name, []byte(f)); err != nil {
			t.Fatal(err, ds)
		}
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Closed before the cleanups, which stop a NATS server started again
	// by o.up first.
	defer e.Close(context.Background())
	hs := httptest.NewServer(e.Handler())
	defer hs.Close()
	// The timeout only bounds a hang: a publish waits for JetStream's
	// acknowledgement for PublishRetry and 5s at most.
	client := &http.Client{Timeout: time.Minute}

	for i := range waiting {
		if _, err := e.StartRun(context.Background(), "Wait", json.RawMessage(fmt.Sprintf(`{"Key":"k%d"}`, i)), fmt.Sprint("w", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the waiting runs parked", func() bool { return e.Parked() == waiting })

	events := make([][]*outageEvent, clients)
	for c := range clients {
		for i := range perClient {
			if i%2 == 0 {
				id := fmt.Sprintf("s-%d-%d", c, i)
				events[c] = append(events[c], &outageEvent{id: id, event: "start", body: fmt.Sprintf(`{"From":%q}`, id),
					run: engine.EventRunID("Trig", "t", "start", id), trigger: true})
				continue
			}
			k := c*perClient/2 + i/2
			events[c] = append(events[c], &outageEvent{id: fmt.Sprintf("g-%d-%d", c, i), event: "go",
				body: fmt.Sprintf(`{"correlation_id":"k%d"}`, k), run: fmt.Sprint("w", k)})
		}
	}

	var acked, failed atomic.Int64 // first POSTs answered 2xx, and not
	enoughAcks := make(chan struct{})
	// The event each client's first pass is posting (nil: none).
	inFlight := make([]atomic.Pointer[outageEvent], clients)
	up := make(chan struct{}) // closed once NATS is back
	var upOnce sync.Once
	back := func() { upOnce.Do(func() { close(up) }) }
	defer back() // lets the clients end if the test fails before
	var errs sync.Mutex
	var problems []string
	problem := func(format string, args ...any) {
		errs.Lock()
		defer errs.Unlock()
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	post := func(ev *outageEvent) int {
		req, err := http.NewRequest("POST", hs.URL+"/events/t/"+ev.event, bytes.NewReader([]byte(ev.body)))
		if err != nil {
			panic(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", ev.id)
		rsp, err := client.Do(req)
		if err != nil {
			ev.answers = append(ev.answers, 0)
			return 0
		}
		defer rsp.Body.Close()
		body, _ := io.ReadAll(rsp.Body)
		ev.answers = append(ev.answers, rsp.StatusCode)
		if rsp.StatusCode/100 == 2 {
			var out engine.Published
			switch err := json.Unmarshal(body, &out); {
			case err != nil:
				problem("%s: answer %s: %v", ev.id, body, err)
			case ev.trigger && (len(out.Runs) != 1 || out.Runs[0].RunID != ev.run || out.Inbox):
				problem("%s: answered %s, want its one run %s and no inbox", ev.id, body, ev.run)
			case !ev.trigger && (len(out.Runs) != 0 || !out.Inbox):
				problem("%s: answered %s, want no run and the inbox", ev.id, body)
			}
		}
		return rsp.StatusCode
	}
	var firstPass, all sync.WaitGroup
	for c := range clients {
		firstPass.Add(1)
		all.Go(func() {
			for _, ev := range events[c] {
				inFlight[c].Store(ev)
				if post(ev)/100 == 2 {
					if acked.Add(1) == stopAfter {
						close(enoughAcks)
					}
				} else {
					failed.Add(1)
				}
			}
			inFlight[c].Store(nil)
			firstPass.Done()
			<-up
			deadline := time.Now().Add(2 * time.Minute) // a failure bound only
			for _, ev := range events[c] {
				status := ev.answers[0]
				if status/100 == 2 {
					continue
				}
				// What the failed POST left: nothing (a 5xx changes
				// nothing), though the consumers have had all the
				// stream holds (up waited for it).
				if ev.trigger {
					if _, ok := st.Get(ev.run); ok {
						problem("%s answered %d and its run %s exists before it is posted again", ev.id, status, ev.run)
					}
				} else if _, ok, _ := st.GetMessage(store.MessageKey{Topic: "t", Event: "go", ID: ev.id}); ok {
					problem("%s answered %d and is in the inbox before it is posted again", ev.id, status)
				}
				for {
					status = post(ev)
					if status/100 == 2 {
						break
					}
					if status/100 == 4 && status != http.StatusTooManyRequests {
						problem("%s: posted again, answered %d", ev.id, status)
						break
					}
					if time.Now().After(deadline) {
						problem("%s: still answered %d after 2 minutes of retries", ev.id, status)
						break
					}
					time.Sleep(20 * time.Millisecond) // not hammering NATS while it comes back
				}
			}
		})
	}
	firstPassDone := make(chan struct{})
	go func() { firstPass.Wait(); close(firstPassDone) }()

	select {
	case <-enoughAcks:
	case <-firstPassDone:
		back()
		all.Wait()
		t.Fatalf("every event posted once, %d answered 202: NATS never stopped", acked.Load())
	}
	o.down()
	var atDown []*outageEvent // the POST each client has in flight once NATS is away
	for c := range inFlight {
		atDown = append(atDown, inFlight[c].Load())
	}
	// held: the POSTs in flight all through the outage: with o.reached,
	// those in flight at up with their event on the server, their
	// acknowledgement lost; else those in flight at down and still at up.
	var held []*outageEvent
	answered := func() int64 { return acked.Load() + failed.Load() }
	last, still := answered(), time.Now()
wait:
	for {
		held = held[:0]
		for c := range inFlight {
			ev := inFlight[c].Load()
			if ev != nil && (o.reached != nil && o.reached(ev.id) || o.reached == nil && ev == atDown[c]) {
				held = append(held, ev)
			}
		}
		if o.reached != nil && len(held) == clients {
			break
		}
		if o.reached == nil {
			if failed.Load() >= int64(o.upAfter) {
				break
			}
			// No POST answered for a second: every client is held in a
			// publish sent before NATS went away, which is sent again
			// until NATS is back (PublishRetry).
			if n := answered(); n != last {
				last, still = n, time.Now()
			} else if time.Since(still) > time.Second {
				break
			}
		}
		select {
		case <-firstPassDone:
			break wait
		case <-time.After(2 * time.Millisecond):
		}
	}
	o.up()
	// Before any event is posted again: the stream holds each event
	// answered 2xx once, and none of those answered 5xx; the consumers
	// have had them all (those stored while the engine could not
	// acknowledge them are redelivered after AckWait).
	<-firstPassDone
	var stored uint64 // the stream's messages: each stored once
	waitFor(t, "the engine reconnected, its consumers having every message", func() bool {
		ctx := context.Background()
		stream, err := b.js.Stream(ctx, b.opts.Stream)
		if err != nil {
			return false // reconnecting
		}
		list := stream.ListConsumers(ctx)
		for info := range list.Info() {
			if info.NumPending != 0 || info.NumAckPending != 0 {
				return false
			}
		}
		info, err := stream.Info(ctx)
		if list.Err() != nil || err != nil {
			return false
		}
		stored = info.State.LastSeq
		return true
	})
	storedFailed := int64(stored) - acked.Load()
	back()
	all.Wait()
	for _, p := range problems {
		t.Error(p)
	}

	first, answers := map[string]int{}, map[string]int{}
	class := func(status int) string {
		if status == 0 {
			return "transport error"
		}
		return fmt.Sprintf("%dxx", status/100)
	}
	for _, evs := range events {
		for _, ev := range evs {
			first[class(ev.answers[0])]++
			for _, s := range ev.answers {
				answers[class(s)]++
			}
		}
	}
	t.Logf("%d events; first answers %v; all answers %v; %d in flight through the outage; %d more stored than answered 2xx",
		clients*perClient, first, answers, len(held), storedFailed)
	if first["5xx"]+first["transport error"] == 0 && len(held) == 0 {
		t.Fatalf("no POST failed while NATS was away, and none was in flight all through (first answers %v): the outage was not tested", first)
	}
	// A 5xx changes nothing: JetStream stored none of the events answered
	// so (an acknowledgement lost was a 502 for an event stored).
	if storedFailed != 0 {
		t.Errorf("the stream holds %d events, %d answered 2xx: %d answered 5xx were stored all the same", stored, acked.Load(), storedFailed)
	}
	// An acknowledgement lost for less than PublishRetry: the event is
	// sent again, JetStream answers it as a duplicate, the POST a 202.
	for _, ev := range held {
		if o.reached == nil {
			break // the event of one in flight at down may not have left: a 502 changing nothing
		}
		if ev.answers[0]/100 != 2 {
			t.Errorf("%s: its event on the server, its acknowledgement lost, answered %d; want 2xx once the link is back", ev.id, ev.answers[0])
		}
	}
	if first["4xx"] != 0 || first["transport error"] != 0 {
		t.Errorf("first answers %v: want only 2xx and 5xx (NATS down is a 502)", first)
	}

	waitFor(t, "every event's run done", func() bool {
		for _, evs := range events {
			for _, ev := range evs {
				if info, ok := st.Get(ev.run); !ok || info.State != runtime.StateDone {
					return false
				}
			}
		}
		return true
	})
	for flow, want := range map[string]int{"Trig": clients * perClient / 2, "Wait": waiting} {
		if runs, err := st.List(store.Filter{Flow: flow}); err != nil || len(runs) != want {
			t.Errorf("%d runs of %s (%v), want %d: one per event", len(runs), flow, err, want)
		}
	}
	stepsMu.Lock()
	for _, evs := range events {
		for _, ev := range evs {
			step := "After"
			if ev.trigger {
				step = "Work"
			}
			if n := steps[ev.run+" "+step]; n != 1 {
				t.Errorf("%s: run %s ran %s %d times, want once", ev.id, ev.run, step, n)
			}
		}
	}
	if len(steps) != clients*perClient {
		t.Errorf("%d runs ran a step, want %d", len(steps), clients*perClient)
	}
	stepsMu.Unlock()
	inbox, err := st.Messages(store.MessageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	claimed := map[string]string{}
	for _, m := range inbox {
		claimed[m.ID] = m.ClaimedBy
		if m.Topic != "t" || m.Event != "go" || m.State != store.MessageClaimed {
			t.Errorf("inbox: %s %s %s %s: want only awaited events, claimed", m.Topic, m.Event, m.ID, m.State)
		}
	}
	for _, evs := range events {
		for _, ev := range evs {
			if !ev.trigger && claimed[ev.id] != ev.run+"/Await" {
				t.Errorf("%s claimed by %q, want its run's await %s/Await", ev.id, claimed[ev.id], ev.run)
			}
		}
	}
	if len(inbox) != waiting {
		t.Errorf("%d messages in the inbox, want the %d awaited events", len(inbox), waiting)
	}
	if dls, err := e.DeadLetters("", ""); err != nil || len(dls) != 0 {
		t.Errorf("dead letters %v (%v), want none", dls, err)
	}
	// Closed, the engine and its broker leave no goroutine behind, though
	// their pull loops and publishes went through the outage.
	hs.Close()
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	deadline := time.Now().Add(30 * time.Second) // a failure bound only
	for left := engineGoroutines(); len(left) > 0; left = engineGoroutines() {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of the engine left after its Close:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// engineGoroutines are the stacks of the goroutines running the engine's
// code (engine/...), but the test's.
func engineGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := goruntime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "flowgen/flowgen/engine") && !strings.Contains(g, "testing.tRunner") {
			out = append(out, g)
		}
	}
	return out
}
