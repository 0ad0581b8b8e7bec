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
package natsprovider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

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

// Serve subscribes p's handlers on nc, in the queue group named after the
// provider, registers them with the engine (their subjects) as p's
// replica, keeps its registration alive, and at the end of ctx withdraws
// it, then unsubscribes once the calls in flight are answered (at most
// DrainTimeout). The other replicas of the name (processes serving it
// with the same token and their own replica IDs) keep the lease and the
// calls; the last one's withdrawal ends the lease.
func Serve(ctx context.Context, p *provider.Provider, name string, nc *nats.Conn) error {
	hs := p.Handlers(func(h *provider.Handler) { h.Subject = Subject(name, *h) })
	sem := make(chan struct{}, MaxInFlight)
	// The end of ctx does not cut the calls in flight short: the engine
	// sent them before this replica withdrew, and another replica would
	// only do them again. Each has its request's deadline; drain ends
	// what is left after DrainTimeout.
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var subs []*nats.Subscription
	defer func() { drain(subs, sem) }()
	for _, h := range hs {
		s, err := nc.QueueSubscribe(h.Subject, escape(name), func(m *nats.Msg) {
			select {
			case sem <- struct{}{}:
			case <-hctx.Done():
				return
			}
			go func() {
				defer func() { <-sem }()
				ctx := p.CallContext(hctx, http.Header(m.Header)) // Options.Extract
				if err := m.Respond(p.Handle(ctx, m.Data)); err != nil {
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
	return p.KeepLease(ctx, hs)
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
// and returns the reply.
type Transport struct{ nc *nats.Conn }

// NewTransport returns the engine's transport of NATS providers on nc.
func NewTransport(nc *nats.Conn) *Transport { return &Transport{nc} }

// CallProvider sends req to subject and waits for the reply within ctx.
// No subscriber on the subject (the provider is down) is an error the
// step's policy retries.
func (t *Transport) CallProvider(ctx context.Context, subject string, req []byte) ([]byte, error) {
	msg := nats.NewMsg(subject)
	msg.Data = req
	tracectx.Inject(ctx, http.Header(msg.Header)) // the step attempt's span, for the provider's work
	rsp, err := t.nc.RequestMsgWithContext(ctx, msg)
	if errors.Is(err, nats.ErrNoResponders) {
		// Every process of the provider is gone (its lease may live on):
		// the engine calls it no more until it renews.
		return nil, provider.Unreachable(fmt.Errorf("no provider subscribed to %s", subject))
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
