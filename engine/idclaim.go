package engine

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// IDClaimer is a Broker that holds engine IDs for the processes that
// share it (natsbus: a lease in a JetStream KeyValue bucket). A Locker
// spans the engines of one process; engines of two processes, each with
// its store, that share a broker under one ID (two left at flowgen
// serve's default) share the await consumer named after it, and split the
// awaited events between them: a run waited on, then timed out, while its
// event sat in the other process's inbox. Start claims the engine's ID on
// a Broker that has it, after its Locker's and before anything consumes,
// and fails while another process holds it. MemoryBroker has none: it
// spans one process.
type IDClaimer interface {
	// ClaimID holds id for holder until release is called, and fails with
	// an *IDTakenError while a holder of another Instance has it. The
	// holder of the same Instance (the process restarted on the same
	// store, after a kill -9 too) takes it back at once; another waits
	// until the hold of the one that died expires. The hold is kept while
	// it runs; lost is called, once, if another holder has taken it since
	// (the broker unreachable longer than the hold lasts, and another
	// process of the same id started meanwhile; or one of the same
	// Instance started beside it, on a copy of its store, which takes it
	// at once as a restart would). release returns once it
	// keeps the hold no more; it gives the id back if it still holds it.
	ClaimID(ctx context.Context, id string, holder IDHolder, lost func(error)) (release func(), err error)
}

// IDHolder is who holds an engine ID on a broker (IDClaimer).
type IDHolder struct {
	// Instance is the same across the holder's restarts and another
	// process's own: its store's (InstanceStore), or a random one per
	// Engine for a store that has none.
	Instance string    `json:"instance"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	Since    time.Time `json:"since"`
}

// InstanceStore is a Store with an ID of its own that its restarts keep
// (store.Store: the file INSTANCE in its directory): the engine names it
// as the holder of its ID on the broker (IDClaimer), so that, restarted
// on the store after a crash, it takes its ID back at once.
type InstanceStore interface {
	Instance() string
}

// IDTakenError is ClaimID's error for an engine ID another process holds.
type IDTakenError struct {
	ID     string
	Where  string // "this NATS stream FLOWGEN"
	Holder IDHolder
}

func (e *IDTakenError) Error() string {
	return fmt.Sprintf("engine: another process on %s has engine ID %q (host %s, pid %d, since %s): give each process its own -id (engine.Options.ID), or the awaited events would be split between them",
		e.Where, e.ID, e.Holder.Host, e.Holder.PID, e.Holder.Since.UTC().Format(time.RFC3339))
}

// claimBroker claims the engine's ID on its broker, if the broker holds
// IDs (IDClaimer); on one that does not, release does nothing.
func (e *Engine) claimBroker(ctx context.Context) (release func(), err error) {
	c, ok := e.broker.(IDClaimer)
	if !ok {
		return func() {}, nil
	}
	h := IDHolder{PID: os.Getpid(), Since: time.Now()}
	h.Host, _ = os.Hostname()
	if is, ok := e.store.(InstanceStore); ok {
		h.Instance = is.Instance()
		if h.Instance == "" {
			// Said at start: the refusal after a crash names "another
			// process", which is this one's previous life.
			e.log.Warn("engine: the store has no instance ID (its INSTANCE file could not be made: no room on the disk), so this engine holds its ID on the broker under one of its own: restarted after a crash, it is refused its ID until that hold expires (-id's lease: docs/engine.md#nats-jetstream-enginenatsbus)",
				"id", e.opts.ID)
		}
	}
	if h.Instance == "" {
		h.Instance = runtime.NewID() // this Engine's alone: a restart waits for its hold to expire
	}
	return c.ClaimID(ctx, e.opts.ID, h, func(err error) {
		e.log.Error("engine: another process took this engine's ID on the broker: both now consume its awaited events, each getting a share; stop one, and give each process its own ID",
			"id", e.opts.ID, "error", err)
		if e.opts.OnIDLost != nil {
			e.opts.OnIDLost(err)
		}
	})
}
