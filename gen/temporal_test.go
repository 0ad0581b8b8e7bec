package gen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
)

// The Temporal target adds its declarations to the runtime target's code;
// an unknown target is refused. temporal/examples compiles and runs what
// it generates (a module of its own, with the Temporal SDK).
func TestTemporalTarget(t *testing.T) {
	f := &dsl.File{Name: "x.flow", Flows: []*dsl.Flow{{Name: "X", Steps: []*dsl.Step{{Name: "A", Action: &dsl.Action{Kind: dsl.ActionGo}, Irreversible: true}}}}}
	plain, err := Generate(f, Options{Package: "p"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := Generate(f, Options{Package: "p", Target: TargetTemporal})
	if err != nil {
		t.Fatal(err)
	}
	src := string(out["x_flow.go"])
	for _, want := range []string{"func NewXTemporal(h XHandlers", "func StartX(ctx context.Context, c client.Client, state struct{}",
		"type XTemporalRun = flowtemporal.Run[struct{}]", `"go.temporal.io/sdk/workflow"`} {
		if !strings.Contains(src, want) {
			t.Errorf("temporal target lacks %q", want)
		}
	}
	if strings.Contains(string(plain["x_flow.go"]), "temporal") {
		t.Error("the runtime target mentions temporal")
	}
	if _, err := Generate(f, Options{Package: "p", Target: "lambda"}); err == nil || !strings.HasSuffix(err.Error(), `unknown target "lambda" (want "runtime" or "temporal")`) {
		t.Errorf("unknown target: %v", err)
	}
	if _, err := Generate(f, Options{Package: "p", Target: "temporl"}); err == nil || !strings.HasSuffix(err.Error(), `unknown target "temporl" (want "runtime" or "temporal"); did you mean "temporal"?`) {
		t.Errorf("mistyped target: %v", err)
	}
}

// The Temporal target generates parallel blocks and calls: a flow that
// calls others takes their Temporal definitions and hands them to
// flowtemporal.New. temporal/examples/order compiles and runs such a file.
func TestTemporalBlocksAndCalls(t *testing.T) {
	for _, dir := range []string{"call", "parallel"} {
		src, err := os.ReadFile(filepath.Join("testdata", dir, "input.flow"))
		if err != nil {
			t.Fatal(err)
		}
		f, ds := flowfile.Load("input.flow", src, dsl.CheckOptions{})
		if ds.HasErrors() {
			t.Fatalf("%s: %v", dir, ds)
		}
		out, err := Generate(f, Options{Package: "main", Source: "input.flow", Target: TargetTemporal, Types: caseTypes(t, filepath.Join("testdata", dir), "main")})
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if dir != "call" {
			continue
		}
		code := string(out["input_flow.go"])
		for _, want := range []string{
			"func NewOrderTemporal(h OrderHandlers, billingFlow *BillingTemporal, refundFlow *RefundTemporal, opts ...runtime.Option) (*OrderTemporal, error)",
			"NewOrderFlow(h, billingFlow.def, refundFlow.def, append([]runtime.Option{flowtemporal.Awaits()}, opts...)...)",
			"flowtemporal.New(f.Runtime(), billingFlow.flow, refundFlow.flow)",
		} {
			if !strings.Contains(code, want) {
				t.Errorf("the temporal target lacks %q", want)
			}
		}
	}
}
