package flowtemporal

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/flowgen/flowgen/runtime"
)

// When an await's timer fires, the run asks Options.Reclaim, which takes
// the wait back, whether an event received in time was signalled to it:
// then it takes that event from its signals, even one that comes after
// the timer, instead of timing out; one it dropped before is not waited
// for, nor one that comes and is not taken; an abort ends the wait for it,
// and the event, when it comes, is given back (Options.GiveBack), as an
// abort in the wait's own select gives it back. A run that timed out
// before this rule replays taking its wait back with OnWait, without
// asking (versionReclaim); one aborted so before the give-back replays
// ending without it (versionReclaimGivesBack).
func TestReclaimTakesTheEventSignalledInTime(t *testing.T) {
	const ours, others = `{"correlation_id":"o-1","amount":3}`, `{"correlation_id":"o-2","amount":4}`
	for _, c := range []struct {
		name      string
		version   int      // what GetVersion answers: DefaultVersion for a run that timed out before
		signalled string   // the payload Reclaim says was signalled; "" for none
		signals   []string // sent after the timer fired, one a minute
		early     string   // sent before the timer fires
		abort     bool     // after the timer fired
		after     []string // sent after the abort, one a second (within giveBackWithin)
		before    bool     // the run was aborted before the give-back rule (versionReclaimGivesBack)
		want      runtime.RunState
		asked     bool   // Reclaim was called
		given     string // the payload given back (GiveBack); "" for none
	}{
		{name: "signalled, it comes after the timer", version: 1, signalled: ours, signals: []string{others, ours}, want: runtime.StateDone, asked: true},
		{name: "nothing in time", version: 1, signals: []string{ours}, want: runtime.StateFailed, asked: true},
		{name: "signalled, dropped before", version: 1, signalled: others, early: others, want: runtime.StateFailed, asked: true},
		{name: "signalled, comes and is not taken", version: 1, signalled: others, signals: []string{others}, want: runtime.StateFailed, asked: true},
		{name: "signalled, aborted before it comes", version: 1, signalled: ours, abort: true, want: runtime.StateAborted, asked: true},
		{name: "signalled, aborted before it comes, then it comes", version: 1, signalled: ours, abort: true, after: []string{others, ours}, want: runtime.StateAborted, asked: true, given: ours},
		{name: "signalled, aborted before it comes, from before the give-back", version: 1, signalled: ours, abort: true, after: []string{ours}, before: true, want: runtime.StateAborted, asked: true},
		{name: "a run replayed from before", version: -1, signalled: ours, signals: []string{ours}, want: runtime.StateFailed},
	} {
		t.Run(c.name, func(t *testing.T) {
			def := runtime.New[paid]("Pay", Awaits())
			must(t, def.Register(
				runtime.NewAwait("payments", "paid", func(s *paid) any { return &s.Payment }, func(s *paid) string { return s.Order }, time.Hour),
				runtime.NewStep("Ship", func(context.Context, *paid) (runtime.Outcome, error) { return runtime.OutcomeOK, nil }, runtime.WithIrreversible[paid]()),
			))
			var tookBack, asked bool
			var given []string
			f, err := NewWith(def, Options{
				GiveBack: func(_ workflow.Context, _ *runtime.Wait, d runtime.Delivery) {
					given = append(given, string(d.Payload))
				},
				OnWait: func(_ workflow.Context, _ *runtime.Wait, waiting bool) { tookBack = tookBack || !waiting },
				Reclaim: func(workflow.Context, *runtime.Wait) (bool, string) {
					asked = true
					return c.signalled != "", EventSum([]byte(c.signalled))
				},
			})
			must(t, err)
			env := newEnv(t)
			f.Register(env)
			env.OnGetVersion(versionReclaim, workflow.DefaultVersion, 1).Return(workflow.Version(c.version))
			if c.before {
				env.OnGetVersion(versionReclaimGivesBack, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
			}
			signal := func(p string) func() {
				return func() {
					env.SignalWorkflow(SignalName("payments", "paid"), SignalArg(runtime.Delivery{Payload: json.RawMessage(p)}))
				}
			}
			if c.early != "" {
				env.RegisterDelayedCallback(signal(c.early), time.Minute)
			}
			for i, p := range c.signals {
				env.RegisterDelayedCallback(signal(p), time.Hour+time.Duration(i+1)*time.Minute)
			}
			if c.abort {
				env.RegisterDelayedCallback(env.CancelWorkflow, 2*time.Hour)
			}
			for i, p := range c.after {
				env.RegisterDelayedCallback(signal(p), 2*time.Hour+time.Duration(i+1)*time.Second)
			}
			env.ExecuteWorkflow(WorkflowName("Pay"), paid{Order: "o-1"})
			wantEnd(t, env, c.want)
			if asked != c.asked || tookBack == c.asked {
				t.Errorf("Reclaim asked %v, OnWait took the wait back %v; want asked %v, taken back %v", asked, tookBack, c.asked, !c.asked)
			}
			var want []string
			if c.given != "" {
				want = []string{c.given}
			}
			if !slices.Equal(given, want) {
				t.Errorf("given back %q, want %q", given, want)
			}
			if c.want == runtime.StateDone {
				h := status(t, env).History
				woke := 0
				for _, e := range h {
					if e.From == runtime.WaitingState("paid") {
						woke++
						if e.To != runtime.RunningState("paid") || string(e.Payload) != ours {
							t.Errorf("the wait ended with %s (%s), want the event signalled in time, %s", e.To, e.Payload, ours)
						}
					}
				}
				if woke != 1 {
					t.Errorf("the wait ended %d times in %q", woke, transitions(h))
				}
			}
		})
	}
}
