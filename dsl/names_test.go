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

// The generated files of one Go package compile together, so a file's
// generated names may not be those of the flows of the package's other
// generated files (CheckOptions.GeneratedFlows): the collision is reported
// at the file's name with the other file's position, and a flow of both
// files is a duplicate flow. Without GeneratedFlows (an engine) nothing
// is compared, and a call's PackageFlows alone are not generated names.
func TestGeneratedNamesAcrossFiles(t *testing.T) {
	other, ds := LoadJSON("other.json", []byte(doc(flow("SignStep", "", goStep("X", "")), flow("Billing", "", goStep("Y", "")))), CheckOptions{})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	src := []byte(doc(flow("Sign", "", goStep("Handlers", "")), flow("Billing", "", goStep("Z", "")), flow("Fine", "", goStep("W", ""))))
	_, ds = LoadJSON("t.json", src, CheckOptions{GeneratedFlows: func() []*Flow { return other.Flows }})
	var got []string
	for _, d := range ds {
		got = append(got, format(d))
	}
	want := []string{
		`$.flows[0].steps[0].name: error name-collision: generated Go name "SignStepHandlers" for the step constant of step "Handlers" in flow "Sign" collides with the handler interface of flow "SignStep" (other.json:$.flows[0].name) [hint: rename one of them so that the generated names differ]`,
		`$.flows[1].name: error duplicate-flow: flow "Billing" is also declared in other.json:$.flows[1].name: the flows of one Go package share their generated names [hint: rename one of the flows]`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
	for _, opts := range []CheckOptions{{}, {PackageFlows: func() []*Flow { return other.Flows }}} {
		if _, ds := LoadJSON("t.json", src, opts); len(ds) != 0 {
			t.Errorf("without GeneratedFlows: %v", ds)
		}
	}
}
