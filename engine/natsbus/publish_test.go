package natsbus

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/internal/natstest"
	"github.com/flowgen/flowgen/runtime"
)

// linkedBroker is a Broker (opts) on a connection to a JetStream server
// through link, as flowgen serve connects (ConnOptions), with a consumer
// of t/e so that the stream keeps what is published there; sendings gets
// each message that reaches the server on t/e, stored or not (a
// duplicate), stored says how many the stream holds, and direct is
// JetStream on a connection of its own, not through link.
func linkedBroker(t *testing.T, opts Options) (b *Broker, link *natstest.Link, sendings func() []*nats.Msg, stored func() (msgs, last uint64), direct jetstream.JetStream) {
	t.Helper()
	url := natstest.JetStreamURL(t)
	link = natstest.NewLink(t, url)
	nc, err := nats.Connect(link.URL, ConnOptions(nil)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if b, err = New(context.Background(), nc, opts); err != nil {
		t.Fatal(err)
	}
	ensureConsumer(t, b, "held", "t", "e")
	dc := natstest.Connect(t, url)
	var mu sync.Mutex
	var seen []*nats.Msg
	if _, err := dc.Subscribe(b.Subject("t", "e"), func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, m)
	}); err != nil {
		t.Fatal(err)
	}
	if err := dc.Flush(); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(dc)
	if err != nil {
		t.Fatal(err)
	}
	sendings = func() []*nats.Msg {
		mu.Lock()
		defer mu.Unlock()
		return append([]*nats.Msg(nil), seen...)
	}
	stored = func() (uint64, uint64) {
		s, err := js.Stream(context.Background(), b.opts.Stream)
		if err != nil {
			t.Fatal(err)
		}
		return s.CachedInfo().State.Msgs, s.CachedInfo().State.LastSeq
	}
	return b, link, sendings, stored, js
}

// The acknowledgement of a publish is lost (the link drops what the
// server sends): JetStream stored the message, and Publish, after its
// 5s, failed (POST /events answered 502: a 5xx that changed something).
// Now it sends the message again, the same, with the same Nats-Msg-Id:
// once while the link still drops the answers, then, the link cut and
// made again, once more, which JetStream answers as a duplicate. Publish
// returns nil, and the stream holds the message once.
func TestPublishSendsAgainWhenAckLost(t *testing.T) {
	b, link, sendings, stored, _ := linkedBroker(t, Options{})
	link.Mute()
	done := make(chan error, 1)
	go func() {
		done <- b.Publish(context.Background(), engine.Message{ID: "m1", Topic: "t", Event: "e",
			Payload: []byte(`{"a": 1}`), Triggered: []string{"F"}})
	}()
	waitFor(t, "the message sent again, the first sending's acknowledgement lost", func() bool { return len(sendings()) >= 2 })
	if msgs, _ := stored(); msgs != 1 {
		t.Fatalf("the stream holds %d messages after the sendings whose acknowledgement was lost, want 1", msgs)
	}
	link.Cut()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Publish, its link cut and made again: %v; want nil (JetStream answers the sending again as a duplicate)", err)
		}
	case <-time.After(time.Minute): // a failure bound only
		t.Fatal("Publish did not return a minute after its link was made again")
	}
	if msgs, last := stored(); msgs != 1 || last != 1 {
		t.Errorf("the stream holds %d messages (last sequence %d), want the message once", msgs, last)
	}
	// Two while the link was muted, one after it was made again, which
	// JetStream answered (the subscriber may get it after Publish returns).
	waitFor(t, "3 sendings on the server", func() bool { return len(sendings()) >= 3 })
	got := sendings()
	for i, m := range got {
		if string(m.Data) != string(got[0].Data) || !reflect.DeepEqual(m.Header, got[0].Header) {
			t.Errorf("sending %d: %s %v; want the first's, the same: %s %v", i, m.Data, m.Header, got[0].Data, got[0].Header)
		}
	}
	if h := got[0].Header; h.Get(jetstream.MsgIDHeader) != dedupID(b.Subject("t", "e"), "m1") || h.Get(triggeredHeader) != "F" || h.Get(idHeader) != "m1" {
		t.Errorf("headers %v: want the message's ID, Nats-Msg-Id and Flowgen-Triggered", h)
	}
}

// An acknowledgement still lost when the caller's ctx ends, or when
// Options.PublishRetry has passed, leaves the outcome unknown: Publish
// fails with engine.ErrPublishUnknown, which says to send the message
// again with the same ID (a plain timeout or "disconnected" before,
// which POST /events answered as a refusal, 502, that changed nothing).
// Sent again, the message is stored once.
func TestPublishUnknownPastItsBound(t *testing.T) {
	for _, c := range []struct {
		name string
		opts Options
		ctx  time.Duration // the caller's deadline, if any
	}{
		{"caller's deadline", Options{}, 500 * time.Millisecond},
		{"PublishRetry", Options{PublishRetry: time.Nanosecond}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, link, sendings, stored, _ := linkedBroker(t, c.opts)
			link.Mute()
			ctx := context.Background()
			if c.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, c.ctx)
				defer cancel()
			}
			m := engine.Message{ID: "m1", Topic: "t", Event: "e", Payload: []byte(`{"a": 1}`)}
			done := make(chan error, 1)
			go func() { done <- b.Publish(ctx, m) }()
			waitFor(t, "the message stored", func() bool { msgs, _ := stored(); return msgs == 1 })
			if c.ctx == 0 {
				// The link lost while the sending waits: it waits its
				// 5s all the same (the client fails a request only at
				// its deadline), past PublishRetry.
				link.Cut()
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Minute): // a failure bound only
				t.Fatal("Publish did not return")
			}
			if !errors.Is(err, engine.ErrPublishUnknown) || !strings.Contains(err.Error(), "Idempotency-Key") {
				t.Fatalf("Publish with its acknowledgement lost past its bound: %v; want engine.ErrPublishUnknown, saying to send it again", err)
			}
			if errors.Is(err, engine.ErrBrokerFull) || errors.Is(err, engine.ErrTooLarge) {
				t.Errorf("Publish: %v; want no refusal", err)
			}
			link.Cut()
			waitFor(t, "the message published again", func() bool {
				return b.Publish(context.Background(), m) == nil
			})
			if msgs, last := stored(); msgs != 1 || last != 1 {
				t.Errorf("the stream holds %d messages (last sequence %d) after %d sendings, want the message once", msgs, last, len(sendings()))
			}
		})
	}
}

// A sending JetStream refuses (the stream full) is not sent again: the
// refusal comes after JetStream's duplicate check, so no sending of the
// message is stored, and POST /events' 502 changes nothing.
func TestPublishRefusalNotSentAgain(t *testing.T) {
	b, _, sendings, _, _ := linkedBroker(t, Options{MaxBytes: 4096})
	payload := []byte(`{"x": "` + strings.Repeat("x", 500) + `"}`)
	var err error
	var id string
	for i := 0; i < 20 && err == nil; i++ {
		id = fmt.Sprint("m", i)
		err = b.Publish(context.Background(), engine.Message{ID: id, Topic: "t", Event: "e", Payload: payload})
	}
	if !errors.Is(err, engine.ErrBrokerFull) || errors.Is(err, engine.ErrPublishUnknown) || runtime.ErrorClass(err) != "broker_full" {
		t.Fatalf("Publish onto a full stream: %v (class %q); want engine.ErrBrokerFull, broker_full", err, runtime.ErrorClass(err))
	}
	if err := b.js.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	n := 0
	want := dedupID(b.Subject("t", "e"), id)
	waitFor(t, "the refused message's sending reaching the subscriber", func() bool {
		n = 0
		for _, m := range sendings() {
			if m.Header.Get(jetstream.MsgIDHeader) == want {
				n++
			}
		}
		return n > 0
	})
	if n != 1 {
		t.Errorf("the refused message was sent %d times, want once", n)
	}
}

// JetStream checks some things before its duplicate window: a sealed
// stream, and on a stream of several replicas the account's and the
// server's limits. A sending refused so, after one whose acknowledgement
// was lost and which JetStream stored, says nothing of that one: Publish
// returned the refusal, which POST /events answers 502 as a change of
// nothing, the message stored. It fails with engine.ErrPublishUnknown.
func TestPublishRefusalAfterLostAckIsUnknown(t *testing.T) {
	b, link, _, stored, direct := linkedBroker(t, Options{})
	link.Mute()
	done := make(chan error, 1)
	go func() {
		done <- b.Publish(context.Background(), engine.Message{ID: "m1", Topic: "t", Event: "e", Payload: []byte(`{"a": 1}`)})
	}()
	waitFor(t, "the message stored, its acknowledgement lost", func() bool { msgs, _ := stored(); return msgs == 1 })
	s, err := direct.Stream(context.Background(), b.opts.Stream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.Sealed = true
	if _, err := direct.UpdateStream(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	link.Cut()
	select {
	case err = <-done:
	case <-time.After(time.Minute): // a failure bound only
		t.Fatal("Publish did not return")
	}
	if !errors.Is(err, engine.ErrPublishUnknown) {
		t.Errorf("Publish of a message stored, its acknowledgement lost, then refused (the stream sealed): %v; want engine.ErrPublishUnknown", err)
	}
}

// Options.PublishRetry stays within half the duplicate window: a
// sending after the window would be stored again.
func TestPublishRetryInsideDuplicateWindow(t *testing.T) {
	url := natstest.JetStreamURL(t)
	for _, c := range []struct {
		opts Options
		want time.Duration
	}{
		{Options{}, DefaultPublishRetry},
		{Options{PublishRetry: time.Hour}, defaultDuplicates / 2},
		{Options{MaxAge: 20 * time.Second}, 10 * time.Second},
		{Options{Duplicates: 4 * time.Second, PublishRetry: 10 * time.Second}, 2 * time.Second},
		{Options{PublishRetry: time.Second}, time.Second},
	} {
		b, err := New(context.Background(), natstest.Connect(t, url), c.opts)
		if err != nil {
			t.Fatal(err)
		}
		if b.opts.PublishRetry != c.want || 2*b.opts.PublishRetry > b.opts.Duplicates {
			t.Errorf("%+v: PublishRetry %s, duplicate window %s; want %s", c.opts, b.opts.PublishRetry, b.opts.Duplicates, c.want)
		}
	}
}

// A publication that never reaches JetStream (its connection closed) says
// so in its class (runtime.ErrorClass, its span's error.type):
// broker_unreachable, where it was _OTHER as any error of the NATS client.
func TestPublishUnreachableClass(t *testing.T) {
	b, _, _, _, _ := linkedBroker(t, Options{})
	b.js.Conn().Close()
	err := b.Publish(context.Background(), engine.Message{ID: "m", Topic: "t", Event: "e", Payload: []byte(`1`)})
	if !errors.Is(err, nats.ErrConnectionClosed) || runtime.ErrorClass(err) != "broker_unreachable" {
		t.Fatalf("Publish on a closed connection: %v (class %q); want nats.ErrConnectionClosed, broker_unreachable", err, runtime.ErrorClass(err))
	}
}
