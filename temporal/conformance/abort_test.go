package conformance

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/runtime"
)

// holdJSON is a flow whose second step, Charge, has a timeout under
// flowtemporal.HeartbeatTimeout: its attempts do not heartbeat on
// Temporal.
const holdJSON = `{"version": 1, "flows": [{
  "name": "Hold", "state": "HoldState",
  "steps": [
    {"name": "Reserve", "action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Reserve", "request": "Item", "response": "Reservation"},
     "rollback": {"action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Release", "request": "Reservation"}}},
    {"name": "Charge", "action": {"kind": "rpc", "service": "pay", "endpoint": "Card.Charge", "request": "Amount", "response": "ChargeID"},
     "timeout": "9s",
     "rollback": {"action": {"kind": "rpc", "service": "pay", "endpoint": "Card.Refund", "request": "ChargeID"}}},
    {"name": "Ship", "action": {"kind": "rpc", "service": "ship", "endpoint": "Parcel.Send", "request": "Item", "response": "Tracking"}, "irreversible": true}
  ]}]}`

// An abort while a short attempt runs (docs/temporal.md, Abort of a
// running step): on Temporal the attempt, which does not heartbeat, never
// learns of it and runs to its end (5 s, its context never done); the run
// waits for it, then rolls back the completed steps, that one first, and
// ends aborted. The runtime, which runs the same flow, cancels the
// attempt's context at once: the attempt ends with its context's error and
// only Reserve is rolled back.
func TestAbortShortAttempt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	sc := script{"Card.Charge": {patient}}
	docs := []string{holdJSON}
	const runID = "run-abort-short"
	const state = `{"Item":"lamp","Amount":20}`
	key := func(step string) string { return runID + "/" + step } // runtime.IdempotencyKey of visit 1
	c := conformanceCase{flow: "Hold", state: state, then: []step{abortWhenCalled("Card.Charge")}}
	ts := newServer(t)
	for _, want := range []struct {
		side        *side
		calls       []string
		transitions []string
	}{
		{
			side: newTemporal(t, ts, "abort-short", docs, sc),
			calls: []string{
				fmt.Sprintf(`Stock.Reserve %s #1 "lamp"`, key("Reserve")),
				fmt.Sprintf(`Card.Charge %s #1 20`, key("Charge")),
				fmt.Sprintf(`Card.Refund %s #1 %q`, key("Charge/rollback"), response("Card.Charge", runID)),
				fmt.Sprintf(`Stock.Release %s #1 %q`, key("Reserve/rollback"), response("Stock.Reserve", runID)),
			},
			transitions: []string{
				"pending>Reserve:running #0 : ",
				"Reserve:running>Charge:running #1 ok: ",
				"Charge:running>aborting #1 ok: ",
				"aborting>Charge:rollback #0 : ",
				"Charge:rollback>aborting #1 ok: ",
				"aborting>Reserve:rollback #0 : ",
				"Reserve:rollback>aborting #1 ok: ",
				"aborting>aborted #0 : ",
			},
		},
		{
			side: newLocal(t, docs, sc),
			calls: []string{
				fmt.Sprintf(`Stock.Reserve %s #1 "lamp"`, key("Reserve")),
				fmt.Sprintf(`Card.Charge %s #1 20`, key("Charge")),
				fmt.Sprintf(`Stock.Release %s #1 %q`, key("Reserve/rollback"), response("Stock.Reserve", runID)),
			},
			transitions: []string{
				"pending>Reserve:running #0 : ",
				"Reserve:running>Charge:running #1 ok: ",
				"Charge:running>aborting #1 error: " + context.Canceled.Error(),
				"aborting>Reserve:rollback #0 : ",
				"Reserve:rollback>aborting #1 ok: ",
				"aborting>aborted #0 : ",
			},
		},
	} {
		got := c.run(t, want.side, runID)
		if got.Final != runtime.StateAborted {
			t.Errorf("%s: ended %s, want %s", want.side.name, got.Final, runtime.StateAborted)
		}
		if d := cmp.Diff(want.calls, got.Calls); d != "" {
			t.Errorf("%s: calls (-want +got):\n%s", want.side.name, d)
		}
		h, err := want.side.eng.History(context.Background(), runID)
		if err != nil {
			t.Fatal(err)
		}
		checkHistory(t, want.side.name, h, want.transitions)
	}
}

// cutJSON is Hold whose Charge has a 2 s timeout, under
// flowtemporal.HeartbeatTimeout, and retries: its attempts do not
// heartbeat on Temporal.
const cutJSON = `{"version": 1, "flows": [{
  "name": "Cut", "state": "HoldState",
  "steps": [
    {"name": "Reserve", "action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Reserve", "request": "Item", "response": "Reservation"},
     "rollback": {"action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Release", "request": "Reservation"}}},
    {"name": "Charge", "action": {"kind": "rpc", "service": "pay", "endpoint": "Card.Charge", "request": "Amount", "response": "ChargeID"},
     "timeout": "2s", "retry": {"attempts": 3, "initial": "1s", "max": "1s", "jitter": "none"},
     "rollback": {"action": {"kind": "rpc", "service": "pay", "endpoint": "Card.Refund", "request": "ChargeID"}}},
    {"name": "Ship", "action": {"kind": "rpc", "service": "ship", "endpoint": "Parcel.Send", "request": "Item", "response": "Tracking"}, "irreversible": true}
  ]}]}`

// abortWhenCalledTimes aborts the run once it has called endpoint n times.
func abortWhenCalledTimes(endpoint string, n int) step {
	return func(t *testing.T, s *side, runID string) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			calls := 0
			for _, c := range s.svc.list() {
				if strings.HasPrefix(c, endpoint+" "+runID+"/") {
					calls++
				}
			}
			if calls >= n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: run %s called %s %d times, want %d", s.name, runID, endpoint, calls, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := s.eng.Abort(context.Background(), runID); err != nil {
			t.Fatal(err)
		}
	}
}

// An abort while a short attempt runs that then fails by its timeout: on
// Temporal the attempt, which does not heartbeat, never learns of the
// abort and runs to its timeout (docs/temporal.md, Abort of a running
// step), and the run records that attempt, its number and its timeout, as
// the runtime records the attempt it cut (with its context's error). It
// was recorded as no attempt ("run aborted", attempt 0), though the
// service was called: the workflow took an attempt's timeout under a
// cancellation for none. On the first attempt and on a retry after an
// attempt that timed out (which leaves no record of its own).
func TestAbortAttemptThenTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	docs := []string{cutJSON}
	const state = `{"Item":"lamp","Amount":20}`
	timedOut := runtime.AttemptTimeout(2 * time.Second).Error()
	ts := newServer(t)
	for i, c := range []struct {
		name     string
		script   script
		abort    step
		temporal []string // the runtime's are the same but for the attempt it cut: "error: context canceled"
	}{
		{"first attempt", script{"Card.Charge": {slow}}, abortWhenCalledTimes("Card.Charge", 1), []string{
			"pending>Reserve:running #0 : ",
			"Reserve:running>Charge:running #1 ok: ",
			"Charge:running>aborting #1 timeout: " + timedOut,
		}},
		{"retry", script{"Card.Charge": {slow}}, abortWhenCalledTimes("Card.Charge", 2), []string{
			"pending>Reserve:running #0 : ",
			"Reserve:running>Charge:running #1 ok: ",
			"Charge:running>Charge:running #1 retry: " + timedOut,
			"Charge:running>aborting #2 timeout: " + timedOut,
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			runID := "run-cut-" + fmt.Sprint(i)
			cc := conformanceCase{flow: "Cut", state: state, then: []step{c.abort}}
			rollback := []string{
				"aborting>Reserve:rollback #0 : ",
				"Reserve:rollback>aborting #1 ok: ",
				"aborting>aborted #0 : ",
			}
			local := slices.Clone(c.temporal)
			local[len(local)-1] = strings.Replace(local[len(local)-1], "timeout: "+timedOut, "error: "+context.Canceled.Error(), 1)
			for _, want := range []struct {
				side        *side
				transitions []string
			}{
				{newTemporal(t, ts, fmt.Sprintf("cut-%d", i), docs, c.script), append(c.temporal, rollback...)},
				{newLocal(t, docs, c.script), append(local, rollback...)},
			} {
				got := cc.run(t, want.side, runID)
				if got.Final != runtime.StateAborted {
					t.Errorf("%s: ended %s, want %s", want.side.name, got.Final, runtime.StateAborted)
				}
				h, err := want.side.eng.History(context.Background(), runID)
				if err != nil {
					t.Fatal(err)
				}
				checkHistory(t, want.side.name, h, want.transitions)
			}
		})
	}
}

// cutBranchJSON is Split whose branch Take has a 2 s timeout, under
// flowtemporal.HeartbeatTimeout: on Temporal its attempt does not learn
// that its block cancelled it.
const cutBranchJSON = `{"version": 1, "flows": [{
  "name": "CutBranch", "state": "SplitState",
  "timeout": "20s",
  "steps": [
    {"name": "Both", "parallel": {"branches": [
      {"name": "Take", "action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Take", "request": "Item", "response": "Reservation"},
       "timeout": "2s",
       "rollback": {"action": {"kind": "rpc", "service": "stock", "endpoint": "Stock.Return", "request": "Reservation"}}},
      {"name": "Authorize", "action": {"kind": "rpc", "service": "pay", "endpoint": "Card.Authorize", "request": "Amount", "response": "Authorization"},
       "rollback": {"action": {"kind": "rpc", "service": "pay", "endpoint": "Card.Void", "request": "Authorization"}}}
    ]}},
    {"name": "Send", "action": {"kind": "rpc", "service": "ship", "endpoint": "Parcel.Send", "request": "Item", "response": "Tracking"}, "irreversible": true}
  ]}]}`

// releaseWhenCalled releases the held calls once the run has called
// endpoint.
func releaseWhenCalled(endpoint string) step {
	return func(t *testing.T, s *side, runID string) {
		waitCalled(t, s, runID, endpoint)
		s.svc.release()
	}
}

// A branch cancelled by the other's failure while its short attempt runs,
// which then fails by its timeout: as for an abort (above), Temporal
// records that attempt and its timeout, marked cancelled, where the
// runtime records the attempt it cut with the context's error.
func TestBranchCancelledThenTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	docs := []string{cutBranchJSON}
	sc := script{"Stock.Take": {slow}, "Card.Authorize": {held}}
	const runID = "run-cut-branch"
	c := conformanceCase{flow: "CutBranch", state: `{"Item":"vase","Amount":6}`, then: []step{releaseWhenCalled("Stock.Take")}}
	cancelled := runtime.ErrBranchCancelled.Error() + ": "
	ts := newServer(t)
	for _, want := range []struct {
		side *side
		end  string
	}{
		{newTemporal(t, ts, "cut-branch", docs, sc), "#1 timeout: " + cancelled + runtime.AttemptTimeout(2*time.Second).Error()},
		{newLocal(t, docs, sc), "#1 error: " + cancelled + context.Canceled.Error()},
	} {
		got := c.run(t, want.side, runID)
		if got.Final != runtime.StateFailed {
			t.Errorf("%s: ended %s, want %s", want.side.name, got.Final, runtime.StateFailed)
		}
		wantTake := []string{"Take: Both:parallel>Take:running", "Take: Take:running>Both:parallel " + want.end}
		if d := cmp.Diff(wantTake, got.Branches["Take"]); d != "" {
			t.Errorf("%s: branch Take (-want +got):\n%s", want.side.name, d)
		}
		i := slices.IndexFunc(got.Status.Branches, func(b runtime.Branch) bool { return b.Step == "Take" })
		if i < 0 || !got.Status.Branches[i].Cancelled || got.Status.Branches[i].Attempt != 1 {
			t.Errorf("%s: status branches %+v: want Take cancelled after attempt 1", want.side.name, got.Status.Branches)
		}
	}
}

// While an accepted abort waits for the step in flight to return, the
// run's status says so (abort_requested) on both executors; once the run
// took it, no longer. On Temporal it never said so: the run read running,
// the web view's abort button still offered, until its step returned.
func TestAbortRequestedWhileStepRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	sc := script{"Card.Charge": {stuck}}
	docs := []string{holdJSON}
	const runID = "run-abort-requested"
	ts := newServer(t)
	for _, s := range []*side{newTemporal(t, ts, "abort-requested", docs, sc), newLocal(t, docs, sc)} {
		if _, err := s.eng.StartRun(context.Background(), "Hold", []byte(`{"Item":"lamp","Amount":20}`), runID); err != nil {
			t.Fatal(err)
		}
		waitCalled(t, s, runID, "Card.Charge")
		if err := s.eng.Abort(context.Background(), runID); err != nil {
			t.Fatal(err)
		}
		st, err := s.eng.Status(context.Background(), runID)
		if err != nil || !st.AbortRequested || st.Machine != "Charge:running" {
			t.Errorf("%s: status after the abort, Charge in flight: %s, abort_requested %v (%v); want Charge:running, abort requested", s.name, st.Machine, st.AbortRequested, err)
		}
		s.svc.release() // Charge completes: the run rolls it back, then Reserve
		if st := s.waitFor(t, runID, runtime.StateAborted); st.AbortRequested {
			t.Errorf("%s: the aborted run still says abort_requested", s.name)
		}
	}
}
