package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// CheckHistory checks that history is a history of this flow that Resume
// could continue or that has ended: every transition one the flow's machine
// has, in an order its runs can take, and, for a run not over, a state
// snapshot that decodes into S. It does not need the run to be live.
func (f *Flow[S]) CheckHistory(history []Event) error {
	def, err := f.definition()
	if err != nil {
		return err
	}
	rb, err := def.rebuild(history)
	if err != nil || rb.cur.kind == kindTerminal {
		return err
	}
	_, err = snapState[S](rb)
	return err
}

// Resume continues a run from its history, for example after a crash: the
// run gets the history's run ID, state snapshot and position. A step that
// completed never runs again; a step that was running runs again from its
// current attempt, with the same idempotency key, once what is left of the
// backoff its retry recorded (Event.RetryAt) is over; a run that was waiting
// waits again for the same event until the same deadline, holding no
// goroutine. Resume returns ErrFinished for a history that has ended, and a
// *HistoryError for one that does not fit the flow, or whose run ID no run
// could have (checkHistoryRunID).
//
// A history that the flow's sink has moved past (the run went on, or ended,
// in this process after the history was loaded) is not resumed from: Resume
// continues from the sink's history instead, so that no completed step runs
// twice however a ResumeAll and a parent's AttachChild interleave.
func (f *Flow[S]) Resume(ctx context.Context, history []Event, opts ...RunOption) (*Run[S], error) {
	def, err := f.definition()
	if err != nil {
		return nil, err
	}
	for range 16 {
		r, err := f.resume(ctx, def, history, opts)
		var stale *staleHistory
		if !errors.As(err, &stale) {
			return r, err
		}
		history = stale.newer
	}
	return nil, fmt.Errorf("%w: run %q keeps moving on while it is resumed", ErrDuplicateRun, history[0].RunID)
}

// resume resumes from history, or fails with a *staleHistory when the sink
// has more of the run.
func (f *Flow[S]) resume(ctx context.Context, def *definition[S], history []Event, opts []RunOption) (*Run[S], error) {
	rb, err := def.rebuild(history)
	if err != nil {
		return nil, err
	}
	if rb.cur.kind == kindTerminal {
		return nil, fmt.Errorf("%w: run %q ended %s", ErrFinished, history[0].RunID, rb.cur.name)
	}
	state, err := snapState[S](rb)
	if err != nil {
		return nil, err
	}
	if rec := f.opts.aborts; rec != nil && rec.AbortRequested(history[0].RunID) {
		// Aborted before the crash, the abort not yet recorded by the run
		// (Run.Abort): it resumes aborted, as if Abort came at once.
		c, cancel := context.WithCancelCause(ctx)
		cancel(ErrAborted)
		ctx = c
	}
	r, err := f.newRun(ctx, state, history, &rb.progress, opts)
	if err != nil {
		return nil, err
	}
	r.progress, r.cur = rb.progress, rb.cur
	r.entry.Lock()
	r.failing = rb.progress.cause != nil // rolling back after a failure
	r.entry.Unlock()
	r.lastTime = history[len(history)-1].Time
	r.machine.SetState(rb.cur.name)
	r.recorded.Store(true)
	r.watchCancel()
	r.settle()
	if r.track != nil {
		r.mu.Lock()
		*r.track = rb.track
		r.mu.Unlock()
	}
	go r.loop()
	return r, nil
}

// staleHistory is newRun's refusal of a history the flow's sink has moved
// past.
type staleHistory struct{ newer []Event }

func (e *staleHistory) Error() string {
	return fmt.Sprintf("runtime: the sink holds %d events of run %q, more than the history resumed from", len(e.newer), e.newer[0].RunID)
}

// newerHistory returns the run's history from the flow's sink when the sink
// holds more of it than history: nil when it holds the same, or cannot say
// (no loader, or a run it does not know, resumed from a history kept
// elsewhere).
func (f *Flow[S]) newerHistory(ctx context.Context, history []Event) ([]Event, error) {
	l := f.opts.loader
	if l == nil {
		return nil, nil
	}
	id := history[0].RunID
	if c, ok := l.(HistoryCounter); ok {
		n, err := c.HistoryLen(ctx, id)
		if err != nil || n <= len(history) {
			return nil, ignoreUnknown(err)
		}
	}
	h, err := l.LoadHistory(ctx, id)
	if err != nil || len(h) <= len(history) {
		return nil, ignoreUnknown(err)
	}
	return h, nil
}

func ignoreUnknown(err error) error {
	if errors.Is(err, ErrUnknownRun) {
		return nil
	}
	return err
}

// rebuilt is a run as its history leaves it.
type rebuilt struct {
	progress progress
	cur      *mstate
	track    tracker
	snap     json.RawMessage
}

// snapState decodes the state snapshot a run resumes from rb with.
func snapState[S any](rb *rebuilt) (S, error) {
	var state S
	if err := json.Unmarshal(rb.snap, &state); err != nil {
		return state, &HistoryError{Seq: rb.progress.seq, Msg: "state snapshot does not decode: " + err.Error()}
	}
	return state, nil
}

// rebuild folds a history the way the run made it: each recorded
// transition must be one of the flow's machine (from, to) pairs, and the
// run's data must allow it (progress.apply).
func (d *definition[S]) rebuild(history []Event) (*rebuilt, error) {
	if len(history) == 0 {
		return nil, &HistoryError{Msg: "empty history"}
	}
	rb := &rebuilt{cur: statePending, progress: d.newProgress()}
	first := &history[0]
	if first.Flow != d.id {
		return nil, &HistoryError{Seq: first.Seq, Msg: fmt.Sprintf("history of flow %q, not %q", first.Flow, d.id)}
	}
	if err := checkHistoryRunID(first.RunID); err != nil {
		return nil, &HistoryError{Seq: first.Seq, Msg: err.Error()}
	}
	for i := range history {
		e := &history[i]
		if e.Branch != "" {
			if err := d.rebuildBranch(rb, e, first, uint64(i+1)); err != nil {
				return nil, err
			}
			continue
		}
		from := rb.cur
		if err := checkLink(e, first, uint64(i+1), from.name, from.kind); err != nil {
			return nil, err
		}
		to, err := d.lookup(e.To, e.Seq)
		if err != nil {
			return nil, err
		}
		if d.isBranchState(from) || d.isBranchState(to) {
			return nil, &HistoryError{Seq: e.Seq, Step: e.Step, Msg: fmt.Sprintf("%s -> %s is a branch's move in an event without a branch", from.name, to.name)}
		}
		if _, ok := d.edges[[2]string{from.name, to.name}]; !ok {
			return nil, &HistoryError{Seq: e.Seq, Step: e.Step, Msg: fmt.Sprintf("flow %q has no transition %s -> %s", d.id, from.name, to.name)}
		}
		if want := d.eventStep(from, to); e.Step != want {
			return nil, &HistoryError{Seq: e.Seq, Step: e.Step, Msg: fmt.Sprintf("event of %s -> %s should name step %q", from.name, to.name, want)}
		}
		if err := rb.progress.apply(d, e, from, to, nil); err != nil {
			return nil, err
		}
		rb.track.apply(e, from.kind, to.kind, d.stepIDOf(to))
		rb.cur = to
		if len(e.State) > 0 {
			rb.snap = e.State
		}
	}
	if rb.snap == nil {
		return nil, &HistoryError{Seq: rb.progress.seq, Msg: "no state snapshot in the history"}
	}
	return rb, nil
}

// isBranchState reports whether s is a state of a branch's own machine.
func (d *definition[S]) isBranchState(s *mstate) bool {
	return s.kind == kindRunning && d.steps[s.step].block >= 0
}

// rebuildBranch folds e, an event of a branch's machine, into rb: the
// branch is one of the block the run is in, and the move one its machine
// has from where its previous event left it.
func (d *definition[S]) rebuildBranch(rb *rebuilt, e, first *Event, seq uint64) error {
	x, ok := d.byID[e.Branch]
	if !ok || d.steps[x].block < 0 {
		return &HistoryError{Seq: e.Seq, Step: e.Branch, Msg: fmt.Sprintf("no such branch in flow %q", d.id)}
	}
	if err := checkLink(e, first, seq, e.From, rb.cur.kind); err != nil {
		return err
	}
	if rb.cur.kind != kindParallel || d.steps[x].block != rb.cur.step {
		return &HistoryError{Seq: e.Seq, Step: e.Branch, Msg: fmt.Sprintf("branch event while the run is in %s", rb.cur.name)}
	}
	from := d.states[rb.progress.lanes[x].state]
	if e.From != from.name {
		return &HistoryError{Seq: e.Seq, Step: e.Branch, Msg: fmt.Sprintf("branch leaves %q but it is in %q", e.From, from.name)}
	}
	to, err := d.lookup(e.To, e.Seq)
	if err != nil {
		return err
	}
	if _, ok := d.edges[[2]string{from.name, to.name}]; !ok || e.Step != e.Branch {
		return &HistoryError{Seq: e.Seq, Step: e.Branch, Msg: fmt.Sprintf("branch %q has no move %s -> %s", e.Branch, from.name, to.name)}
	}
	if err := rb.progress.applyBranch(d, x, e, from, to); err != nil {
		return err
	}
	rb.track.applyBranch(e, to.kind)
	if len(e.State) > 0 {
		rb.snap = e.State
	}
	return nil
}
