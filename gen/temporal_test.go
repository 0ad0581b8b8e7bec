package gen

import (
	"strings"
	"testing"

	"github.com/flowgen/flowgen/dsl"
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
	if _, err := Generate(f, Options{Package: "p", Target: "lambda"}); err == nil || !strings.Contains(err.Error(), `unknown target "lambda"`) {
		t.Errorf("unknown target: %v", err)
	}
}
