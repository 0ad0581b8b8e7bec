package gocheck

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
)

// A run's state is JSON in its history: the fields JSON cannot encode are
// an error on both targets. With -target temporal it crosses JSON between
// every step too: the fields JSON drops are a warning. Both at the flow's
// state line, each naming all its fields, those of embedded structs
// included.
func TestStateJSON(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.22\n",
		"state.go": "package m\n\n" +
			"type S struct {\n" +
			"	In     string\n" +
			"	secret string\n" +
			"	Hidden string `json:\"-\"`\n" +
			"	Fn     func()\n" +
			"	Done   chan int `json:\"-\"`\n" +
			"	Named  string `json:\"named,omitempty\"`\n" +
			"	Embedded\n" +
			"	*inner\n" +
			"}\n\n" +
			"type Embedded struct {\n	Promoted string\n	cache    map[string]int\n}\n\n" +
			"type inner struct {\n	X int\n	z complex128\n	W complex64\n}\n",
	})
	src := "flow F {\n    state S\n    step A {\n        rpc svc \"X.Y\" (In)\n        irreversible\n    }\n}\n"
	check := func(target string) []string { return stateJSONDiags(t, src, dir, target) }
	const cannotEncode = "2:11 error: state type S has fields that JSON cannot encode, Fn (a function), W (a complex number): a run's state is JSON in its history (and on Temporal between its steps), so no run could start"
	// *inner is an embedded pointer to an unexported struct type, which
	// encoding/json cannot set when it decodes its fields.
	const unsettable = "2:11 error: state type S reaches W, X through *inner, an embedded pointer to an unexported struct type: encoding/json writes them when it is set, but cannot set it when it decodes them, so a run whose snapshot holds them cannot resume"
	want := []string{
		unsettable,
		cannotEncode,
		"2:11 warning: state type S has fields that JSON drops, secret (unexported), Hidden (tagged `json:\"-\"`), Done (tagged `json:\"-\"`), cache (unexported), z (unexported): on Temporal the state crosses JSON between steps, so each step after the one that sets one sees it zero",
	}
	if d := cmp.Diff(want, check(dsl.TargetTemporal)); d != "" {
		t.Errorf("temporal (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{unsettable, cannotEncode}, check(dsl.TargetRuntime)); d != "" {
		t.Errorf("runtime (-want +got):\n%s", d)
	}
}

// On Temporal the fields JSON drops by its rules for names are warned of
// too, not only the unexported and `json:"-"` ones: a field whose JSON name
// a tagged field takes, the fields two embedded structs share at one
// depth, and the fields of an embedded struct tagged `json:"-"`.
func TestStateJSONTemporalHiddenFields(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.22\n",
		"state.go": "package m\n\n" +
			"type S struct {\n" +
			"	In string\n" +
			"	X  int `json:\"Y\"`\n" +
			"	Y  int\n" +
			"	A\n" +
			"	B\n" +
			"	C `json:\"-\"`\n" +
			"}\n\n" +
			"type A struct{ ID string }\n\ntype B struct{ ID string }\n\ntype C struct{ Note string }\n",
	})
	src := "flow F {\n    state S\n    step A {\n        rpc svc \"X.Y\" (In)\n        irreversible\n    }\n}\n"
	_, ds := flowfile.Load("t.flow", []byte(src), dsl.CheckOptions{Target: dsl.TargetTemporal,
		GoPackage: func(f *dsl.File) diag.List {
			return CheckLoaded(f, dir, dsl.TargetTemporal, func() (*Package, error) { return Load(dir) })
		}})
	var got []string
	for _, d := range ds {
		if d.Code == "state-json" {
			got = append(got, d.Message)
		}
	}
	if len(got) != 1 {
		t.Fatalf("want one state-json warning, got %q", got)
	}
	for _, lost := range []string{"Y (", "ID (", "C (tagged"} {
		if !strings.Contains(got[0], lost) {
			t.Errorf("the warning does not name %q: %s", lost, got[0])
		}
	}
	if n := strings.Count(got[0], "ID ("); n != 2 {
		t.Errorf("want both IDs named, got %d: %s", n, got[0])
	}
}

// A field of an interface type with methods (error, or one of the
// package's) encodes the value it holds but cannot be decoded: a run
// whose snapshot holds one cannot resume. An error on both targets, at
// the state line, naming each field, through pointers, slices, arrays and
// maps and into the members of structs; not the empty interface, nor a
// type that decodes itself, nor a member JSON does not carry.
func TestStateJSONInterfaceWithMethods(t *testing.T) {
	// What the check stands on: encoding/json refuses it.
	var s struct{ Err error }
	if err := json.Unmarshal([]byte(`{"Err": {}}`), &s); err == nil {
		t.Fatal("encoding/json decoded an object into an error")
	}
	dir := writeModule(t, map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.22\n",
		"state.go": "package m\n\nimport \"io\"\n\n" +
			"type S struct {\n" +
			"	In      string\n" +
			"	Err     error\n" +
			"	Readers []io.Reader\n" +
			"	ByName  map[string]*Shape\n" +
			"	Pair    [2]Shape\n" +
			"	Any     any\n" +
			"	Own     Shapes\n" +
			"	Nothing interface{}\n" +
			"	Dec     Decoder\n" +
			"	Loop    Loop\n" +
			"	Order   *Order\n" +
			"	Tree    Node\n" +
			"	Stamp   Stamp\n" +
			"}\n\n" +
			"// Order holds an error two structs down, and one JSON does not carry.\n" +
			"type Order struct {\n	Lines []Line\n	cause error\n	Note  error `json:\"-\"`\n}\n\n" +
			"type Line struct{ Fail error }\n\n" +
			"// Node holds itself: walked once.\n" +
			"type Node struct{ Kids []Node }\n\n" +
			"// Stamp decodes itself, whatever it holds.\n" +
			"type Stamp struct{ Err error }\n\n" +
			"func (s *Stamp) UnmarshalText([]byte) error { return nil }\n\n" +
			"// An interface value is nil when decoded into: its method is not called.\n" +
			"type Decoder interface{ UnmarshalJSON([]byte) error }\n\n" +
			"// Loop never ends in an element type.\n" +
			"type Loop []Loop\n\n" +
			"type Shape interface{ Area() float64 }\n\n" +
			"// Shapes decodes itself.\n" +
			"type Shapes []Shape\n\n" +
			"func (s *Shapes) UnmarshalJSON([]byte) error { return nil }\n",
	})
	src := "flow F {\n    state S\n    step A {\n        rpc svc \"X.Y\" (In)\n        irreversible\n    }\n}\n"
	for _, target := range []string{dsl.TargetRuntime, dsl.TargetTemporal} {
		got := stateJSONDiags(t, src, dir, target)
		want := []string{"2:11 error: state type S has fields that JSON cannot decode, Err (an interface with methods, error), Readers (an interface with methods, io.Reader), ByName (an interface with methods, m.Shape), Pair (an interface with methods, m.Shape), Dec (an interface with methods, m.Decoder), Order.Lines.Fail (an interface with methods, error): encoding/json writes the value such a field holds but cannot read it back into an interface with methods, so a run whose snapshot holds one cannot resume (and on Temporal no step after the one that sets it can run)"}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", target, d)
		}
	}
}

// stateJSONDiags checks the flow src against the package in dir for
// target, and gives its state-json diagnostics as "line:col severity:
// message".
func stateJSONDiags(t *testing.T, src, dir, target string) []string {
	t.Helper()
	_, ds := flowfile.Load("t.flow", []byte(src), dsl.CheckOptions{Target: target,
		GoPackage: func(f *dsl.File) diag.List {
			return CheckLoaded(f, dir, target, func() (*Package, error) { return Load(dir) })
		}})
	var out []string
	for _, d := range ds {
		if d.Code == "state-json" {
			out = append(out, strings.TrimPrefix(d.Range.Start.String(), "t.flow:")+" "+d.Severity.String()+": "+d.Message)
		}
	}
	return out
}
