package engine_test

import (
	"os"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/internal/docblocks"
)

// TestDocsGoBlocks compiles the Go blocks of docs/engine.md against this
// checkout, in a module of its own (package docblocks, as runtime's test
// does for docs/runtime.md), each inside a function whose parameters give
// its free names their types. The embedding example registers a generated
// flow: the module gets examples/signup's generated code (kept fresh by
// .ci/run) as its package signupflow, so the example is checked against
// what flowgen gen really writes. The Caller interface the page shows must
// be runtime.Caller's, both ways.
func TestDocsGoBlocks(t *testing.T) {
	m, doc := docblocks.ForPage(t, "..", "docs/engine.md")
	for _, f := range []string{"signup_flow.go", "state.go"} {
		src, err := os.ReadFile("../examples/signup/" + f)
		if err != nil {
			t.Fatal(err)
		}
		m.Write("signupflow/"+f, strings.Replace(string(src), "package main\n", "package signupflow\n", 1))
	}
	var caller string
	n := m.Fragments("frags/frags.go", doc, docblocks.Fragments{
		Page: "docs/engine.md",
		Wrap: map[string]string{
			`st, err := store.Open("/var/lib/signup"`: `func frag%d(ctx context.Context, broker engine.Broker, handlers signupflow.SignupHandlers) {
%s	_ = err
}
`,
			`auth, err := engine.NewTokenAuth(`: `func frag%d(st *store.Store) {
%s	_ = e
}
`,
			`Authorizer: engine.AuthorizerFunc(`: `func frag%d(rolesBySubject map[string]engine.Role, subjectOf func(*http.Request) string) engine.Options {
	return engine.Options{
%s	}
}
`,
			`p := provider.New(provider.Options{`: `func frag%d(ctx context.Context, token string) {
%s	_ = err
}
`,
			`nc, _ := nats.Connect(url,`: `func frag%d(ctx context.Context, url string, logger *slog.Logger) {
%s	_, _ = broker, err
}
`,
		},
		// A third party's generated client (connectrpc), which this
		// module's graph does not have.
		Skip: []string{"type connectCaller struct"},
		Other: func(first, block string) bool {
			if first != "type Caller interface {" {
				return false
			}
			caller = block
			return true
		},
		Prelude: `package frags

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"example.com/docs/signupflow"
	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/engine/httpcall"
	"github.com/flowgen/flowgen/engine/natsbus"
	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/runtime/store"
)

`,
	})
	if n != 5 {
		t.Fatalf("docs/engine.md: %d Go blocks compiled, want 5: teach TestDocsGoBlocks a new one", n)
	}
	if caller == "" {
		t.Fatal("docs/engine.md: no `type Caller interface` block")
	}
	m.Write("frags/caller.go", `package frags

import (
	"context"

	"github.com/flowgen/flowgen/runtime"
)

`+caller+`
// The page's Caller is runtime.Caller: each satisfies the other.
var (
	_ Caller         = runtime.Caller(nil)
	_ runtime.Caller = Caller(nil)
)
`)
	m.Go("vet", "./...")
}
