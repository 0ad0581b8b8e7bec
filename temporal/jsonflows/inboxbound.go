package jsonflows

import (
	"context"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/engine"
)

// An inbox's bytes are bounded (Options.InboxBytes) where events are
// accepted: POST /events reads, before it writes anything, the size of
// the history of each inbox it would signal (a describe each, which needs
// no worker), and refuses the event (engine.ErrInboxFull, 429 with
// Retry-After, by the engine's rule and words) when that size and what the
// event counts (engine.InboxRoom) pass the bound. The history's size is
// more than what the inbox holds: every event it holds came in its input
// (carried over when it continued as new) or in a signal since, both in
// its history. So the bound holds with the workers down too, when the
// signals wait in the history unread. The inbox continues as new once its
// history passes half the bound (pastHalfBound), dropping the events it
// handed over, so that the bound refuses only what is held or unread.
// Without the bound an inbox held what its retention let in, and past
// Temporal's payload limit (2 MB by default) the input of its next run
// was refused and Temporal terminated it, the events it held with it.

// DefaultInboxBytes is Options.InboxBytes' default: below the cluster's
// default payload limit (limit.blobSize.error, 2 MB), which the input of
// an inbox's next run, what it holds, must pass, with room for the
// message IDs and waits it carries too; and above POST /events' default
// bound on a body (engine.MaxBody, 1 MiB), so that one event of that size
// fits an empty inbox.
const DefaultInboxBytes = 1536 << 10

// inboxBytesKnob names the setting of the bound in its errors; the
// cluster's payload limit bounds it.
const inboxBytesKnob = "jsonflows.Options.InboxBytes, below the cluster's payload limit"

func (x *Executor) inboxBytes() int64 {
	if x.opts.InboxBytes > 0 {
		return x.opts.InboxBytes
	}
	return DefaultInboxBytes
}

// inboxRoom is the error of signalling m to the inbox of k: m counts more
// than the bound alone (engine.ErrTooLarge, 413), or the inbox's history
// and m pass it (engine.ErrInboxFull, 429); nil when the inbox takes it.
func (x *Executor) inboxRoom(ctx context.Context, k inboxKey, m engine.Message) error {
	max := x.inboxBytes()
	if err := engine.InboxTooLarge(m, max, inboxBytesKnob); err != nil {
		return err
	}
	d, err := x.c.DescribeWorkflowExecution(ctx, inboxID(k), "")
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	info := d.GetWorkflowExecutionInfo()
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return nil // the signal starts a new run of the inbox
	}
	if holds := info.GetHistorySizeBytes(); holds+engine.InboxRoom(m) > max {
		return engine.InboxFull(holds, max, inboxBytesKnob)
	}
	return nil
}

// pastHalfBound reports whether the inbox continues as new because its
// history passed half its bound (inboxState.Bytes): what it handed over
// leaves with the run, so that its history, which POST /events checks
// against the bound, is mostly what it holds. An inbox started before the
// bound (Bytes 0) has none.
func pastHalfBound(ctx workflow.Context, st inboxState) bool {
	return st.Bytes > 0 && workflow.GetInfo(ctx).GetCurrentHistorySize() > int(st.Bytes/2)
}
