package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/flowgen/flowgen/engine"
)

var _ engine.TickClaimer = (*Broker)(nil)

// maxTickValue bounds a claim's value in the bucket (tickClaim's JSON: a
// time and an engine ID of at most engine.MaxNameLen bytes).
const maxTickValue = 1024

// tickBucket is the name of the KeyValue bucket holding the latest tick
// claimed of each schedule of the engines on stream: "<stream>_TICKS",
// named as the bucket of engine IDs is (bucketName).
func tickBucket(stream string) string { return bucketName(stream, "_TICKS") }

// tickClaim is a schedule's key in the bucket: the latest tick claimed,
// and by which engine.
type tickClaim struct {
	Tick   int64  `json:"tick"` // Unix seconds
	Holder string `json:"holder"`
}

// ClaimTick implements engine.TickClaimer with a key per schedule in the
// KeyValue bucket tickBucket (its value the latest tick claimed and the
// engine that claimed it), written only over an earlier tick: created, or
// updated at the revision read, so that of two engines claiming one tick
// one writes it. A key holds no history and does not expire: a schedule
// may tick once a year; the bucket holds one key per schedule (flow and
// spec) ever fired on the stream.
func (b *Broker) ClaimTick(ctx context.Context, schedule string, tick time.Time, holder string) (bool, error) {
	want := tickClaim{Tick: tick.Unix(), Holder: holder}
	value, err := json.Marshal(want)
	if err != nil {
		return false, err
	}
	kv, err := b.ticks(ctx)
	if err != nil {
		return false, err
	}
	key := tickKey(schedule)
	// Three times at most: another engine may create or change the key
	// between the look-up and the write.
	for range 3 {
		e, err := kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			_, err = kv.Create(ctx, key, value)
		case err == nil:
			cur, rerr := readClaim(e)
			if rerr != nil {
				return false, b.tickFailed(schedule, rerr)
			}
			if cur.Tick >= want.Tick {
				return cur == want, nil // a later tick's, or this one's: granted to its holder alone
			}
			_, err = kv.Update(ctx, key, value, e.Revision())
		}
		switch {
		case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			continue // written by another meanwhile
		case err != nil:
			return false, b.tickFailed(schedule, err)
		}
		return true, nil
	}
	return false, b.tickFailed(schedule, errors.New("the key kept changing while it was claimed"))
}

// LatestClaim implements engine.TickClaimer: the claim in schedule's key
// of the bucket tickBucket.
func (b *Broker) LatestClaim(ctx context.Context, schedule string) (time.Time, string, error) {
	kv, err := b.ticks(ctx)
	if err != nil {
		return time.Time{}, "", err
	}
	e, err := kv.Get(ctx, tickKey(schedule))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return time.Time{}, "", nil
	}
	if err == nil {
		var cur tickClaim
		if cur, err = readClaim(e); err == nil {
			return time.Unix(cur.Tick, 0), cur.Holder, nil
		}
	}
	return time.Time{}, "", fmt.Errorf("natsbus: reading the latest tick claimed of schedule %s in bucket %s: %w", schedule, tickBucket(b.opts.Stream), err)
}

// tickKey is schedule's key in the bucket tickBucket.
func tickKey(schedule string) string { return "s-" + escapeWith(schedule, '=') }

// readClaim decodes the claim a key of the bucket holds.
func readClaim(e jetstream.KeyValueEntry) (tickClaim, error) {
	var cur tickClaim
	if err := json.Unmarshal(e.Value(), &cur); err != nil {
		return tickClaim{}, fmt.Errorf("the key holds %d bytes that are not a claim: %w", len(e.Value()), err)
	}
	return cur, nil
}

func (b *Broker) tickFailed(schedule string, err error) error {
	return fmt.Errorf("natsbus: claiming a tick of schedule %s in bucket %s: %w", schedule, tickBucket(b.opts.Stream), err)
}

// ticks returns the bucket of ticks, created (or updated) on first use.
func (b *Broker) ticks(ctx context.Context) (jetstream.KeyValue, error) {
	b.tickMu.Lock()
	defer b.tickMu.Unlock()
	if b.tickKV != nil {
		return b.tickKV, nil
	}
	kv, err := b.keyValue(ctx, "schedule ticks", jetstream.KeyValueConfig{
		Bucket:       tickBucket(b.opts.Stream),
		Description:  "flowgen: the latest tick started of each schedule of the engines on stream " + b.opts.Stream,
		MaxValueSize: maxTickValue,
	})
	if err != nil {
		return nil, err
	}
	b.tickKV = kv
	return kv, nil
}
