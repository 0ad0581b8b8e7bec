package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// policySource has a policy of every origin: the flow's, a step's own, an
// await (which inherits none of the flow's) with its own timeout and
// deadline, rollbacks of each kind, and a sleep with publications.
const policySource = `flow Policies {
    retry 3 backoff 100ms..5s
    timeout 10s
    deadline 1m

    step Call {
        rpc svc "Svc.Call"
        retry 5 backoff 1s..2s multiplier 1.5 jitter none
        rollback rpc svc "Svc.Undo"
    }
    step Wait {
        await topic "ev" timeout 30m
        timeout 3s
        deadline 1h
        rollback Undo
    }
    step Work {
        rollback Undo
    }
    step Nap {
        sleep 2h
        deadline 3h
        retry 2
        publish topic "napped"
        rollback Undo
    }
}
`

// The engine's runtime steps of a JSON (or .flow) flow take every policy
// from dsl's resolved helpers, the ones the generator uses: nothing is
// derived again here.
func TestCompileTakesPoliciesFromDSL(t *testing.T) {
	f, ds := flowfile.Load("policies.flow", []byte(policySource), dsl.CheckOptions{})
	if f == nil || ds.HasErrors() {
		t.Fatalf("load: %v", ds)
	}
	e, err := New(Options{Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	fl := f.Flows[0]
	rf, err := e.compile(fl)
	if err != nil {
		t.Fatal(err)
	}
	steps := rf.Steps()
	if len(steps) != len(fl.Steps) {
		t.Fatalf("%d runtime steps, want %d", len(steps), len(fl.Steps))
	}
	for i, s := range fl.Steps {
		st := steps[i]
		if got, want := st.Retry, fl.RetryFor(s).Policy(); got != want {
			t.Errorf("%s: Retry = %+v, want %+v", s.Name, got, want)
		}
		if got, want := st.Timeout, fl.AttemptTimeoutFor(s); got != want {
			t.Errorf("%s: Timeout = %v, want %v", s.Name, got, want)
		}
		if got, want := st.Deadline, fl.DeadlineFor(s); got != want {
			t.Errorf("%s: Deadline = %v, want %v", s.Name, got, want)
		}
		if got, want := st.RollbackRetry, fl.RollbackRetryFor(s).Policy(); got != want {
			t.Errorf("%s: RollbackRetry = %+v, want %+v", s.Name, got, want)
		}
		if got, want := st.RollbackTimeout, fl.RollbackTimeoutFor(s); got != want {
			t.Errorf("%s: RollbackTimeout = %v, want %v", s.Name, got, want)
		}
	}
	// The await waits its own 30m (the runtime ends the wait at the earlier
	// of that and its 1h deadline), and has no per-attempt timeout: the
	// wait ends it with the timeout outcome.
	if a := steps[1].Await; a == nil || a.Timeout.Minutes() != 30 || steps[1].Deadline.Hours() != 1 {
		t.Errorf("await: %+v, deadline %v; want a 30m wait under a 1h deadline", a, steps[1].Deadline)
	}
	if steps[1].Timeout != 0 || steps[1].RollbackTimeout.Seconds() != 3 {
		t.Errorf("await: Timeout %v, RollbackTimeout %v; want 0 and its own 3s", steps[1].Timeout, steps[1].RollbackTimeout)
	}
	// The sleep sleeps its 2h under its own 3h deadline, with nothing to
	// run after it but its publication.
	if sl := steps[3].Sleep; sl == nil || sl.For.Hours() != 2 || sl.Until != nil || steps[3].Exec != nil || len(steps[3].Publish) != 1 {
		t.Errorf("sleep: %+v, Exec set %v, publications %d", sl, steps[3].Exec != nil, len(steps[3].Publish))
	}
	// Its rollback takes the flow's 10s, though the sleep takes none of
	// the flow's policies: a sleep may not have a timeout of its own, and
	// without the flow's its rollback could never be bounded.
	if steps[3].RollbackTimeout.Seconds() != 10 {
		t.Errorf("sleep: RollbackTimeout %v, want the flow's 10s", steps[3].RollbackTimeout)
	}
}

// The checker and the engine accept the same schedules: both call
// runtime.ParseSchedule. A spec the .flow checks pass registers, and one
// they reject does not.
func TestScheduleCheckedAsTheEngineRunsIt(t *testing.T) {
	valid := []string{"@every 5m", "@every\t90s", "0 3 * * *", "@daily", "CRON_TZ=UTC 0 3 * * *", "TZ=UTC @every 1h"}
	invalid := []string{"", "TZ=UTC", "@every 500ms", "@every soon", "0 0 3 * * *", "61 * * * *", "@fortnightly"}
	for i, spec := range append(valid, invalid...) {
		src := fmt.Sprintf(`{"version": 1, "flows": [{"name": "S", "triggers": [{"kind": "schedule", "schedule": %q}],
			"steps": [{"name": "P", "action": {"kind": "publish", "topic": "x", "event": "y"}}]}]}`, spec)
		_, ds := dsl.LoadJSON("s.json", []byte(src), dsl.CheckOptions{})
		var checked error
		for _, d := range ds {
			if d.Code == "cron" {
				checked = errors.New(d.Message)
			}
		}
		registered := validateTrigger(Schedule(spec))
		if (checked == nil) != (registered == nil) {
			t.Errorf("schedule %q: checker says %v, engine says %v", spec, checked, registered)
		}
		if ok := i < len(valid); ok != (registered == nil) {
			t.Errorf("schedule %q: valid %v, engine says %v", spec, ok, registered)
		}
	}
}

// The checker and the engine refuse the same empty trigger fields (white
// space counts as empty): both ask runtime.Trigger.EmptyFields.
func TestTriggerFieldsCheckedAsTheEngineRegisters(t *testing.T) {
	for _, tc := range []struct {
		trigger runtime.Trigger
		empty   int
	}{
		{RPC("Signup.Start"), 0},
		{RPC(" "), 1},
		{OnEvent("payments", "paid"), 0},
		{OnEvent("", "paid"), 1},
		{OnEvent("payments", "\t"), 1},
		{OnEvent(" ", ""), 2},
	} {
		// Every field written, empty or not: the JSON loader refuses a
		// missing one before the checks.
		tr, _ := json.Marshal(map[string]string{"kind": "event", "topic": tc.trigger.Topic, "event": tc.trigger.Event})
		if tc.trigger.Kind == runtime.TriggerRPC {
			tr, _ = json.Marshal(map[string]string{"kind": "rpc", "endpoint": tc.trigger.Endpoint})
		}
		src := fmt.Sprintf(`{"version": 1, "flows": [{"name": "S", "triggers": [%s],
			"steps": [{"name": "P", "action": {"kind": "publish", "topic": "x", "event": "y"}}]}]}`, tr)
		_, ds := dsl.LoadJSON("s.json", []byte(src), dsl.CheckOptions{})
		checked := 0
		for _, d := range ds {
			if d.Code == "empty" {
				checked++
			}
		}
		registered := validateTrigger(tc.trigger)
		if checked != tc.empty || (registered == nil) != (tc.empty == 0) {
			t.Errorf("%+v: checker found %d empty fields, engine says %v; want %d", tc.trigger, checked, registered, tc.empty)
		}
	}
}

// A kind the table does not know (only a model built by hand has one) is
// refused, not run as some other kind.
func TestCompileRefusesUnknownKind(t *testing.T) {
	e, err := New(Options{Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	fl := &dsl.Flow{Name: "F", Steps: []*dsl.Step{{Name: "A", Action: &dsl.Action{Kind: "teleport"}}}}
	if _, err := e.compile(fl); err == nil || !strings.Contains(err.Error(), `kind "teleport"`) {
		t.Errorf("compile = %v, want an error naming the kind", err)
	}
}
