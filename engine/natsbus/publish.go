package natsbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flowgen/flowgen/engine"
)

// publishAckWait is how long one sending of a message waits for
// JetStream's acknowledgement: the client's default (jetstream's
// DefaultTimeout), which was all Publish waited before it sent again.
const publishAckWait = 5 * time.Second

// publishPause is the pause before a message is sent again, doubling up
// to publishMaxPause while its outcome stays unknown: a link lost takes
// the client 2s to make again, and meanwhile a sending fails at once.
const (
	publishPause    = 100 * time.Millisecond
	publishMaxPause = 2 * time.Second
)

// sending is what one sending of a message tells of it.
type sending int

const (
	// stored: JetStream acknowledged it, stored now or before (a
	// duplicate of an earlier sending's).
	stored sending = iota
	// refused: JetStream answered with an error: this sending is not
	// stored. Nor is an earlier one when the refusal came after its
	// duplicate check (the stream full), but not all do (a sealed
	// stream; on a clustered one, the account's and the server's
	// limits): after a sending whose outcome is unknown, it stays so.
	refused
	// unsent: this sending never reached JetStream, and another may (the
	// connection reconnecting: no reconnect buffer, ConnOptions; no
	// JetStream responding).
	unsent
	// unsendable: this sending, and every other, never leaves (too
	// large, the connection closed or draining).
	unsendable
	// unknown: it may be stored, its acknowledgement lost (a timeout,
	// the link lost while waiting, an answer unread).
	unknown
)

// sendingOf classifies err, the error of one sending.
func sendingOf(err error) sending {
	var api *jetstream.APIError
	switch {
	case err == nil:
		return stored
	case errors.As(err, &api):
		return refused
	case errors.Is(err, nats.ErrReconnectBufExceeded), errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse):
		return unsent
	case errors.Is(err, nats.ErrMaxPayload), errors.Is(err, nats.ErrBadSubject), errors.Is(err, nats.ErrHeadersNotSupported),
		errors.Is(err, nats.ErrConnectionDraining), errors.Is(err, nats.ErrInvalidConnection), errors.Is(err, nats.ErrInvalidMsg):
		return unsendable
	}
	// Closed, the connection also fails a request it had sent
	// (ErrConnectionClosed): what is not known never sent is unknown.
	return unknown
}

// send publishes msg with msgID (Nats-Msg-Id) until JetStream says whether
// it stored it. A sending whose outcome is unknown (its acknowledgement
// lost) made POST /events answer 502 while JetStream had stored the event,
// and its consumers applied it: a 5xx that changed something. It is now
// sent again, byte for byte, within Options.PublishRetry (and ctx): JetStream
// drops a sending whose ID it stored within its duplicate window, answering
// it as a duplicate, which is the acknowledgement that was lost. An outcome
// still unknown at the bound is engine.ErrPublishUnknown, as is one that
// JetStream refuses after a sending whose outcome is unknown (refused). A
// sending that surely failed fails at once, as before, when no earlier
// one is unknown: JetStream's refusal (the stream full), the connection
// down before it left, the caller's ctx ended before it left.
func (b *Broker) send(ctx context.Context, msg *nats.Msg, msgID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.js.Conn().IsClosed() {
		// Not sent: the request fails with the same error once sent, when
		// the connection closes while it waits (unknown).
		return nats.ErrConnectionClosed
	}
	start := time.Now()
	var lost error // the last sending whose outcome is unknown, if any
	pause := publishPause
	for sendings := 1; ; sendings++ {
		actx, cancel := context.WithTimeout(ctx, publishAckWait)
		_, err := b.js.PublishMsg(actx, msg, jetstream.WithMsgID(msgID))
		cancel()
		switch sendingOf(err) {
		case stored:
			return nil
		case refused, unsent, unsendable:
			if lost == nil {
				return err
			}
		case unknown:
			lost = err
		}
		// Sent again only while the caller waits, the connection may
		// come back, and within the bound.
		s := sendingOf(err)
		again := s != unsendable && s != refused && ctx.Err() == nil && !b.js.Conn().IsClosed() &&
			time.Since(start)+pause < b.opts.PublishRetry
		if again {
			select {
			case <-time.After(pause):
				pause = min(2*pause, publishMaxPause)
				continue
			case <-ctx.Done():
			}
		}
		return fmt.Errorf("%w: %d sendings over %s not acknowledged (natsbus.Options.PublishRetry %s): %w; the last: %v",
			engine.ErrPublishUnknown, sendings, time.Since(start).Round(time.Millisecond), b.opts.PublishRetry, lost, err)
	}
}
