package flowtemporal

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/runtime"
)

// timedOut is the error the workflow gets for an activity that Temporal
// stopped on a timeout of type typ, in retry state rs, while an attempt
// ran or not, with the last heartbeat details details (none when nil), as
// the SDK makes it from the server's failure.
func timedOut(t *testing.T, typ enumspb.TimeoutType, rs enumspb.RetryState, running bool, details ...any) error {
	t.Helper()
	info := &failurepb.TimeoutFailureInfo{TimeoutType: typ}
	var started int64 // the server's: none while no attempt runs
	if running {
		started = 7
	}
	if details != nil {
		p, err := converter.GetDefaultDataConverter().ToPayloads(details...)
		if err != nil {
			t.Fatal(err)
		}
		info.LastHeartbeatDetails = p
	}
	f := &failurepb.Failure{Message: "activity error",
		FailureInfo: &failurepb.Failure_ActivityFailureInfo{ActivityFailureInfo: &failurepb.ActivityFailureInfo{RetryState: rs, StartedEventId: started}},
		Cause:       &failurepb.Failure{Message: "activity timeout", FailureInfo: &failurepb.Failure_TimeoutFailureInfo{TimeoutFailureInfo: info}}}
	return temporal.GetDefaultFailureConverter().FailureToError(f)
}

// A timeout of a step with a deadline is recorded on the attempt it cut,
// or the attempt whose retry it came before, as the runtime records it:
// the attempt comes from the last heartbeat's details (markStarted), none
// meaning the first, or none when no attempt ran.
func TestFailureAttemptOfDeadline(t *testing.T) {
	const deadline, timeout = 4 * time.Second, time.Second
	one := failedAttempt{Attempt: 1, Error: "unavailable"}
	two := failedAttempt{Attempt: 2, Error: "unavailable"}
	for _, c := range []struct {
		name    string
		err     error
		attempt int
		prior   []failedAttempt
		want    error
	}{
		{"deadline cuts attempt 2", timedOut(t, enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE, enumspb.RETRY_STATE_TIMEOUT, true, []failedAttempt{one}, 2),
			2, []failedAttempt{one}, runtime.DeadlinePassed(deadline)},
		{"deadline passes in the backoff after attempt 2", timedOut(t, enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE, enumspb.RETRY_STATE_TIMEOUT, false, []failedAttempt{one, two}, 2),
			2, []failedAttempt{one, two}, runtime.DeadlinePassed(deadline)},
		{"deadline cuts attempt 3, whose start heartbeat was lost", timedOut(t, enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE, enumspb.RETRY_STATE_TIMEOUT, true, []failedAttempt{one, two}, 2),
			3, []failedAttempt{one, two}, runtime.DeadlinePassed(deadline)},
		{"deadline cuts attempt 1", timedOut(t, enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE, enumspb.RETRY_STATE_TIMEOUT, true),
			1, nil, runtime.DeadlinePassed(deadline)},
		{"deadline passes before attempt 1 starts", timedOut(t, enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE, enumspb.RETRY_STATE_TIMEOUT, false),
			0, nil, runtime.DeadlinePassed(deadline)},
		{"attempt 2 times out with no time for 3", timedOut(t, enumspb.TIMEOUT_TYPE_START_TO_CLOSE, enumspb.RETRY_STATE_TIMEOUT, true, []failedAttempt(nil), 2),
			2, nil, runtime.NoTimeForRetry(deadline, 3, runtime.AttemptTimeout(timeout))},
		{"the last attempt times out", timedOut(t, enumspb.TIMEOUT_TYPE_START_TO_CLOSE, enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED, true, []failedAttempt{one}, 2),
			5, []failedAttempt{one}, runtime.AttemptTimeout(timeout)},
	} {
		t.Run(c.name, func(t *testing.T) {
			attempt, prior, err := failure(c.err, 5, timeout, deadline)
			if attempt != c.attempt || err == nil || err.Error() != c.want.Error() || !errors.Is(err, runtime.ErrTimeout) {
				t.Errorf("failure = attempt %d, %v; want attempt %d, %v", attempt, err, c.attempt, c.want)
			}
			if d := cmp.Diff(c.prior, prior); d != "" {
				t.Errorf("record (-want +got):\n%s", d)
			}
		})
	}
}

// An attempt that a cancelled run did not stop (it does not heartbeat) and
// that its own timeout then ended is recorded with its number, which the
// heartbeat of its start gives (markStarted), as the runtime records the
// attempt its abort cut. It was attempt 0, "no attempt ran", though the
// service was called: without a deadline only a last attempt's timeout
// named one.
func TestFailureAttemptCancelled(t *testing.T) {
	const timeout = time.Second
	one := failedAttempt{Attempt: 1, Error: "unavailable"}
	for _, c := range []struct {
		name    string
		err     error
		attempt int
		prior   []failedAttempt
	}{
		{"attempt 1", timedOut(t, enumspb.TIMEOUT_TYPE_START_TO_CLOSE, enumspb.RETRY_STATE_CANCEL_REQUESTED, true), 1, nil},
		{"attempt 2 after one that timed out", timedOut(t, enumspb.TIMEOUT_TYPE_START_TO_CLOSE, enumspb.RETRY_STATE_CANCEL_REQUESTED, true, []failedAttempt(nil), 2), 2, nil},
		{"attempt 2 after one that failed", timedOut(t, enumspb.TIMEOUT_TYPE_START_TO_CLOSE, enumspb.RETRY_STATE_CANCEL_REQUESTED, true, []failedAttempt{one}, 2), 2, []failedAttempt{one}},
		{"attempt 2 whose start heartbeat was lost", timedOut(t, enumspb.TIMEOUT_TYPE_START_TO_CLOSE, enumspb.RETRY_STATE_CANCEL_REQUESTED, true, []failedAttempt{one}, 1), 2, []failedAttempt{one}},
	} {
		t.Run(c.name, func(t *testing.T) {
			attempt, prior, err := failure(c.err, 5, timeout, 0)
			if want := runtime.AttemptTimeout(timeout); attempt != c.attempt || err == nil || err.Error() != want.Error() {
				t.Errorf("failure = attempt %d, %v; want attempt %d, %v", attempt, err, c.attempt, want)
			}
			if d := cmp.Diff(c.prior, prior); d != "" {
				t.Errorf("record (-want +got):\n%s", d)
			}
		})
	}
}

// The record of the attempts before the last keeps the last's own failure
// when the deadline passed in its backoff: its retry event is the
// runtime's too.
func TestRetriesKeepsTheLastFailure(t *testing.T) {
	one := failedAttempt{Attempt: 1, Error: "unavailable"}
	two := failedAttempt{Attempt: 2, Error: "unavailable"}
	ao := workflow.ActivityOptions{StartToCloseTimeout: time.Second}
	if d := cmp.Diff([]failedAttempt{one, two}, retries([]failedAttempt{one, two}, 2, ao)); d != "" {
		t.Errorf("retries (-want +got):\n%s", d)
	}
}

// Whether a failed attempt is retried is Temporal's decision, made on the
// server's clock when the failure reaches it: the attempt tells its run at
// once only of a retry that is sure, and leaves its record for one that
// may come (the run records it if a later attempt brings it back), so
// that near the deadline the run neither records a retry Temporal does not
// make nor records one it makes as an attempt that left no record.
func TestChanceOfRetry(t *testing.T) {
	p := RetryPolicy(runtime.RetryPolicy{Attempts: 3, Initial: time.Second, Max: time.Second})
	sched := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const deadline = 10 * time.Second
	last := sched.Add(deadline) // the last moment a retry may start
	for _, c := range []struct {
		name string
		n    int
		now  time.Time
		want retryChance
	}{
		{"well within the deadline", 1, sched, sureRetry},
		{"no attempts left", 3, sched, noRetry},
		{"the retry starts just before the deadline", 1, last.Add(-time.Second - 200*time.Millisecond), maybeRetry},
		{"the retry starts just after the deadline", 1, last.Add(-time.Second + 200*time.Millisecond), maybeRetry},
		{"the retry starts well after the deadline", 1, last.Add(time.Second), noRetry},
	} {
		if got := chanceOfRetry(p, c.n, sched, deadline, c.now); got != c.want {
			t.Errorf("%s: chance %d, want %d", c.name, got, c.want)
		}
	}
	if got := chanceOfRetry(p, 1, sched, 0, sched.Add(time.Hour)); got != sureRetry {
		t.Errorf("no deadline: chance %d, want sure", got)
	}
}
