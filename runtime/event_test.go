package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// Interrupted names the events that cut a step short: an abort that
// leaves a step's running phase, or a block's, with an error.
func TestEventInterrupted(t *testing.T) {
	aborted := runtime.ErrAborted.Error()
	for _, c := range []struct {
		name string
		e    runtime.Event
		want bool
	}{
		{"an attempt in flight, cancelled", runtime.Event{Step: "A", From: "A:running", To: "aborting", Attempt: 1, Outcome: runtime.OutcomeError, Error: "context canceled"}, true},
		{"a backoff, or no attempt started", runtime.Event{Step: "A", From: "A:running", To: "aborting", Error: aborted}, true},
		{"a parallel block", runtime.Event{Step: "P", From: "P:parallel", To: "aborting", Error: aborted}, true},
		{"an attempt that returned ok", runtime.Event{Step: "A", From: "A:running", To: "aborting", Attempt: 1, Outcome: runtime.OutcomeOK}, false},
		{"a wait", runtime.Event{Step: "A", From: "A:waiting", To: "aborting", Error: aborted}, false},
		{"before the first step", runtime.Event{From: "pending", To: "aborting", Error: aborted}, false},
		{"a failure", runtime.Event{Step: "A", From: "A:running", To: "failing", Attempt: 1, Outcome: runtime.OutcomeError, Error: "boom"}, false},
		{"a rollback that failed", runtime.Event{Step: "A", From: "A:rollback", To: "aborting", Attempt: 1, Outcome: runtime.OutcomeError, Error: "boom"}, false},
		{"a retry", runtime.Event{Step: "A", From: "A:running", To: "A:running", Attempt: 1, Outcome: runtime.OutcomeRetry, Error: "boom"}, false},
	} {
		if got := c.e.Interrupted(); got != c.want {
			t.Errorf("%s: Interrupted() = %v, want %v", c.name, got, c.want)
		}
	}
}

// A run aborted while its step runs records the step interrupted when
// the step returns its context's error, and completed (then undone) when
// it returns ok all the same.
func TestAbortInterruptsRunningStep(t *testing.T) {
	for _, anyway := range []bool{false, true} {
		sink := runtime.NewMemorySink()
		rec := newRecorder()
		started := make(chan struct{})
		f := runtime.New[state]("F", runtime.WithSink(sink))
		mustRegister(t, f, okStep(rec, "A"), runtime.NewStep("B", func(ctx context.Context, s *state) (runtime.Outcome, error) {
			close(started)
			<-ctx.Done()
			if anyway {
				return runtime.OutcomeOK, nil
			}
			return "", ctx.Err()
		}, runtime.WithRollback(func(ctx context.Context, s *state) error { rec.add("undo B", ctx); return nil })))
		run, err := f.Start(context.Background(), state{}, runtime.WithRunID("r1"))
		if err != nil {
			t.Fatal(err)
		}
		<-started
		if err := run.Abort(); err != nil {
			t.Fatal(err)
		}
		if res, _ := run.Wait(context.Background()); res.Final != runtime.StateAborted {
			t.Fatalf("ok anyway %v: final %s", anyway, res.Final)
		}
		abort := eventsTo(sink.History("r1"), runtime.MachineAborting)[0]
		if abort.From != "B:running" || abort.Interrupted() == anyway {
			t.Errorf("ok anyway %v: the abort %+v: Interrupted() = %v", anyway, abort, abort.Interrupted())
		}
		if undone := rec.count("undo B") == 1; undone != anyway {
			t.Errorf("ok anyway %v: B undone %v", anyway, undone)
		}
	}
}

// Wait.Mismatch says why a wait does not take a payload, as Matches
// decides it: a payload that is not JSON is told apart from another run's
// event and from one without the correlation member, so that a log of an
// event dropped (the Temporal target's) names the sender's fault.
func TestWaitMismatch(t *testing.T) {
	w := &runtime.Wait{Correlated: true, Field: "order_id", Correlation: "o-1"}
	for _, c := range []struct {
		payload string
		want    string // in the error; "" for none
	}{
		{`{"order_id":"o-1"}`, ""},
		{`not json`, "not JSON"},
		{`{"order_id":"o-1"`, "not JSON"},
		{`[1]`, "not a JSON object with a member order_id"},
		{`{"id":"o-1"}`, "not a JSON object with a member order_id"},
		{`{"order_id":"o-2"}`, "another correlation"},
	} {
		err := w.Mismatch([]byte(c.payload))
		if w.Matches([]byte(c.payload)) != (err == nil) || c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: Matches %v, Mismatch %v; want %q", c.payload, w.Matches([]byte(c.payload)), err, c.want)
		}
		if errors.Is(err, runtime.ErrPayloadNotJSON) != (c.want == "not JSON") {
			t.Errorf("%s: %v is runtime.ErrPayloadNotJSON: %v", c.payload, err, errors.Is(err, runtime.ErrPayloadNotJSON))
		}
	}
	// An await without a correlation takes any payload, JSON or not, as
	// before: what is delivered does not change.
	if u := (&runtime.Wait{}); !u.Matches([]byte(`not json`)) || u.Mismatch([]byte(`not json`)) != nil {
		t.Error("an uncorrelated wait refuses a payload")
	}
}

// An event prints as a line a person reads in a test's log, not as the
// struct with its state's JSON as a list of byte values.
func TestEventString(t *testing.T) {
	cases := []struct {
		ev   runtime.Event
		want string
	}{
		{runtime.Event{RunID: "r1", Seq: 1, From: "pending", To: "A:running", State: json.RawMessage(`{"x":1}`)},
			"run r1 event 1: pending -> A:running"},
		{runtime.Event{RunID: "r1", Seq: 4, Branch: "B", From: "B:running", To: "P:parallel", Attempt: 1, Outcome: runtime.OutcomeOK},
			"run r1 event 4: B:running -> P:parallel (branch B, attempt 1, ok)"},
		{runtime.Event{RunID: "r2", Seq: 3, From: "A:running", To: "A:running", Attempt: 2, Outcome: runtime.OutcomeRetry, Error: "card \"declined\""},
			`run r2 event 3: A:running -> A:running (attempt 2, retry, error "card \"declined\"")`},
	}
	for _, c := range cases {
		if got := fmt.Sprint(c.ev); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}
