package gen

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
	"github.com/flowgen/flowgen/dsl/gocheck"
)

// agreeState is the state of the flows of TestConditionsAgreeWithEval, in
// the test and, as Go source, in the program that runs their generated code.
type agreeState struct {
	Ratio float32
	Price float64
	Count int64
}

const agreeStateGo = `package %s

type S struct {
	Ratio float32
	Price float64
	Count int64
}
`

// agreeConds are conditions on float and integer fields at the edges of
// their types: literals each type holds exactly or only rounded (0.1), the
// last integer a float32 (a float64) counts to one by one, the largest and
// smallest values, and the numbers encoding/json writes with an exponent.
var agreeConds = []string{
	"Ratio > 0.1",
	"Ratio == 0.1",
	"Ratio < 0.1",
	"Ratio >= 16777216",
	"Ratio == 16777216",
	"Ratio < 16777218",
	"Ratio == 340282350000000000000000000000000000000",
	"Ratio > 0.000000000000000000000000000000000000000000001",
	"Ratio == 0.000000000000000000000000000000000000000000001",
	"Ratio <= -2.5",
	"Ratio != 0.0000001",
	"Ratio >= 1000000000000000000000",
	"Ratio == 0",
	"Ratio > 0.33333334",
	"Price > 0.3",
	"Price == 0.30000000000000004",
	"Price < 9007199254740992",
	"Price == 9007199254740992",
	"Price >= 0.0000001",
	"Price == 1000000000000000000000",
	"Price > 0.1 and Ratio > 0.1",
	"Price == 0.1 or Ratio == 0.1",
	"Count == 9007199254740993",
	"Count > -9223372036854775808",
	"Count < 9223372036854775807",
	// Chains longer than maxChain, which are written in groups.
	longChain(" and ", func(k int) string { return fmt.Sprintf("Count != %d", k) }),
	longChain(" or ", func(k int) string { return fmt.Sprintf("Count == %d", k) }),
	longChain(" or ", func(k int) string { return fmt.Sprintf("Count > %d and Count < %d", k, k+2) }),
}

// longChain is 2·maxChain+5 terms joined by op, term(k) for k from
// -maxChain-2 up.
func longChain(op string, term func(k int) string) string {
	terms := make([]string, 2*maxChain+5)
	for i := range terms {
		terms[i] = term(i - maxChain - 2)
	}
	return strings.Join(terms, op)
}

// agreeStates are the states the conditions are evaluated on: each value
// of a field as encoding/json writes it, as a run's state holds it (a Go
// program wrote it, or the generated code itself).
func agreeStates(t *testing.T) []json.RawMessage {
	ratios := []float32{
		0, float32(math.Copysign(0, -1)), 0.1, math.Nextafter32(0.1, 1), math.Nextafter32(0.1, 0),
		16777215, 16777216, 16777218, math.MaxFloat32, -math.MaxFloat32,
		math.SmallestNonzeroFloat32, 2 * math.SmallestNonzeroFloat32, -2.5, math.Nextafter32(-2.5, 0),
		0.0000001, math.Nextafter32(0.0000001, 1), 1e21, math.Nextafter32(1e21, 0), 1e38,
		1.0 / 3, math.Nextafter32(1.0/3, 1),
	}
	prices := []float64{
		0, 0.1, 0.3, 0.1 + 0.2, math.Nextafter(0.3, 1), 9007199254740992, math.Nextafter(9007199254740992, 0),
		math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 0.0000001, math.Nextafter(0.0000001, 0),
		1e21, math.Nextafter(1e21, 0),
	}
	counts := []int64{0, 1, -1, 33, -40, 9007199254740992, 9007199254740993, math.MinInt64, math.MaxInt64, math.MinInt64 + 1}
	var out []json.RawMessage
	add := func(s agreeState) {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	for _, r := range ratios {
		add(agreeState{Ratio: r})
		add(agreeState{Ratio: r, Price: float64(r)}) // the float32 read as a float64, written in full
	}
	for _, p := range prices {
		s := agreeState{Price: p}
		if math.Abs(p) <= math.MaxFloat32 {
			s.Ratio = float32(p) // the float64 rounded to a float32
		}
		add(s)
	}
	for _, c := range counts {
		add(agreeState{Count: c})
	}
	return append(out, json.RawMessage(`{}`), json.RawMessage(`{"Ratio": null, "Price": null}`))
}

// The conditions of a choose decide alike in the generated code, which
// compares the Go values of the state's fields with the literals (each
// rounded to its field's type), and in the flow service, whose dsl.Cond.Eval
// compares the state's JSON numbers with the literals exactly: on every
// value a field's type holds, written as encoding/json writes it, for the
// literals that the Go package checks (cond-type) let through. Each
// condition is the one choose of a flow of its own; the generated flows
// run in a program, each on every state decoded into the state type as a
// run's state is decoded.
func TestConditionsAgreeWithEval(t *testing.T) {
	m := newGoldenModule(t)
	var src strings.Builder
	for i, c := range agreeConds {
		fmt.Fprintf(&src, "flow C%d {\n    state S\n    step R {\n        choose {\n            when %s -> done\n            otherwise -> fail\n        }\n    }\n}\n\n", i, c)
	}
	// The literals pass the Go package checks against the state type.
	checkDir := t.TempDir()
	for name, data := range map[string]string{"go.mod": "module example.com/m\n\ngo 1.22\n", "state.go": fmt.Sprintf(agreeStateGo, "m")} {
		if err := os.WriteFile(filepath.Join(checkDir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, ds := flowfile.Load("agree.flow", []byte(src.String()), dsl.CheckOptions{
		GoPackage: func(f *dsl.File) diag.List { return gocheck.Check(f, checkDir) },
	})
	if ds.HasErrors() {
		t.Fatalf("agree.flow does not check: %v", ds)
	}

	m.write(t, "agree/state.go", fmt.Sprintf(agreeStateGo, "main"))
	out, err := Generate(f, Options{Package: "main", Source: "agree.flow", Types: caseTypes(t, filepath.Join(m.dir, "agree"), "main")})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	m.write(t, "agree/agree_flow.go", string(out["agree_flow.go"]))
	var runs strings.Builder
	for i := range agreeConds {
		fmt.Fprintf(&runs, "\trun(NewC%dFlow(nil)),\n", i)
	}
	// The program prints, per state, whether each flow's choice held
	// (the run ended done, not failed by the otherwise).
	m.write(t, "agree/main.go", `package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/flowgen/flowgen/runtime"
)

type flow interface {
	Execute(context.Context, S, ...runtime.RunOption) (runtime.Result[S], error)
}

func run(f flow, err error) func(S) bool {
	if err != nil {
		panic(err)
	}
	return func(s S) bool {
		res, _ := f.Execute(context.Background(), s)
		return res.Final == runtime.StateDone
	}
}

var runs = []func(S) bool{
`+runs.String()+`}

func main() {
	var states []json.RawMessage
	if err := json.NewDecoder(os.Stdin).Decode(&states); err != nil {
		panic(err)
	}
	var held [][]bool
	for _, raw := range states {
		var row []bool
		for _, run := range runs {
			var s S
			if err := json.Unmarshal(raw, &s); err != nil {
				panic(err)
			}
			row = append(row, run(s))
		}
		held = append(held, row)
	}
	b, err := json.Marshal(held)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))
}
`)
	if out, err := m.goCmd("build", "-o", "agree.bin", "./agree"); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	states := agreeStates(t)
	in, err := json.Marshal(states)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(m.dir, "agree.bin"))
	cmd.Stdin = strings.NewReader(string(in))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("agree: %v\n%s", err, stderr.String())
	}
	var held [][]bool
	if err := json.Unmarshal(stdout, &held); err != nil || len(held) != len(states) {
		t.Fatalf("agree printed %s (%v), want %d rows", stdout, err, len(states))
	}

	var whens []*dsl.Cond
	for _, fl := range f.Flows {
		whens = append(whens, fl.Steps[0].Action.When[0].When)
	}
	for i, raw := range states {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			t.Fatal(err)
		}
		for j, c := range whens {
			got, err := c.Eval(func(name string) json.RawMessage { return fields[name] })
			if err != nil {
				t.Errorf("state %s: %s: Eval: %v", raw, c, err)
				continue
			}
			if got != held[i][j] {
				t.Errorf("state %s: %s: the flow service's Eval says %v, the generated code %v", raw, c, got, held[i][j])
			}
		}
	}
}
