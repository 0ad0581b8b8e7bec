package flowtemporal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/runtime"
)

// failedAttempt is an attempt of a step (or rollback) that failed and was
// retried. Temporal retries an activity inside the server, out of the
// workflow's sight, so each failed attempt leaves its record in the
// activity's heartbeat details, which Temporal hands to the next attempt;
// the attempt that ends the activity returns the records, and the workflow
// records each as the runtime does: a retry event.
type failedAttempt struct {
	Attempt int       `json:"attempt"`
	Error   string    `json:"error"`
	Time    time.Time `json:"time"`
}

// retriedBefore is the record of the attempts before this one that failed,
// oldest first, as the attempt before this one left it.
func retriedBefore(ctx context.Context) []failedAttempt {
	var prior []failedAttempt
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &prior); err != nil {
			activity.GetLogger(ctx).Warn("flowgen: unreadable record of the failed attempts", "error", err)
			return nil
		}
	}
	return prior
}

// leaveRecord hands the record of the failed attempts, this one's failure
// (err) added, to the next attempt, when Temporal will retry: err is
// retryable, attempts are left and the run was not cancelled. The SDK
// sends a heartbeat still buffered before it reports the failure, so the
// record is in the server when the next attempt starts.
func leaveRecord(ctx context.Context, prior []failedAttempt, attempt int, err error) {
	if runtime.IsPermanent(err) || ctx.Err() != nil {
		return
	}
	if p := activity.GetInfo(ctx).RetryPolicy; p != nil && p.MaximumAttempts > 0 && int32(attempt) >= p.MaximumAttempts {
		return
	}
	activity.RecordHeartbeat(ctx, append(slices.Clip(prior), failedAttempt{Attempt: attempt, Error: recordedError(err), Time: time.Now().UTC()}))
}

// maxRecordedError bounds the error text a failed attempt's record keeps:
// the records travel in heartbeat details and results, which Temporal
// limits in size (2 MB a payload), and a step may have many attempts.
const maxRecordedError = 2048

// recordedError is err's text, cut to maxRecordedError bytes at a rune
// boundary, with "…" where it was cut.
func recordedError(err error) string {
	msg := err.Error()
	if len(msg) <= maxRecordedError {
		return msg
	}
	cut := maxRecordedError
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}

// recordedFailures reads the record of the failed attempts that an
// activity's error carries: on the application error of its last attempt,
// or, for a timeout, in the last heartbeat details Temporal kept.
func recordedFailures(err error) []failedAttempt {
	// A timeout first, as in failure: its cause is an earlier attempt's.
	var to *temporal.TimeoutError
	if errors.As(err, &to) {
		var prior []failedAttempt
		if to.HasLastHeartbeatDetails() && to.LastHeartbeatDetails(&prior) == nil {
			return prior
		}
		return nil
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		var d attemptDetail
		if app.HasDetails() && app.Details(&d) == nil {
			return d.Retried
		}
	}
	return nil
}

// retries completes the record of the attempts before last, made under
// the activity options ao: an attempt that left none ran past its
// StartToClose timeout, or, when it heartbeated, maybe lost its worker
// (Temporal's history says which; the workflow is not told). The first is
// recorded as the runtime records an attempt past its timeout. Without a
// known last attempt (0) the record is taken as it is.
func retries(prior []failedAttempt, last int, ao workflow.ActivityOptions) []failedAttempt {
	if last <= 1 {
		return prior
	}
	lost := runtime.AttemptTimeout(ao.StartToCloseTimeout).Error()
	if ao.HeartbeatTimeout > 0 {
		lost = fmt.Errorf("%w: the attempt left no record: it ran past its timeout, or its worker stopped (no heartbeat for %v)",
			runtime.ErrTimeout, ao.HeartbeatTimeout).Error()
	}
	full := make([]failedAttempt, 0, last-1)
	i := 0
	for n := 1; n < last; n++ {
		if i < len(prior) && prior[i].Attempt == n {
			full = append(full, prior[i])
			i++
			continue
		}
		full = append(full, failedAttempt{Attempt: n, Error: lost})
	}
	return full
}

// recordRetries records each failed attempt as a retry event of the
// current machine state (a step's or a rollback's), or of branch's own
// machine when branch is set. An event's time is when its attempt failed,
// kept between the run's last event and now, so that the history's times
// do not go back.
func (r *wfRun[S]) recordRetries(failed []failedAttempt, branch string) {
	for _, a := range failed {
		edit := func(e *runtime.Event) {
			e.Error = a.Error
			if a.Time.After(e.Time) || a.Time.IsZero() {
				return
			}
			if n := len(r.history); n == 0 || a.Time.After(r.history[n-1].Time) {
				e.Time = a.Time
			}
		}
		if branch != "" {
			state := runtime.RunningState(branch)
			r.emitBranch(branch, state, state, a.Attempt, runtime.OutcomeRetry, nil, edit)
			continue
		}
		r.emit(r.machine, a.Attempt, runtime.OutcomeRetry, nil, edit)
	}
}
