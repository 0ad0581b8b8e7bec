// Package jsonflows runs the flow engine's JSON flows on Temporal: an
// engine.Executor that starts each run as a workflow interpreting the
// definition pinned when the run started, delivers awaited events through
// inboxes routed by correlation, and turns schedules into Temporal
// Schedules; and the worker side (Executor.Register) that runs any flow's
// workflow and activities from its pinned definition. Every process with
// the same task queue is a worker of every run. See docs/temporal.md.
package jsonflows

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
)

// Options configure an Executor.
type Options struct {
	// TaskQueue is the queue of every run, inbox and schedule: every
	// process that serves the flows polls it. Default DefaultTaskQueue.
	TaskQueue string
	// InboxRetention is how long an inbox keeps an event no run has taken,
	// and remembers a message ID. Default engine.DefaultInboxRetention.
	InboxRetention time.Duration
	// InboxBytes bounds what an inbox holds, checked where POST /events
	// accepts an event (inboxbound.go): beyond, the event is refused
	// (engine.ErrInboxFull, 429 with Retry-After) before anything
	// changes. Default DefaultInboxBytes; keep it below the cluster's
	// payload limit.
	InboxBytes int64
	// PayloadLimit is the cluster's payload limit (limit.blobSize.error):
	// a step whose input (the run's state and its payload) is past it
	// fails with flowtemporal.ErrInputTooLarge before it is scheduled
	// (flowtemporal.Options.MaxInput). Default flowtemporal.DefaultMaxInput.
	PayloadLimit int
	// Link, if set, is the W3C traceparent of ctx's span ("" for none),
	// for an event published under ctx that carries no link of its own
	// (engine.Message.Link): the run whose await takes it records it
	// (runtime.Event.Link). flowgen-temporal serve sets it to its
	// telemetry's (observe.Telemetry.Link).
	Link func(ctx context.Context) string
	// Answer, if set, bounds how long a method that answers an API
	// request (Start, Publish, Abort, History, Runs) waits for the
	// cluster, all its calls together (a publish step's publication takes
	// Publish too, under the same bound): past it the method fails with
	// engine.ErrUnavailable (the API answers 503), so that the answer is
	// written before the HTTP server's write timeout cuts the connection
	// (flowgen-temporal serve sets it from -write-timeout:
	// listen.Server.AnswerWithin). 0: no bound of its own; the SDK gives
	// each call 10 s.
	Answer time.Duration
	// Logger reports what fails outside a request: the background tries
	// that bring the Temporal Schedules in line with a committed flow
	// change, each failed one and the one that succeeds. Default
	// slog.Default().
	Logger *slog.Logger
}

// DefaultTaskQueue is the task queue of Options.TaskQueue's default.
const DefaultTaskQueue = "flowgen"

// Executor is an engine.Executor on a Temporal namespace (its client's).
type Executor struct {
	c    client.Client
	opts Options
	defs *definitions // set by Register

	mu          sync.Mutex
	attached    map[string]engine.ExecFlow // the flows registered, by name: what a call starts
	attachments map[string]*attachment     // the flows attached now, by name
}

// The engine asks the executor whether a run's abort waits (GET /runs/{id}'s
// abort_requested).
var _ engine.AbortRequester = (*Executor)(nil)

// It reads a page of a run's history with one query (GET
// /runs/{id}/history), not the whole history with several.
var _ engine.HistoryPager = (*Executor)(nil)

// New returns an executor of the runs of JSON flows on c's namespace.
func New(c client.Client, opts Options) *Executor {
	if opts.TaskQueue == "" {
		opts.TaskQueue = DefaultTaskQueue
	}
	return &Executor{c: c, opts: opts}
}

var (
	_ engine.Executor      = (*Executor)(nil)
	_ engine.TriggerKeeper = (*Executor)(nil)
)

func (x *Executor) retention() time.Duration {
	if x.opts.InboxRetention > 0 {
		return x.opts.InboxRetention
	}
	return engine.DefaultInboxRetention
}

// stateHash is what memoStart holds: the hash of a run's initial state as
// the engine encodes it.
func stateHash(state json.RawMessage) string {
	sum := sha256.Sum256(state)
	return hex.EncodeToString(sum[:])
}

// unreachable is err, of the Temporal operation op under ctx, marked
// engine.ErrUnavailable (the API answers 503 with Retry-After) and named
// for what failed when the cluster did not answer: gRPC's Unavailable, or
// a deadline that was not ctx's (the SDK bounds each call, 10 s unless ctx
// ends sooner), which alone says only "context deadline exceeded". Every
// method of the Executor that the engine calls passes its error through
// it. Other errors (the cluster's answers, ctx's own end) pass unchanged.
func unreachable(ctx context.Context, op string, err error) error {
	if err == nil || ctx.Err() != nil || errors.Is(err, engine.ErrUnavailable) {
		return err
	}
	var down *serviceerror.Unavailable
	var slow *serviceerror.DeadlineExceeded
	if !errors.As(err, &down) && !errors.As(err, &slow) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: temporal: %s: the cluster did not answer (down, unreachable or overloaded): %w", engine.ErrUnavailable, op, err)
}

// answering is the context of the calls to the cluster of a method that
// answers an API request (Start, Publish, Abort, History, Runs) under
// req: bounded by Options.Answer, all the calls together. done, deferred
// with the method's error, ends it and passes the error through
// unreachable, under req: a call the bound ended is one the cluster did
// not answer in time; and through tooLarge.
func (x *Executor) answering(req context.Context, op string, err *error) (ctx context.Context, done func()) {
	ctx, cancel := req, context.CancelFunc(func() {})
	if x.opts.Answer > 0 {
		ctx, cancel = context.WithTimeout(req, x.opts.Answer)
	}
	return ctx, func() {
		cancel()
		*err = tooLarge(op, unreachable(req, op, *err))
	}
}

// refusedForSize are the texts of the cluster's refusals of a request for
// the size of what it carries (go.temporal.io/server's
// common.ErrBlobSizeExceedsLimit and ErrMemoSizeExceedsLimit), which
// Temporal gives no type of their own.
var refusedForSize = []string{"Blob data size exceeds limit", "Memo size exceeds limit"}

// tooLarge is err, of the Temporal operation op, marked engine.ErrTooLarge
// (the API answers 413) when the cluster refused the request for the size
// of what it carries: a state or an event that the engine's bound on a
// request body (-max-body) let through, but past the cluster's payload
// limit (limit.blobSize.error, 2 MB by default), which no retry passes.
// Without it the API answered 500, "failed inside the server".
func tooLarge(op string, err error) error {
	var inv *serviceerror.InvalidArgument
	if err == nil || !errors.As(err, &inv) ||
		!slices.ContainsFunc(refusedForSize, func(s string) bool { return strings.Contains(inv.Message, s) }) {
		return err
	}
	return &payloadTooLarge{msg: fmt.Sprintf("temporal: %s: the cluster refuses what it carries, past its payload limit (limit.blobSize.error and limit.memoSize.error, 2 MB by default; keep -max-body below them): %v", op, err), err: err}
}

// payloadTooLarge is tooLarge's error: engine.ErrTooLarge, whose own text,
// the inbox's, it does not show.
type payloadTooLarge struct {
	msg string
	err error
}

func (e *payloadTooLarge) Error() string   { return e.msg }
func (e *payloadTooLarge) Unwrap() []error { return []error{engine.ErrTooLarge, e.err} }

// startOptions are the options of the workflow of run runID of f.
func (x *Executor) startOptions(f engine.ExecFlow, state json.RawMessage, runID string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID: runID, TaskQueue: x.opts.TaskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		Memo:                                     map[string]any{memoDefinition: f.Source, memoStart: stateHash(state)},
	}
}

func runInput(f engine.ExecFlow, state json.RawMessage) (RunInput, error) {
	in := RunInput{Hash: f.Hash, Definition: f.Source}
	if err := json.Unmarshal(state, &in.State); err != nil {
		return in, fmt.Errorf("%w: %v", engine.ErrBadState, err)
	}
	return in, nil
}

// The workflow IDs the executor makes for workflows of its own: an
// inbox's (inboxID), a schedule's and the runs of its ticks (scheduleID),
// an event's publication (publicationID).
const (
	inboxPrefix    = "flowgen-inbox-"
	schedulePrefix = "flowgen-schedule-"
	// publicationPrefix (publication.go): an event's publication.
)

// checkRunID refuses run ID runID when it has the form of a workflow ID
// the executor makes itself, as engine.CheckRunID refuses the engine's
// own: a run that took an inbox's ID first would be signalled the inbox's
// events and waits (a signal-with-start signals the workflow running
// under the ID, whatever its type), and the runs awaiting them would never
// hear of them; one that took a tick's, the tick would not start its run.
func checkRunID(runID string) error {
	for _, form := range []struct{ prefix, what string }{{inboxPrefix, "an inbox"}, {schedulePrefix, "a schedule or its run"}, {publicationPrefix, "an event's publication"}} {
		if strings.HasPrefix(runID, form.prefix) {
			return fmt.Errorf("%w: run ID %q has the form of %s, which the Temporal executor makes itself (%s...)", engine.ErrBadName, runID, form.what, form.prefix)
		}
	}
	return nil
}

// Start starts run runID of f as a workflow whose ID is runID: idempotent,
// since Temporal refuses a second workflow of the same ID (retention
// included); a repeated start answers engine.ErrRunExists. A run ID of
// the executor's own forms is refused (checkRunID).
func (x *Executor) Start(req context.Context, f engine.ExecFlow, state json.RawMessage, runID string) (err error) {
	if err := checkRunID(runID); err != nil {
		return err
	}
	ctx, done := x.answering(req, "starting run "+runID+" of flow "+f.Name, &err)
	defer done()
	in, err := runInput(f, state)
	if err != nil {
		return err
	}
	_, err = x.c.ExecuteWorkflow(ctx, x.startOptions(f, state, runID), flowtemporal.WorkflowName(f.Name), in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		if err := x.existing(ctx, f, state, runID); err != nil {
			return err
		}
		return fmt.Errorf("%w: %q", engine.ErrRunExists, runID) // ended since, past its retention
	}
	return err
}

// existing is the error of starting runID of f from state when a workflow
// of that ID exists; nil when none does.
func (x *Executor) existing(ctx context.Context, f engine.ExecFlow, state json.RawMessage, runID string) error {
	d, err := x.c.DescribeWorkflowExecution(ctx, runID, "")
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	info := d.GetWorkflowExecutionInfo()
	if t := info.GetType().GetName(); t != flowtemporal.WorkflowName(f.Name) {
		return fmt.Errorf("%w: %q is a run of flow %q, not %q", engine.ErrRunIDTaken, runID, t, f.Name)
	}
	if memoString(info.GetMemo(), memoStart) != stateHash(state) {
		return fmt.Errorf("%w: run %q of flow %q started from another state", engine.ErrIdempotencyMismatch, runID, f.Name)
	}
	return fmt.Errorf("%w: %q", engine.ErrRunExists, runID)
}

// Publish starts the runs the event triggers (a workflow each, by the run
// ID derived from the message ID, so a second delivery starts none), then
// hands it to the inboxes of the awaits (signal-with-start, deduplicated
// by message ID). An event that needs more than one such write is first
// committed in one (a publication, publication.go), so that an answer
// other than 2xx comes only before anything changed.
func (x *Executor) Publish(req context.Context, m engine.Message, triggered []engine.EventStart, awaiting []engine.ExecFlow) (_ engine.Published, err error) {
	op := "publishing message " + m.ID + " of " + m.Topic + " " + m.Event
	ctx, done := x.answering(req, op, &err)
	defer done()
	out := engine.Published{ID: m.ID, Runs: []engine.EventRun{}}
	if m.Link == "" && x.opts.Link != nil {
		m.Link = x.opts.Link(ctx)
	}
	// refused is the error of publishing m when a start of one of its runs
	// answered err; nil when that run may start or was started by m.
	refused := func(err error) error {
		switch {
		case errors.Is(err, engine.ErrIdempotencyMismatch):
			return engine.OtherPayloadError(m)
		case err != nil && !errors.Is(err, engine.ErrRunExists):
			return err
		}
		return nil
	}
	// Checks first, as the engine's PublishEvent does: a message published
	// before with another payload (the run of a flow it triggered then
	// started from another state) is refused before a run of a flow it
	// did not trigger then starts. A publication of the same ID with
	// another payload at the same time can still pass these checks; then
	// one of the two is refused by its start, after the other's runs.
	runIDs := make([]string, len(triggered))
	for i, s := range triggered {
		var err error
		if runIDs[i], err = x.eventRun(ctx, s); err != nil {
			return engine.Published{}, err
		}
		if err := refused(x.existing(ctx, s.Flow, s.State, runIDs[i])); err != nil {
			return engine.Published{}, err
		}
	}
	// The time the event is taken, which a wait's deadline is judged by
	// (runtime.Wait.InTime), whenever the inbox comes to hand it over:
	// workers down meanwhile do not make it late.
	msg := inboxMessage{ID: m.ID, Payload: m.Payload, Link: m.Link, Received: time.Now()}
	inboxes := inboxesOf(m, awaiting)
	for _, k := range inboxes {
		if err := x.inboxRoom(ctx, k, m); err != nil {
			return engine.Published{}, err
		}
	}
	// committed: the event is durable (its publication started), so a
	// write below that the cluster did not answer is the publication's to
	// make, not a refusal of the event.
	committed := false
	if len(triggered)+len(inboxes) > 1 {
		p := publication{Message: msg, Inboxes: inboxes}
		for i, s := range triggered {
			p.Starts = append(p.Starts, publicationStart{Flow: s.Flow.Name, Source: s.Flow.Source, Hash: s.Flow.Hash, State: s.State, RunID: runIDs[i]})
		}
		if err := x.commit(ctx, m.Topic, m.Event, p); err != nil {
			return engine.Published{}, err
		}
		committed = true
	}
	leftToPublication := func(err error) bool {
		if !committed || !errors.Is(unreachable(req, op, err), engine.ErrUnavailable) {
			return false
		}
		x.log().Warn("flowgen: the cluster did not answer a write of an event accepted (its publication makes it)", "message_id", m.ID, "topic", m.Topic, "event", m.Event, "error", err)
		return true
	}
	for i, s := range triggered {
		err := x.Start(ctx, s.Flow, s.State, runIDs[i])
		if leftToPublication(err) {
			err = nil
		}
		if err := refused(err); err != nil {
			return engine.Published{}, err
		}
		out.Runs = append(out.Runs, engine.EventRun{Flow: s.Flow.Name, RunID: runIDs[i], Existing: err != nil})
	}
	for _, k := range inboxes {
		if err := x.signalInbox(ctx, k, signalInboxEvent, msg); err != nil && !leftToPublication(err) {
			return engine.Published{}, err
		}
	}
	out.Inbox = len(inboxes) > 0
	return out, nil
}

// eventRun is the ID of the run s is for: s.RunID, unless a workflow of
// s's flow runs or ran (within the namespace's retention) under
// s.OlderRunID, the ID an older version gave the message's run, which is
// then the message's run, as the engine's event path finds it in its
// store: a message posted before the upgrade and again after it (a client
// retrying, a publishing step's attempt retried on an upgraded worker)
// starts no second run. One describe more per flow the message triggers.
func (x *Executor) eventRun(ctx context.Context, s engine.EventStart) (string, error) {
	if s.OlderRunID == "" {
		return s.RunID, nil
	}
	d, err := x.c.DescribeWorkflowExecution(ctx, s.OlderRunID, "")
	switch {
	case isNotFound(err):
		return s.RunID, nil
	case err != nil:
		return "", err
	}
	if d.GetWorkflowExecutionInfo().GetType().GetName() != flowtemporal.WorkflowName(s.Flow.Name) {
		return s.RunID, nil
	}
	return s.OlderRunID, nil
}

// Abort aborts the run (flowtemporal.AbortRun): the run answers, in its
// workflow, and refuses the abort once it has entered its rollback after
// a failure (a rollback runs under a disconnected context and finishes
// whatever happens), as the engine's runs do (409, engine.CheckAbort of a
// run rolling back); a run taken so ends aborted. A run that is over is
// answered in flowgen's terms, by the terminal state it recorded
// (runInfo, as GET /runs/{id} reads it), not by Temporal's status for it
// ("canceled" for an aborted run, "failed" for a compensated one), and
// so is one that ends between its description and its abort. In
// progress, where its progress memo left it: a run the memo says is
// rolling back is refused without asking it. A workflow that is no run of
// the executor's flows (isRun: an inbox, another task queue's) is unknown,
// and left alone.
func (x *Executor) Abort(req context.Context, runID string) (err error) {
	ctx, done := x.answering(req, "aborting run "+runID, &err)
	defer done()
	checked := false // check refused the abort
	check := func(w *workflowpb.WorkflowExecutionInfo) error {
		if !x.isRun(w) {
			checked = true
			return fmt.Errorf("%w: %q", runtime.ErrUnknownRun, runID)
		}
		if info, exact := runInfo(w); exact {
			err := engine.CheckAbort(runID, info.State)
			checked = err != nil
			return err
		}
		return nil
	}
	err = flowtemporal.AbortRun(ctx, x.c, runID, check)
	switch {
	case errors.Is(err, runtime.ErrRollingBack):
		return engine.CheckAbort(runID, runtime.StateRollingBack) // as the engine answers its own runs
	case errors.Is(err, runtime.ErrFinished) && !checked:
		// Found running, over by the time its abort came (or refused by
		// the run as over): named by the end it recorded, as a run found
		// over is, rather than "ended".
		if d, derr := x.c.DescribeWorkflowExecution(ctx, runID, ""); derr == nil {
			if over := check(d.GetWorkflowExecutionInfo()); errors.Is(over, runtime.ErrFinished) {
				return over
			}
		}
	}
	return err
}

// AbortRequested reports whether the run took an abort (engine.AbortRequester)
// that it records only once its step in flight returns: the abort update
// it took (flowtemporal.MemoAbortRequested), or a cancellation of its
// workflow requested (Temporal's cancel_requested: a run of older code).
// The engine asks only while the run takes aborts (engine.AbortPending).
func (x *Executor) AbortRequested(req context.Context, runID string) (_ bool, err error) {
	ctx, done := x.answering(req, "reading run "+runID, &err)
	defer done()
	d, err := x.c.DescribeWorkflowExecution(ctx, runID, "")
	if err != nil {
		return false, flowtemporal.RunError(err, runID)
	}
	var took bool
	flowtemporal.MemoValue(d.GetWorkflowExecutionInfo().GetMemo(), flowtemporal.MemoAbortRequested, &took)
	return took || d.GetWorkflowExtendedInfo().GetCancelRequested(), nil
}

// History is the run's events, from its workflow, in pages
// (flowtemporal.QueryHistoryOf): a history can be larger than one query's
// answer.
func (x *Executor) History(req context.Context, runID string) (_ []runtime.Event, err error) {
	ctx, done := x.answering(req, "reading the history of run "+runID, &err)
	defer done()
	return flowtemporal.QueryHistoryOf(ctx, x.c, runID)
}

// HistoryPage is a page of the run's events, read from its workflow
// (flowtemporal.QueryHistoryPageOf): within what a query can answer, so
// it may hold fewer events than asked, with more true (engine.HistoryPager).
func (x *Executor) HistoryPage(req context.Context, runID string, after uint64, limit, maxBytes int, states bool) (_ []runtime.Event, _ bool, err error) {
	ctx, done := x.answering(req, "reading the history of run "+runID, &err)
	defer done()
	p, err := flowtemporal.QueryHistoryPageOf(ctx, x.c, runID, flowtemporal.HistoryPageQuery{After: after, Limit: limit, MaxBytes: maxBytes, States: states})
	return p.Events, p.More, err
}

// definitionOf reads a run's definition from its memo.
func (x *Executor) definitionOf(ctx context.Context, workflowID, runID string) ([]byte, error) {
	d, err := x.c.DescribeWorkflowExecution(ctx, workflowID, runID)
	if err != nil {
		return nil, err
	}
	p := d.GetWorkflowExecutionInfo().GetMemo().GetFields()[memoDefinition]
	if p == nil {
		return nil, errNoDefinition
	}
	var src []byte
	if err := converter.GetDefaultDataConverter().FromPayload(p, &src); err != nil {
		return nil, err
	}
	return src, nil
}

// Attach checks that the Temporal Schedules of f's schedule triggers can
// be made (their specs, and the cluster answers for each), and changes
// nothing on the cluster: the engine's registration of f may still be
// refused, and a schedule made now would tick runs of a definition the
// server refused. Activate makes them once the registration is committed.
func (x *Executor) Attach(ctx context.Context, f engine.ExecFlow) (func(), error) {
	if err := x.checkSchedules(ctx, f); err != nil {
		return nil, unreachable(ctx, "checking the schedules of flow "+f.Name, err)
	}
	a := &attachment{hash: f.Hash}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	x.mu.Lock()
	if x.attachments == nil {
		x.attachments = map[string]*attachment{}
	}
	x.attachments[f.Name] = a
	x.mu.Unlock()
	// Stopping leaves the schedules (the other serve processes share
	// them) and the definition calls start (the flow's replacement takes
	// its place once committed, Activate; until then, and when the change
	// is refused, calls start the old one, as on the engine).
	return func() { x.stop(f.Name, a) }, nil
}

// Activate makes the Temporal Schedules of f's schedule triggers, or
// points those there are at f's definition (and deletes their duplicates
// under the IDs of older code, makeSchedules), and makes f the definition
// that calls of it start (calls.go), once f's registration is committed
// (engine.TriggerKeeper). On an error it keeps trying (keep).
func (x *Executor) Activate(ctx context.Context, f engine.ExecFlow) error {
	x.attach(f)
	return x.keep(ctx, f, "making the schedules of flow "+f.Name, func(ctx context.Context) error {
		return x.makeSchedules(ctx, f)
	})
}
