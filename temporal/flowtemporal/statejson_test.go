package flowtemporal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/runtime"
)

// ratio is the state of the flows below: one that a step or a branch's
// merge can leave not encoding as JSON (a NaN).
type ratio struct {
	Ratio float64
	Other float64
}

// An await with no correlation refuses an event whose payload is not
// JSON, as the runtime's runs do (runtime.PayloadNotJSON): a warning says
// so and the run waits on for the next event. It took it before, and the
// step's activity input, which carries the payload, then did not encode:
// ExecuteActivity panics (the test environment fails the workflow with
// it; a server fails the workflow task, and again at each retry, the run
// stuck). A run that took one with the code before still takes it when it
// replays: the change is workflow.GetVersion'd.
func TestAwaitRefusesPayloadNotJSON(t *testing.T) {
	for _, c := range []struct {
		name    string
		version workflow.Version // what GetVersion answers: DefaultVersion for a run that took the payload before
	}{
		{"a new run", 1},
		{"a run replayed from before", workflow.DefaultVersion},
	} {
		t.Run(c.name, func(t *testing.T) {
			def := runtime.New[paid]("Pay", Awaits())
			must(t, def.Register(
				runtime.NewAwait("payments", "paid", func(s *paid) any { return &s.Payment }, nil, time.Hour),
				runtime.NewStep("Ship", func(context.Context, *paid) (runtime.Outcome, error) { return runtime.OutcomeOK, nil }, runtime.WithIrreversible[paid]()),
			))
			f, err := New(def)
			must(t, err)
			var logs bytes.Buffer
			var s testsuite.WorkflowTestSuite
			s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			env := s.NewTestWorkflowEnvironment()
			env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: testRun})
			f.Register(env)
			env.OnGetVersion(versionPayloadNotJSON, workflow.DefaultVersion, 1).Return(c.version)
			for i, p := range []string{`not json`, `{"amount":3}`} {
				env.RegisterDelayedCallback(func() {
					env.SignalWorkflow(SignalName("payments", "paid"), SignalArg(runtime.Delivery{Payload: json.RawMessage(p)}))
				}, time.Duration(i+1)*time.Minute)
			}
			env.ExecuteWorkflow(WorkflowName("Pay"), paid{})
			if c.version != 1 {
				if err := env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), "unable to encode") {
					t.Fatalf("workflow error %v, want the activity input that did not encode, as before", err)
				}
				return
			}
			wantEnd(t, env, runtime.StateDone)
			if _, err := json.Marshal(status(t, env).History); err != nil {
				t.Errorf("the history does not encode as JSON: %v", err)
			}
			var got paid
			must(t, env.GetWorkflowResult(&got))
			if string(got.Payment) != `{"amount":3}` {
				t.Errorf("payment %s, want the JSON event's", got.Payment)
			}
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "not JSON") || !strings.Contains(logs.String(), "run_id="+testRun) {
				t.Errorf("no warning of the payload refused:\n%s", logs.String())
			}
		})
	}
}

// A step whose attempt leaves a state that does not encode as JSON fails
// at once, permanently, as on the runtime (runtime.StateNotJSON): no
// retry, the run compensated with the runtime's error, the state as it
// was. Before, the SDK failed to encode the activity's result, a failure
// it retried (here three attempts) before the step failed with the SDK's
// message.
func TestStepLeavingStateNotJSONFails(t *testing.T) {
	var j journal
	def := runtime.New[ratio]("Ratio")
	must(t, def.Register(
		reserve(&j),
		runtime.NewStep("Divide", func(_ context.Context, s *ratio) (runtime.Outcome, error) {
			j.add("exec Divide")
			s.Ratio = math.NaN()
			return runtime.OutcomeOK, nil
		}, runtime.WithIrreversible[ratio](), runtime.WithRetry[ratio](runtime.RetryPolicy{Attempts: 3, Initial: time.Second})),
	))
	f, err := New(def)
	must(t, err)
	env := newEnv(t)
	f.Register(env)
	env.ExecuteWorkflow(WorkflowName("Ratio"), ratio{Ratio: 1})
	wantEnd(t, env, runtime.StateCompensated)
	if want := []string{"exec Reserve", "exec Divide", "undo Reserve"}; !slices.Equal(j.get(), want) {
		t.Errorf("steps ran %q, want %q", j.get(), want)
	}
	st := status(t, env)
	if !strings.Contains(st.Err, "Divide") || !strings.Contains(st.Err, "the state the attempt left does not encode as JSON") {
		t.Errorf("status error %q, want Divide's state that does not encode", st.Err)
	}
	var last ratio
	must(t, json.Unmarshal(st.History[len(st.History)-1].State, &last))
	if last.Ratio != 1 {
		t.Errorf("the final state's ratio %v, want 1, as before Divide", last.Ratio)
	}
}

// A branch of a parallel block whose writes, merged into the run's state,
// leave a state that does not encode as JSON fails, with the state as it
// was, as on the runtime (TestBranchWritingStateNotJSONFails there): the
// block fails and the flow routes it; no event lacks its state. Before, the merge was taken, the
// events after it recorded no state at all, and the workflow's result (or
// the next activity's input) did not encode. A run that merged such
// writes with the code before replays as it ran: the change is
// workflow.GetVersion'd. The branch's activity applies its writes too, on
// the state the block started with (ExecActivity), and would fail first:
// it is replaced by a worker's of older code, which handed back the
// branch's copy, so that the workflow's merge is what meets the NaN.
func TestBranchWritingStateNotJSONFails(t *testing.T) {
	for _, version := range []workflow.Version{1, workflow.DefaultVersion} {
		t.Run(fmt.Sprintf("version %d", version), func(t *testing.T) {
			var j journal
			def := parDef(t, &j, func(s *ratio) { s.Ratio = 0 }, func(dst, src *ratio) { dst.Ratio = src.Ratio / dst.Other })
			f, err := New(def)
			must(t, err)
			var logs bytes.Buffer
			var s testsuite.WorkflowTestSuite
			s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			env := s.NewTestWorkflowEnvironment()
			env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: testRun})
			f.Register(env)
			env.RegisterActivityWithOptions(func(_ context.Context, in ActionInput[ratio]) (ActionOutput[ratio], error) {
				s := in.State
				s.Ratio = 0
				return ActionOutput[ratio]{Outcome: runtime.OutcomeOK, State: s, Attempt: 1}, nil
			}, activity.RegisterOptions{Name: ActivityName("Par", "Divide", false), DisableAlreadyRegisteredCheck: true})
			env.OnGetVersion(versionMergeNotJSON, workflow.DefaultVersion, 1).Return(version)
			env.ExecuteWorkflow(WorkflowName("Par"), ratio{Ratio: 1})
			if version != 1 {
				if err := env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), "unable to encode") {
					t.Fatalf("workflow error %v, want the result that did not encode, as before", err)
				}
				// Its events after the merge have no state: the log says so.
				if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "state does not encode as JSON") {
					t.Errorf("no error logged of the events recorded without their state:\n%s", logs.String())
				}
				return
			}
			wantEnd(t, env, runtime.StateCompensated)
			if want := []string{"exec Reserve", "undo Reserve"}; !slices.Equal(j.get(), want) {
				t.Errorf("steps ran %q, want %q", j.get(), want)
			}
			st := status(t, env)
			if !strings.Contains(st.Err, "branch Divide: the state the attempt left does not encode as JSON") {
				t.Errorf("status error %q, want Divide's writes that do not encode", st.Err)
			}
			for _, e := range st.History {
				if len(e.State) == 0 {
					t.Errorf("event %d (%s>%s) records no state", e.Seq, e.From, e.To)
				}
			}
		})
	}
}

// A branch's changes to fields it does not write (Step.Writes) are
// discarded, as on the runtime, which merges only its writes and checks
// that what they leave encodes: a branch that leaves a NaN in a field of
// its copy it does not write (a scratch value) completes, and the run
// ends done with the branch's writes. Before, its activity returned its
// whole copy, which did not encode: the branch failed with
// runtime.StateNotJSON and the run was compensated, where the runtime's
// ended done.
func TestBranchDiscardsWhatItDoesNotWrite(t *testing.T) {
	build := func(j *journal) *runtime.Flow[ratio] {
		return parDef(t, j, func(s *ratio) {
			s.Other = math.NaN() // a scratch value it does not write
			s.Ratio = 2
		}, func(dst, src *ratio) { dst.Ratio = src.Ratio })
	}
	var onRuntime journal
	res, err := build(&onRuntime).Execute(context.Background(), ratio{Ratio: 1, Other: 3})
	if err != nil || res.Final != runtime.StateDone || res.State != (ratio{Ratio: 2, Other: 3}) || slices.Contains(onRuntime.get(), "undo Reserve") {
		t.Fatalf("on the runtime: %s %+v %v, ran %q; want done with the branch's write only", res.Final, res.State, err, onRuntime.get())
	}
	var onTemporal journal
	f, err := New(build(&onTemporal))
	must(t, err)
	env := newEnv(t)
	f.Register(env)
	env.ExecuteWorkflow(WorkflowName("Par"), ratio{Ratio: 1, Other: 3})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("on Temporal: %v (ran %q); want done, as on the runtime", err, onTemporal.get())
	}
	var got ratio
	must(t, env.GetWorkflowResult(&got))
	if got != res.State {
		t.Errorf("final state %+v, want the runtime's %+v", got, res.State)
	}
}

// parDef is flow Par: Reserve (undone by a rollback), then block Both of
// one branch, Divide, which does divide on its copy of the state and
// merges it with writes. j records what ran.
func parDef(t *testing.T, j *journal, divide func(*ratio), writes func(dst, src *ratio)) *runtime.Flow[ratio] {
	t.Helper()
	def := runtime.New[ratio]("Par")
	must(t, def.Register(
		reserve(j),
		runtime.NewParallel("Both", []*runtime.Step[ratio]{
			runtime.NewStep("Divide", func(_ context.Context, s *ratio) (runtime.Outcome, error) {
				divide(s)
				return runtime.OutcomeOK, nil
			}, runtime.WithIrreversible[ratio](), runtime.WithWrites(writes)),
		}),
	))
	return def
}

// reserve is step Reserve, undone by a rollback, which j records.
func reserve(j *journal) *runtime.Step[ratio] {
	return runtime.NewStep("Reserve", func(context.Context, *ratio) (runtime.Outcome, error) {
		j.add("exec Reserve")
		return runtime.OutcomeOK, nil
	}, runtime.WithRollback(func(context.Context, *ratio) error {
		j.add("undo Reserve")
		return nil
	}))
}

// A rollback whose attempt leaves a state that does not encode as JSON
// fails at once, permanently, as on the runtime (its
// TestRollbackLeavingStateNotJSONFails): the run ends compensation_failed
// with the runtime's error, its rollback tried once although its policy
// allows three. Before, the SDK's encoding failure was retried.
func TestRollbackLeavingStateNotJSONFails(t *testing.T) {
	var j journal
	def := runtime.New[ratio]("Undo")
	must(t, def.Register(
		runtime.NewStep("Reserve", func(context.Context, *ratio) (runtime.Outcome, error) {
			j.add("exec Reserve")
			return runtime.OutcomeOK, nil
		}, runtime.WithRollback(func(_ context.Context, s *ratio) error {
			j.add("undo Reserve")
			s.Ratio = math.Inf(1)
			return nil
		}), runtime.WithRollbackRetry[ratio](runtime.RetryPolicy{Attempts: 3, Initial: time.Second})),
		runtime.NewStep("Charge", func(context.Context, *ratio) (runtime.Outcome, error) {
			j.add("exec Charge")
			return "", runtime.Permanent(errors.New("card declined"))
		}, runtime.WithIrreversible[ratio]()),
	))
	f, err := New(def)
	must(t, err)
	env := newEnv(t)
	f.Register(env)
	env.ExecuteWorkflow(WorkflowName("Undo"), ratio{Ratio: 1})
	wantEnd(t, env, runtime.StateCompensationFailed)
	if want := []string{"exec Reserve", "exec Charge", "undo Reserve"}; !slices.Equal(j.get(), want) {
		t.Errorf("steps ran %q, want %q", j.get(), want)
	}
	st := status(t, env)
	if !strings.Contains(st.Err, "the state the attempt left does not encode as JSON") {
		t.Errorf("status error %q, want Reserve's rollback's state that does not encode", st.Err)
	}
}
