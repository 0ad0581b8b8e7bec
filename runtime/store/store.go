// Package store keeps flow runs' histories durably: an embedded append-only
// log (no server, no cgo) that implements runtime.Sink, reads a run's history
// back, lists runs by flow and state, and resumes unfinished runs after a
// restart (ResumeAll). The same log keeps an engine's inbox: the messages
// runs wait for, each with its state (pending, claimed, dead), changed by
// PutMessage, ClaimMessage, ReleaseMessage, DeadLetter and ExpireMessage,
// and the abort requests of runs (RequestAbort: from runtime.Run.Abort, the
// store being the flow's sink, or from an engine) that the runs have not
// recorded yet. Memory is the same API in memory, for
// tests.
//
// Emit returns only after the event is written and synced; concurrent runs
// share syncs (group commit). See docs/store.md for the format, the crash
// guarantees and the measurements behind the design.
package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store/internal/wal"
)

var (
	// ErrCorrupt is matched (errors.Is) by the *CorruptError Open returns
	// for damage that is not a torn tail.
	ErrCorrupt = wal.ErrCorrupt
	// ErrFailed is matched by every Emit after a write or sync failed: the
	// store never retries a failed sync into a false success. Reopen it.
	ErrFailed = wal.ErrFailed
	// ErrClosed is returned by Emit after Close.
	ErrClosed = wal.ErrClosed
	// ErrReadOnly is returned by Emit, and every other change (inbox,
	// abort request, compaction), on a store opened with OpenReadOnly.
	ErrReadOnly = wal.ErrReadOnly
	// ErrInUse is matched by Open's error when another process has the
	// store open: that process, not the caller, owns the directory now.
	ErrInUse = wal.ErrInUse
	// ErrInstance is matched by Open's error (an *InstanceError) when the
	// store's INSTANCE file is damaged in a store that holds records: its
	// identity is not replaced on its own (docs/store.md, "On disk").
	ErrInstance = wal.ErrInstance
	// ErrSequence is returned by Emit for an event that does not follow its
	// run's history (sequence gap or repeat, or an event after the end).
	ErrSequence = errors.New("store: event out of sequence")
	// ErrInvalidEvent is returned by Emit for an event without a run ID,
	// with an unknown machine state, or with a wait it cannot record (a
	// time past the year 9999).
	ErrInvalidEvent = errors.New("store: invalid event")
)

// CorruptError names the segment file and byte offset of damaged data.
type CorruptError = wal.CorruptError

// InstanceError names a damaged INSTANCE file and what it holds.
type InstanceError = wal.InstanceError

// TornTail is what Open cut off the end of the log (Store.TornTail).
type TornTail = wal.TornTail

// TornTailMeaning is what a torn tail means, for a service's log line of
// it: a write never acknowledged, or damage that looks like one.
const TornTailMeaning = wal.TornTailMeaning

// Options tune a Store. Zero values pick the defaults.
type Options struct {
	// SegmentSize: the log starts a new segment file after this many bytes
	// (default 64 MiB).
	SegmentSize int64
	// MaxBatch caps the events written and synced together (default 4096).
	MaxBatch int
	// MaxWait is how long a group commit waits for more events before it
	// writes (default 0: it takes what queued during the previous sync).
	MaxWait time.Duration
	// Hook, if set, is called at each durability point of every group
	// commit ("before-write", "after-write-before-sync",
	// "after-sync-before-ack") and of a compaction ("compact-written",
	// "compact-committed", "compact-removed", "compact-renamed",
	// "compact-swapped"); crash tests kill the process there.
	Hook func(point string)
	// Committed, if set, is called after each group commit with the
	// number of records it made durable and the time its sync took (the
	// metrics of package observe: sync latency, batch size). It runs
	// before the commit's Emits return: it must be quick.
	Committed func(records int, sync time.Duration)
	// OnFail, if set, is called once, on a goroutine of its own, when a
	// write or sync of the log fails (a full disk, an I/O error): every
	// later Emit and inbox change fails with ErrFailed until the store is
	// reopened, so a service stops and is restarted (flowgen serve exits
	// 1) rather than answer every write with an error for good. Close
	// waits for it to return (nothing of the store goes on after Close):
	// it must not call Close itself, nor Compact or CompactAll, which wait
	// for the compaction lock Close holds meanwhile.
	OnFail func(err error)

	// Retain is how long a finished run (done, failed, compensated, ...)
	// is kept after its last event; then compaction removes it. Default 0:
	// every run is kept, so nothing is ever lost by surprise. Unfinished
	// runs are always kept. See compact.go.
	Retain time.Duration
	// CompactEvery is how often the background compaction looks at the
	// store (default DefaultCompactEvery); it rewrites the sealed segments
	// when at least half the records the store holds (the active segment's
	// too) can go. Negative: no background
	// compaction (Compact and CompactAll still work).
	CompactEvery time.Duration
	// OnCompact, if set, is told of each background compaction that ran or
	// failed (a service logs it). It is called on the compaction's own
	// goroutine, which Close waits for: it must not call Close.
	OnCompact func(CompactStats, error)
	// Now is the clock retention is measured by (default time.Now).
	Now func() time.Time
}

// Store is the durable store. It is safe for concurrent use; one process
// at a time may open a directory.
type Store struct {
	inboxOps // PutMessage, ClaimMessage, ...: the inbox (inbox.go)
	log      *wal.Log
	opts     Options
	readOnly bool // OpenReadOnly: no change, a compaction neither

	// A compaction's swap takes both for writing: appendMu waits for the
	// appends whose positions are not yet indexed and holds off new ones;
	// readMu waits for the reads of positions that are about to move.
	appendMu sync.RWMutex
	readMu   sync.RWMutex
	compacter

	mu       sync.RWMutex
	records  int // records indexed: the share compaction could drop is measured against it
	idx      index
	pos      [][]wal.Pos         // per run (index position): where its events are
	inflight map[string]struct{} // runs with an Emit between check and index
	inbox    inboxIndex
	msgBusy  map[MessageKey]chan struct{} // messages with a record being written

	bufs  sync.Pool
	emits sync.Pool // of *emitOp
}

var _ runtime.Sink = (*Store)(nil)
var _ runtime.HistoryLoader = (*Store)(nil)

// Open opens or creates the store in directory dir. It reads the whole log
// to rebuild the index of runs, cutting a torn tail (the last write of a
// process that died) back to the last valid record. Damage elsewhere fails
// with a *CorruptError.
func Open(dir string, opts Options) (*Store, error) {
	return open(dir, opts, false)
}

// OpenReadOnly opens the store in dir for reading (the CLI's runs and
// history verbs), even while a process has it open for writing: it takes no
// lock and changes nothing; a tail being written is skipped. Emit, the
// inbox's changes, RequestAbort, Compact and CompactAll fail with
// ErrReadOnly.
func OpenReadOnly(dir string) (*Store, error) {
	return open(dir, Options{}, true)
}

// Exists reports whether dir holds a store (Open creates one where none
// is): what a tool that reads or maintains a store checks first, so that a
// mistyped directory is an error, not an empty store.
func Exists(dir string) (bool, error) { return wal.Exists(dir) }

func open(dir string, opts Options, readOnly bool) (*Store, error) {
	s := &Store{idx: newIndex(), inflight: map[string]struct{}{}, inbox: newInboxIndex(false), msgBusy: map[MessageKey]chan struct{}{}, opts: opts, readOnly: readOnly}
	s.inboxOps = inboxOps{s}
	s.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	s.emits.New = func() any { return new(emitOp) }
	l, err := wal.Open(dir, wal.Options{
		SegmentSize: opts.SegmentSize,
		MaxBatch:    opts.MaxBatch,
		MaxWait:     opts.MaxWait,
		Hook:        opts.Hook,
		Committed:   opts.Committed,
		OnFail:      opts.OnFail,
		ReadOnly:    readOnly,
	}, func(pos wal.Pos, p []byte) error {
		err := s.replay(pos, p)
		if err != nil {
			// The record's checksum held, so this is not damage on disk but
			// an event this code cannot take: say where it is.
			return &CorruptError{Segment: wal.SegmentPath(dir, pos.Segment), Offset: pos.Offset, Reason: err.Error()}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log = l
	if !readOnly {
		s.startCompacter()
	}
	return s, nil
}

// replay indexes a record read at open.
func (s *Store) replay(pos wal.Pos, p []byte) error {
	if len(p) == 0 {
		return errShort
	}
	switch {
	case isEventKind(p[0]):
		e, err := decodeEvent(p)
		if err != nil {
			return err
		}
		return s.index(pos, &e)
	case p[0] == kindMessage:
		r, err := decodeMessage(p)
		if err != nil {
			return err
		}
		if _, err := s.inbox.check(&r); err != nil {
			return err
		}
		s.inbox.apply(&r, pos)
		s.records++
		return nil
	case p[0] == kindAbort:
		id, err := decodeAbort(p)
		if err != nil {
			return err
		}
		s.idx.applyAbort(id)
		s.records++
		return nil
	}
	return fmt.Errorf("unknown record kind %d (a store written by a newer flowgen?)", p[0])
}

func (s *Store) index(pos wal.Pos, e *runtime.Event) error {
	i, st, err := s.idx.check(e)
	if err != nil {
		return err
	}
	i = s.idx.add(i, st, e)
	if i == len(s.pos) {
		s.pos = append(s.pos, make([]wal.Pos, 0, 8))
	}
	s.pos[i] = append(s.pos[i], pos)
	s.records++
	return nil
}

// Emit appends e and returns once it is durable: written and synced. It
// implements runtime.Sink. Events of one run must come in sequence; each
// run's events are emitted one at a time, as the runtime does.
func (s *Store) Emit(ctx context.Context, e runtime.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if _, busy := s.inflight[e.RunID]; busy {
		s.mu.Unlock()
		if e.Seq == 1 {
			// A run of this ID is being written (another flow's start,
			// say): a run ID taken, as idx.check says of one written.
			return &duplicateRun{e.RunID, "is being written"}
		}
		return fmt.Errorf("%w: run %q: seq %d emitted while another event of the run is being written", ErrSequence, e.RunID, e.Seq)
	}
	if _, _, err := s.idx.check(&e); err != nil {
		s.mu.Unlock()
		return err
	}
	// Only checked events reach the log, so the log always replays into a
	// consistent index at the next Open.
	s.inflight[e.RunID] = struct{}{}
	s.mu.Unlock()

	bp := s.bufs.Get().(*[]byte)
	buf, err := encodeEvent((*bp)[:0], &e)
	if err != nil {
		s.bufs.Put(bp)
		s.mu.Lock()
		delete(s.inflight, e.RunID)
		s.mu.Unlock()
		return err
	}
	op := s.emits.Get().(*emitOp)
	op.s, op.e = s, e
	s.appendMu.RLock()
	_, err = s.log.AppendApply(buf, op)
	s.appendMu.RUnlock()
	*bp = buf
	s.bufs.Put(bp)
	ierr := op.err
	*op = emitOp{} // drop the event's references while pooled
	s.emits.Put(op)
	if err != nil {
		s.mu.Lock()
		delete(s.inflight, e.RunID)
		s.mu.Unlock()
		return err
	}
	return ierr
}

// emitOp indexes an event that Emit wrote, when the log says it is
// durable (wal.Applier): in the log's order, so that the index lists runs
// in the order a restart rebuilds, which a cursor of GET /runs relies on.
type emitOp struct {
	s   *Store
	e   runtime.Event
	err error
}

func (op *emitOp) Applied(_ int, pos wal.Pos) {
	s := op.s
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inflight, op.e.RunID)
	op.err = s.index(pos, &op.e)
}

// positions is where runID's events are in the log, in order, as the
// index holds them now (capped, so that a later append does not write
// into the caller's view). The caller holds readMu, which keeps them
// there.
func (s *Store) positions(runID string) ([]wal.Pos, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.idx.runs[runID]
	if !ok {
		return nil, fmt.Errorf("%w: %q", runtime.ErrUnknownRun, runID)
	}
	return s.pos[i][:len(s.pos[i]):len(s.pos[i])], nil
}

// Load returns the history of runID in order, read back from the log and
// verified against its checksums.
func (s *Store) Load(runID string) ([]runtime.Event, error) {
	s.readMu.RLock()
	defer s.readMu.RUnlock()
	pos, err := s.positions(runID)
	if err != nil {
		return nil, err
	}
	out := make([]runtime.Event, 0, len(pos))
	for _, p := range pos {
		e, err := s.readEvent(p)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// readEvent reads the event at p back from the log, verified against its
// checksum.
func (s *Store) readEvent(p wal.Pos) (runtime.Event, error) {
	rec, err := s.log.ReadAt(p)
	if err != nil {
		return runtime.Event{}, err
	}
	e, err := decodeEvent(rec)
	if err != nil {
		return runtime.Event{}, &CorruptError{Segment: s.log.SegmentPath(p.Segment), Offset: p.Offset, Reason: err.Error()}
	}
	return e, nil
}

// LoadHistory implements runtime.HistoryLoader.
func (s *Store) LoadHistory(_ context.Context, runID string) ([]runtime.Event, error) {
	return s.Load(runID)
}

// HistoryLen implements runtime.HistoryCounter from the index, reading
// nothing from the log.
func (s *Store) HistoryLen(_ context.Context, runID string) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.idx.runs[runID]
	if !ok {
		return 0, fmt.Errorf("%w: %q", runtime.ErrUnknownRun, runID)
	}
	return len(s.pos[i]), nil
}

// Get returns what the index knows of runID.
func (s *Store) Get(runID string) (RunInfo, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.idx.get(runID)
}

// List returns the runs f selects, in the order of their first event.
func (s *Store) List(f Filter) ([]RunInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.idx.list(f)
}

// NonTerminal returns the runs of flow (every flow if "") that are not
// over: the runs a restart resumes.
func (s *Store) NonTerminal(flow string) ([]RunInfo, error) {
	return s.List(Filter{Flow: flow, NonTerminal: true})
}

// RunIDs implements runtime.RunLister: the IDs of flow's runs whose run
// state is one of states (every run of flow if none), in the order of their
// first event. Generated code's ResumeAll and Runs take it.
func (s *Store) RunIDs(_ context.Context, flow string, states ...runtime.RunState) ([]string, error) {
	if err := runtime.CheckListedFlow(flow); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.idx.runIDs(flow, states), nil
}

// Close stops the background compaction, waits for a compaction in
// progress (the background one's, or a Compact or CompactAll of the
// caller's), for Emits in progress and for Options.OnFail, and closes
// the files.
func (s *Store) Close() error {
	s.stopCompacter()
	// Held while the files close: a compaction that still ran would swap
	// segments in a directory whose LOCK another process may hold by then.
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	return s.log.Close()
}

// TornTail reports the torn tail Open cut off the log, if it cut one:
// the last write of a process that died, or damage to the last records
// that looks the same (docs/store.md, "Torn tail"). A service logs it
// (flowgen serve), so that a loss of records is never silent.
func (s *Store) TornTail() (TornTail, bool) { return s.log.TornTail() }

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.log.Dir() }

// Instance is the store's instance ID: random, made by the first Open of
// its directory for writing (the file INSTANCE) and the same at every
// later Open, so that a process restarted on the store (after a kill -9
// too) can be told from another process, which has a store of its own.
// An engine's hold of its ID on a broker names it (engine.InstanceStore):
// restarted on its store, the engine takes its ID back at once. A store
// opened read-only has the one the file holds, or "".
func (s *Store) Instance() string { return s.log.Instance() }
