package jsonflows

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
)

// Awaited events are routed by correlation through inboxes: one workflow
// per (topic, event, correlation field, correlation value), whose ID is
// derived from them (inboxID), so that the publisher of an event and the
// run that awaits it find the same inbox without looking anything up.
//
//   - POST /events signals the inbox of each correlation the registered
//     flows' awaits read from the payload (signal-with-start: the inbox
//     starts on its first signal).
//   - A run that starts waiting signals its inbox the same way (from a
//     local activity); one that stops waiting without the event (an abort)
//     takes its wait back, with the update below, and gives back an
//     event the inbox signalled it that the abort came before
//     (flowtemporal.Options.GiveBack). One whose wait times out asks the inbox (an
//     update, updateInboxReclaim) whether it signalled it an event received in
//     time, which the run then takes instead of timing out.
//   - The inbox hands each event to one waiting run (a signal to the run,
//     flowtemporal.SignalName), oldest wait first among those the event is
//     in time for (runtime.Wait.InTime: received before the wait's
//     deadline, by the time the sender's POST /events took it), or keeps
//     it until a run waits for it, for the retention
//     (engine.DefaultInboxRetention); it applies a message ID once within
//     the retention, and ends when it has held nothing for that long.

const (
	inboxWorkflowName = "flowgen.inbox"
	signalInboxEvent  = "flowgen.inbox.event"
	signalInboxWait   = "flowgen.inbox.wait"
	tellInboxActivity = "flowgen.inbox.tell"
)

// inboxSignalsPerRun bounds an inbox workflow's history: after as many
// signals it continues as new with what it holds. A variable so that a test
// can make an inbox continue as new after a few.
var inboxSignalsPerRun = 1000

// versionInboxSuggested is the change (workflow.GetVersion) after which an
// inbox also continues as new when the server suggests it
// (suggestedContinue), as its history grows large.
const versionInboxSuggested = "flowgen.inbox-suggested-continue"

// suggestedContinue reports whether the inbox continues as new before
// inboxSignalsPerRun signals because the server suggests it: its history
// passed the server's limit.historySize.suggestContinueAsNew (4 MB by
// default) or limit.historyCount.suggestContinueAsNew. Each event the
// inbox hands over costs its history the payload twice (the signal that
// brought it, the one to the run), so payloads near POST /events' bound
// of 1 MiB reach the 50 MB past which Temporal terminates a workflow, the
// events and waits it holds with it, after a few dozen events. The
// suggestion is read from the history (the workflow task's start), so a
// replay reads it again; an inbox that went on past it before this rule
// replays so: GetVersion is asked only when the server suggests it.
func suggestedContinue(ctx workflow.Context) bool {
	return workflow.GetInfo(ctx).GetContinueAsNewSuggested() &&
		workflow.GetVersion(ctx, versionInboxSuggested, workflow.DefaultVersion, 1) != workflow.DefaultVersion
}

// inboxKey names an inbox.
type inboxKey struct {
	Topic, Event string
	Correlated   bool
	Field, Value string // the correlation's payload path and value
}

// inboxID is the workflow ID of the inbox of k.
func inboxID(k inboxKey) string {
	field := k.Field
	if field == "" {
		field = runtime.CorrelationField
	}
	id := k.Topic + "\x00" + k.Event
	if k.Correlated {
		id += "\x00" + field + "\x00" + k.Value
	}
	sum := sha256.Sum256([]byte(id))
	return inboxPrefix + hex.EncodeToString(sum[:16])
}

// keyOfWait is the inbox a wait takes its event from.
func keyOfWait(w *runtime.Wait) inboxKey {
	return inboxKey{Topic: w.Topic, Event: w.Event, Correlated: w.Correlated, Field: w.Field, Value: w.Correlation}
}

// inboxMessage is an event kept by an inbox.
type inboxMessage struct {
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
	// Received is when the sender took the event (deliverAwaited), or,
	// from a sender of older code, when the inbox did.
	Received time.Time `json:"received,omitzero"`
	// Link is the sender's W3C traceparent (engine.Message.Link), which
	// the run that takes the event records (runtime.Event.Link).
	Link string `json:"link,omitempty"`
}

// inboxWait is a run waiting at an inbox, or taking its wait back.
type inboxWait struct {
	RunID   string `json:"run_id"`
	Key     string `json:"key"` // the wait's key (runtime.Wait.Key)
	Waiting bool   `json:"waiting"`
	// Deadline is the wait's (runtime.Wait.Deadline); zero from a run of
	// older code, and for a wait without one.
	Deadline time.Time `json:"deadline,omitzero"`
	// Returned is the event the inbox signalled to the wait, which its
	// run, aborted first, did not take and gives back (the wait taken
	// back already): the inbox hands it to another wait, or keeps it.
	Returned *inboxReturned `json:"returned,omitempty"`
}

// inboxReturned is an event a run gives back to its inbox.
type inboxReturned struct {
	Payload json.RawMessage `json:"payload"`
	Link    string          `json:"link,omitempty"`
}

// inTime reports whether the wait takes an event received at received:
// runtime.Wait.InTime, the one rule, on the wait's deadline.
func (w inboxWait) inTime(received time.Time) bool {
	return (&runtime.Wait{Deadline: w.Deadline}).InTime(received)
}

// inboxState is what an inbox holds, carried over when it continues as new.
type inboxState struct {
	Topic     string        `json:"topic"`
	Event     string        `json:"event"`
	Retention time.Duration `json:"retention"`
	// Bytes is the bound of what the inbox holds (Options.InboxBytes,
	// inboxbound.go); 0 for an inbox started before it.
	Bytes   int64                `json:"bytes,omitempty"`
	Pending []inboxMessage       `json:"pending,omitempty"`
	Waiting []inboxWait          `json:"waiting,omitempty"`
	Seen    map[string]time.Time `json:"seen,omitempty"` // message ID -> when it came
	// Handed are the events signalled to waits, by the wait's key.
	Handed map[string]inboxHanded `json:"handed,omitempty"`
}

func inboxWorkflow(ctx workflow.Context, st inboxState) error {
	if st.Seen == nil {
		st.Seen = map[string]time.Time{}
	}
	if st.Handed == nil {
		st.Handed = map[string]inboxHanded{}
	}
	events := workflow.GetSignalChannel(ctx, signalInboxEvent)
	waits := workflow.GetSignalChannel(ctx, signalInboxWait)
	signal := flowtemporal.SignalName(st.Topic, st.Event)
	// busy: the loop below is handling a signal (a delivery may wait for
	// the run's signal to be recorded); reclaims wait until it is done.
	busy := false
	if err := workflow.SetUpdateHandler(ctx, updateInboxReclaim, func(ctx workflow.Context, w inboxWait) (inboxReclaimed, error) {
		// The signals that came before the update first: an event
		// received in time may be among them. The SDK runs an update's
		// handler before it hands the signals of the same workflow task
		// to their channels, so a timer first: once it fires, every
		// signal recorded before the update is in its channel; then
		// until the loop below has handled them.
		if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
			return inboxReclaimed{}, err
		}
		err := workflow.Await(ctx, func() bool { return !busy && events.Len() == 0 && waits.Len() == 0 })
		if err != nil {
			return inboxReclaimed{}, err
		}
		return reclaim(&st, w), nil
	}); err != nil {
		return err
	}
	// A query, which leaves nothing in the history: a publication asks it
	// before it signals an event the request may have signalled already.
	if err := workflow.SetQueryHandler(ctx, queryInboxSeen, func(id string) (bool, error) {
		_, seen := st.Seen[id]
		return seen, nil
	}); err != nil {
		return err
	}
	// deliver hands m to the oldest waiting run that takes it in time.
	deliver := func(m inboxMessage) bool {
		arg := flowtemporal.SignalArg(runtime.Delivery{Payload: m.Payload, Link: m.Link})
		for i := 0; i < len(st.Waiting); {
			w := st.Waiting[i]
			if !w.inTime(m.Received) {
				i++ // it stays, to time out
				continue
			}
			st.Waiting = slices.Delete(st.Waiting, i, i+1)
			err := workflow.SignalExternalWorkflow(ctx, w.RunID, "", signal, arg).Get(ctx, nil)
			if err == nil {
				// Kept for the retention: for the wait's timeout, which
				// asks (reclaim), and for a registration of the wait
				// retried after this (onWait).
				st.Handed[w.Key] = inboxHanded{Received: m.Received, Sum: flowtemporal.EventSum(m.Payload), At: workflow.Now(ctx)}
				return true
			}
			workflow.GetLogger(ctx).Warn("flowgen: inbox: a waiting run is gone", "run_id", w.RunID, "error", err)
		}
		return false
	}
	onEvent := func(m inboxMessage) {
		busy = true
		defer func() { busy = false }()
		now := workflow.Now(ctx)
		if _, dup := st.Seen[m.ID]; dup {
			return
		}
		st.Seen[m.ID] = now
		if m.Received.IsZero() {
			m.Received = now
		}
		if !deliver(m) {
			st.Pending = append(st.Pending, m)
		}
	}
	onWait := func(w inboxWait) {
		busy = true
		defer func() { busy = false }()
		i := slices.IndexFunc(st.Waiting, func(o inboxWait) bool { return o.Key == w.Key })
		switch {
		case w.Returned != nil:
			giveBack(&st, w, deliver)
		case !w.Waiting:
			if i >= 0 {
				st.Waiting = slices.Delete(st.Waiting, i, i+1)
			}
		case i >= 0: // the same wait again (a local activity retried)
		case handedBefore(ctx, &st, w.Key):
			// The same wait again, after it was handed its event: its
			// registration's local activity retried (its first try
			// reached the inbox but not its answer the run). The wait is
			// over: waiting again would hand the run the next event too,
			// which no run would then take.
		default:
			st.Waiting = append(st.Waiting, w)
			for len(st.Pending) > 0 && len(st.Waiting) > 0 {
				if !deliver(st.Pending[0]) {
					break
				}
				st.Pending = st.Pending[1:]
			}
		}
	}
	expire := func() {
		cutoff := workflow.Now(ctx).Add(-st.Retention)
		st.Pending = slices.DeleteFunc(st.Pending, func(m inboxMessage) bool { return m.Received.Before(cutoff) })
		for id, t := range st.Seen {
			if t.Before(cutoff) {
				delete(st.Seen, id)
			}
		}
		for key, h := range st.Handed {
			if h.At.Before(cutoff) {
				delete(st.Handed, key)
			}
		}
	}
	// settle hands every signal already in the channels to its handler and
	// waits until the running update handlers (reclaims) have finished,
	// handling the signals that come meanwhile: the inbox ends or continues
	// as new only after it, since a signal in a channel is dropped with the
	// run that did not take it (an event POST /events answered 202 for, or
	// a run's wait), and an update whose handler is cut answers its caller
	// an error (Temporal's rule for both: drain the signals, and
	// workflow.AllHandlersFinished, before returning). An inbox recorded
	// before it needs no workflow.GetVersion: the run that returned is closed,
	// and nothing replays a closed inbox (it has no query).
	settle := func() error {
		for {
			for {
				var m inboxMessage
				var w inboxWait
				if events.ReceiveAsync(&m) {
					onEvent(m)
				} else if waits.ReceiveAsync(&w) {
					onWait(w)
				} else {
					break
				}
			}
			signalled := func() bool { return events.Len() > 0 || waits.Len() > 0 }
			if err := workflow.Await(ctx, func() bool { return signalled() || workflow.AllHandlersFinished(ctx) }); err != nil {
				return err
			}
			if !signalled() {
				return nil
			}
		}
	}
	for n := 0; ; n++ {
		if n >= inboxSignalsPerRun || n > 0 && (suggestedContinue(ctx) || pastHalfBound(ctx, st)) {
			if err := settle(); err != nil {
				return err
			}
			return workflow.NewContinueAsNewError(ctx, inboxWorkflow, st)
		}
		idle, stopIdle := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(events, func(c workflow.ReceiveChannel, _ bool) {
			var m inboxMessage
			c.Receive(ctx, &m)
			onEvent(m)
		})
		sel.AddReceive(waits, func(c workflow.ReceiveChannel, _ bool) {
			var w inboxWait
			c.Receive(ctx, &w)
			onWait(w)
		})
		timedOut := false
		sel.AddFuture(workflow.NewTimer(idle, st.Retention), func(workflow.Future) { timedOut = true })
		sel.Select(ctx)
		stopIdle()
		expire()
		if timedOut && len(st.Pending) == 0 && len(st.Waiting) == 0 && len(st.Seen) == 0 {
			// Signals that came meanwhile keep it alive.
			if err := settle(); err != nil {
				return err
			}
			if len(st.Pending) == 0 && len(st.Waiting) == 0 && len(st.Seen) == 0 {
				return nil
			}
		}
	}
}

// signalInbox signals the inbox of k, starting it if it is not running.
func (x *Executor) signalInbox(ctx context.Context, k inboxKey, signal string, arg any) error {
	_, err := x.c.SignalWithStartWorkflow(ctx, inboxID(k), signal, arg,
		client.StartWorkflowOptions{TaskQueue: x.opts.TaskQueue}, inboxWorkflowName,
		inboxState{Topic: k.Topic, Event: k.Event, Retention: x.retention(), Bytes: x.inboxBytes()})
	return err
}

// onWait is flowtemporal.Options.OnWait for JSON flows: a run that starts
// or stops waiting tells its inbox, from a local activity (its result is
// recorded, so a replay does not signal again).
func (x *Executor) onWait(ctx workflow.Context, w *runtime.Wait, waiting bool) {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 0}, // until it is told
	})
	arg := inboxWait{RunID: w.RunID, Key: w.Key, Waiting: waiting, Deadline: w.Deadline}
	if err := workflow.ExecuteLocalActivity(lctx, tellInboxActivity, keyOfWait(w), arg).Get(lctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("flowgen: telling the inbox of a wait", "run_id", w.RunID, "waiting", waiting, "error", err)
	}
}

// giveBack takes back into the inbox st the event it handed to w's wait,
// which w's run, aborted first, did not take (w.Returned): handed to the
// oldest wait it is in time for (deliver), or kept, in the order the
// events were received, with the time it was received. An event the inbox
// did not hand to that wait (another payload, or its record gone with the
// retention) is not taken.
func giveBack(st *inboxState, w inboxWait, deliver func(inboxMessage) bool) {
	h, ok := st.Handed[w.Key]
	if !ok || h.Sum != flowtemporal.EventSum(w.Returned.Payload) {
		return
	}
	delete(st.Handed, w.Key)
	m := inboxMessage{Payload: w.Returned.Payload, Received: h.Received, Link: w.Returned.Link}
	if deliver(m) {
		return
	}
	i := slices.IndexFunc(st.Pending, func(p inboxMessage) bool { return p.Received.After(m.Received) })
	if i < 0 {
		i = len(st.Pending)
	}
	st.Pending = slices.Insert(st.Pending, i, m)
}

// onGiveBack is flowtemporal.Options.GiveBack for JSON flows: a run
// aborted before it took the event its inbox signalled it gives the event
// back, from a local activity.
func (x *Executor) onGiveBack(ctx workflow.Context, w *runtime.Wait, d runtime.Delivery) {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 0}, // until it is told
	})
	arg := inboxWait{RunID: w.RunID, Key: w.Key, Deadline: w.Deadline, Returned: &inboxReturned{Payload: d.Payload, Link: d.Link}}
	if err := workflow.ExecuteLocalActivity(lctx, tellInboxActivity, keyOfWait(w), arg).Get(lctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("flowgen: giving an event back to its inbox", "run_id", w.RunID, "error", err)
	}
}

func (x *Executor) tellInbox(ctx context.Context, k inboxKey, w inboxWait) error {
	return x.signalInbox(ctx, k, signalInboxWait, w)
}

// inboxesOf are the inboxes of the awaits of awaiting that can take m:
// one per correlation the awaits read from its payload.
func inboxesOf(m engine.Message, awaiting []engine.ExecFlow) []inboxKey {
	var keys []inboxKey
	for _, f := range awaiting {
		for _, w := range f.Awaits {
			if w.Topic != m.Topic || w.Event != m.Event {
				continue
			}
			k := inboxKey{Topic: m.Topic, Event: m.Event, Correlated: w.Correlated, Field: w.Field}
			if w.Correlated {
				v, ok := runtime.Correlation(m.Payload, w.Field)
				if !ok {
					continue // no run of this await can take it
				}
				k.Value = v
			}
			if !slices.ContainsFunc(keys, func(o inboxKey) bool { return inboxID(o) == inboxID(k) }) {
				keys = append(keys, k)
			}
		}
	}
	return keys
}
