package main

import (
	"os"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/internal/docblocks"
)

// TestReadmeGoBlocks compiles the README's top-level Go blocks ("Durable
// runs", and the engine embedded in a service of your own) against this
// checkout, in a module of its own, as the docs' pages are
// (internal/docblocks); the blocks of "Using it in your module", indented
// under its steps, are TestReadmeModuleSteps'. The blocks use the signup
// flow's generated code: the module gets examples/signup's as its own
// package, so they are checked against what flowgen gen writes.
func TestReadmeGoBlocks(t *testing.T) {
	m, readme := docblocks.ForPage(t, "../..", "README.md")
	for _, f := range []string{"signup_flow.go", "state.go"} {
		src, err := os.ReadFile("../../examples/signup/" + f)
		if err != nil {
			t.Fatal(err)
		}
		m.Write("frags/"+f, strings.Replace(string(src), "package main\n", "package frags\n", 1))
	}
	// "runtime.WithSink(st), ...)" says that the other options go on: the
	// arguments the page leaves out.
	const elided = "runtime.WithSink(st), ...)"
	if !strings.Contains(readme, elided) {
		t.Fatalf("README.md no longer has %q: update this test", elided)
	}
	readme = strings.Replace(readme, elided, "runtime.WithSink(st))", 1)
	n := m.Fragments("frags/frags.go", readme, docblocks.Fragments{
		Page: "README.md",
		Wrap: map[string]string{
			"st, err := store.Open(dir, store.Options{})": `func frag%d(ctx context.Context, dir, id string, services SignupServices) {
%s	_, _, _, _, _ = runs, ids, s, h, err
}
`,
			"e, err := engine.New(engine.Options{": `func frag%d(ctx context.Context, st *store.Store) {
%s	_ = err
}
`,
		},
		Prelude: `package frags

import (
	"context"
	"net/http"
	"time"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/engine/httpcall"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// handlers stands for the Go steps the README's step 3 implements.
type handlers struct{ SignupHandlers }

`,
	})
	if n != 2 {
		t.Fatalf("README.md: %d Go blocks compiled, want 2: teach TestReadmeGoBlocks a new one", n)
	}
	m.Go("vet", "./frags")
}
