package flowtemporal

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// Helpers of the tests that run flows on the SDK's test environment.

const testRun = "run-1"

func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: testRun})
	// The SDK fails a workflow task that runs a second without yielding
	// (its deadlock detector). Under -race on two loaded cores the first
	// workflow of the package's process (TestCallDone) took longer, twice
	// in a row here; a real deadlock still fails the test by its timeout.
	// As jsonflows' workers.
	env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: 15 * time.Second})
	return env
}

// journal records what the steps did, in order, from any goroutine.
type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(format string, a ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lines = append(j.lines, fmt.Sprintf(format, a...))
}

func (j *journal) get() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.lines)
}

// status is the run's status through the query, which replays its
// history with the runtime's Replay: a history the runtime could not read
// fails the test.
func status(t *testing.T, env *testsuite.TestWorkflowEnvironment) runtime.Status {
	t.Helper()
	v, err := env.QueryWorkflow(QueryStatus)
	if err != nil {
		t.Fatalf("status query: %v", err)
	}
	var st runtime.Status
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// transitions are the history's moves, "from>to", with the branch first
// for a branch's ("B|from>to") and the child a move names last ("@child").
func transitions(h []runtime.Event) []string {
	var out []string
	for _, e := range h {
		s := e.From + ">" + e.To
		if e.Branch != "" {
			s = e.Branch + "|" + s
		}
		if e.Child != nil {
			s += "@" + e.Child.RunID
		}
		out = append(out, s)
	}
	return out
}

// wantEnd checks how the workflow ended: done, or an error of a run that
// ended in state final.
func wantEnd(t *testing.T, env *testsuite.TestWorkflowEnvironment, final runtime.RunState) {
	t.Helper()
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	err := env.GetWorkflowError()
	var app *temporal.ApplicationError
	var canceled *temporal.CanceledError
	switch {
	case final == runtime.StateDone:
		if err != nil {
			t.Fatalf("workflow error %v, want done", err)
		}
	case final == runtime.StateAborted:
		if !errors.As(err, &canceled) {
			t.Fatalf("workflow error %v, want a cancellation", err)
		}
	default:
		if !errors.As(err, &app) || app.Type() != endErrorType(string(final)) {
			t.Fatalf("workflow error %v, want one of type %s", err, endErrorType(string(final)))
		}
	}
	if st := status(t, env); st.State != final {
		t.Fatalf("status %s (%s), want %s", st.State, st.Err, final)
	}
}

func hasLine(lines []string, prefix string) bool {
	return slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, prefix) })
}

// onServer starts a Temporal server in the process with a worker of f on
// task queue queue, both stopped when t ends, and returns its client.
func onServer[S any](t *testing.T, f *Flow[S], queue string) client.Client {
	t.Helper()
	c := testserver.New(t).GetDefaultClient()
	w := worker.New(c, queue, WorkerOptions(worker.Options{}))
	f.Register(w)
	must(t, w.Start())
	t.Cleanup(w.Stop)
	return c
}
