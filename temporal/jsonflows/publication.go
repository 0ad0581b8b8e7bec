package jsonflows

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/engine"
)

// An event that needs more than one write to the cluster (the runs it
// starts and the inboxes it signals, one call each) is first committed as
// one: a publication workflow, started in one call, that holds every write
// the event needs and makes them itself, with retries, until they are
// done. POST /events then makes the writes itself too, so that the runs
// exist when it answers; a write that fails because the cluster stopped
// answering after the commit is left to the publication, and the request
// answers 202, which is true: the event is durable. Without the commit, a
// request that started the event's runs and then could not signal an inbox
// answered 503, after its runs had started: a 5xx that changed something.
// Every write is idempotent (a run's ID derives from the message ID; an
// inbox applies a message ID once), so the publication and the request
// making the same write is harmless.

const (
	publicationWorkflowName = "flowgen.publication"
	publicationActivityName = "flowgen.publication.apply"
	publicationPrefix       = "flowgen-publication-"
	// queryInboxSeen asks an inbox whether it has applied a message ID: the
	// publication signals only an inbox that has not, so that an event the
	// request delivered costs the inbox's history nothing more.
	queryInboxSeen = "flowgen.inbox.seen"
)

// publicationDelay is how long a publication waits before it makes its
// writes: the request makes them meanwhile, so that the publication of an
// event the request delivered whole only finds them done. A variable so
// that a test need not wait a minute.
var publicationDelay = time.Minute

// publication is what a publication workflow applies: the event as its
// inboxes take it, the runs it starts and the inboxes of its awaits.
type publication struct {
	Message inboxMessage       `json:"message"`
	Starts  []publicationStart `json:"starts,omitempty"`
	Inboxes []inboxKey         `json:"inboxes,omitempty"`
}

// publicationStart is a run that the event starts.
type publicationStart struct {
	Flow   string          `json:"flow"`
	Source []byte          `json:"source"`
	Hash   string          `json:"hash"`
	State  json.RawMessage `json:"state"`
	RunID  string          `json:"run_id"`
}

func (s publicationStart) execFlow() engine.ExecFlow {
	return engine.ExecFlow{Name: s.Flow, Source: s.Source, Hash: s.Hash}
}

// publicationID is the workflow ID of the publication of message id of
// topic and event with payload: a client's retry of the same event finds
// the publication its first try committed. Another payload under the same
// ID is another publication, refused or not as it was without one (the
// starts' checks, Differences in docs/temporal.md).
func publicationID(topic, event, id string, payload json.RawMessage) string {
	sum := sha256.New()
	for _, s := range []string{topic, event, id} {
		sum.Write([]byte(s))
		sum.Write([]byte{0})
	}
	sum.Write(payload)
	return publicationPrefix + hex.EncodeToString(sum.Sum(nil)[:16])
}

// commit starts the publication p of the event: once it returns nil the
// event is durable, whatever the writes that follow answer. A publication
// committed before (a client's retry) is the same event: nil.
func (x *Executor) commit(ctx context.Context, topic, event string, p publication) error {
	_, err := x.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: publicationID(topic, event, p.Message.ID, p.Message.Payload), TaskQueue: x.opts.TaskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		StartDelay:                               publicationDelay,
	}, publicationWorkflowName, p)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil
	}
	return err
}

// publicationWorkflow applies p, retrying until it is done.
func publicationWorkflow(ctx workflow.Context, p publication) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumInterval: time.Minute}, // until it is done
	})
	return workflow.ExecuteActivity(ctx, publicationActivityName, p).Get(ctx, nil)
}

// applyPublication is the publication's activity: every write of p, each
// skipped where it is done. A run that another payload under the same
// message ID started (two posts at once, the starts' checks passed by
// both) is that post's: nothing more to do, as the request refuses it.
func (x *Executor) applyPublication(ctx context.Context, p publication) error {
	for _, s := range p.Starts {
		err := x.Start(ctx, s.execFlow(), s.State, s.RunID)
		switch {
		case err == nil, errors.Is(err, engine.ErrRunExists):
		case errors.Is(err, engine.ErrIdempotencyMismatch), errors.Is(err, engine.ErrRunIDTaken):
			x.log().Warn("flowgen: a publication's run was started by another payload of its message", "message_id", p.Message.ID, "run_id", s.RunID, "error", err)
		case errors.Is(err, engine.ErrTooLarge), errors.Is(err, engine.ErrBadState):
			return temporal.NewNonRetryableApplicationError(err.Error(), "flowgen.publication", err)
		default:
			return err
		}
	}
	for _, k := range p.Inboxes {
		if x.inboxSeen(ctx, k, p.Message.ID) {
			continue
		}
		if err := x.signalInbox(ctx, k, signalInboxEvent, p.Message); err != nil {
			return err
		}
	}
	return nil
}

// inboxSeen reports whether the inbox of k has applied message id; false
// when it cannot say (none runs, or its worker has older code): the
// signal is then sent, and the inbox applies it once.
func (x *Executor) inboxSeen(ctx context.Context, k inboxKey, id string) bool {
	v, err := x.c.QueryWorkflow(ctx, inboxID(k), "", queryInboxSeen, id)
	var seen bool
	return err == nil && v.Get(&seen) == nil && seen
}
