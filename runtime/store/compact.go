package store

// Retention and compaction. The log only grows; a compaction rewrites its
// sealed segments (every segment but the active one, which appends go to)
// without what no longer needs to be there:
//
//   - the runs that finished (a terminal run state) and whose last event is
//     older than Options.Retain, when Retain is set, with all their events
//     (but a call's child run while its parent is not over);
//   - the inbox messages that expired (a consumed message expires after the
//     engine's retention, as does one nobody took), with all their records;
//   - the abort requests (abort.go) of runs that are over or gone: a
//     request is kept only while its run is in the index and not over.
//
// Everything else is copied in log order, so the new log replays into the
// same index, less what was removed. The sealed segments are read twice:
// once to find which inbox records belong to expired messages (a message's
// expiry may come segments after its receipt), once to write what stays.
// The swap of the new segments for the old is wal's (internal/wal's
// compact.go): a crash at any point leaves the old set or the new one,
// whole. In this process the swap holds off appends and reads for as long
// as it takes to rename the files and move the index's positions.
//
// Removed runs and messages leave the index, whose maps are rebuilt, so
// that its size follows what is kept, not the history.
//
// Retention holds whatever the store's size. A background look that finds
// a finished run past Options.Retain by more than RetainSlack seals the
// active segment if that run's events are in it, and compacts whatever
// share of the records can go: with only sealed segments compacted, and
// only once half the records could go, a store below its segment size
// (64 MiB) never forgot a finished run, whatever Retain said. So a
// finished run older than Retain is gone within RetainSlack and one look
// (CompactEvery) more; each forced rewrite removes every run then past
// Retain, so they come at most once per RetainSlack.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/flowgen/flowgen/runtime/store/internal/wal"
)

// DefaultCompactEvery is how often the background compaction looks at a
// store: every look costs a pass over the index only, and a rewrite
// happens only when at least half the records can go.
const DefaultCompactEvery = 10 * time.Minute

// CompactStats says what a compaction did.
type CompactStats struct {
	// Segments is how many sealed segments were rewritten, into
	// SegmentsAfter new ones; Bytes and BytesAfter are their sizes.
	Segments, SegmentsAfter int
	Bytes, BytesAfter       int64
	// RunsRemoved finished runs older than the retention went, with their
	// events; RunsKept runs are in the index afterwards.
	RunsRemoved, RunsKept int
	// MessagesRemoved expired inbox messages went; MessagesKept messages
	// are in the inbox afterwards.
	MessagesRemoved, MessagesKept int
	// RecordsRemoved records went; RecordsKept were copied.
	RecordsRemoved, RecordsKept int
	Duration                    time.Duration
}

// compacter runs one compaction at a time, and the background loop.
type compacter struct {
	compactMu sync.Mutex
	stop      context.CancelFunc
	done      chan struct{}
}

func (s *Store) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

func (s *Store) startCompacter() {
	every := s.opts.CompactEvery
	if every < 0 {
		return
	}
	if every == 0 {
		every = DefaultCompactEvery
	}
	ctx, stop := context.WithCancel(context.Background())
	s.stop, s.done = stop, make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			st, ran, err := s.look(ctx)
			if errors.Is(err, context.Canceled) {
				return
			}
			if (ran || err != nil) && s.opts.OnCompact != nil {
				s.opts.OnCompact(st, err)
			}
		}
	}()
}

// RetainSlack is how late past Options.Retain a finished run may still be
// in the store: a tenth of the retention. A background look that finds a
// run later than that seals the active segment (when the run's events are
// in it) and compacts, whatever share of the log can go; a smaller slack
// would rewrite the whole store more often, for fewer runs each time.
func RetainSlack(retain time.Duration) time.Duration { return retain / 10 }

// look is one background look at the store: a compaction when half the
// records can go, or when a finished run is past the retention by more
// than RetainSlack (overdue), after sealing the active segment if the
// run's events are in it. The seal is wal's, as CompactAll's: a crash
// around it leaves the segments whole, the new one empty or absent.
func (s *Store) look(ctx context.Context) (CompactStats, bool, error) {
	overdue, active := s.overdue()
	if active {
		if err := s.log.Seal(); err != nil {
			return CompactStats{}, false, &abandonedError{"starting a new segment", err}
		}
	}
	return s.compact(ctx, overdue)
}

// overdue reports whether a finished run the retention removes is past it
// by more than RetainSlack, and whether the last event of such a run is
// in the active segment, which a compaction does not touch.
func (s *Store) overdue() (overdue, active bool) {
	if s.opts.Retain <= 0 {
		return false, false
	}
	late := s.now().Add(-s.opts.Retain - RetainSlack(s.opts.Retain))
	_, hi, sealed := s.log.Sealed()
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := range s.idx.infos {
		pos := s.pos[i]
		if !s.expired(&s.idx.infos[i], pos, late) {
			continue
		}
		overdue = true
		if !sealed || pos[len(pos)-1].Segment > hi {
			return true, true
		}
	}
	return overdue, false
}

func (s *Store) stopCompacter() {
	if s.stop != nil {
		s.stop()
		<-s.done
	}
}

// Compact removes from the sealed segments the finished runs older than
// Options.Retain and the expired inbox messages, now, whatever share of
// the log that is. The active segment is left alone: CompactAll seals it
// first. It is safe while the store is in use; compactions run one at a
// time.
func (s *Store) Compact(ctx context.Context) (CompactStats, error) {
	st, _, err := s.compact(ctx, true)
	return st, err
}

// CompactAll seals the active segment (appends go on in a new one) and
// compacts everything before it: `flowgen compact`.
func (s *Store) CompactAll(ctx context.Context) (CompactStats, error) {
	if err := s.log.Seal(); err != nil {
		return CompactStats{}, &abandonedError{"starting a new segment", err}
	}
	return s.Compact(ctx)
}

// abandonedError is the error of a compaction that stopped before its
// swap, at step: nothing was removed, and the store's files hold what they
// held (Rewrite.Abort removes the new segments; Open drops a new segment
// that never got its header). It says so: its cause alone, a full disk's
// write error or a failed log's, read as a broken store.
type abandonedError struct {
	step string
	err  error
}

func (e *abandonedError) Error() string {
	if cause := wal.FailedCause(e.err); cause != nil {
		// The log failed (a seal that could not make its segment): this
		// Store refuses writes, and Open's scan decides what is on disk.
		return fmt.Sprintf("store: compaction abandoned, the store is unchanged: %s: %v (writes are refused until the store is reopened)", e.step, cause)
	}
	return fmt.Sprintf("store: compaction abandoned, the store is unchanged: %s: %v", e.step, e.err)
}

func (e *abandonedError) Unwrap() error { return e.err }

// removable returns the runs a compaction of the segments up to hi removes:
// finished, their last event before the retention's cutoff, all their
// events in those segments, and, for a call's child run, its parent gone or
// over. A parent not over may still have to learn how its child ended (a
// crash came between the child's end and the parent's wake-up, or the
// parent's flow is not registered yet): it reads the child's history, and a
// child it cannot find it starts again, under the same ID, running its
// steps a second time. A finished run gets no more events and a run over
// stays over, so the answer stays true until the swap.
func (s *Store) removable(hi uint64) (map[string]struct{}, int) {
	drop := map[string]struct{}{}
	recs := 0
	if s.opts.Retain <= 0 {
		return drop, 0
	}
	cutoff := s.now().Add(-s.opts.Retain)
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := range s.idx.infos {
		r := &s.idx.infos[i]
		pos := s.pos[i]
		if s.expired(r, pos, cutoff) && pos[len(pos)-1].Segment <= hi {
			drop[r.RunID] = struct{}{}
			recs += len(pos)
		}
	}
	return drop, recs
}

// expired reports whether the retention removes run r, whose events are
// at pos, once its segments are sealed: finished, its last event before
// cutoff, and, for a call's child run, its parent gone or over
// (removable says why). s.mu is held.
func (s *Store) expired(r *RunInfo, pos []wal.Pos, cutoff time.Time) bool {
	return r.State.Terminal() && r.Updated.Before(cutoff) && len(pos) > 0 && !s.parentGoesOn(r)
}

// parentGoesOn reports whether r is a call's child run whose parent is in
// the store and not over. s.mu is held.
func (s *Store) parentGoesOn(r *RunInfo) bool {
	if r.Parent == "" {
		return false
	}
	i, ok := s.idx.runs[r.Parent]
	return ok && !s.idx.infos[i].State.Terminal()
}

// compact compacts the sealed segments; unless force, only when at least
// half the records can go (ran false otherwise).
func (s *Store) compact(ctx context.Context, force bool) (st CompactStats, ran bool, err error) {
	if s.readOnly {
		// Nothing would be sealed (a read-only log appends nothing), so
		// it would report a compaction that removed nothing.
		return st, false, ErrReadOnly
	}
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	start := time.Now()
	lo, hi, ok := s.log.Sealed()
	if !ok {
		return st, false, nil
	}
	drop, garbage := s.removable(hi)
	if !force {
		s.mu.RLock()
		// Stale abort requests count wherever they are: one record at
		// most per run that ended, beside its events, too few to make a
		// look rewrite for nothing.
		garbage += s.inbox.expiredThrough(hi) + s.idx.aborts.stale
		total := s.records
		s.mu.RUnlock()
		if garbage == 0 || 2*garbage < total {
			return st, false, nil
		}
	}

	// Pass 1: the records of the messages that expired in these segments.
	// A message's records are its receipt up to its expiry; a key received
	// again after that is another message.
	gone := map[wal.Pos]struct{}{}
	open := map[MessageKey][]wal.Pos{}
	err = s.log.Scan(lo, hi, func(pos wal.Pos, p []byte) error {
		if p[0] != kindMessage {
			return nil
		}
		op, k, err := peekMessage(p)
		if err != nil {
			return err
		}
		open[k] = append(open[k], pos)
		if op == opExpired {
			for _, q := range open[k] {
				gone[q] = struct{}{}
			}
			delete(open, k)
			st.MessagesRemoved++
		}
		return nil
	})
	if err != nil {
		return st, false, &abandonedError{"reading the expired messages", err}
	}
	open = nil
	if err := ctx.Err(); err != nil {
		return st, false, &abandonedError{"reading the expired messages", err}
	}

	// Pass 2: write what stays, noting where each record moves.
	rw, err := s.log.Rewrite(lo, hi)
	if err != nil {
		return st, false, &abandonedError{"starting the rewrite", err}
	}
	defer rw.Abort()
	var moves []move
	removedRuns := map[string]struct{}{}
	abortsRemoved := 0
	err = s.log.Scan(lo, hi, func(pos wal.Pos, p []byte) error {
		switch {
		case isEventKind(p[0]):
			id, err := peekRunID(p)
			if err != nil {
				return err
			}
			if _, ok := drop[string(id)]; ok {
				removedRuns[string(id)] = struct{}{}
				st.RecordsRemoved++
				return nil
			}
		case p[0] == kindMessage:
			if _, ok := gone[pos]; ok {
				st.RecordsRemoved++
				return nil
			}
		case p[0] == kindAbort:
			id, err := decodeAbort(p)
			if err != nil {
				return err
			}
			s.mu.RLock()
			keep := s.idx.keepAbort(id)
			s.mu.RUnlock()
			if !keep {
				abortsRemoved++
				st.RecordsRemoved++
				return nil
			}
		}
		to, err := rw.Add(p)
		if err != nil {
			return err
		}
		moves = append(moves, move{pos, to})
		st.RecordsKept++
		return ctx.Err()
	})
	if err == nil {
		err = rw.Prepare()
	}
	if err != nil {
		return st, false, &abandonedError{"writing the records kept", err}
	}
	st.Segments, st.BytesAfter = int(hi-lo+1), rw.Size()
	if st.Bytes, err = s.log.SizeOf(lo, hi); err != nil {
		return st, false, &abandonedError{"measuring the segments", err}
	}

	// The swap: no append between the check of an event and its index
	// entry, no read of a position, while the files and positions change.
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	s.readMu.Lock()
	defer s.readMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := rw.Commit(); err != nil {
		if !errors.Is(err, wal.ErrFailed) { // else the swap may be done at the next Open
			err = &abandonedError{"writing the swap's manifest", err}
		}
		return st, false, err
	}
	for i := range moves {
		moves[i].to = rw.Final(moves[i].to)
	}
	if n := len(moves); n > 0 {
		st.SegmentsAfter = int(moves[n-1].to.Segment - moves[0].to.Segment + 1)
	}
	if err := s.moveIndex(hi, moves, removedRuns); err != nil {
		return st, false, s.log.Fail(err)
	}
	s.records -= st.RecordsRemoved
	s.inbox.compacted(hi)
	s.idx.aborts.stale = max(0, s.idx.aborts.stale-abortsRemoved)
	st.RunsRemoved, st.RunsKept, st.MessagesKept = len(removedRuns), len(s.idx.infos), len(s.inbox.msgs)
	st.Duration = time.Since(start)
	return st, true, nil
}

// move is where a kept record went.
type move struct{ from, to wal.Pos }

// moveIndex drops the removed runs from the index and points every
// position in the segments up to hi to where its record went. It rebuilds
// the maps: a Go map does not shrink when entries are deleted.
func (s *Store) moveIndex(hi uint64, moves []move, removed map[string]struct{}) error {
	var lost error
	to := func(p wal.Pos) wal.Pos {
		if p.Segment > hi {
			return p
		}
		i, ok := slices.BinarySearchFunc(moves, p, func(m move, p wal.Pos) int {
			return m.from.Compare(p)
		})
		if !ok {
			// Only records of removed runs and expired messages stay
			// behind, and the index has neither: this is a bug, and the
			// store fails rather than read the wrong records.
			lost = fmt.Errorf("store: compaction left the indexed record at %v behind", p)
			return p
		}
		return moves[i].to
	}
	infos := make([]RunInfo, 0, len(s.idx.infos)-len(removed))
	pos := make([][]wal.Pos, 0, cap(infos))
	runs := make(map[string]int, cap(infos))
	for i := range s.idx.infos {
		r := &s.idx.infos[i]
		if _, ok := removed[r.RunID]; ok {
			continue
		}
		ps := s.pos[i]
		for j := range ps {
			ps[j] = to(ps[j])
		}
		runs[r.RunID] = len(infos)
		infos = append(infos, *r)
		pos = append(pos, ps)
	}
	s.idx.infos, s.idx.runs, s.pos = infos, runs, pos
	msgs := make(map[MessageKey]*msgEntry, len(s.inbox.msgs))
	for k, e := range s.inbox.msgs {
		e.pos = to(e.pos)
		msgs[k] = e
	}
	s.inbox.msgs = msgs
	return lost
}

// peekRunID returns the run ID of an event record without decoding the
// rest (a compaction looks at every record).
func peekRunID(p []byte) ([]byte, error) {
	d := decoder{b: p[1:]}
	d.uvarint() // seq
	d.varint()  // time
	d.varint()  // zone
	d.varint()  // attempt
	id := d.bytes()
	return id, d.err
}

// peekMessage returns the operation and key of an inbox record.
func peekMessage(p []byte) (msgOp, MessageKey, error) {
	if len(p) < 2 {
		return 0, MessageKey{}, errShort
	}
	d := decoder{b: p[2:]}
	d.time()
	k := MessageKey{Topic: d.string(), Event: d.string(), ID: d.string()}
	return msgOp(p[1]), k, d.err
}

// Retain is Options.Retain: a finished run whose last event is older may
// be gone. An engine's schedules read it: a tick that old may have run and
// been removed, which nothing in the store tells from a tick missed.
func (s *Store) Retain() time.Duration { return s.opts.Retain }

// Size returns the size of the store's files on disk.
func (s *Store) Size() (int64, error) { return s.log.Size() }
