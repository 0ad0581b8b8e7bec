// Package natsprovider carries remote provider calls over NATS
// request-reply: Serve runs a provider's handlers on NATS subjects in a
// queue group (replicas with the same provider name share the calls and
// the lease, each with its own registration), and
// Transport is the engine's side (engine.ProviderOptions.NATS).
//
// A NATS call carries no call token (provider.Lease.CallToken, which HTTP
// calls carry): the request is a body alone, and who may publish on the
// Prefix subjects is the NATS server's to decide, with its accounts and
// subject permissions (docs/engine.md, "What a provider can trust").
//
// A NATS request has no connection of its own that breaks when the
// replica serving it dies (over HTTP the engine sees the connection
// close), so a replica says that it still holds a call: when the request
// carries ProgressHeader (the engine's Transport sends it), Serve answers
// at once with a progress notice, then sends one every interval
// (Options.Progress, default ProgressInterval) until the answer. The
// Transport fails the call, a retryable transport failure, once ProgressMissed
// intervals pass after a notice with neither another notice nor the
// answer: the replica, its process or its connection is gone. A provider
// that sends no notice (one built before notices, or by hand) is waited for
// as before, until the attempt's deadline; an engine that does not ask
// for notices (one built before them) gets none, and takes the answer,
// the first reply, as before.
package natsprovider

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/observe/tracectx"
)

// Prefix starts the subjects Serve registers:
// "flowgen_provider.<provider>.<step|rollback>.<handler>", names escaped.
// It is not under "flowgen.", natsbus's default subjects, which the
// JetStream stream captures (the stream would answer a request with its
// acknowledgement). The engine refuses a subject outside it.
const Prefix = provider.SubjectPrefix

// MaxInFlight bounds the calls one Serve runs at a time; more wait in
// the NATS client's buffer.
const MaxInFlight = 64

// Subject is where Serve serves handler h of provider name.
func Subject(name string, h provider.Handler) string {
	kind := "step"
	if h.Rollback {
		kind = "rollback"
	}
	return Prefix + "." + escape(name) + "." + kind + "." + escape(h.Name)
}

// escape keeps letters, digits, '_' and '-' and writes other bytes as
// %XX, so that a name is one subject token.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// DrainTimeout bounds how long Serve, at its end, waits for the calls in
// flight to be answered, as ListenAndServe's HTTP shutdown does.
const DrainTimeout = provider.ShutdownTimeout

// Progress notices: the bound on a call whose replica went silent
// (package doc).
const (
	// ProgressHeader is the NATS header of a request whose sender takes
	// progress notices (value "1"), and of a notice: an empty message on
	// the request's reply subject whose value is the interval until the
	// next one, a Go duration ("5s").
	ProgressHeader = "Flowgen-Progress"
	// ProgressInterval is how often Serve sends a notice by default.
	ProgressInterval = 5 * time.Second
	// ProgressMissed is how many intervals after a notice the Transport
	// waits for the next one, or the answer, before it fails the call:
	// one or two lost or late notices do not end a call.
	ProgressMissed = 3
	// MinProgressInterval and MaxProgressInterval bound the interval a
	// notice announces, as the Transport reads it (an interval that does
	// not parse is MaxProgressInterval): a call whose replica went silent
	// fails at most ProgressMissed times MaxProgressInterval after its
	// last notice.
	MinProgressInterval = 10 * time.Millisecond
	MaxProgressInterval = time.Minute
)

// Options configure ServeWith.
type Options struct {
	// Progress is how often a call in flight sends the engine a progress
	// notice (default ProgressInterval, within MinProgressInterval and
	// MaxProgressInterval). The engine fails a call after ProgressMissed
	// intervals without one.
	Progress time.Duration
}

// Serve is ServeWith with the default Options.
func Serve(ctx context.Context, p *provider.Provider, name string, nc *nats.Conn) error {
	return ServeWith(ctx, p, name, nc, Options{})
}

// ServeWith subscribes p's handlers on nc, in the queue group named after the
// provider, registers them with the engine (their subjects) as p's
// replica, keeps its registration alive, and at the end of ctx withdraws
// it, then unsubscribes once the calls in flight are answered (at most
// DrainTimeout). It renews only while nc is connected
// (provider.Provider.KeepLeaseWhile): the lease of a replica whose connection
// stays down expires. The other replicas of the name (processes serving it
// with the same token and their own replica IDs) keep the lease and the
// calls; the last one's withdrawal ends the lease. From the moment it
// takes a call until it answers (also while the call waits for one of the
// MaxInFlight slots), it sends the engine a progress notice every
// opts.Progress, so that the engine fails the call if this replica dies
// with it (package doc). It returns nil once ctx ends, and an error
// wrapping nats.ErrConnectionClosed, its lease withdrawn, once nc is
// closed for good (closed, or out of reconnect attempts), which no
// renewal would outlast.
func ServeWith(ctx context.Context, p *provider.Provider, name string, nc *nats.Conn, opts Options) error {
	every := min(max(cmp.Or(opts.Progress, ProgressInterval), MinProgressInterval), MaxProgressInterval)
	hs := p.Handlers(func(h *provider.Handler) { h.Subject = Subject(name, *h) })
	sem := make(chan struct{}, MaxInFlight)
	// The end of ctx does not cut the calls in flight short: the engine
	// sent them before this replica withdrew, and another replica would
	// only do them again. Each has its request's deadline; drain ends
	// what is left after DrainTimeout.
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	// A connection closed for good (closed by its process, or out of
	// reconnect attempts) never takes a call again: the lease ends with
	// it, withdrawn, and so does Serve, with why, for whoever supervises
	// it to start it again; it renewed nothing and logged so at every
	// tick for ever. Listened for before subscribing, so that no close
	// goes unseen.
	lctx, closed := closedWith(ctx, nc)
	defer closed()
	var subs []*nats.Subscription
	defer func() { drain(subs, sem) }()
	for _, h := range hs {
		s, err := nc.QueueSubscribe(h.Subject, escape(name), func(m *nats.Msg) {
			stop := progress(m, every)
			select {
			case sem <- struct{}{}:
			case <-hctx.Done():
				stop() // the engine's call fails after ProgressMissed intervals
				return
			}
			go func() {
				defer func() { <-sem }()
				ctx := p.CallContext(hctx, http.Header(m.Header)) // Options.Extract
				answer := p.Handle(ctx, m.Data)
				stop()
				if err := m.Respond(answer); err != nil {
					// An answer the connection cannot carry (larger than
					// the server's max payload) would leave the engine
					// waiting until the attempt's deadline, with nothing
					// said anywhere: answer why instead.
					_ = m.Respond(answerError(err))
				}
			}()
		})
		if err != nil {
			return err
		}
		subs = append(subs, s)
	}
	if err := nc.Flush(); err != nil {
		return err
	}
	// A renewal says that this replica serves: not while its connection
	// is down (nats.go sends its subscriptions again before it reports
	// connected).
	err := p.KeepLeaseWhile(lctx, hs, nc.IsConnected)
	if err == nil && ctx.Err() == nil {
		err = context.Cause(lctx) // the connection closed
	}
	return err
}

// closedWith is ctx, cancelled with an error wrapping
// nats.ErrConnectionClosed once nc is closed for good (not while it is
// being made again); stop stops listening.
func closedWith(ctx context.Context, nc *nats.Conn) (_ context.Context, stop func()) {
	lctx, cancel := context.WithCancelCause(ctx)
	ch := nc.StatusChanged(nats.CLOSED)
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ch:
		case <-lctx.Done():
			return
		}
		if !nc.IsClosed() {
			return // ch closed by stop
		}
		why := "closed"
		if err := nc.LastError(); err != nil {
			why = err.Error()
		}
		cancel(fmt.Errorf("natsprovider: the NATS connection is closed for good (%s), so this replica can take no call again: %w", why, nats.ErrConnectionClosed))
	}()
	if nc.IsClosed() { // closed before the listener was in place
		cancel(fmt.Errorf("natsprovider: the NATS connection is closed, so this replica can take no call: %w", nats.ErrConnectionClosed))
	}
	return lctx, func() {
		nc.RemoveStatusListener(ch)
		cancel(nil)
		<-done
	}
}

// progress sends a progress notice in reply to m at once, then every
// interval, until stop is called, if m's sender asked for them
// (ProgressHeader); stop returns once no notice is being sent, so that
// none follows the answer.
func progress(m *nats.Msg, every time.Duration) (stop func()) {
	if m.Reply == "" || m.Header.Get(ProgressHeader) == "" {
		return func() {}
	}
	notice := func() {
		n := nats.NewMsg(m.Reply)
		n.Header.Set(ProgressHeader, every.String())
		_ = m.RespondMsg(n) // a notice lost is one of the ProgressMissed
	}
	notice()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				notice()
			case <-done:
				return
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// answerError is the answer when the handler's could not be sent: a
// permanent error, since the same answer would not fit again.
func answerError(err error) []byte {
	b, _ := json.Marshal(provider.Response{Error: &provider.Error{
		Message: "the provider could not send its answer over NATS: " + err.Error(), Class: provider.ClassPermanent}})
	return b
}

// drain stops subs once the messages they hold are handed to their
// callbacks, then waits until no call is in flight (every slot of sem is
// free), all within DrainTimeout.
func drain(subs []*nats.Subscription, sem chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), DrainTimeout)
	defer cancel()
	for _, s := range subs {
		closed := s.StatusChanged(nats.SubscriptionClosed)
		if s.Drain() == nil {
			select {
			case <-closed:
				continue
			case <-ctx.Done():
			}
		}
		_ = s.Unsubscribe()
	}
	for range cap(sem) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
	}
}

// Transport is the engine's NATS side: it sends each call as a request
// and returns the reply, taking the replica's progress notices on the way.
type Transport struct {
	nc *nats.Conn

	// The replies of every call come to one subscription of the
	// transport's own, prefix.*, each call's to prefix.<token> (as the
	// client's own requests share one): a subscription per call costs
	// the server a SUB and an UNSUB per call, and measured here 50 times
	// a plain request's time (BenchmarkCallProvider).
	mu     sync.Mutex
	sub    *nats.Subscription
	prefix string
	calls  map[string]*call
	next   uint64
}

// call is one call's side of the transport's subscription: its answer
// (one message, the first that is not a notice), and the interval of
// the latest progress notice, which the mux never blocks to deliver.
type call struct {
	answer   chan *nats.Msg
	progress chan time.Duration
}

// NewTransport returns the engine's transport of NATS providers on nc.
func NewTransport(nc *nats.Conn) *Transport { return &Transport{nc: nc} }

// ErrSilent is the error of a call whose replica announced progress
// notices and then sent neither the next one nor the answer for
// ProgressMissed of its intervals: it, its process or its NATS connection
// is gone, and the call with it. The step's policy retries it, and the
// NATS server gives the next attempt to a replica still subscribed.
var ErrSilent = errors.New("the provider replica that took the call went silent")

// CallProvider sends req to subject, asking for progress notices, and
// waits for the reply within ctx. No subscriber on the subject (the
// provider is down) is an error the step's policy retries, and so is a
// replica's silence after its notices (ErrSilent).
func (t *Transport) CallProvider(ctx context.Context, subject string, req []byte) ([]byte, error) {
	reply, c, err := t.open()
	if err != nil {
		return nil, err
	}
	defer t.close(reply)
	msg := nats.NewMsg(subject)
	msg.Reply = t.prefix + "." + reply
	msg.Data = req
	msg.Header.Set(ProgressHeader, "1")
	tracectx.Inject(ctx, http.Header(msg.Header)) // the step attempt's span, for the provider's work
	rsp, err := t.reply(ctx, c, msg)
	if errors.Is(err, nats.ErrNoResponders) {
		// Every process of the provider is gone (its lease may live on):
		// the engine calls it no more until it renews.
		return nil, provider.Unreachable(fmt.Errorf("no provider subscribed to %s", subject))
	}
	if errors.Is(err, nats.ErrReconnectBufExceeded) {
		// What a connection without a reconnect buffer (flowgen serve's:
		// natsbus.ConnOptions) answers while it reconnects: the call was
		// not sent. Say that, not the buffer: the run's history records it.
		return nil, fmt.Errorf("not connected to NATS, reconnecting: the call was not sent: %w", err)
	}
	if errors.Is(err, nats.ErrMaxPayload) {
		// The state does not fit the server's max_payload: sending it again
		// cannot help.
		return nil, provider.Permanent(fmt.Errorf("the request (%d bytes) is larger than the NATS server's max_payload (%d bytes): %w", len(req), t.nc.MaxPayload(), err))
	}
	if err != nil {
		return nil, err
	}
	return rsp.Data, nil
}

// open makes a call's reply token and its side of the subscription,
// subscribing first if the transport has not yet.
func (t *Transport) open() (string, *call, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sub == nil {
		prefix := t.nc.NewInbox()
		sub, err := t.nc.Subscribe(prefix+".*", t.route)
		if err != nil {
			return "", nil, err
		}
		// Replies wait in the client for the mux, not in the server:
		// no limit of the client's own drops one.
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			_ = sub.Unsubscribe()
			return "", nil, err
		}
		t.sub, t.prefix, t.calls = sub, prefix, map[string]*call{}
	}
	t.next++
	reply := strconv.FormatUint(t.next, 36)
	c := &call{answer: make(chan *nats.Msg, 1), progress: make(chan time.Duration, 1)}
	t.calls[reply] = c
	return reply, c, nil
}

func (t *Transport) close(reply string) {
	t.mu.Lock()
	delete(t.calls, reply)
	t.mu.Unlock()
}

// route hands a reply to its call: a notice replaces one not yet read,
// the answer (or the server's "no responders") is the call's one message.
// A reply to a call that has ended is dropped.
func (t *Transport) route(m *nats.Msg) {
	t.mu.Lock()
	c := t.calls[strings.TrimPrefix(m.Subject, t.prefix+".")]
	t.mu.Unlock()
	if c == nil {
		return
	}
	if every, ok := notice(m); ok {
		select {
		case <-c.progress:
		default:
		}
		c.progress <- every // the only sender: room was just made
		return
	}
	select {
	case c.answer <- m:
	default: // a second answer (none is sent): the first stands
	}
}

// reply publishes msg and returns the call's answer. Until a notice, it
// waits as long as ctx lets it; after one, ProgressMissed times the
// interval the latest notice announces.
func (t *Transport) reply(ctx context.Context, c *call, msg *nats.Msg) (*nats.Msg, error) {
	if err := t.publish(ctx, msg); err != nil {
		return nil, err
	}
	var silence <-chan time.Time // none until the replica's first notice
	var wait time.Duration
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case m := <-c.answer:
			if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
				return nil, nats.ErrNoResponders
			}
			return m, nil
		case every := <-c.progress:
			wait = ProgressMissed * every
			if timer == nil {
				timer = time.NewTimer(wait)
				silence = timer.C
			} else {
				timer.Reset(wait)
			}
		case <-silence:
			return nil, fmt.Errorf("%w: no progress notice or answer for %v", ErrSilent, wait)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// publish sends msg, waiting within ctx for the connection while it is
// being made again: without a reconnect buffer (flowgen serve's,
// natsbus.ConnOptions) a request made meanwhile is not sent, and failed at
// once it spent the step's attempts at the pace of its backoff while a
// NATS server restarted, failing runs that its few seconds should not.
// Not sent, it is sent once the connection is back (after its
// subscriptions, the replicas' on their own connections may come later:
// a call then finds no subscriber, provider.Unreachable).
func (t *Transport) publish(ctx context.Context, msg *nats.Msg) error {
	for {
		err := t.nc.PublishMsg(msg)
		if !errors.Is(err, nats.ErrReconnectBufExceeded) {
			return err
		}
		back := t.nc.StatusChanged(nats.CONNECTED, nats.CLOSED)
		for t.nc.IsReconnecting() && ctx.Err() == nil {
			select {
			case <-back:
			case <-ctx.Done():
			}
		}
		t.nc.RemoveStatusListener(back)
		if ctx.Err() != nil {
			return fmt.Errorf("%w (%w)", err, context.Cause(ctx))
		}
	}
}

// notice says whether m is a progress notice, and the interval it
// announces, within MinProgressInterval and MaxProgressInterval.
func notice(m *nats.Msg) (time.Duration, bool) {
	v := m.Header.Get(ProgressHeader)
	if v == "" || len(m.Data) != 0 {
		return 0, false
	}
	every, err := time.ParseDuration(v)
	if err != nil {
		every = MaxProgressInterval
	}
	return min(max(every, MinProgressInterval), MaxProgressInterval), true
}
