package flowtemporal

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/flowgen/flowgen/runtime"
)

// padded is the state of BenchmarkBigStateRun: a state of some size.
type padded struct {
	Pad string
	N   int
}

// BenchmarkBigStateRun runs a flow of five Go steps whose state holds
// 256 KiB, on the SDK's test environment, where what costs is what the
// workflow and the activities encode and decode: each step's input is
// encoded once in workflow code (docs/benchmarks.md, issue 11).
func BenchmarkBigStateRun(b *testing.B) {
	def := runtime.New[padded]("Big")
	inc := func(_ context.Context, s *padded) (runtime.Outcome, error) { s.N++; return runtime.OutcomeOK, nil }
	if err := def.Register(
		runtime.NewStep("A", inc), runtime.NewStep("B", inc), runtime.NewStep("C", inc),
		runtime.NewStep("D", inc), runtime.NewStep("E", inc),
	); err != nil {
		b.Fatal(err)
	}
	f, err := New(def)
	if err != nil {
		b.Fatal(err)
	}
	start := padded{Pad: strings.Repeat("x", 256<<10)}
	b.ReportAllocs()
	for b.Loop() {
		var s testsuite.WorkflowTestSuite
		s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
		env := s.NewTestWorkflowEnvironment()
		env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: testRun})
		f.Register(env)
		env.ExecuteWorkflow(WorkflowName("Big"), start)
		var end padded
		if err := env.GetWorkflowResult(&end); err != nil || end.N != 5 {
			b.Fatalf("run ended with N %d: %v", end.N, err)
		}
	}
}
