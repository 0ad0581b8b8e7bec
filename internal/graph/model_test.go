package graph

import (
	"time"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/runtime"
)

// Hand-built models for tests that must not depend on the parser: the
// compensation analysis and the escaping are checked on exact inputs.

func id(s string) *dsl.Ident { return &dsl.Ident{Name: s} }

func on(outcome, target string) *dsl.Transition {
	return &dsl.Transition{On: id(outcome), Target: id(target)}
}

func goStep(name string, opts ...func(*dsl.Step)) *dsl.Step {
	s := &dsl.Step{Name: name, Action: &dsl.Action{Kind: dsl.ActionGo}}
	for _, o := range opts {
		o(s)
	}
	return s
}

func withRollback(name string) func(*dsl.Step) {
	return func(s *dsl.Step) { s.Rollback = &dsl.Rollback{Name: id(name)} }
}

func withOn(outcome, target string) func(*dsl.Step) {
	return func(s *dsl.Step) { s.Transitions = append(s.Transitions, on(outcome, target)) }
}

func withOutcomes(names ...string) func(*dsl.Step) {
	return func(s *dsl.Step) {
		for _, n := range names {
			s.Outcomes = append(s.Outcomes, id(n))
		}
	}
}

func withTimeout(d time.Duration) func(*dsl.Step) {
	return func(s *dsl.Step) { s.Timeout = dsl.Duration(d) }
}

// briefSignup is the flow of the product brief.
func briefSignup() *dsl.File {
	return &dsl.File{Version: dsl.FormatVersion, Flows: []*dsl.Flow{{
		Name:  "Signup",
		State: id("SignupState"),
		Triggers: []*dsl.Trigger{
			{Trigger: runtime.Trigger{Kind: dsl.TriggerRPC, Endpoint: "Signup.Start"}},
			{Trigger: runtime.Trigger{Kind: dsl.TriggerEvent, Topic: "accounts", Event: "signup.requested"}},
		},
		Retry:   &dsl.Retry{Attempts: 3, Initial: dsl.Duration(100 * time.Millisecond), Max: dsl.Duration(5 * time.Second)},
		Timeout: dsl.Duration(10 * time.Second),
		Steps: []*dsl.Step{
			{
				Name:     "CreateCustomer",
				Action:   &dsl.Action{Kind: dsl.ActionRPC, Service: "customers", Endpoint: "Customer.Create", Request: id("Customer"), Response: id("CustomerID")},
				Retry:    &dsl.Retry{Attempts: 5, Initial: dsl.Duration(200 * time.Millisecond), Max: dsl.Duration(10 * time.Second)},
				Rollback: &dsl.Rollback{Action: &dsl.Action{Kind: dsl.ActionRPC, Service: "customers", Endpoint: "Customer.Delete", Request: id("CustomerID")}},
			},
			{
				Name:     "CreateSubscription",
				Action:   &dsl.Action{Kind: dsl.ActionRPC, Service: "subscriptions", Endpoint: "Subscription.Create", Request: id("Plan"), Response: id("SubscriptionID")},
				Rollback: &dsl.Rollback{Name: id("CancelSubscription")},
				Publish:  []*dsl.Publication{{Topic: "billing", Event: "subscription.created", Payload: id("SubscriptionID")}},
			},
			{
				Name:        "AwaitPayment",
				Action:      &dsl.Action{Kind: dsl.ActionAwait, Topic: "payments", Event: "payment.succeeded", Response: id("Payment"), Timeout: dsl.Duration(72 * time.Hour)},
				Transitions: []*dsl.Transition{on("timeout", "ExpireTrial")},
			},
			goStep("Activate", withRollback("Deactivate"), withOn("ok", "done")),
			goStep("ExpireTrial", func(s *dsl.Step) { s.Irreversible = true }, withOn("ok", "fail")),
		},
	}}}
}
