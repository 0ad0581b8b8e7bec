package observe

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowgen/flowgen/observe/tracectx"
	"github.com/flowgen/flowgen/runtime"
)

// runObserver watches one life of a run. The runtime calls it from the
// goroutine that drives the run, one call at a time.
type runObserver struct {
	t        *Telemetry
	f        *flowInfo
	span     trace.Span      // nil without tracing
	ctx      context.Context // the run's context, with its span
	wait     trace.Span      // the wait in progress, with tracing
	waiting  bool
	deadline time.Time // of the wait in progress (zero: none), on the flow's clock
	runID    string    // for the run span's attributes, set when it ends
	resumed  bool
}

// startSpan starts the run's span under ctx's span, if any. A resumed run
// links to the span its earlier life recorded (info.Trace), and without a
// parent of its own continues that trace.
//
// Spans get their attributes when they end, in one call: the SDK then sizes
// them once and dedupes them once, which halves what a span costs (see
// docs/benchmarks.md). Only the span's end is exported, so nothing is lost;
// a sampler sees the span's name, which names the flow or the step.
func (ro *runObserver) startSpan(ctx context.Context, info runtime.RunInfo) context.Context {
	var opts []trace.SpanStartOption
	if info.Trace != "" {
		if sc := tracectx.Parse(info.Trace); sc.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
			if !trace.SpanContextFromContext(ctx).IsValid() {
				ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
			}
		}
	}
	ro.runID, ro.resumed = info.RunID, info.Resumed
	ctx, ro.span = ro.t.tracer.Start(ctx, ro.f.runName, opts...)
	ro.ctx = ctx
	return ctx
}

func (ro *runObserver) Trace() string {
	if ro.span == nil {
		return ""
	}
	return tracectx.Traceparent(ro.span.SpanContext())
}

func (ro *runObserver) Action(ctx context.Context, a runtime.Action) (context.Context, func(runtime.Outcome, error)) {
	si := ro.f.step(a.Step)
	var span trace.Span
	var start time.Time
	if ro.t.tracer != nil {
		name := si.spanName[0]
		if a.Rollback {
			name = si.spanName[1]
		}
		ctx, span = ro.t.tracer.Start(ctx, name)
		start = startOf(span)
	} else {
		start = time.Now()
	}
	return ctx, func(out runtime.Outcome, err error) {
		end := time.Now()
		// An attempt cut short, because another branch of its block failed
		// or because the run was aborted (its context ended: a rollback's
		// never does), did not fail of its own (runtime.Event.Cancelled,
		// Event.Interrupted).
		cut := err != nil && ctx.Err() != nil
		// An attempt that went back to its gate (runtime.GateClosed: a Go
		// step or rollback that found no live provider, after a restart
		// say) did not begin: it is part of the wait, which its wait span
		// measures, neither a sample of the action's work nor a failure.
		back := !cut && errors.Is(err, runtime.ErrBackAtGate)
		switch {
		case errors.Is(err, runtime.ErrBranchCancelled):
			out = outcomeCancelled
		case cut:
			out = outcomeAborted
		case back:
			out = outcomeGateClosed
		}
		switch {
		case back:
		case a.Rollback:
			ro.t.m.rollbacks.Add(context.Background(), 1, si.outcome(out).add...)
		default:
			ro.t.m.stepDuration.Record(context.Background(), end.Sub(start).Seconds(), si.outcome(out).record...)
		}
		if span != nil {
			kv := attrBufs.Get().(*[7]attribute.KeyValue)
			*kv = [7]attribute.KeyValue{keyFlow.String(ro.f.name), keyStep.String(a.Step), keyAttempt.Int(a.Attempt),
				keyKey.String(a.Key().String()), keyOutcome.String(out)}
			n := 5
			if a.Rollback {
				kv[n] = keyRollback.Bool(true)
				n++
			}
			if err != nil && !cut && !back {
				kv[n] = tracectx.KeyErrorType.String(runtime.ErrorClass(err))
				n++
			}
			span.SetAttributes(kv[:n]...) // copied by the span
			attrBufs.Put(kv)
			switch {
			case cut, back:
				notAFailure(span, string(out), err.Error())
			case err != nil:
				tracectx.Fail(span, err)
			}
			span.End()
		}
	}
}

// startOf returns when span started, as the SDK read it (its spans are
// sdktrace.ReadOnlySpan), else now: the metric of an attempt starts when
// its span does, from one clock reading, not two (a reading costs about
// 55 ns on a VM's kvm-clock). Asking the span, rather than giving it the
// metric's start (trace.WithTimestamp), spares the two allocations of that
// option, ten a 5-step run (docs/benchmarks.md). A span that records
// nothing (not sampled, no SDK) has no start: the clock is read then.
func startOf(span trace.Span) time.Time {
	if s, ok := span.(interface{ StartTime() time.Time }); ok {
		return s.StartTime()
	}
	return time.Now()
}

// outcomeCancelled is the outcome of the attempt of a parallel block's
// branch that the block cancelled because another branch failed.
const outcomeCancelled runtime.Outcome = "cancelled"

// outcomeAborted is the outcome of a step attempt an abort cut short.
const outcomeAborted runtime.Outcome = "aborted"

// outcomeTimeout is the outcome of a wait that ended by its deadline.
const outcomeTimeout = "timeout"

// outcomeGateClosed is the outcome, on its span, of an attempt that went
// back to its gate (runtime.ErrBackAtGate).
const outcomeGateClosed runtime.Outcome = "gate_closed"

// attrBufs holds the attribute lists of step and run spans between uses:
// a span copies what SetAttributes gives it, and a list built in the call
// (SetAttributes(a, b, c)) would be allocated each time, the call being
// through an interface.
var attrBufs = sync.Pool{New: func() any { return new([7]attribute.KeyValue) }}

func (ro *runObserver) Recorded(e *runtime.Event) {
	ctx := context.Background()
	m := &ro.t.m
	if e.Seq == 1 {
		m.runsStarted.Add(ctx, 1, ro.f.series.add...)
	}
	if e.Outcome == runtime.OutcomeRetry {
		m.retries.Add(ctx, 1, ro.f.step(e.Step).retries.add...)
	}
	if ro.waiting && e.Branch == "" { // the run's next event ends its wait (runtime.Event.Parks)
		ro.leaveWait(ro.waitOutcome(e), e.Error, e.Link)
	}
	if w := e.Parks(); w != nil {
		step, _, _ := runtime.ParseMachineState(e.To)
		ro.enterWait(ro.ctx, step, w, e.Time)
		return
	}
	if e.From == e.To { // a retry, an opened gate: no new state
		return
	}
	if _, phase, _ := runtime.ParseMachineState(e.To); runtime.RunState(phase).Terminal() {
		m.runsFinished.Add(ctx, 1, ro.f.finished[runtime.RunState(phase)].add...)
	}
}

// waitOutcome is the outcome of the wait in progress that e ends.
func (ro *runObserver) waitOutcome(e *runtime.Event) string {
	switch e.Outcome {
	case "":
		if e.To == runtime.MachineAborting {
			return outcomeAborted
		}
		return "woken" // the awaited event came (a gated rollback's, a provider), the sleep's time, a call's child ended
	case runtime.OutcomeOK:
		return "woken" // a rollback call's child ended done, and the attempt with it
	case runtime.OutcomeRetry, runtime.OutcomeError:
		// A rollback's wait records its deadline as the attempt's error
		// (retried or not), not as outcome timeout as a step's wait does:
		// the event's time tells it (both are the flow's clock).
		if !ro.deadline.IsZero() && !e.Time.Before(ro.deadline) {
			return outcomeTimeout
		}
		return "error"
	}
	return string(e.Outcome)
}

// enterWait counts the run as waiting and, with tracing, starts the wait's
// span (w says what for: an await's or a gated rollback's event, a call's
// or a rollback call's child). The span starts now, on the real clock like
// the run's and the steps' spans: not at the time the event records, which
// is the flow's clock (runtime.WithClock, a fake one in tests), nor, for a
// run resumed in its wait, at the wait's entry in an earlier life, which
// that life's span covered; since, that entry's recorded time, is an
// attribute.
func (ro *runObserver) enterWait(ctx context.Context, step string, w *runtime.Wait, since time.Time) {
	ro.waiting, ro.deadline = true, w.Deadline
	ro.t.m.runsWaiting.Add(context.Background(), 1, ro.f.series.add...)
	if ro.span == nil {
		return
	}
	attrs := []attribute.KeyValue{keyFlow.String(ro.f.name), keyStep.String(step), keyKey.String(w.Key)}
	if w.Topic != "" {
		attrs = append(attrs, keyTopic.String(w.Topic), keyEvent.String(w.Event))
	}
	if c := w.Child; c != nil {
		attrs = append(attrs, keyChildFlow.String(c.Flow), keyChildRunID.String(c.RunID))
	}
	if !w.Until.IsZero() { // a sleep: it has no topic, child or deadline to say what it waits for
		attrs = append(attrs, keyUntil.String(w.Until.Format(time.RFC3339Nano)))
	}
	if !w.Deadline.IsZero() {
		attrs = append(attrs, keyDeadline.String(w.Deadline.Format(time.RFC3339Nano)))
	}
	// When the wait began, as the history recorded it: the same in every
	// life of the run, where the span's own start is this life's.
	attrs = append(attrs, keyWaitingSince.String(since.Format(time.RFC3339Nano)))
	_, ro.wait = ro.t.tracer.Start(ctx, "wait "+step, trace.WithAttributes(attrs...))
}

// leaveWait ends the wait with outcome; link is the traceparent of the
// span that sent the event that woke it (runtime.Event.Link), if known,
// which the wait's span links to: the sender's trace is another one.
func (ro *runObserver) leaveWait(outcome, errText, link string) {
	ro.waiting = false
	ro.t.m.runsWaiting.Add(context.Background(), -1, ro.f.series.add...)
	if ro.wait == nil {
		return
	}
	if sc := tracectx.Parse(link); sc.IsValid() {
		ro.wait.AddLink(trace.Link{SpanContext: sc})
	}
	ro.wait.SetAttributes(keyOutcome.String(outcome))
	switch {
	case outcome == outcomeAborted:
		notAFailure(ro.wait, outcome, errText)
	case errText != "":
		// The history keeps the wait's error as text, which tells no
		// class: its outcome does when it is a timeout.
		class := runtime.ErrorClassOther
		if outcome == outcomeTimeout {
			class = outcomeTimeout
		}
		ro.wait.SetAttributes(tracectx.KeyErrorType.String(class))
		ro.wait.SetStatus(codes.Error, tracectx.Text(errText))
	}
	ro.wait.End()
	ro.wait = nil
}

func (ro *runObserver) Ended(final runtime.RunState, err error) {
	suspended := errors.Is(err, runtime.ErrSuspended)
	if ro.waiting {
		ro.leaveWait("suspended", "", "")
	}
	if ro.span == nil {
		return
	}
	kv := attrBufs.Get().(*[7]attribute.KeyValue)
	*kv = [7]attribute.KeyValue{keyFlow.String(ro.f.name), keyRunID.String(ro.runID), keyResumed.Bool(ro.resumed),
		keyFinal.String(string(final)), keySuspended.Bool(suspended)}
	n := 5
	failed := final != runtime.StateDone && final != runtime.StateAborted && !suspended
	if failed {
		if err == nil {
			err = errNotDone
		}
		kv[n] = tracectx.KeyErrorType.String(runtime.ErrorClass(err))
		n++
	}
	ro.span.SetAttributes(kv[:n]...) // copied by the span
	attrBufs.Put(kv)
	switch {
	case failed:
		ro.span.SetStatus(codes.Error, tracectx.Text(err.Error()))
	case final == runtime.StateAborted:
		if err == nil {
			err = runtime.ErrAborted
		}
		notAFailure(ro.span, outcomeAborted, err.Error())
	}
	ro.span.End()
}

// notAFailure records on span, which failed nothing of its own, why it
// ended short: an event named outcome holding the error its work returned
// (errText), and no status Error. An abort was asked for: the run
// it ends aborted, the attempt it cut short (Event.Interrupted) and the
// wait it ended are no failures, as flowgen_runs_finished_total counts
// the run apart (state aborted, not failed), the step's attempt counts
// outcome aborted, not error, and the web view draws neither red. So are
// a branch cancelled because another failed (Event.Cancelled) and an
// attempt back at its gate (Event.BackAtGate).
func notAFailure(span trace.Span, outcome, errText string) {
	span.AddEvent(outcome, trace.WithAttributes(keyError.String(tracectx.Text(errText))))
}
