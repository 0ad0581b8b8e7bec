package observe_test

import (
	"testing"

	"github.com/flowgen/flowgen/internal/docblocks"
)

// TestDocsGoBlocks compiles the Go blocks of docs/observability.md against
// this checkout, in a module of its own (package docblocks, as runtime's
// test does for docs/runtime.md), each inside a function whose parameters
// give its free names their types.
func TestDocsGoBlocks(t *testing.T) {
	m, doc := docblocks.ForPage(t, "..", "docs/observability.md")
	n := m.Fragments("frags/frags.go", doc, docblocks.Fragments{
		Page: "docs/observability.md",
		Wrap: map[string]string{
			"tp := sdktrace.NewTracerProvider(": `func frag%d(ctx context.Context, exporter sdktrace.SpanExporter, dir, addr string) {
%s	_ = err
}
`,
		},
		Prelude: `package frags

import (
	"context"
	"net/http"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/observe"
	"github.com/flowgen/flowgen/runtime/store"
)

`,
	})
	if n != 1 {
		t.Fatalf("docs/observability.md: %d Go blocks compiled, want 1: teach TestDocsGoBlocks a new one", n)
	}
	m.Go("vet", "./...")
}
