package runtime

import (
	"context"
	"encoding/json"
	"fmt"
)

// CheckHistory checks that history is a history of this flow that Resume
// could continue or that has ended: every transition one the flow's machine
// has, in an order its runs can take. It does not need the run to be live.
func (f *Flow[S]) CheckHistory(history []Event) error {
	def, err := f.definition()
	if err != nil {
		return err
	}
	_, err = def.rebuild(history)
	return err
}

// Resume continues a run from its history, for example after a crash: the
// run gets the history's run ID, state snapshot and position. A step that
// completed never runs again; a step that was running runs again from its
// current attempt, with the same idempotency key; a run that was waiting
// waits again for the same event until the same deadline, holding no
// goroutine. Resume returns ErrFinished for a history that has ended, and a
// *HistoryError for one that does not fit the flow.
func (f *Flow[S]) Resume(ctx context.Context, history []Event, opts ...RunOption) (*Run[S], error) {
	def, err := f.definition()
	if err != nil {
		return nil, err
	}
	rb, err := def.rebuild(history)
	if err != nil {
		return nil, err
	}
	if rb.cur.kind == kindTerminal {
		return nil, fmt.Errorf("%w: run %q ended %s", ErrFinished, history[0].RunID, rb.cur.name)
	}
	var state S
	if err := json.Unmarshal(rb.snap, &state); err != nil {
		return nil, &HistoryError{Seq: rb.progress.seq, Msg: "state snapshot does not decode: " + err.Error()}
	}
	r, err := f.newRun(ctx, state, history, opts)
	if err != nil {
		return nil, err
	}
	r.progress, r.cur = rb.progress, rb.cur
	r.lastTime = history[len(history)-1].Time
	r.machine.SetState(rb.cur.name)
	r.recorded.Store(true)
	r.mu.Lock()
	r.track = rb.track
	r.mu.Unlock()
	go r.loop()
	return r, nil
}

// rebuilt is a run as its history leaves it.
type rebuilt struct {
	progress progress
	cur      *mstate
	track    tracker
	snap     json.RawMessage
}

// rebuild folds a history the way the run made it: each recorded
// transition must be one of the flow's machine (from, to) pairs, and the
// run's data must allow it (progress.apply).
func (d *definition[S]) rebuild(history []Event) (*rebuilt, error) {
	if len(history) == 0 {
		return nil, &HistoryError{Msg: "empty history"}
	}
	rb := &rebuilt{cur: statePending, progress: progress{visits: make([]int32, len(d.steps))}}
	first := &history[0]
	if first.Flow != d.id {
		return nil, &HistoryError{Seq: first.Seq, Msg: fmt.Sprintf("history of flow %q, not %q", first.Flow, d.id)}
	}
	for i := range history {
		e := &history[i]
		from := rb.cur
		if err := checkLink(e, first, uint64(i+1), from.name, from.kind); err != nil {
			return nil, err
		}
		to, err := d.lookup(e.To, e.Seq)
		if err != nil {
			return nil, err
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
