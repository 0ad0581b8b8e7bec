package flowtemporal

import (
	"math"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/runtime"
)

// DefaultTimeout is the StartToClose timeout of an attempt whose step (or
// rollback) sets neither a timeout nor a deadline. The runtime lets such an
// attempt run for ever; Temporal needs a bound to notice a dead worker.
const DefaultTimeout = 10 * time.Minute

// HeartbeatTimeout is how long Temporal waits for a heartbeat of a running
// attempt before it takes its worker for dead and retries the attempt
// elsewhere: every attempt heartbeats (heartbeatEvery) while it runs, so a
// worker killed mid-step costs this long, not the step's timeout (or
// DefaultTimeout).
const HeartbeatTimeout = 10 * time.Second

// heartbeatEvery is how often a running attempt heartbeats.
const heartbeatEvery = HeartbeatTimeout / 4

// WorkerOptions returns o for a worker of flowgen's flows: the SDK sends a
// running attempt's heartbeats to the server at most once per
// MaxHeartbeatThrottleInterval, which it otherwise sets to 0.8 times the
// HeartbeatTimeout. With the 10 s HeartbeatTimeout that is one heartbeat
// per 8 s, 2 s within the timeout: a worker that stalls for 2 s (a loaded
// machine, a long garbage collection, a slow connection) has its attempt
// taken for dead and run again. WorkerOptions lowers the interval to
// heartbeatEvery, so that the server hears from a live attempt every 2.5 s
// and a stall must last 7.5 s to cost a duplicate attempt. A lower
// interval set in o is kept.
//
// A worker that stops (Stop, or Run's interrupt) cancels its running
// attempts at once under the SDK's default WorkerStopTimeout, 0: each is
// cut where it is, recorded as a failed attempt and run again on another
// worker, where the runtime's SuspendAll lets a running step end first.
// WorkerOptions gives them StopGrace to end, unless o sets a
// WorkerStopTimeout.
//
// The SDK takes a workflow task that runs a second without yielding for a
// deadlock (worker.Options.DeadlockDetectionTimeout), and fails it: under
// the SDK's default panic policy it is retried, fails again, and the run
// never moves again. A flow's workflow task runs the flow's sink
// (runtime.WithSink), and encodes the run's state in each event it
// records, which for a state of a megabyte on a loaded machine takes
// longer. WorkerOptions raises that bound to TaskTimeout, unless o sets
// one.
func WorkerOptions(o worker.Options) worker.Options {
	if o.MaxHeartbeatThrottleInterval <= 0 || o.MaxHeartbeatThrottleInterval > heartbeatEvery {
		o.MaxHeartbeatThrottleInterval = heartbeatEvery
	}
	if o.WorkerStopTimeout == 0 {
		o.WorkerStopTimeout = StopGrace
	}
	if o.DeadlockDetectionTimeout == 0 {
		o.DeadlockDetectionTimeout = TaskTimeout
	}
	return o
}

// TaskTimeout is how long a workflow task of a worker with WorkerOptions
// may run without yielding: Temporal's default workflow task timeout
// (client.StartWorkflowOptions.WorkflowTaskTimeout), past which the
// server gives the task to another worker anyway.
const TaskTimeout = 10 * time.Second

// StopGrace is how long a stopping worker with WorkerOptions waits for its
// running attempts to end before it cancels them: HeartbeatTimeout, as
// long as the server waits for a worker that died before it runs the
// attempt again elsewhere.
const StopGrace = HeartbeatTimeout

// heartbeatTimeout is the HeartbeatTimeout of an attempt with options ao:
// HeartbeatTimeout when its timeouts would leave a dead worker's attempt
// unnoticed longer than that, else none (a heartbeat timer costs the
// server a timer per attempt, for nothing when StartToClose is as short).
func heartbeatTimeout(ao workflow.ActivityOptions) time.Duration {
	bound := ao.StartToCloseTimeout
	if bound <= 0 || ao.ScheduleToCloseTimeout > 0 && ao.ScheduleToCloseTimeout < bound {
		bound = ao.ScheduleToCloseTimeout
	}
	if bound > HeartbeatTimeout {
		return HeartbeatTimeout
	}
	return 0
}

// minInterval stands for "retry at once" (a zero Initial): Temporal reads a
// zero InitialInterval as its default of one second.
const minInterval = time.Millisecond

// RetryPolicy is the Temporal retry policy of a runtime retry policy: the
// same attempts, first interval, multiplier and cap. Temporal has no jitter
// on activity retries, so Jitter is dropped (docs/temporal.md). A zero Max
// (no cap) becomes the longest interval the attempts can reach, since a
// zero MaximumInterval means 100 times the first one to Temporal. A zero
// Initial (retry at once, every time, whatever the multiplier and cap)
// becomes minInterval without growth: grown from minInterval, the
// intervals doubled up to the cap, minutes for a few dozen attempts.
func RetryPolicy(p runtime.RetryPolicy) *temporal.RetryPolicy {
	attempts := max(p.Attempts, 1)
	initial, mult, capped := minInterval, 1.0, minInterval
	if p.Initial > 0 {
		initial = p.Initial
		mult = max(p.Growth(), 1) // Temporal refuses a shrinking interval
		capped = p.Max
	}
	if capped <= 0 {
		longest := float64(initial) * math.Pow(mult, float64(max(attempts-2, 0)))
		capped = time.Duration(min(longest, float64(math.MaxInt64/2)))
	}
	return &temporal.RetryPolicy{
		InitialInterval:    initial,
		BackoffCoefficient: mult,
		MaximumInterval:    max(capped, initial),
		MaximumAttempts:    int32(min(attempts, math.MaxInt32)),
	}
}

// retryInterval is how long Temporal waits after failed attempt n (from 1)
// of an activity under p before the next: InitialInterval ×
// BackoffCoefficient^(n-1), capped at MaximumInterval (the server's rule).
func retryInterval(p *temporal.RetryPolicy, n int) time.Duration {
	d := float64(p.InitialInterval) * math.Pow(p.BackoffCoefficient, float64(n-1))
	if p.MaximumInterval > 0 && d > float64(p.MaximumInterval) {
		return p.MaximumInterval
	}
	return time.Duration(min(d, float64(math.MaxInt64)))
}
