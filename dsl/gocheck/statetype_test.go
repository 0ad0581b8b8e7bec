package gocheck

import (
	"testing"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
)

// TestStateTypeOutsideThePackage: a state type declared in a _test.go file,
// or in a file its build constraints leave out, is not in the package the
// generated code compiles in. The error said it was not declared at all.
func TestStateTypeOutsideThePackage(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"go.mod":     "module example.com/m\n\ngo 1.22\n",
		"doc.go":     "package m\n",
		"s_test.go":  "package m\n\ntype TestState struct{ N int }\n",
		"ignored.go": "//go:build ignore\n\npackage m\n\ntype TaggedState struct{ N int }\n",
	})
	src := `flow F {
    state TestState
    step A { irreversible }
}
flow G {
    state TaggedState
    step A { irreversible }
}
`
	sameLines(t, loadStrings(t, src, dir), []string{
		`2:11: error state-type: state type "TestState" is declared in s_test.go, a test file: package m, which the generated code compiles in, does not have it [hint: move the type to a file whose name does not end in _test.go]`,
		`6:11: error state-type: state type "TaggedState" is declared in ignored.go, which package m leaves out (its build constraints, or another package clause) [hint: declare the type in a file of the package that every build takes]`,
	})
}

// TestStateTypeInvalid: a state type that does not type-check (one that
// contains itself, so has no size) was "state type "S" is invalid type,
// not a struct", naming go/types' placeholder as if it were a type.
func TestStateTypeInvalid(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"go.mod":   "module example.com/m\n\ngo 1.22\n",
		"state.go": "package m\n\ntype S struct{ T T }\n\ntype T struct{ S }\n",
	})
	src := `flow F {
    state S
    step A { irreversible }
}
`
	sameLines(t, loadStrings(t, src, dir), []string{
		`2:11: error state-type: state type "S" does not type-check, so flowgen cannot know its fields [hint: run go build in its package: the compiler says what is wrong with its declaration (a struct that contains itself, a type that is not declared)]`,
	})
}

// TestJSONFieldWithMember: the JSON form can name a member where a state
// field goes ("until": "Plan.At"), which .flow cannot write; the error
// said to add a field of that name to the state, which Go cannot declare.
func TestJSONFieldWithMember(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"go.mod":   "module example.com/m\n\ngo 1.22\n",
		"state.go": "package m\n\nimport \"time\"\n\ntype Plan struct{ At time.Time }\n\ntype S struct{ Plan Plan }\n",
	})
	src := `{"version": 1, "flows": [{"name": "F", "state": "S", "steps": [{"name": "A", "action": {"kind": "sleep", "until": "Plan.At"}}]}]}`
	_, ds := dsl.LoadJSON("t.json", []byte(src), dsl.CheckOptions{
		GoPackage: func(f *dsl.File) diag.List { return Check(f, dir) },
	})
	want := `state type "S" has no field "Plan.At" [hint: a state field is named alone, without a member: Plan, not Plan.At; to use a member, give the state a field of its own for it]`
	var got []string
	for _, d := range ds {
		got = append(got, d.Message+" [hint: "+d.Hint+"]")
	}
	if len(got) != 1 || got[0] != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
