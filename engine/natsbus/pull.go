package natsbus

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The pause before asking JetStream again after a pull request that failed
// (a consumer deleted, no responders, a heartbeat missed): pullRetry after
// the first failure, doubled at each failure in a row up to pullRetryMax.
// A failure that answers at once is not asked again in a loop, and one
// that lasts (a consumer deleted for good, JetStream down) costs each
// consumer a request per pullRetryMax, not ten a second, while a
// consumer that comes back is pulled from again within pullRetryMax.
const (
	pullRetry    = 100 * time.Millisecond
	pullRetryMax = 5 * time.Second
)

// pullProbe bounds the pull requests made after a failed one: the client
// asks JetStream to expire them a tenth sooner (jetstream.FetchContext), so
// one that JetStream takes ends with its answer (what it holds, or "no
// messages") within pullProbe, and the consumer's recovery is logged then.
const pullProbe = time.Second

// gone reports whether a pull request's err may mean that its consumer no
// longer exists: JetStream answers the request waiting as the consumer is
// deleted with ErrConsumerDeleted, and those after it with no responder
// (as it answers while JetStream itself is down, when creating the
// consumer again fails too).
func gone(err error) bool {
	return errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, nats.ErrNoResponders)
}

// startPull runs pull on a goroutine of its own; the function it returns
// ends the pull request waiting, if any, and returns once pull has.
func startPull(ctx context.Context, cons jetstream.Consumer, n int, out chan<- jetstream.Msg, quit <-chan struct{}, o *outage, leave func(failing bool), renew func(context.Context)) (end func()) {
	pctx, cancel := context.WithCancel(ctx)
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		leave(pull(pctx, cons, n, out, quit, o, renew))
	}()
	return func() {
		cancel()
		<-ended
	}
}

// pull keeps one pull request for at most n messages of cons waiting at
// JetStream, and sends what each brings to out, in order, the next request
// going out when the last one ends (n messages brought, or its expiry,
// JetStream's default 30s), until ctx is done. A message it holds once quit
// is closed or ctx is done it gives back (a negative acknowledgement). It
// stops on its own when the connection is closed. A request that fails is
// asked again after a pause (pullRetry, pullRetryMax), with a short
// expiry (pullProbe) until one works; o, which the consumer's other pull
// loops share, logs when the first of them starts failing and when the
// last works again: nothing else learns that the consumer stands still. A
// request that failed because the consumer is gone (deleted by another
// engine's Forget, by hand, or by JetStream after MaxAge unused) has renew
// (if not nil) create it again, before the pause: the engine still
// consumes it, and a consumer that does not exist holds nothing for it
// (what was published meanwhile, and what the deleted consumer had not had
// acknowledged, are lost to it). It returns whether its last request
// failed.
//
// It does not use the client's Consume, which keeps n messages asked for by
// asking for more once fewer than half are still due: nats.go (v1.55 and
// v1.56, pullSubscription.checkPending) skips that when the message that
// crosses the half arrives while its previous request is still being sent,
// and when every message still due arrives in that window it asks for
// nothing more until its missing-heartbeat check, 30s later: the consumer
// stands still with no request waiting at JetStream and messages in the
// stream (TestConsumeBatch/Order gave up once in CI this way; with that
// window widened by a sleep in a copy of the client, it stalls every time).
// One request at a time has no count of what is due to get wrong.
func pull(ctx context.Context, cons jetstream.Consumer, n int, out chan<- jetstream.Msg, quit <-chan struct{}, o *outage, renew func(context.Context)) (failing bool) {
	failures := 0 // in a row
	for {
		select {
		case <-quit:
			return failures > 0
		case <-ctx.Done():
			return failures > 0
		default:
		}
		fctx, cancel := ctx, context.CancelFunc(func() {})
		if failures > 0 {
			// A probe: a request that ends with JetStream's answer
			// within pullProbe, so that the consumer is known to pull
			// again (o.ok) when JetStream is back, not when a request of
			// the default expiry ends, 30s later with nothing to pull.
			// Without an answer in time, it failed.
			fctx, cancel = context.WithTimeout(ctx, pullProbe)
		}
		batch, err := cons.Fetch(n, jetstream.FetchContext(fctx))
		if errors.Is(err, nats.ErrConnectionClosed) {
			cancel()
			return failures > 0
		}
		if err == nil {
			for msg := range batch.Messages() {
				select {
				case out <- msg:
				case <-quit:
					_ = msg.Nak()
				case <-ctx.Done():
					_ = msg.Nak()
				}
			}
			err = batch.Error()
		}
		cancel()
		if ctx.Err() != nil {
			continue // stopping: the error, if any, is ctx's
		}
		if err == nil {
			if failures > 0 {
				o.ok()
				failures = 0
			}
			continue
		}
		o.fail(err, failures == 0)
		if renew != nil && gone(err) && !closed(quit) {
			// Created or not, it is pulled from again after the pause,
			// and its recovery logged then; renew logs its own failures.
			renew(ctx)
		}
		wait := min(pullRetry<<min(failures, 16), pullRetryMax)
		failures++
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
	}
}

// closed reports whether quit is closed.
func closed(quit <-chan struct{}) bool {
	select {
	case <-quit:
		return true
	default:
		return false
	}
}
