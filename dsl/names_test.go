package dsl

import (
	"fmt"
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

// The Temporal target adds four names per flow, after the runtime
// target's own (gen/temporal.go declares them).
func TestGoNamesTemporal(t *testing.T) {
	var got []string
	for _, id := range signupModel().GoNamesFor(TargetTemporal).Identifiers() {
		got = append(got, id.Name)
	}
	want := []string{"SignupHandlers", "SignupFlow", "NewSignupFlow", "SignupRun",
		"SignupTemporal", "NewSignupTemporal", "StartSignup", "SignupTemporalRun"}
	if len(got) < len(want) {
		t.Fatalf("Identifiers = %v", got)
	}
	if diff := cmp.Diff(want, got[:len(want)]); diff != "" {
		t.Errorf("Identifiers (-want +got):\n%s", diff)
	}
	if n := len(signupModel().GoNames().Identifiers()); len(got) != n+4 {
		t.Errorf("%d names for Temporal, want the runtime target's %d and 4", len(got), n)
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

// TestStepGroups checks how a flow's steps are split among the generated
// functions that build them: at most StepsPerFunc steps each, a block's
// branches counted and never split from their block, a function name each
// when there is more than one group.
func TestStepGroups(t *testing.T) {
	steps := func(n int, prefix string) []*Step {
		out := make([]*Step, n)
		for i := range out {
			out[i] = &Step{Name: fmt.Sprintf("%s%d", prefix, i)}
		}
		return out
	}
	block := func(name string, branches int) *Step {
		return &Step{Name: name, Parallel: &Parallel{Branches: steps(branches, name+"B")}}
	}
	names := func(groups [][]*Step) [][]string {
		var out [][]string
		for _, g := range groups {
			var ns []string
			for _, s := range g {
				ns = append(ns, s.Name)
			}
			out = append(out, []string{ns[0], ns[len(ns)-1], fmt.Sprint(len(ns))})
		}
		return out
	}
	for _, c := range []struct {
		name  string
		steps []*Step
		want  [][]string // first step, last step, how many, of each group
		funcs []string
	}{
		{"empty", nil, nil, nil},
		{"fits", steps(StepsPerFunc, "S"), [][]string{{"S0", "S63", "64"}}, nil},
		{"one over", steps(StepsPerFunc+1, "S"), [][]string{{"S0", "S63", "64"}, {"S64", "S64", "1"}}, []string{"newBigSteps0", "newBigSteps1"}},
		// 62 steps and a block of 2 branches is 65: the block starts the
		// next group.
		{"block counted", append(steps(62, "S"), block("P", 2), &Step{Name: "Z"}),
			[][]string{{"S0", "S61", "62"}, {"P", "Z", "2"}}, []string{"newBigSteps0", "newBigSteps1"}},
		// A block bigger than a group is a group of its own.
		{"big block", []*Step{{Name: "A"}, block("P", 100), {Name: "Z"}},
			[][]string{{"A", "A", "1"}, {"P", "P", "1"}, {"Z", "Z", "1"}}, []string{"newBigSteps0", "newBigSteps1", "newBigSteps2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &Flow{Name: "Big", Steps: c.steps}
			groups := f.StepGroups()
			if c.steps == nil {
				if len(groups) != 1 || len(groups[0]) != 0 {
					t.Errorf("StepGroups of no steps = %v, want one empty group", groups)
				}
			} else if diff := cmp.Diff(c.want, names(groups)); diff != "" {
				t.Errorf("StepGroups (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.funcs, f.GoNames().StepFuncs); diff != "" {
				t.Errorf("StepFuncs (-want +got):\n%s", diff)
			}
		})
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
