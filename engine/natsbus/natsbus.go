// Package natsbus is an engine.Broker on NATS JetStream: events are stored
// in one stream (subjects "<prefix>.<topic>.<event>", escaped), published
// with their message ID, scoped by subject, as Nats-Msg-Id (JetStream drops
// a republished ID within its duplicate window, and the engine's inbox
// drops it after that), and consumed through durable pull consumers named by the engine:
// engines sharing a consumer name share its messages, and a consumer that
// was down gets what arrived meanwhile. A message is acknowledged only after
// the engine has recorded it (or started its run), and redelivered after a
// failure.
//
// The stream is bounded (docs/engine.md#limits): it keeps a message only
// until every consumer of its subject has acknowledged it (interest
// retention), at most MaxBytes in all (beyond, Publish fails, as the
// in-process broker's does at its MaxBytes) and at most MaxAge; a consumer
// nobody pulls from for MaxAge is deleted by JetStream, a consumer created
// anew starts at the messages published from then on, and one the engine
// no longer needs is deleted (Forget) unless an engine still consumes it,
// which creates it again (renew).
package natsbus

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/observe/tracectx"
	"github.com/flowgen/flowgen/runtime"
)

// Options configure a Broker. Zero values pick the defaults.
type Options struct {
	// Stream is the JetStream stream's name (default "FLOWGEN").
	Stream string
	// Prefix is the subject prefix (default "flowgen").
	Prefix string
	// Storage of the stream (default file storage).
	Storage jetstream.StorageType
	// Replicas of the stream (default 1).
	Replicas int
	// Duplicates is JetStream's duplicate window (default 2 minutes, or
	// MaxAge if shorter: JetStream refuses a window longer than the
	// stream keeps its messages).
	Duplicates time.Duration
	// AckWait is how long a delivery may take before it is redelivered
	// (default 30s).
	AckWait time.Duration
	// Redeliver is the delay before a failed delivery is tried again
	// (default 100ms).
	Redeliver time.Duration
	// MaxBytes bounds the stream's messages not yet acknowledged by every
	// consumer of their subject, in bytes as JetStream counts them
	// (payload, headers, subject): beyond, Publish fails and nothing is
	// stored (default engine.DefaultBrokerBytes, as the in-process
	// broker's MaxBytes). Engines sharing the stream set it each as they
	// start: the last one's value holds.
	MaxBytes int64
	// MaxAge is how long the stream keeps a message its consumers have not
	// all acknowledged, and how long a consumer nobody pulls from (its
	// engines down, an engine ID no longer used) stays before JetStream
	// deletes it, with its place (default DefaultMaxAge; at least
	// MinMaxAge, which JetStream refuses less than).
	MaxAge time.Duration
	// IDLeaseTTL is how long an engine's hold of its ID (ClaimID: a key
	// of the bucket "<Stream>_IDS") lasts after its last renewal, which
	// comes every third of it: a process that died without giving its ID
	// back keeps it that long, unless it is restarted on its store
	// (default DefaultIDLeaseTTL). Engines sharing the stream set it each
	// as they start: the last one's value holds.
	IDLeaseTTL time.Duration
	// PublishRetry bounds how long Publish sends again, with the same
	// Nats-Msg-Id (stored once), a message whose acknowledgement did not
	// come back (JetStream slower than 5s, the link lost after the
	// message left): every sending is within PublishRetry of the first,
	// and each waits 5s for its acknowledgement (default
	// DefaultPublishRetry; at most half of Duplicates, the duplicate
	// window: a sending after it would be stored again).
	PublishRetry time.Duration
	// Logger gets a consumer's pull requests that fail, and when they
	// work again (default: discard): JetStream without a responder
	// leaves it standing still, asking again (pull); a consumer deleted
	// while consumed is created again, which it logs too (renew). One
	// line when the consumer's first pull loop starts failing and one
	// when its last works again, however many loops it has (outage).
	Logger *slog.Logger
}

// DefaultMaxAge is the default Options.MaxAge: an engine down for a week
// still gets what was published meanwhile.
const DefaultMaxAge = 7 * 24 * time.Hour

// MinMaxAge is the shortest Options.MaxAge: JetStream refuses a stream
// that keeps its messages less long (New fails).
const MinMaxAge = 100 * time.Millisecond

// progressEvery is how often a batch consumer tells JetStream that the
// batch it holds, which its handler failed (the inbox full, say) and tries
// again every Redeliver, and the messages pulled behind it, are still in
// progress: a third of ackWait, so that
// a notice late by a scheduling hiccup still comes well before JetStream
// would deliver the batch again. Sent at every try (every 100ms by
// default), 64 messages held sent 640 notices a second for nothing.
// A try comes every Redeliver at the soonest, so no notice comes more
// often than that (the floor).
func progressEvery(ackWait time.Duration) time.Duration { return ackWait / 3 }

// defaultDuplicates is the default Options.Duplicates, when MaxAge is not
// shorter.
const defaultDuplicates = 2 * time.Minute

// DefaultPublishRetry is the default Options.PublishRetry: a NATS server
// restarting, or a connection lost and made again (the client tries every
// 2s), is back well within it; with the last sending's wait for its
// acknowledgement, a Publish takes 35s at most, inside the 60s flowgen
// serve gives an answer (-write-timeout: POST /events).
const DefaultPublishRetry = 30 * time.Second

// Broker is the JetStream engine.Broker.
type Broker struct {
	js      jetstream.JetStream
	opts    Options
	outages outages // of each durable consumer, shared by its pull loops

	tickMu sync.Mutex
	tickKV jetstream.KeyValue // the bucket of schedule ticks, once made (ticks)
}

var _ engine.Broker = (*Broker)(nil)

// New creates (or updates) the stream on nc's JetStream and returns the
// broker. Several engines may use one stream, each with its own connection.
func New(ctx context.Context, nc *nats.Conn, opts Options) (*Broker, error) {
	if opts.Stream == "" {
		opts.Stream = "FLOWGEN"
	}
	if opts.Prefix == "" {
		opts.Prefix = "flowgen"
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.Duplicates == 0 {
		// JetStream refuses a window longer than MaxAge: -broker-max-age
		// 1m failed serve's start, as a stream of "duplicates window can
		// not be larger then max age". A message the stream no longer
		// keeps is the inbox's to drop as a duplicate anyway.
		opts.Duplicates = min(defaultDuplicates, opts.MaxAge)
	}
	if opts.PublishRetry <= 0 {
		opts.PublishRetry = DefaultPublishRetry
	}
	// A sending that reaches JetStream after the duplicate window of the
	// first would be stored as a new message; half leaves room for the
	// time on the way.
	opts.PublishRetry = min(opts.PublishRetry, opts.Duplicates/2)
	if opts.AckWait == 0 {
		opts.AckWait = 30 * time.Second
	}
	if opts.Redeliver == 0 {
		opts.Redeliver = 100 * time.Millisecond
	}
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = engine.DefaultBrokerBytes
	}
	if opts.IDLeaseTTL <= 0 {
		opts.IDLeaseTTL = DefaultIDLeaseTTL
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	// A stream an older natsbus created (limits retention, no bounds: it
	// kept every message forever) is updated to these bounds, which
	// JetStream allows; what it refuses (another storage type, say) is
	// an error naming what was asked.
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       opts.Stream,
		Subjects:   []string{opts.Prefix + ".>"},
		Storage:    opts.Storage,
		Replicas:   opts.Replicas,
		Duplicates: opts.Duplicates,
		// Released once every consumer of its subject has acknowledged
		// it, as by the in-process broker; a message no consumer's
		// subject matches is not kept.
		Retention: jetstream.InterestPolicy,
		// Full, the stream refuses new messages (the publisher sees it,
		// and a publish step retries) rather than drop old ones that
		// consumers have not had.
		Discard:  jetstream.DiscardNew,
		MaxBytes: opts.MaxBytes,
		MaxAge:   opts.MaxAge,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: creating or updating stream %s (interest retention, discard new, max bytes %d, max age %s, %s storage, %d replicas): %w",
			opts.Stream, opts.MaxBytes, opts.MaxAge, opts.Storage, opts.Replicas, err)
	}
	return &Broker{js: js, opts: opts}, nil
}

// escape makes s one subject token: bytes other than letters, digits, '_'
// and '-' become %XX, so "payment.succeeded" stays one token and no two
// names collide.
func escape(s string) string {
	b := escapeWith(s, '%')
	if b == "" {
		return "%"
	}
	return b
}

// plain reports whether c stands for itself in the names natsbus makes
// (subject tokens, durable consumers, the bucket of engine IDs and its
// keys): a letter, a digit, '_' or '-'.
func plain(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// escapeWith is s with each byte but the plain ones as mark and two
// hexadecimal digits: no two strings share one.
func escapeWith(s string, mark byte) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plain(rune(c)) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%c%02X", mark, c)
	}
	return b.String()
}

// cleanName is s with each rune but the plain ones as '_': a name
// JetStream takes, which may be another's too.
func cleanName(s string) string {
	return strings.Map(func(r rune) rune {
		if plain(r) {
			return r
		}
		return '_'
	}, s)
}

// Subject is the subject of topic/event.
func (b *Broker) Subject(topic, event string) string {
	return b.opts.Prefix + "." + escape(topic) + "." + escape(event)
}

// MessagingSystem implements engine.MessagingSystem: the spans of the
// events steps publish through NATS say messaging.system "nats".
func (b *Broker) MessagingSystem() string { return "nats" }

var _ engine.MessagingSystem = (*Broker)(nil)

// errTypeUnreachable is the class (runtime.ErrorClass, a failed span's
// error.type) of a publication that never reached JetStream: the
// connection reconnecting or closed, no JetStream responding.
const errTypeUnreachable = "broker_unreachable"

// Publish implements engine.Broker: the message is stored in the stream
// (acknowledged by JetStream) before Publish returns. A sending whose
// outcome is unknown is sent again, the same, for Options.PublishRetry
// at most (send); Publish fails with engine.ErrPublishUnknown if it never
// learns.
func (b *Broker) Publish(ctx context.Context, m engine.Message) error {
	if m.ID == "" {
		m.ID = runtime.NewID()
	}
	data := []byte(m.Payload)
	if len(data) == 0 {
		data = []byte("null")
	}
	msg := &nats.Msg{Subject: b.Subject(m.Topic, m.Event), Data: data, Header: nats.Header{}}
	msg.Header.Set("Flowgen-Topic", m.Topic)
	msg.Header.Set("Flowgen-Event", m.Event)
	if len(m.Triggered) > 0 {
		msg.Header.Set(triggeredHeader, strings.Join(m.Triggered, ","))
	}
	msg.Header.Set(idHeader, m.ID)
	tracectx.Inject(ctx, http.Header(msg.Header)) // the publishing step's trace
	err := b.send(ctx, msg, dedupID(msg.Subject, m.ID))
	if errors.Is(err, engine.ErrPublishUnknown) {
		return fmt.Errorf("natsbus: publish %s %s: %w", m.Topic, m.Event, err)
	}
	if errors.Is(err, nats.ErrReconnectBufExceeded) {
		// What a connection without a reconnect buffer (ConnOptions)
		// answers while it reconnects: say that, not the buffer.
		return runtime.WithErrorType(errTypeUnreachable,
			fmt.Errorf("natsbus: publish %s %s: not connected to NATS, reconnecting: %w", m.Topic, m.Event, err))
	}
	if sendingOf(err) == unsent || errors.Is(err, nats.ErrConnectionClosed) {
		// Never reached JetStream: nothing answers, or the connection
		// is gone.
		return runtime.WithErrorType(errTypeUnreachable, fmt.Errorf("natsbus: publish %s %s: %w", m.Topic, m.Event, err))
	}
	if errors.Is(err, nats.ErrMaxPayload) {
		// Never carried, however often sent: the caller is told it is
		// too large (POST /events 413; a publish step fails at once).
		return fmt.Errorf("natsbus: publish %s %s: %w: %d bytes of payload and headers, more than the NATS server's max_payload (%d bytes): %w",
			m.Topic, m.Event, engine.ErrTooLarge, len(data)+headerBytes(msg.Header), b.js.Conn().MaxPayload(), err)
	}
	if full(err) {
		// The stream's bounds (discard new): refused, nothing stored, as
		// the in-process broker's MaxBytes refuses; a retry of the same
		// ID is stored once there is room (a refused ID is not in the
		// duplicate window).
		return fmt.Errorf("natsbus: publish %s %s: %w: stream %s: %w", m.Topic, m.Event, engine.ErrBrokerFull, b.opts.Stream, err)
	}
	if err != nil {
		return fmt.Errorf("natsbus: publish %s %s: %w", m.Topic, m.Event, err)
	}
	return nil
}

// headerBytes is about what h takes in a NATS message (names, values,
// separators), for an error to say.
func headerBytes(h nats.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// full reports whether err is JetStream refusing a message because the
// stream is at one of its limits with discard new: MaxBytes (the one
// New sets), or a message count another client set on the stream. The
// server answers these with its generic "store failed" code (10077),
// whose description is the store's error: nats-server's ErrMaxBytes,
// ErrMaxMsgs and ErrMaxMsgsPerSubject.
func full(err error) bool {
	var api *jetstream.APIError
	if !errors.As(err, &api) || api.ErrorCode != jsErrCodeStreamStoreFailed {
		return false
	}
	switch api.Description {
	case "maximum bytes exceeded", "maximum messages exceeded", "maximum messages per subject exceeded":
		return true
	}
	return false
}

// jsErrCodeStreamStoreFailed is nats-server's JSStreamStoreFailedF, which
// the client does not name.
const jsErrCodeStreamStoreFailed jetstream.ErrorCode = 10077

// idHeader carries engine.Message.ID as its publisher gave it; Nats-Msg-Id
// carries dedupID.
const idHeader = "Flowgen-Id"

// dedupID is the Nats-Msg-Id of the message id of subject: JetStream's
// duplicate window spans the whole stream, while a message is its topic,
// event and ID (the engine's inbox, engine.Broker), so the same ID on
// another topic or event is another message, which JetStream dropped as a
// duplicate when the ID alone was its Nats-Msg-Id. A subject holds no
// space (escape), so subject and ID cannot run into each other's.
func dedupID(subject, id string) string { return subject + " " + id }

// triggeredHeader carries engine.Message.Triggered: the flows (names are
// identifiers, without commas) whose run the publisher started.
const triggeredHeader = "Flowgen-Triggered"

// consumerName is a durable name JetStream accepts, unique per name and
// topic/event.
func consumerName(name, subject string) string {
	sum := sha256.Sum256([]byte(name + "\x00" + subject))
	clean := cleanName(name)
	if len(clean) > 40 {
		clean = clean[:40]
	}
	return clean + "_" + hex.EncodeToString(sum[:8])
}

// pullBatch is how many messages each Consume pulls ahead. Each handles
// one message at a time, and the engine registers several consumers under
// one name to apply a trigger's events concurrently (engine.Options.
// EventWorkers): with the client's default (500) the first subscription
// took a burst whole and the others idled, 1,000-1,300 runs/s where 8
// gives 2,300-3,800 (BenchmarkEventTriggerNATS).
const pullBatch = 8

// consumer creates (or finds) the durable pull consumer of name on
// topic/event. One it creates starts at the messages published from then
// on: a trigger added to a flow, or an engine with a new ID, does not
// replay the stream's past. One that exists keeps its place (and its
// deliver policy, which JetStream does not let change), so an engine that
// restarts gets what was published while it was down; its other settings
// are updated. pending, if positive, is the most messages JetStream lets
// it have delivered and not acknowledged (MaxAckPending; 0: JetStream's
// default, 1000). created says whether this call created it.
func (b *Broker) consumer(ctx context.Context, name, topic, event string, pending int) (cons jetstream.Consumer, created bool, err error) {
	subject := b.Subject(topic, event)
	cfg := jetstream.ConsumerConfig{
		Durable:       consumerName(name, subject),
		FilterSubject: subject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckWait:       b.opts.AckWait,
		MaxAckPending: pending,
		// Nobody pulling for MaxAge (an engine ID no longer used, a
		// flow deleted while its engines were down): deleted, not
		// holding the stream's messages until it is full.
		InactiveThreshold: b.opts.MaxAge,
	}
	// Twice at most: another engine may delete the consumer between the
	// look-up and the update (Forget), or create it between the look-up
	// and the creation with settings of its own (another AckWait).
	for range 2 {
		cons, err = b.js.Consumer(ctx, b.opts.Stream, cfg.Durable)
		if err == nil {
			// An older natsbus's consumer delivers all (from the start of
			// the stream): where it stands, that is what is due to it.
			cfg.DeliverPolicy = cons.CachedInfo().Config.DeliverPolicy
			cons, err = b.js.UpdateConsumer(ctx, b.opts.Stream, cfg)
			if errors.Is(err, jetstream.ErrConsumerDoesNotExist) || errors.Is(err, jetstream.ErrConsumerNotFound) {
				cfg.DeliverPolicy = jetstream.DeliverNewPolicy
				continue
			}
		} else if errors.Is(err, jetstream.ErrConsumerNotFound) {
			// Two engines creating it at once create one: JetStream answers
			// the same configuration with the consumer that exists.
			cons, err = b.js.CreateConsumer(ctx, b.opts.Stream, cfg)
			if errors.Is(err, jetstream.ErrConsumerExists) {
				continue
			}
			created = err == nil
		}
		break
	}
	if err != nil {
		return nil, false, fmt.Errorf("natsbus: consumer for %s %s: %w", topic, event, err)
	}
	return cons, created, nil
}

// forgetTimeout bounds Forget's request to JetStream, and a pull loop's
// requests that create its consumer again (renew).
const forgetTimeout = 10 * time.Second

// Forget deletes the durable consumer of name on topic/event, with its
// place in the stream: the engine calls it for the trigger of a flow whose
// new definition no longer has it (as it does MemoryBroker.Forget), whose
// consumer would otherwise keep the trigger's messages in the stream, and
// a trigger added back later would start with them all. As
// MemoryBroker.Forget, it keeps a consumer this Broker still consumes
// (another engine on it has the trigger). An engine on another Broker
// (another process) that still consumes it creates it again (renew): who
// consumes a durable consumer owns it, and Forget only says that the
// caller no longer does. A failure is logged, not returned: the engine has
// already replaced the flow, and the consumer, unused, is deleted by
// JetStream after MaxAge anyway.
func (b *Broker) Forget(name, topic, event string) {
	durable := consumerName(name, b.Subject(topic, event))
	if b.outages.consumed(durable) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), forgetTimeout)
	defer cancel()
	err := b.js.DeleteConsumer(ctx, b.opts.Stream, durable)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		b.opts.Logger.Warn("natsbus: deleting a consumer no flow uses", "consumer", name, "topic", topic, "event", event, "durable", durable, "error", err)
	}
}

// startPull starts a pull loop of name's consumer of topic/event (cons,
// of at most pending messages unacknowledged: consumer), which logs its
// failed requests together with the consumer's other loops (outage).
func (b *Broker) startPull(ctx context.Context, cons jetstream.Consumer, name, topic, event string, n, pending int, out chan<- jetstream.Msg, quit <-chan struct{}) (end func()) {
	log := b.opts.Logger.With("consumer", name, "topic", topic, "event", event)
	o, leave := b.outages.join(consumerName(name, b.Subject(topic, event)), log)
	renew := func(ctx context.Context) {
		// One loop of the consumer at a time: the first creates it,
		// the others find it.
		o.renewing.Lock()
		defer o.renewing.Unlock()
		// Not cut short by the loop's stop: the engine stops its
		// consumers before it forgets them, and a creation whose request
		// has left must be answered before Forget's deletion is sent,
		// lest JetStream apply it after and bring back a consumer nobody
		// uses.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), forgetTimeout)
		defer cancel()
		// Looked up first: JetStream back after an outage (which also
		// answers no responders) has it, and it need not be updated.
		_, err := b.js.Consumer(ctx, b.opts.Stream, consumerName(name, b.Subject(topic, event)))
		created := false
		switch {
		case errors.Is(err, jetstream.ErrConsumerNotFound):
			_, created, err = b.consumer(ctx, name, topic, event, pending)
		case errors.Is(err, jetstream.ErrStreamNotFound):
			// Deleted by hand: nothing else says why the pull requests
			// fail; not created again here (New's settings are the
			// operator's to restore, by restarting the engines).
		default:
			// It exists, or JetStream does not answer: the pull
			// requests failing say that (outage).
			return
		}
		switch {
		case created:
			o.renewErr = ""
			log.Warn("natsbus: the consumer was deleted while this engine consumes it (Forget by an engine whose flow no longer has it, or by hand): created again; it starts at the messages published from now on")
		case err == nil:
			o.renewErr = "" // another loop or engine created it
		case err.Error() != o.renewErr:
			// Once per cause, not at every pull request that fails.
			o.renewErr = err.Error()
			log.Warn("natsbus: the consumer is gone and could not be created again; trying again at each failed pull request", "error", err)
		}
	}
	return startPull(ctx, cons, n, out, quit, o, leave, renew)
}

// message is msg as the engine sees it.
func message(msg jetstream.Msg, topic, event string) engine.Message {
	// Nats-Msg-Id is the ID of a message published by another client, or
	// by natsbus before idHeader.
	id := cmp.Or(msg.Headers().Get(idHeader), msg.Headers().Get(jetstream.MsgIDHeader))
	m := engine.Message{ID: id, Topic: topic, Event: event, Payload: msg.Data(),
		Link: tracectx.Of(tracectx.Extract(context.Background(), http.Header(msg.Headers())))}
	if tr := msg.Headers().Get(triggeredHeader); tr != "" {
		m.Triggered = strings.Split(tr, ",")
	}
	if md, err := msg.Metadata(); err == nil {
		m.Published = md.Timestamp
		if m.ID == "" {
			// Published without an ID: the stream sequence identifies it.
			m.ID = "seq:" + strconv.FormatUint(md.Sequence.Stream, 10)
		}
	}
	return m
}

// Consume implements engine.Broker with a durable pull consumer per name
// and topic/event (consumer: one created now starts at new messages),
// asked for pullBatch at a time (pull) and handed to h one at a time. A
// consumer's stop returns once h has returned with the message in hand, if
// any (engine.Broker's contract), and gives back what it was pulled and has
// not handed to h (a negative acknowledgement, so another consumer of the
// name gets it);
// what JetStream was still sending it as it stopped comes back to the
// others after AckWait, as for a consumer that died.
func (b *Broker) Consume(ctx context.Context, name, topic, event string, h func(context.Context, engine.Message) error) (func(), error) {
	cons, _, err := b.consumer(ctx, name, topic, event, 0)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	in := make(chan jetstream.Msg) // unbuffered: pullBatch ahead, as pulled
	quit := make(chan struct{})    // closed by stop: give back, take no more
	endPull := b.startPull(cctx, cons, name, topic, event, pullBatch, 0, in, quit)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case msg := <-in:
				// The publisher's trace, if it sent one: a run this
				// message starts continues it.
				if err := h(tracectx.Extract(cctx, http.Header(msg.Headers())), message(msg, topic, event)); err != nil {
					_ = msg.NakWithDelay(b.opts.Redeliver)
					continue
				}
				_ = msg.DoubleAck(cctx)
			case <-quit:
				return
			case <-cctx.Done():
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(quit)
			<-done // after the message in hand, if any
			endPull()
			cancel()
		})
	}, nil
}

var _ engine.BatchBroker = (*Broker)(nil)

// ConsumeBatch implements engine.BatchBroker on the same durable pull
// consumer as Consume: JetStream hands the messages over in order, asked
// for at most max at a time (pull), up to max of them wait in a buffer
// while h applies the batch before, and h gets what the buffer holds. A batch h fails is given to h again after the
// Redeliver delay, before anything after it, so that a consumer of one
// keeps the order; meanwhile JetStream is told that it, and what was
// pulled behind it, are in progress, and what is behind makes the next
// batches; a consumer's stop returns once h has returned with the
// batch in hand, if any, and gives back what it holds, behind the batch
// too (a
// negative acknowledgement, so another consumer of the name gets it), and
// what JetStream was already sending it as it stopped comes back to the
// others after AckWait, as for a consumer that died. A
// batch applied is acknowledged without waiting for JetStream's answer: an
// acknowledgement lost is a redelivery, which the engine's inbox drops
// (it knows the message's ID).
func (b *Broker) ConsumeBatch(ctx context.Context, name, topic, event string, max int, h func(context.Context, []engine.Message) error) (func(), error) {
	if max < 1 {
		return nil, fmt.Errorf("natsbus: a batch of %d messages", max)
	}
	// The batch h applies and at most max more: the pull loop, once it
	// has filled the buffer, would otherwise hold a request's max more
	// (3 batches, each message up to the server's max_payload, where
	// docs/engine.md#limits says one batch ahead); JetStream holds its
	// next request until h's batch is acknowledged.
	pending := 2 * max
	cons, _, err := b.consumer(ctx, name, topic, event, pending)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	in := make(chan jetstream.Msg, max)
	quit := make(chan struct{}) // closed by stop: give back, take no more
	endPull := b.startPull(cctx, cons, name, topic, event, max, pending, in, quit)
	nak := func(msgs []jetstream.Msg) {
		for _, msg := range msgs {
			_ = msg.Nak()
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		held := make([]jetstream.Msg, 0, max)
		// What was pulled after held while h fails it: kept in progress
		// with it, else JetStream delivered it again after AckWait, and
		// the start of the batches after it, in order. With held, at
		// most pending, all JetStream lets the consumer have delivered
		// and not acknowledged: a short batch (1 message, with 3 pulled
		// behind it in a trickle) leaves room for more than max behind.
		behind := make([]jetstream.Msg, 0, pending)
		ms := make([]engine.Message, 0, max)
		for {
			held, ms = held[:0], ms[:0]
			if len(behind) == 0 {
				select {
				case msg := <-in:
					held = append(held, msg)
				case <-quit:
					return
				case <-cctx.Done():
					return
				}
			} else if closed(quit) || cctx.Err() != nil {
				nak(behind)
				return
			}
			n := min(len(behind), max)
			held = append(held, behind[:n]...)
			behind = append(behind[:0], behind[n:]...)
		more:
			for len(held) < max {
				select {
				case msg := <-in:
					held = append(held, msg)
				default:
					break more
				}
			}
			for _, msg := range held {
				ms = append(ms, message(msg, topic, event))
			}
			var progressed time.Time // of the last "in progress" notice of held and behind
			for h(cctx, ms) != nil {
			drain:
				for len(held)+len(behind) < pending {
					select {
					case msg := <-in:
						behind = append(behind, msg)
					default:
						break drain
					}
				}
				// Still being applied: not redelivered meanwhile, nor what
				// waits behind it. h is tried again every Redeliver; the
				// notices go out only as often as AckWait needs
				// (progressEvery).
				if now := time.Now(); now.Sub(progressed) >= progressEvery(b.opts.AckWait) {
					progressed = now
					for _, msg := range held {
						_ = msg.InProgress()
					}
					for _, msg := range behind {
						_ = msg.InProgress()
					}
				}
				select {
				case <-time.After(b.opts.Redeliver):
				case <-quit:
					nak(held)
					nak(behind)
					return
				case <-cctx.Done():
					nak(held)
					nak(behind)
					return
				}
			}
			for _, msg := range held {
				_ = msg.Ack()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(quit)
			<-done // after the batch in hand, if any
			endPull()
			for len(in) > 0 {
				nak([]jetstream.Msg{<-in})
			}
			cancel()
		})
	}, nil
}
