package dsl

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/runtime"
)

func id(s string) *Ident { return &Ident{Name: s} }

func on(outcome, target string) *Transition { return &Transition{On: id(outcome), Target: id(target)} }

// signupModel is the flow of the brief, built by hand so that these tests
// depend on neither the parser nor the JSON decoder.
func signupModel() *Flow {
	return &Flow{
		Name:    "Signup",
		State:   id("SignupState"),
		Retry:   &Retry{Attempts: 3, Initial: Duration(100 * time.Millisecond), Max: Duration(5 * time.Second), Jitter: JitterNone},
		Timeout: Duration(10 * time.Second),
		Steps: []*Step{
			{Name: "CreateCustomer", Action: &Action{Kind: ActionRPC, Service: "customers", Endpoint: "Customer.Create", Request: id("Customer"), Response: id("CustomerID")},
				Retry:    &Retry{Attempts: 5},
				Rollback: &Rollback{Action: &Action{Kind: ActionRPC, Service: "customers", Endpoint: "Customer.Delete", Request: id("CustomerID")}}},
			{Name: "CreateSubscription", Action: &Action{Kind: ActionRPC, Service: "subscriptions", Endpoint: "Subscription.Create"},
				Retry:    &Retry{Attempts: 2, Initial: Duration(time.Second), Max: Duration(2 * time.Second), Multiplier: 1.5},
				Rollback: &Rollback{Name: id("CancelSubscription")},
				Publish:  []*Publication{{Topic: "billing", Event: "subscription.created", Payload: id("SubscriptionID")}}},
			{Name: "AwaitPayment", Action: &Action{Kind: ActionAwait, Topic: "payments", Event: "payment.succeeded", Response: id("Payment"), Correlate: id("CustomerID"), Timeout: Duration(72 * time.Hour)},
				Transitions: []*Transition{on("timeout", "ExpireTrial")}},
			{Name: "Review", Action: &Action{Kind: ActionGo}, Outcomes: []*Ident{id("approved"), id("needs_review")},
				Transitions: []*Transition{on("approved", "Activate"), on("needs_review", "fail")}, Irreversible: true},
			{Name: "Activate", Rollback: &Rollback{Name: id("CancelSubscription")}, Timeout: Duration(time.Second),
				Transitions: []*Transition{on("ok", "done")}},
			{Name: "ExpireTrial", Irreversible: true, Transitions: []*Transition{on("ok", "fail")}},
			{Name: "Orphan", Action: &Action{Kind: ActionGo}, Irreversible: true},
		},
	}
}

func TestRetryFor(t *testing.T) {
	f := signupModel()
	tests := []struct {
		step string
		want Retry
	}{
		// The step writes only attempts: backoff and jitter come from the flow.
		{"CreateCustomer", Retry{Attempts: 5, Initial: Duration(100 * time.Millisecond), Max: Duration(5 * time.Second), Multiplier: 2, Jitter: JitterNone}},
		// The step writes backoff and multiplier; jitter still from the flow.
		{"CreateSubscription", Retry{Attempts: 2, Initial: Duration(time.Second), Max: Duration(2 * time.Second), Multiplier: 1.5, Jitter: JitterNone}},
		// No step retry: the flow's.
		{"Review", Retry{Attempts: 3, Initial: Duration(100 * time.Millisecond), Max: Duration(5 * time.Second), Multiplier: 2, Jitter: JitterNone}},
	}
	for _, tt := range tests {
		got := f.RetryFor(f.Step(tt.step))
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("RetryFor(%s) (-want +got):\n%s", tt.step, diff)
		}
	}
	// The flow's retry does not apply to awaits.
	if got := f.RetryFor(f.Step("AwaitPayment")).Attempts; got != 1 {
		t.Errorf("RetryFor(AwaitPayment).Attempts = %d, want 1", got)
	}
	empty := &Flow{Steps: []*Step{{Name: "A"}}}
	if got, want := empty.RetryFor(empty.Steps[0]), (Retry{Attempts: 1, Multiplier: 2, Jitter: JitterFull}); got != want {
		t.Errorf("default RetryFor = %+v, want %+v", got, want)
	}
}

func TestTimeoutAndDeadlineFor(t *testing.T) {
	f := signupModel()
	f.Deadline = Duration(time.Minute)
	f.Step("Activate").Deadline = Duration(time.Hour)
	if got := f.RollbackTimeoutFor(f.Step("AwaitPayment")); got != 0 {
		t.Errorf("RollbackTimeoutFor(await without a rollback) = %v, want 0", got)
	}
	for _, tt := range []struct {
		step              string
		timeout, deadline time.Duration
	}{
		{"CreateCustomer", 10 * time.Second, time.Minute},
		// Awaits do not inherit the flow's timeout and deadline.
		{"AwaitPayment", 72 * time.Hour, 0},
		{"Activate", time.Second, time.Hour},
	} {
		s := f.Step(tt.step)
		if got := f.TimeoutFor(s); got != tt.timeout {
			t.Errorf("TimeoutFor(%s) = %v, want %v", tt.step, got, tt.timeout)
		}
		if s.Kind() != ActionAwait && f.RollbackTimeoutFor(s) != f.TimeoutFor(s) {
			t.Errorf("RollbackTimeoutFor(%s) = %v, want the step's timeout", tt.step, f.RollbackTimeoutFor(s))
		}
		if got := f.DeadlineFor(s); got != tt.deadline {
			t.Errorf("DeadlineFor(%s) = %v, want %v", tt.step, got, tt.deadline)
		}
	}
}

// An await does not inherit the flow's deadline; the runtime's per-attempt
// timeout of an await is 0 (its timeout bounds the wait, which the runtime
// ends at the earlier of it and the deadline); the rollback of an await
// takes only the step's own timeout.
func TestWaitAttemptAndRollbackTimeouts(t *testing.T) {
	f := signupModel()
	f.Deadline = Duration(time.Minute) // not inherited by the await
	await := f.Step("AwaitPayment")
	if got := f.DeadlineFor(await); got != 0 {
		t.Errorf("DeadlineFor(await) = %v, want none: the flow's is not inherited", got)
	}
	await.Deadline = Duration(time.Hour)
	await.Timeout = Duration(2 * time.Second)
	await.Rollback = &Rollback{Name: id("Refund")}
	if got := f.AttemptTimeoutFor(await); got != 0 {
		t.Errorf("AttemptTimeoutFor(await) = %v, want 0", got)
	}
	if got := f.RollbackTimeoutFor(await); got != 2*time.Second {
		t.Errorf("RollbackTimeoutFor(await) = %v, want the step's own 2s", got)
	}
	// The await's own timeout bounds the wait, not the step's; without
	// one, the step's does (docs/language.md, "How policies resolve").
	if got := f.TimeoutFor(await); got != 72*time.Hour {
		t.Errorf("TimeoutFor(await) = %v, want the await's own 72h", got)
	}
	await.Action.Timeout = 0
	if got := f.TimeoutFor(await); got != 2*time.Second {
		t.Errorf("TimeoutFor(await without a timeout) = %v, want the step's 2s", got)
	}
	await.Timeout = 0
	if got := f.TimeoutFor(await); got != 0 {
		t.Errorf("TimeoutFor(await without any) = %v, want none: the flow's 10s is not inherited", got)
	}
	for _, name := range []string{"CreateCustomer", "Activate"} {
		s := f.Step(name)
		if got, want := f.AttemptTimeoutFor(s), f.TimeoutFor(s); got != want {
			t.Errorf("AttemptTimeoutFor(%s) = %v, want TimeoutFor's %v", name, got, want)
		}
		if got, want := f.RollbackTimeoutFor(s), f.TimeoutFor(s); got != want {
			t.Errorf("RollbackTimeoutFor(%s) = %v, want TimeoutFor's %v", name, got, want)
		}
	}
}

// The Go or rpc rollback of a step that waits (an await, a sleep, a
// call) takes the step's timeout, else the flow's: the step takes none of
// the flow's policies for its wait, but its rollback does work, and a
// sleep or call step may not have a timeout of its own, so without the
// flow's its rollback could run forever. An await's own timeout bounds its
// wait, not its rollback. A `rollback call` of a step that waits takes
// only the step's: the child's steps bound it.
func TestRollbackTimeoutOfWaitingSteps(t *testing.T) {
	goRollback := &Rollback{Name: id("Undo")}
	rpcRollback := &Rollback{Action: &Action{Kind: ActionRPC, Service: "s", Endpoint: "E.Undo"}}
	callRollback := &Rollback{Action: &Action{Kind: ActionCall, Flow: id("Refund")}}
	sleep := &Action{Kind: ActionSleep, Duration: Duration(time.Hour)}
	call := &Action{Kind: ActionCall, Flow: id("Bill")}
	await := &Action{Kind: ActionAwait, Topic: "t", Event: "e", Timeout: Duration(72 * time.Hour)}
	for _, tt := range []struct {
		name     string
		step     *Step
		want     time.Duration
		noFlowTO time.Duration // with a flow without a timeout
	}{
		{"sleep, Go rollback", &Step{Action: sleep, Rollback: goRollback}, 10 * time.Second, 0},
		{"sleep, rpc rollback", &Step{Action: sleep, Rollback: rpcRollback}, 10 * time.Second, 0},
		{"call, Go rollback", &Step{Action: call, Rollback: goRollback}, 10 * time.Second, 0},
		{"call, rpc rollback", &Step{Action: call, Rollback: rpcRollback}, 10 * time.Second, 0},
		{"await, Go rollback", &Step{Action: await, Rollback: goRollback}, 10 * time.Second, 0},
		{"await with a step timeout, rpc rollback", &Step{Action: await, Timeout: Duration(2 * time.Second), Rollback: rpcRollback}, 2 * time.Second, 2 * time.Second},
		{"call, rollback call", &Step{Action: call, Rollback: callRollback}, 0, 0},
		{"rpc, rollback call", &Step{Action: &Action{Kind: ActionRPC, Service: "s", Endpoint: "E.Do"}, Rollback: callRollback}, 10 * time.Second, 0},
		{"sleep, no rollback", &Step{Action: sleep, Irreversible: true}, 0, 0},
	} {
		tt.step.Name = "S"
		f := &Flow{Name: "F", Timeout: Duration(10 * time.Second), Steps: []*Step{tt.step}}
		if got := f.RollbackTimeoutFor(tt.step); got != tt.want {
			t.Errorf("%s: RollbackTimeoutFor = %v, want %v", tt.name, got, tt.want)
		}
		f.Timeout = 0
		if got := f.RollbackTimeoutFor(tt.step); got != tt.noFlowTO {
			t.Errorf("%s, flow without a timeout: RollbackTimeoutFor = %v, want %v", tt.name, got, tt.noFlowTO)
		}
	}
}

// A sleep takes none of the flow's policies, and can end with the outcome
// timeout only when its step has a deadline.
func TestSleepPolicies(t *testing.T) {
	f := signupModel()
	f.Deadline = Duration(time.Minute)
	s := &Step{Name: "Remind", Action: &Action{Kind: ActionSleep, Duration: Duration(336 * time.Hour)}}
	f.Steps = append(f.Steps, s)
	if r := f.RetryFor(s); r.Attempts != 1 {
		t.Errorf("RetryFor(sleep) = %+v, want 1 attempt: the flow's retry is not inherited", r)
	}
	if got := [3]time.Duration{f.TimeoutFor(s), f.AttemptTimeoutFor(s), f.DeadlineFor(s)}; got != [3]time.Duration{} {
		t.Errorf("timeout, attempt timeout, deadline of a sleep = %v, want none", got)
	}
	if f.CanTimeout(s) || slices.Contains(f.Outcomes(s), OutcomeTimeout) {
		t.Errorf("a sleep without a deadline can time out: %v", f.Outcomes(s))
	}
	s.Deadline = Duration(400 * time.Hour)
	s.Retry = &Retry{Attempts: 3}
	if !f.CanTimeout(s) || f.DeadlineFor(s) != 400*time.Hour || f.AttemptTimeoutFor(s) != 0 || f.RetryFor(s).Attempts != 3 {
		t.Errorf("a sleep with its own deadline and retry: CanTimeout %v, deadline %v, attempt timeout %v, retry %+v",
			f.CanTimeout(s), f.DeadlineFor(s), f.AttemptTimeoutFor(s), f.RetryFor(s))
	}
	if s.HasSideEffects() || f.Needs() != NeedCaller|NeedPublisher|NeedSubscriber {
		t.Errorf("a sleep has side effects (%v) or needs something (%v)", s.HasSideEffects(), f.Needs())
	}
	s.Publish = []*Publication{{Topic: "mail", Event: "reminder"}}
	if !s.HasSideEffects() {
		t.Error("a sleep's publications are not side effects")
	}
	s.Action = &Action{Kind: ActionSleep, Until: id("RemindAt")}
	want := []FieldRef{{Field: id("RemindAt"), Role: RoleUntil, Step: s}}
	if diff := cmp.Diff(want, f.FieldRefs()[len(f.FieldRefs())-1:]); diff != "" {
		t.Errorf("FieldRefs (-want +got):\n%s", diff)
	}
}

// A call and a choose take none of the flow's policies (docs/language.md,
// the call step's "Policies", the choose step): a call's rollback makes one
// attempt unless the step has a retry of its own.
func TestCallAndChoosePolicies(t *testing.T) {
	f := signupModel()
	f.Deadline = Duration(time.Minute)
	call := &Step{Name: "Bill", Action: &Action{Kind: ActionCall, Flow: id("Billing")}, Irreversible: true}
	choose := &Step{Name: "Route", Action: &Action{Kind: ActionChoose, Otherwise: id("done")}}
	f.Steps = append(f.Steps, call, choose)
	for _, s := range []*Step{call, choose} {
		if r, t0, d := f.RetryFor(s), f.TimeoutFor(s), f.DeadlineFor(s); r.Attempts != 1 || t0 != 0 || d != 0 {
			t.Errorf("%s: retry %+v, timeout %v, deadline %v; want one attempt and none of the flow's bounds", s.Name, r, t0, d)
		}
	}
	if got := f.RollbackRetryFor(call).Attempts; got != 1 {
		t.Errorf("RollbackRetryFor(call) makes %d attempts, want 1", got)
	}
	call.Retry = &Retry{Attempts: 4}
	if got := f.RollbackRetryFor(call).Attempts; got != 4 {
		t.Errorf("RollbackRetryFor(call with retry 4) makes %d attempts, want 4", got)
	}
}

func TestRetryPolicy(t *testing.T) {
	f := signupModel()
	got := f.RetryFor(f.Step("CreateSubscription")).Policy()
	want := runtime.RetryPolicy{Attempts: 2, Initial: time.Second, Max: 2 * time.Second, Multiplier: 1.5, Jitter: false}
	if got != want {
		t.Errorf("Policy = %+v, want %+v", got, want)
	}
	// The zero policy is filled in as RetryFor fills it.
	if got, want := (Retry{}).Policy(), (runtime.RetryPolicy{Attempts: 1, Multiplier: DefaultMultiplier, Jitter: true}); got != want {
		t.Errorf("zero Policy = %+v, want %+v", got, want)
	}
}

func TestIsFailure(t *testing.T) {
	for outcome, want := range map[string]bool{OutcomeOK: false, OutcomeError: true, OutcomeTimeout: true, "approved": false} {
		if got := IsFailure(outcome); got != want {
			t.Errorf("IsFailure(%q) = %v, want %v", outcome, got, want)
		}
		f := &Flow{Steps: []*Step{{Name: "A"}, {Name: "B"}}}
		if next, fails := f.Next(f.Steps[0], outcome), want; (next == TargetFail) != fails {
			t.Errorf("Next(A, %q) = %q: a failure goes to fail by default, nothing else does", outcome, next)
		}
	}
}

func TestOutcomesAndNext(t *testing.T) {
	f := signupModel()
	f.Timeout = 0
	tests := []struct {
		step     string
		outcomes []string
		next     map[string]string
	}{
		{"CreateCustomer", []string{"ok", "error"}, map[string]string{"ok": "CreateSubscription", "error": "fail", "timeout": "fail"}},
		{"AwaitPayment", []string{"ok", "error", "timeout"}, map[string]string{"ok": "Review", "timeout": "ExpireTrial"}},
		{"Review", []string{"ok", "error", "approved", "needs_review"}, map[string]string{"approved": "Activate", "needs_review": "fail", "ok": "Activate"}},
		{"Activate", []string{"ok", "error", "timeout"}, map[string]string{"ok": "done", "timeout": "fail"}},
		{"Orphan", []string{"ok", "error"}, map[string]string{"ok": "done"}},
	}
	for _, tt := range tests {
		s := f.Step(tt.step)
		if diff := cmp.Diff(tt.outcomes, f.Outcomes(s)); diff != "" {
			t.Errorf("Outcomes(%s) (-want +got):\n%s", tt.step, diff)
		}
		for o, want := range tt.next {
			if got := f.Next(s, o); got != want {
				t.Errorf("Next(%s, %s) = %q, want %q", tt.step, o, got, want)
			}
		}
	}
}

func TestReachable(t *testing.T) {
	f := signupModel()
	var got []string
	for _, s := range f.Unreachable() {
		got = append(got, s.Name)
	}
	if diff := cmp.Diff([]string{"Orphan"}, got); diff != "" {
		t.Errorf("Unreachable (-want +got):\n%s", diff)
	}
	if !f.Reachable()["ExpireTrial"] {
		t.Errorf("ExpireTrial should be reachable through AwaitPayment's timeout")
	}
}

func TestEdges(t *testing.T) {
	f := signupModel()
	var got []string
	for _, e := range f.StepEdges(f.Step("AwaitPayment")) {
		w := "default"
		if e.Written != nil {
			w = "written"
		}
		got = append(got, e.Outcome+"->"+e.To+" "+w)
	}
	want := []string{"ok->Review default", "error->fail default", "timeout->ExpireTrial written"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("StepEdges (-want +got):\n%s", diff)
	}
	byStep := f.EdgesByStep()
	for _, s := range f.Steps {
		if diff := cmp.Diff(f.StepEdges(s), byStep[s]); diff != "" {
			t.Errorf("EdgesByStep()[%s] (-StepEdges +got):\n%s", s.Name, diff)
		}
	}
	if len(byStep) != len(f.Steps) {
		t.Errorf("EdgesByStep has %d steps, want %d", len(byStep), len(f.Steps))
	}
	// Every step can time out (the flow's timeout); Review adds 2 outcomes.
	if n := len(f.Edges()); n != 7*3+2 {
		t.Errorf("len(Edges) = %d", n)
	}
}

func TestGoMethods(t *testing.T) {
	f := signupModel()
	var got []string
	for _, m := range f.GoMethods() {
		kind := "step"
		if m.Rollback {
			kind = "rollback"
		}
		got = append(got, m.Name+" "+kind+" "+string(rune('0'+len(m.Steps))))
	}
	want := []string{"CancelSubscription rollback 2", "Review step 1", "Activate step 1", "ExpireTrial step 1", "Orphan step 1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GoMethods (-want +got):\n%s", diff)
	}
}

func TestFieldRefs(t *testing.T) {
	f := signupModel()
	var got []string
	for _, r := range f.FieldRefs() {
		got = append(got, r.Step.Name+"."+r.Field.Name+":"+string(r.Role))
	}
	want := []string{
		"CreateCustomer.Customer:request", "CreateCustomer.CustomerID:response", "CreateCustomer.CustomerID:request",
		"CreateSubscription.SubscriptionID:payload",
		"AwaitPayment.Payment:response", "AwaitPayment.CustomerID:correlate",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FieldRefs (-want +got):\n%s", diff)
	}
}

func TestBackoffTotal(t *testing.T) {
	ms := func(n int) Duration { return Duration(time.Duration(n) * time.Millisecond) }
	tests := []struct {
		name string
		r    Retry
		want time.Duration
	}{
		{"one attempt", Retry{Attempts: 1, Initial: ms(100), Max: ms(1000)}, 0},
		{"no backoff", Retry{Attempts: 5}, 0},
		// 100 + 200 + 400 + 800 + 1000 (capped) + 1000
		{"capped", Retry{Attempts: 7, Initial: ms(100), Max: ms(1000)}, 3500 * time.Millisecond},
		{"uncapped", Retry{Attempts: 4, Initial: ms(100)}, 700 * time.Millisecond},
		{"multiplier 1.5", Retry{Attempts: 4, Initial: ms(100), Max: ms(10000), Multiplier: 1.5}, 475 * time.Millisecond},
		{"flat", Retry{Attempts: 4, Initial: ms(100), Multiplier: 1}, 300 * time.Millisecond},
		{"saturates", Retry{Attempts: 1 << 30, Initial: ms(100)}, maxDuration},
		{"huge attempts at cap", Retry{Attempts: 1 << 30, Initial: ms(1), Max: ms(1)}, time.Duration(1<<30-1) * time.Millisecond},
	}
	for _, tt := range tests {
		if got := BackoffTotal(tt.r); got != tt.want {
			t.Errorf("%s: BackoffTotal = %v, want %v", tt.name, got, tt.want)
		}
	}
	// A multiplier barely above 1 must not loop once per attempt; the closed
	// form must agree with the exact sum to within float rounding.
	r := Retry{Attempts: 100000, Initial: ms(1), Max: Duration(time.Second), Multiplier: 1.0001}
	var exact float64
	delay := float64(time.Millisecond)
	for range r.Attempts - 1 {
		exact += min(delay, float64(time.Second))
		delay *= r.Multiplier
	}
	if got := float64(BackoffTotal(r)); got < exact*0.999 || got > exact*1.001 {
		t.Errorf("BackoffTotal(slow growth) = %v, want about %v", time.Duration(got), time.Duration(exact))
	}
	if w := WorstCase(Retry{Attempts: 3, Initial: ms(100), Max: ms(150)}, time.Second); w != 3250*time.Millisecond {
		t.Errorf("WorstCase = %v, want 3.25s", w)
	}
}
