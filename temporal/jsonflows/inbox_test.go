package jsonflows

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// An inbox that continues as new carries every event and wait it was sent
// into its next run: those its channels held, not yet taken, when it
// reached its signals per run too (a burst that came while it signalled a
// run the first event), and a reclaim in flight then is answered, not cut.
// Before, the signals left in the channels were dropped with the run: an
// event POST /events had answered 202 for was lost, and a run's wait with
// it.
func TestInboxContinuesAsNewWithEverySignal(t *testing.T) {
	defer func(n int) { inboxSignalsPerRun = n }(inboxSignalsPerRun)
	inboxSignalsPerRun = 2

	env, signalled := inboxEnv()
	deadline := time.Now().Add(time.Hour) // the test clock's start is now
	wait := func(run string) inboxWait {
		return inboxWait{RunID: run, Key: run + "/Pay", Waiting: true, Deadline: deadline}
	}
	event := func(i int) inboxMessage {
		return inboxMessage{ID: fmt.Sprint("m", i), Payload: []byte(fmt.Sprintf(`{"n":%d}`, i))}
	}
	var reclaimed *inboxReclaimed
	var reclaimErr error
	env.RegisterDelayedCallback(func() {
		// r1 waits, e1 is signalled to it: the inbox waits for that signal
		// to be recorded, and the rest come meanwhile.
		env.SignalWorkflow(signalInboxWait, wait("r1"))
		for i := 1; i <= 5; i++ {
			env.SignalWorkflow(signalInboxEvent, event(i))
		}
		env.SignalWorkflow(signalInboxWait, wait("r2"))
		env.SignalWorkflow(signalInboxEvent, event(6))
		env.SignalWorkflow(signalInboxWait, wait("r3"))
		env.UpdateWorkflow(updateInboxReclaim, "u1", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { reclaimErr = err },
			OnComplete: func(v any, err error) {
				if err != nil {
					reclaimErr = err
					return
				}
				got := v.(inboxReclaimed)
				reclaimed = &got
			},
		}, inboxWait{RunID: "r9", Key: "r9/Pay", Deadline: deadline})
	}, time.Second)
	env.ExecuteWorkflow(inboxWorkflowName, inboxState{Topic: "payments", Event: "paid", Retention: 24 * time.Hour})

	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("the inbox ended with %v; want it continued as new", err)
	}
	var next inboxState
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 6; i++ {
		m := event(i)
		run, handed := signalled[string(m.Payload)]
		kept := slices.ContainsFunc(next.Pending, func(p inboxMessage) bool { return p.ID == m.ID })
		if handed == kept {
			t.Errorf("event %s: signalled to %q, kept for the next run %v; want one of the two", m.ID, run, kept)
		}
		if _, seen := next.Seen[m.ID]; !seen {
			t.Errorf("event %s is not among the message IDs the next run carries", m.ID)
		}
	}
	for _, run := range []string{"r1", "r2", "r3"} {
		handed := slices.Contains(slices.Collect(maps.Values(signalled)), run)
		kept := slices.ContainsFunc(next.Waiting, func(w inboxWait) bool { return w.RunID == run })
		if handed == kept {
			t.Errorf("wait of %s: handed an event %v, kept for the next run %v; want one of the two", run, handed, kept)
		}
	}
	if reclaimErr != nil || reclaimed == nil {
		t.Errorf("the reclaim sent with the burst: %v, %v; want it answered", reclaimed, reclaimErr)
	} else if reclaimed.Signalled {
		t.Errorf("the reclaim of a wait the inbox never had = %+v; want nothing signalled", *reclaimed)
	}
}

// A wait registered again after the inbox signalled it its event (the
// registration's local activity retried: its first try reached the inbox,
// its answer did not reach the run) waits no more: the next event stays
// for the next run that waits, instead of being signalled to a run that
// already took its own. Before, the registration was taken as a new wait.
func TestInboxRegistrationRetriedAfterItsEvent(t *testing.T) {
	for _, deadline := range []time.Time{{}, time.Now().Add(time.Hour)} {
		env, signalled := inboxEnv()
		wait := func(run string) inboxWait {
			return inboxWait{RunID: run, Key: run + "/Pay", Waiting: true, Deadline: deadline}
		}
		env.RegisterDelayedCallback(func() {
			env.SignalWorkflow(signalInboxWait, wait("r1"))
			env.SignalWorkflow(signalInboxEvent, inboxMessage{ID: "m1", Payload: []byte(`{"n":1}`)})
		}, time.Second)
		env.RegisterDelayedCallback(func() {
			env.SignalWorkflow(signalInboxWait, wait("r1")) // retried
			env.SignalWorkflow(signalInboxEvent, inboxMessage{ID: "m2", Payload: []byte(`{"n":2}`)})
		}, 2*time.Second)
		env.RegisterDelayedCallback(func() {
			env.SignalWorkflow(signalInboxWait, wait("r2"))
		}, 3*time.Second)
		env.ExecuteWorkflow(inboxWorkflowName, inboxState{Topic: "payments", Event: "paid", Retention: time.Hour})
		if got, want := signalled, map[string]string{`{"n":1}`: "r1", `{"n":2}`: "r2"}; !maps.Equal(got, want) {
			t.Errorf("deadline %v: events signalled %v, want %v", !deadline.IsZero(), got, want)
		}
	}
}

// inboxEnv is a test environment of the inbox workflow, and the events it
// signals, by payload, to the runs they go to.
func inboxEnv() (*testsuite.TestWorkflowEnvironment, map[string]string) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(inboxWorkflow, workflow.RegisterOptions{Name: inboxWorkflowName})
	signalled := map[string]string{}
	env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(
		func(_, runID, _, _ string, arg any) error {
			signalled[string(arg.([]byte))] = runID
			return nil
		})
	return env, signalled
}
