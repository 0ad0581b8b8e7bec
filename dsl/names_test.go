package dsl

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGoNames(t *testing.T) {
	n := signupModel().GoNames()
	var got []string
	for _, id := range n.Identifiers() {
		got = append(got, id.Name)
	}
	want := []string{
		"SignupHandlers", "SignupFlow", "NewSignupFlow", "SignupRun",
		"SignupServices", "SignupServicesFromCaller",
		"SignupCustomers", "SignupCustomersCaller", "SignupSubscriptions", "SignupSubscriptionsCaller",
		"SignupStepCreateCustomer", "SignupStepCreateSubscription", "SignupStepAwaitPayment",
		"SignupStepReview", "SignupReviewOutcome", "SignupReviewOutcomeApproved", "SignupReviewOutcomeNeedsReview",
		"SignupStepActivate", "SignupStepExpireTrial", "SignupStepOrphan",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Identifiers (-want +got):\n%s", diff)
	}
	if got := n.StepConst("Review"); got != "SignupStepReview" {
		t.Errorf("StepConst = %q", got)
	}
	if got := n.OutcomeConst("Review", "needs_review"); got != "SignupReviewOutcomeNeedsReview" {
		t.Errorf("OutcomeConst = %q", got)
	}
	if got := n.OutcomeConst("Review", "ok"); got != "" {
		t.Errorf("OutcomeConst(ok) = %q, want none: built-ins use the runtime's constants", got)
	}
}

func TestCamelCase(t *testing.T) {
	for in, want := range map[string]string{
		"approved": "Approved", "needs_review": "NeedsReview", "HTTPError": "HTTPError",
		"a1b": "A1b", "__x__y": "XY", "été": "Été", "": "",
	} {
		if got := CamelCase(in); got != want {
			t.Errorf("CamelCase(%q) = %q, want %q", in, got, want)
		}
	}
}
