package flowtemporal

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/runtime"
)

// receive takes the next event signalled on c for the await of step st,
// waiting for w: taken when the run takes it (takes), otherwise logged as
// dropped (its payload returned all the same, nil when unreadable).
func (r *wfRun[S]) receive(c workflow.ReceiveChannel, st *runtime.Step[S], w *runtime.Wait) (runtime.Delivery, bool) {
	var raw converter.RawValue
	c.Receive(r.ctx, &raw)
	d, derr := deliveryOf(raw)
	if derr == nil && r.takes(w, d.Payload) {
		return d, true
	}
	if derr != nil {
		workflow.GetLogger(r.ctx).Warn("flowgen: unreadable event dropped", "run_id", r.id, "step", st.ID, "error", derr)
		return runtime.Delivery{}, false
	}
	// Why the run does not take it is the runtime's one rule
	// (Wait.Mismatch): a payload that is not JSON is the sender's fault,
	// not another run's event. One that w matches (no correlation) was
	// refused by takes for not being JSON, as the runtime's runs refuse it.
	why := w.Mismatch(d.Payload)
	if why == nil {
		why = runtime.ErrPayloadNotJSON
	}
	log := workflow.GetLogger(r.ctx).Info
	if errors.Is(why, runtime.ErrPayloadNotJSON) {
		log = workflow.GetLogger(r.ctx).Warn
	}
	log("flowgen: event dropped", "run_id", r.id, "step", st.ID, "topic", w.Topic, "event", w.Event, "reason", why)
	return d, false
}

// reclaim is what an await whose timer fired does before it routes
// timeout, when its flow's events are routed to it (Options.Reclaim): the
// timer and the event's signal race once workers come back after being
// down over the deadline, while the runtime judges an event by the time it
// was received (runtime.Wait.InTime). Reclaim takes the wait back and says
// whether an event received in time was signalled to the run; the run
// then takes it from its signals (c), where it is or will come: woke, or
// aborted while it waits for it. One it received before and did not take
// (dropped, the payloads of those) is not waited for. reclaimed reports
// that the wait was taken back here; not in a run that timed out before
// this rule, which replays taking it back as it did (versionReclaim).
func (r *wfRun[S]) reclaim(c workflow.ReceiveChannel, st *runtime.Step[S], w *runtime.Wait, dropped [][]byte) (got runtime.Delivery, woke, aborted, reclaimed bool) {
	if r.f.opts.Reclaim == nil || workflow.GetVersion(r.ctx, versionReclaim, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return got, false, false, false
	}
	dctx, _ := workflow.NewDisconnectedContext(r.ctx)
	signalled, sum := r.f.opts.Reclaim(dctx, w)
	if !signalled || slices.ContainsFunc(dropped, func(p []byte) bool { return EventSum(p) == sum }) {
		return got, false, false, true
	}
	sel := workflow.NewSelector(r.ctx)
	done := false
	sel.AddReceive(c, func(c workflow.ReceiveChannel, _ bool) {
		d, taken := r.receive(c, st, w)
		switch {
		case taken:
			got, woke, done = d, true, true
		case EventSum(d.Payload) == sum: // the one signalled, not taken
			done = true
		}
	})
	sel.AddReceive(r.ctx.Done(), func(workflow.ReceiveChannel, bool) { aborted, done = true, true })
	for !done {
		sel.Select(r.ctx)
	}
	// Aborted before the event came: the inbox signalled it to this run
	// and keeps it no more, so the run gives it back, as an abort in the
	// wait's own select does (giveBack); a run aborted so before this
	// rule replays ending without it (versionReclaimGivesBack).
	if aborted && r.f.opts.GiveBack != nil &&
		workflow.GetVersion(r.ctx, versionReclaimGivesBack, workflow.DefaultVersion, 1) != workflow.DefaultVersion {
		r.handBack(dctx, c, st, w, sum)
	}
	return got, woke, aborted, true
}

// giveBack is what an await aborted before it took an event does, when
// its flow's events are routed to it (Options.Reclaim and GiveBack): the
// event's signal and the abort may come in the same workflow task, the
// abort first, and the event signalled to this run would then be taken by
// no run. It takes the wait back (Reclaim, which answers once the signals
// sent before it are handled), and, when an event was signalled to it,
// gives that event back from its signals (c), where it is or will come,
// within giveBackWithin. One it received before and did not take
// (dropped) is not waited for. It reports that the wait was taken back
// here; not in a run aborted before this rule, which replays telling
// OnWait (versionGiveBack).
func (r *wfRun[S]) giveBack(c workflow.ReceiveChannel, st *runtime.Step[S], w *runtime.Wait, dropped [][]byte) bool {
	if r.f.opts.Reclaim == nil || r.f.opts.GiveBack == nil || workflow.GetVersion(r.ctx, versionGiveBack, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return false
	}
	dctx, _ := workflow.NewDisconnectedContext(r.ctx)
	signalled, sum := r.f.opts.Reclaim(dctx, w)
	if !signalled || slices.ContainsFunc(dropped, func(p []byte) bool { return EventSum(p) == sum }) {
		return true
	}
	r.handBack(dctx, c, st, w, sum)
	return true
}

// handBack gives back (Options.GiveBack) the event whose payload sums to
// sum, which the inbox signalled to this aborted run: it takes it from the
// run's signals (c), where it is or will come, within giveBackWithin. dctx
// is disconnected from the run's cancellation, which has happened.
func (r *wfRun[S]) handBack(dctx workflow.Context, c workflow.ReceiveChannel, st *runtime.Step[S], w *runtime.Wait, sum string) {
	tctx, cancel := workflow.WithCancel(dctx)
	defer cancel()
	sel := workflow.NewSelector(dctx)
	done := false
	sel.AddReceive(c, func(c workflow.ReceiveChannel, _ bool) {
		if d, _ := r.receive(c, st, w); EventSum(d.Payload) == sum {
			r.f.opts.GiveBack(dctx, w, d)
			done = true
		}
	})
	sel.AddFuture(workflow.NewTimer(tctx, giveBackWithin), func(workflow.Future) {
		workflow.GetLogger(r.ctx).Error("flowgen: the event signalled to an aborted wait did not come; not given back", "run_id", r.id, "step", st.ID, "topic", w.Topic, "event", w.Event)
		done = true
	})
	for !done {
		sel.Select(dctx)
	}
}

// giveBackWithin bounds how long an aborted run waits for the signal of
// the event it gives back (giveBack): the signal is recorded before the
// answer that names it, so it comes at once, but a run must not be held
// for ever by an answer that was wrong.
const giveBackWithin = time.Minute

// EventSum identifies an event's payload, for Options.Reclaim to say
// which event it signalled without keeping it.
func EventSum(payload []byte) string {
	sum := sha256.Sum256(payload)
	return hex.EncodeToString(sum[:16])
}
