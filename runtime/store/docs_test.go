package store_test

import (
	"testing"

	"github.com/flowgen/flowgen/internal/docblocks"
)

// TestDocsGoBlocks compiles every Go block of docs/store.md against this
// checkout, in a module of its own (package docblocks, as runtime's test
// does for docs/runtime.md): each is a fragment compiled inside a function
// whose parameters give its free names (ctx, st, now, ...) their types.
func TestDocsGoBlocks(t *testing.T) {
	m, doc := docblocks.ForPage(t, "../..", "docs/store.md")
	n := m.Fragments("frags/frags.go", doc, docblocks.Fragments{
		Page: "docs/store.md",
		Wrap: map[string]string{
			`st, err := store.Open("/var/lib/signup/runs"`: `func frag%d(ctx context.Context, steps []*runtime.Step[SignupState], email string) error {
%s	_, _, _ = runs, run, err
	return nil
}
`,
			`m, added, err := st.PutMessage(`: `func frag%d(ctx context.Context, st *store.Store, id string, p json.RawMessage, now time.Time, key string, batch []store.Message) {
%s	_, _, _, _, _ = added, news, ok, more, err
}
`,
			`err := st.RequestAbort(ctx, runID)`: `func frag%d(ctx context.Context, st *store.Store, runID string) {
%s	_, _ = err, pending
}
`,
			`st, err := store.Open(dir, store.Options{Retain:`: `func frag%d(ctx context.Context, dir string) {
%s	_, _ = stats, err
}
`,
		},
		Prelude: `package frags

import (
	"context"
	"encoding/json"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

type SignupState struct{ Email string }

`,
	})
	if n != 4 {
		t.Fatalf("docs/store.md: %d Go blocks compiled, want 4: teach TestDocsGoBlocks a new one", n)
	}
	m.Go("vet", "./...")
}
