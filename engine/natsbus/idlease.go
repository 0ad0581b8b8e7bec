package natsbus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/flowgen/flowgen/engine"
)

// DefaultIDLeaseTTL is the default Options.IDLeaseTTL: a process that
// died without giving its engine ID back (kill -9, its host gone) keeps it
// this long from its last renewal, unless it is restarted on its store.
const DefaultIDLeaseTTL = 30 * time.Second

// maxLeaseValue bounds a lease's value in the bucket (IDHolder's JSON:
// instance, host name, pid, time).
const maxLeaseValue = 1024

var _ engine.IDClaimer = (*Broker)(nil)

// idBucket is the name of the KeyValue bucket holding the engine IDs of
// the engines on stream: "<stream>_IDS" (bucketName).
func idBucket(stream string) string { return bucketName(stream, "_IDS") }

// bucketName is the name of a KeyValue bucket of the engines on stream:
// the stream's name with the bytes a bucket name may not hold replaced,
// and a digest of the stream's name then (no two streams share one),
// and suffix.
func bucketName(stream, suffix string) string {
	clean := cleanName(stream)
	if clean != stream {
		sum := sha256.Sum256([]byte(stream))
		clean += "_" + hex.EncodeToString(sum[:4])
	}
	return clean + suffix
}

// idKey is the bucket's key of the engine ID id: bytes other than
// letters, digits, '_' and '-' become =XX (a key holds no '%'), so that no
// two IDs share one.
func idKey(id string) string { return escapeWith(id, '=') }

// ClaimID implements engine.IDClaimer with a lease in the KeyValue bucket
// idBucket (one key per engine ID, the holder's engine.IDHolder as JSON,
// the bucket's TTL Options.IDLeaseTTL), renewed every third of it while
// the engine runs. A key held by the same Instance (the engine restarted
// on its store) is taken back at once; one of another Instance refuses
// the claim until it expires, TTL after its holder's last renewal, or is
// given back (release). A renewal that finds the key gone (NATS
// unreachable longer than the TTL) takes it again, saying so; one that
// finds it held by another holder (another Instance, or a process beside
// this one on a copy of its store) calls lost and renews no more.
func (b *Broker) ClaimID(ctx context.Context, id string, holder engine.IDHolder, lost func(error)) (func(), error) {
	value, err := json.Marshal(holder)
	if err != nil {
		return nil, err
	}
	if len(value) > maxLeaseValue {
		return nil, fmt.Errorf("natsbus: the holder of engine ID %q takes %d bytes, more than %d (its host name?)", id, len(value), maxLeaseValue)
	}
	l := &lease{b: b, id: id, key: idKey(id), holder: holder, value: value, lost: lost,
		log:  b.opts.Logger.With("id", id, "bucket", idBucket(b.opts.Stream)),
		quit: make(chan struct{}), done: make(chan struct{})}
	if err := l.take(ctx); err != nil {
		return nil, err
	}
	go l.keep()
	return l.release, nil
}

// bucket creates (or updates) the bucket of engine IDs: as the stream's,
// its settings are those of the engine that started last.
func (b *Broker) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	return b.keyValue(ctx, "engine IDs", jetstream.KeyValueConfig{
		Bucket:       idBucket(b.opts.Stream),
		Description:  "flowgen: which process holds each engine ID on stream " + b.opts.Stream,
		MaxValueSize: maxLeaseValue,
		TTL:          b.opts.IDLeaseTTL,
	})
}

// keyValue creates (or updates) the bucket cfg of the engines on the
// stream (what it holds, for the error), a key's last value alone kept,
// stored and replicated as the stream.
func (b *Broker) keyValue(ctx context.Context, what string, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	cfg.History, cfg.Storage, cfg.Replicas = 1, b.opts.Storage, b.opts.Replicas
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("natsbus: creating or updating the bucket of %s %s: %w", what, cfg.Bucket, err)
	}
	return kv, nil
}

// lease is an engine ID's hold in the bucket.
type lease struct {
	b      *Broker
	id     string
	key    string
	holder engine.IDHolder
	value  []byte // holder's JSON
	lost   func(error)
	log    *slog.Logger

	// Written by take: by ClaimID, then by keep alone.
	kv     jetstream.KeyValue
	rev    uint64 // the key's revision this lease wrote last
	gone   bool   // another holder took it (lost was called)
	quit   chan struct{}
	done   chan struct{} // keep returned
	closed sync.Once
}

// take holds the key: creates it when it is free, takes it back when its
// holder has the same Instance, and fails with an *engine.IDTakenError
// when another holds it.
func (l *lease) take(ctx context.Context) error {
	kv, err := l.b.bucket(ctx)
	if err != nil {
		return err
	}
	l.kv = kv
	// Three times at most: another process may create or change the key
	// between the look-up and the write.
	for range 3 {
		e, err := kv.Get(ctx, l.key)
		var rev uint64
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			rev, err = kv.Create(ctx, l.key, l.value)
		case err == nil && e.Revision() < l.rev:
			// What the key held before this lease wrote it (revisions
			// are the stream's sequence, and only grow): a replica
			// behind answered (a bucket's Get may be a direct get),
			// not another holder.
			return l.failed(fmt.Errorf("the key read at revision %d, older than this lease's %d (a replica behind?)", e.Revision(), l.rev))
		case err == nil:
			var other engine.IDHolder
			// Once held (a renewal), a value this lease did not write is
			// another holder's, of its Instance too: a process started
			// beside this one on a copy of its store, not this one
			// restarted. Taken back, each process's renewals would take
			// it from the other's, both consuming, and neither saying so.
			taken := l.rev != 0 && !bytes.Equal(e.Value(), l.value)
			if json.Unmarshal(e.Value(), &other) != nil || other.Instance == "" || other.Instance != l.holder.Instance || taken {
				return &engine.IDTakenError{ID: l.id, Where: "this NATS stream (" + l.b.opts.Stream + ")", Holder: other}
			}
			rev, err = kv.Update(ctx, l.key, l.value, e.Revision())
		}
		switch {
		case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			continue // written by another meanwhile
		case err != nil:
			return l.failed(err)
		}
		l.rev = rev
		return nil
	}
	return l.failed(errors.New("the key kept changing while it was claimed"))
}

func (l *lease) failed(err error) error {
	return fmt.Errorf("natsbus: claiming engine ID %q in bucket %s: %w", l.id, idBucket(l.b.opts.Stream), err)
}

// keep renews the lease every third of its TTL until release, or until
// another holder has taken it.
func (l *lease) keep() {
	defer close(l.done)
	every := l.b.opts.IDLeaseTTL / 3
	t := time.NewTicker(every)
	defer t.Stop()
	renewed := time.Now()
	var failing error // since the last renewal
	for {
		select {
		case <-l.quit:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		err := l.renew(ctx)
		cancel()
		if _, taken := errors.AsType[*engine.IDTakenError](err); taken {
			l.gone = true
			// Not on this goroutine: lost may close the engine, whose
			// release waits for keep to return.
			go l.lost(err)
			return
		}
		switch {
		case err != nil && failing == nil:
			// Once per outage: the next line says it works again.
			l.log.Warn("natsbus: cannot renew the hold of this engine's ID; another process of the same ID may take it once it expires, and this one would then say so and stop",
				"expires", renewed.Add(l.b.opts.IDLeaseTTL), "error", err)
			failing = err
		case err == nil:
			if failing != nil {
				l.log.Info("natsbus: the hold of this engine's ID is renewed again", "unrenewed_for", time.Since(renewed).Round(time.Millisecond))
			}
			failing, renewed = nil, time.Now()
		}
	}
}

// renew writes the key again at the revision this lease wrote last. Where
// that fails (it expired while NATS was unreachable, another holder wrote
// it, the bucket was deleted, or NATS does not answer), the lease is
// taken again (take), which fails with an *engine.IDTakenError while
// another holds it.
func (l *lease) renew(ctx context.Context) error {
	rev, err := l.kv.Update(ctx, l.key, l.value, l.rev)
	if err == nil {
		l.rev = rev
		return nil
	}
	if err := l.take(ctx); err != nil {
		return err
	}
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		l.log.Warn("natsbus: the hold of this engine's ID had expired (NATS unreachable longer than its TTL?); nobody else took it, and it is held again")
	}
	return nil
}

// release stops renewing the lease and gives the key back, unless another
// holder has it: a restart on the same store takes it back at once anyway,
// and another process may take it once it expires.
func (l *lease) release() {
	l.closed.Do(func() {
		close(l.quit)
		<-l.done
		if l.gone {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), forgetTimeout)
		defer cancel()
		err := l.kv.Delete(ctx, l.key, jetstream.LastRevision(l.rev))
		if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			l.log.Warn("natsbus: giving this engine's ID back failed: it stays held until it expires (a restart on the same store takes it back at once)",
				"expires_within", l.b.opts.IDLeaseTTL, "error", err)
		}
	})
}
