// Package twoforms runs a flow generated with `flowgen gen -target
// temporal` in its two forms, the runtime's (NewXFlow) and Temporal's
// (NewXTemporal on a real server), under one script, and reduces each run
// to what a user can tell apart: the calls the services saw, the
// publications, the history's transitions, the final state, the terminal
// state and the error. The examples' tests compare the two; the
// conformance suite, which runs JSON flows on both executors, reduces
// histories with the same Transitions.
package twoforms

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// Handle is what a script does with a run: flowtemporal.Run has these
// methods, and Local gives them to a runtime run.
type Handle[S any] interface {
	Status(ctx context.Context) (runtime.Status, error)
	History(ctx context.Context) ([]runtime.Event, error)
	Deliver(ctx context.Context, topic, event string, payload json.RawMessage) error
	Abort(ctx context.Context) error
	Wait(ctx context.Context) (runtime.Result[S], error)
}

// Local is the Handle of run r, whose flow's subscriber is bus.
func Local[S any](r *runtime.Run[S], bus *runtime.MemoryBus) Handle[S] {
	return localRun[S]{r, bus}
}

type localRun[S any] struct {
	r   *runtime.Run[S]
	bus *runtime.MemoryBus
}

func (l localRun[S]) Status(context.Context) (runtime.Status, error) {
	st := l.r.Status()
	if st.Err != "" && st.State == runtime.StatePending {
		return st, fmt.Errorf("%s", st.Err) // the history did not load
	}
	return st, nil
}

func (l localRun[S]) History(ctx context.Context) ([]runtime.Event, error) {
	st, err := l.Status(ctx)
	return st.History, err
}

func (l localRun[S]) Deliver(ctx context.Context, topic, event string, payload json.RawMessage) error {
	return l.bus.Publish(ctx, topic, event, payload)
}

func (l localRun[S]) Abort(context.Context) error { return l.r.Abort() }

func (l localRun[S]) Wait(ctx context.Context) (runtime.Result[S], error) { return l.r.Wait(ctx) }

// WaitFor polls the run's status until its machine is in state machine:
// a script delivers or aborts only once the run waits, so that both forms
// see the same thing at the same point of the run.
func WaitFor[S any](t *testing.T, ctx context.Context, h Handle[S], machine string) {
	t.Helper()
	for {
		st, err := h.Status(ctx)
		if err == nil && st.Machine == machine {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the run never reached %s (last status %+v, %v)", machine, st, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// CloseWhenRecorded closes done once the run's history has an event that
// match accepts, polled as WaitFor polls, or gives up when ctx ends. A
// fake service that must answer after another branch has completed waits
// on done, so that both forms record the branches in the same order
// whatever the load, where a fixed delay did not.
func CloseWhenRecorded[S any](ctx context.Context, h Handle[S], done chan<- struct{}, match func(runtime.Event) bool) {
	go func() {
		for {
			if events, err := h.History(ctx); err == nil && slices.ContainsFunc(events, match) {
				close(done)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
}

// Observed is what a run did, as a user could see it.
type Observed[S any] struct {
	// Calls are the calls the services saw, in order, as the test's fake
	// services log them (endpoint or handler, and idempotency key).
	Calls []string
	// Published are the publications, "topic event payload".
	Published []string
	// Transitions are the history's events, reduced (Transitions).
	Transitions []string
	Final       runtime.RunState
	State       S
	Err         string
	// Children are the reduced histories of the run's child runs, by ID
	// (Children), for a flow that calls others.
	Children map[string][]string
	// Details are what each event of the run's machine carries besides
	// its transition (Details), and Status the run's status once it
	// ended (Finished): what a user reads after the run.
	Details []string
	Status  runtime.Status
}

// Details is what e carries besides its transition: the state snapshot,
// the wait, the payload that woke it and its links to parent and child
// runs. The wait's times are masked (set or not): a sleep's wake-up time
// and a timeout count from when the run, on each form, entered the step.
// Not compared: the event's time, and a retry's RetryAt, which only the
// runtime records (on Temporal the server holds a retry's backoff).
func Details(e runtime.Event) string {
	d := struct {
		State   json.RawMessage `json:"state,omitempty"`
		Wait    *runtime.Wait   `json:"wait,omitempty"`
		Payload json.RawMessage `json:"payload,omitempty"`
		Parent  *runtime.RunRef `json:"parent,omitempty"`
		Child   *runtime.RunRef `json:"child,omitempty"`
	}{State: e.State, Payload: e.Payload, Parent: e.Parent, Child: e.Child}
	if e.Wait != nil {
		w := *e.Wait
		for _, at := range []*time.Time{&w.Deadline, &w.Until} {
			if !at.IsZero() {
				*at = time.Unix(0, 0).UTC()
			}
		}
		d.Wait = &w
	}
	b, _ := json.Marshal(d)
	return e.From + ">" + e.To + " " + string(b)
}

// Finished is st, the status of a run that ended, without what is
// compared otherwise (the history, the snapshot), and with the times and
// a panic's stack in its errors masked.
func Finished(st runtime.Status) runtime.Status {
	st.History, st.Snapshot = nil, nil
	st.Err = MaskTimes(withoutStacks(st.Err))
	st.Branches = slices.Clone(st.Branches)
	for i := range st.Branches {
		st.Branches[i].Err = MaskTimes(withoutStacks(st.Branches[i].Err))
	}
	return st
}

// withoutStacks is s, an error's text, without the goroutine stacks a
// panic's error carries (runtime.PanicError): they name the process's
// goroutines and the frames that ran the step, which differ between the
// two forms. A stack goes on until the next line of the run's error (a
// failed rollback's) or the end.
func withoutStacks(s string) string {
	var out []string
	inStack := false
	for _, l := range strings.Split(s, "\n") {
		switch {
		case strings.HasPrefix(l, "goroutine ") && strings.HasSuffix(l, ":"):
			inStack = true
			if n := len(out); n > 0 && out[n-1] == "" {
				out = out[:n-1]
			}
			continue
		case inStack && strings.HasPrefix(l, "rollback "):
			inStack = false
		case inStack:
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// Children reduces the histories of the child runs h's status names, each
// read with history.
func Children[S any](t *testing.T, ctx context.Context, h Handle[S], history func(runtime.RunRef) ([]runtime.Event, error)) map[string][]string {
	t.Helper()
	st, err := h.Status(ctx)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	out := map[string][]string{}
	for _, ref := range st.Children {
		events, err := history(ref)
		if err != nil {
			t.Fatalf("history of child %s: %v", ref.RunID, err)
		}
		out[ref.RunID] = Transitions(events)
	}
	return out
}

// Observe waits for h to end and reduces its run to Observed, with the
// calls and publications of the run's fakes as they are once it ended.
func Observe[S any](t *testing.T, ctx context.Context, h Handle[S], calls func() []string, published func() []runtime.Message) Observed[S] {
	t.Helper()
	res, err := h.Wait(ctx)
	if res.Final == "" {
		t.Fatalf("the run did not end: %v", err)
	}
	history, herr := h.History(ctx)
	if herr != nil {
		t.Fatalf("history: %v", herr)
	}
	o := Observed[S]{Calls: calls(), Final: res.Final, State: res.State}
	if err != nil {
		o.Err = MaskTimes(firstLine(err.Error())) // a wait's deadline, as in Transitions
	}
	for _, m := range published() {
		o.Published = append(o.Published, fmt.Sprintf("%s %s %s", m.Topic, m.Event, m.Payload))
	}
	o.Transitions = Transitions(history)
	for _, e := range history {
		if e.Branch == "" { // a branch's events' states depend on when the others merged
			o.Details = append(o.Details, Details(e))
		}
	}
	st, serr := h.Status(ctx)
	if serr != nil {
		t.Fatalf("status: %v", serr)
	}
	o.Status = Finished(st)
	return o
}

// Transitions reduces a history to what does not depend on timing: per
// event, "from>to" with the attempt that ended, its outcome and the first
// line of its error (a panic's stack differs; times masked), a branch's events prefixed
// by the branch. Retry events are kept: on Temporal each failed attempt
// leaves its record for the next (docs/temporal.md, Retry events).
func Transitions(history []runtime.Event) []string {
	var out []string
	for _, e := range history {
		line := e.From + ">" + e.To
		if e.Branch != "" {
			line = e.Branch + ": " + line
		}
		if e.Attempt != 0 || e.Outcome != "" {
			line += fmt.Sprintf(" #%d %s", e.Attempt, e.Outcome)
		}
		if e.Error != "" {
			line += ": " + MaskTimes(firstLine(e.Error))
		}
		out = append(out, line)
	}
	return out
}

// MaskTimes replaces the times in s (an error's: a wait's deadline) with
// TIME, as Observe and Transitions do: the two forms' runs happen at
// different times.
func MaskTimes(s string) string { return instant.ReplaceAllString(s, "TIME") }

// instant is a time in an error (a wait's deadline): the two forms' runs
// happen at different times.
var instant = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// RunID is the run ID of test t's runs of both forms: "forms-" and its
// name, each character a run ID may not hold (runtime.CheckRunID: the '/'
// of a subtest, a ',') written as '.'.
func RunID(t *testing.T) string {
	return "forms-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-:", r) {
			return r
		}
		return '.'
	}, t.Name())
}
