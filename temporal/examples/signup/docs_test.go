package signup

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/internal/docblocks"
	"github.com/flowgen/flowgen/internal/readmetest"
)

// TestDocsSetUp follows docs/temporal.md's "Setting it up" in a new
// module, as written: flowgen as a tool of the module (README, "Using it
// in your module"), then the docs' lines that require the Temporal module,
// and this package's flow, state and handlers with the docs' go:generate
// line. The generated code must then build as go.mod stands, in the go
// command's default -mod=readonly mode: a user who follows the docs needs
// no `go mod tidy` they do not mention. Offline: this checkout stands for
// the published modules (the README's and the docs' replace lines), their
// go.sum files are copied, and GOPROXY is off, so that only the machine's
// module cache answers.
func TestDocsSetUp(t *testing.T) {
	repo := setUpRepo(t)
	docs := filepath.Join(repo, "docs", "temporal.md")
	dir, run, _ := docsModule(t, repo, "off")
	run("go", "get", "-tool", "github.com/flowgen/flowgen/cmd/flowgen")
	goLines := func(intro string) {
		t.Helper()
		for _, line := range readmetest.BlockOf(t, docs, intro) {
			words, _ := readmetest.Words(t, strings.ReplaceAll(line, "/path/to/flowgen", repo), nil)
			if len(words) < 2 || words[0] != "go" {
				t.Fatalf("docs/temporal.md: %q is not a go command this test knows", line)
			}
			run(words...)
		}
	}
	goLines("The Temporal code lives in its own Go module")

	b, err := os.ReadFile(docs)
	if err != nil {
		t.Fatal(err)
	}
	writeSignup(t, dir, string(b))
	run("go", "generate", "./...")
	run("go", "build", "./...")

	// "To test a flow": its go get line, then its Go block in a test of
	// the package, which go vet compiles as go.mod then stands; the SDK
	// stays at the version the set-up required.
	goLines("To test a flow on a real Temporal server")
	var block string
	for _, blk := range docblocks.Blocks(string(b)) {
		if strings.HasPrefix(blk, testBlock) {
			block = blk
		}
	}
	if block == "" {
		t.Fatalf("docs/temporal.md has no Go block starting %q", testBlock)
	}
	test := `package signup

import (
	"context"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
)

func TestDocs(t *testing.T) {
	ctx := context.Background()
	flow, err := NewSignupTemporal(handlers{}, SignupServicesFromCaller(runtime.NewMemoryCaller()))
	if err != nil {
		t.Fatal(err)
	}
` + block + `	_, _ = run, err
}
`
	if err := os.WriteFile(filepath.Join(dir, "signup_test.go"), []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	run("go", "vet", "./...")
	checkSDK(t, dir)
}

// testBlock starts docs/temporal.md's Go block of a test on temporaltest,
// which TestDocsSetUp compiles in the module it sets up.
const testBlock = "// In a test: "

// TestDocsGoBlocks compiles the Go blocks of docs/temporal.md against
// this checkout and the code flowgen gen -target temporal writes, in a
// module of its own that requires both modules as a user's would (package
// docblocks, as engine's test does for docs/engine.md). The worker's block
// is compiled in a package that holds this package's flow, state and
// handlers, as the page's user's package does; the order's block in one
// that holds temporal/examples/order's generated code, its handlers any
// value of their interfaces. The go:generate line is TestDocsSetUp's.
func TestDocsGoBlocks(t *testing.T) {
	m, doc := docblocks.ForPage(t, filepath.Join("..", "..", ".."), "docs/temporal.md")
	m.Require("github.com/flowgen/flowgen/temporal", filepath.Join("..", ".."))
	copyPackage := func(dir, from, pkg string, files ...string) {
		t.Helper()
		for _, f := range files {
			src, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			m.Write(pkg+"/"+f, strings.Replace(string(src), "package "+from+"\n", "package "+pkg+"\n", 1))
		}
	}
	copyPackage(".", "signup", "signup", "signup_flow.go", "review_flow.go", "state.go", "handlers.go")
	copyPackage("../order", "order", "order", "order_flow.go", "state.go")

	const generate, worker, order = "//go:generate ", "// The worker: ", "billing, err := NewBillingTemporal("
	n := m.Fragments("signup/frags.go", doc, docblocks.Fragments{
		Page: "docs/temporal.md",
		Wrap: map[string]string{worker: `func frag%d(ctx context.Context, c client.Client, caller runtime.Caller, pub runtime.Publisher, sink runtime.Sink, payload json.RawMessage) {
%s	_, _, _, _ = res, st, h, err
}
`},
		Skip: []string{generate, order, testBlock},
		Prelude: `package signup

import (
	"context"
	"encoding/json"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
)

`,
	})
	n += m.Fragments("order/frags.go", doc, docblocks.Fragments{
		Page: "docs/temporal.md",
		Wrap: map[string]string{order: `func frag%d(w worker.Worker, opts ...runtime.Option) {
%s	_ = err
}
`},
		Skip: []string{generate, worker, testBlock},
		Prelude: `package order

import (
	"go.temporal.io/sdk/worker"

	"github.com/flowgen/flowgen/runtime"
)

type (
	orderHandlers   struct{ OrderHandlers }
	billingHandlers struct{ BillingHandlers }
	refundHandlers  struct{ RefundHandlers }
)

`,
	})
	if n != 2 {
		t.Fatalf("docs/temporal.md: %d Go blocks compiled, want 2: teach TestDocsGoBlocks a new one", n)
	}
	m.Go("vet", "./...")
}

// TestDocsSetUpBehindProxy follows docs/temporal.md's other way to set
// up, for a go get that the module proxy stops (here: nothing listens on
// its port; a proxy that answers 403 does the same): the set-up's go get
// fails, as the docs say, and the inline commands that follow it, then
// go generate and go mod tidy, give a module that builds, on the SDK the
// set-up asks for. The tool comes from the README's own way round
// (cmd/flowgen's module_checkout.txtar).
func TestDocsSetUpBehindProxy(t *testing.T) {
	repo := setUpRepo(t)
	b, err := os.ReadFile(filepath.Join(repo, "docs", "temporal.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	dir, run, fail := docsModule(t, repo, "http://127.0.0.1:1")
	run("go", "mod", "edit", "-require", "github.com/flowgen/flowgen@v0.0.0-00010101000000-000000000000", "-tool", "github.com/flowgen/flowgen/cmd/flowgen")
	run("go", "mod", "tidy")
	// Tidy kept only the sums the tool needs. The proxy a user meets
	// refuses flowgen's modules, not the SDK's: with the SDK's sums gone,
	// the go get below failed either on flowtemporal or, first under load,
	// on verifying the SDK it could not reach the checksum database for.
	writeSums(t, repo, dir)

	lines := readmetest.BlockOf(t, filepath.Join(repo, "docs", "temporal.md"), "The Temporal code lives in its own Go module")
	if len(lines) != 2 {
		t.Fatalf("docs/temporal.md: the set-up block has %d lines, want the replace and the go get", len(lines))
	}
	for i, line := range lines {
		words, _ := readmetest.Words(t, strings.ReplaceAll(line, "/path/to/flowgen", repo), nil)
		if i == 0 {
			run(words...)
		} else if out := fail(words...); !strings.Contains(out, "github.com/flowgen/flowgen/temporal/flowtemporal") {
			t.Fatalf("%s failed for another reason than the proxy's answer about flowtemporal:\n%s", line, out)
		}
	}
	const start = "`go mod edit -require github.com/flowgen/flowgen/temporal@"
	_, rest, ok := strings.Cut(doc, start)
	if !ok {
		t.Fatalf("docs/temporal.md has no %s...` command for a go get the proxy stops", start)
	}
	code, _, _ := strings.Cut(start[1:]+rest, "`")
	for c := range strings.SplitSeq(code, " && ") {
		words, _ := readmetest.Words(t, c, nil)
		run(words...)
	}
	writeSignup(t, dir, doc)
	run("go", "generate", "./...")
	if !strings.Contains(doc, "run `go mod tidy` once `go generate` has written the code") {
		t.Fatal("docs/temporal.md no longer says to run go mod tidy after go generate on this way")
	}
	run("go", "mod", "tidy")
	run("go", "build", "./...")
	checkSDK(t, dir)
}

// checkSDK checks that the go.mod in dir, after the docs' lines, still
// requires the SDK the set-up asked for.
func checkSDK(t *testing.T, dir string) {
	t.Helper()
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "go.temporal.io/sdk v1.38.0") {
		t.Errorf("go.mod after the docs' lines requires another SDK than v1.38.0:\n%s", mod)
	}
}

// setUpRepo skips a test that builds a module against the Temporal SDK
// in -short mode, and returns the checkout's root.
func setUpRepo(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a module against the Temporal SDK")
	}
	repo, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// docsModule makes a module example.com/signup in a new directory that
// replaces flowgen's module by the checkout at repo, with the go.sum lines
// of both of this checkout's modules, and returns it with a function that
// runs a command there, with the module proxy goproxy, and fails the test
// if it fails, and one that fails the test if it does not fail, returning
// its output.
func docsModule(t *testing.T, repo, goproxy string) (dir string, run func(...string), fail func(...string) string) {
	t.Helper()
	dir = t.TempDir()
	env := append(os.Environ(), "GOFLAGS=", "GOPROXY="+goproxy, "GOTOOLCHAIN=local", "GOWORK=off")
	command := func(args []string) ([]byte, error) {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir, cmd.Env = dir, env
		return cmd.CombinedOutput()
	}
	run = func(args ...string) {
		t.Helper()
		if out, err := command(args); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	fail = func(args ...string) string {
		t.Helper()
		out, err := command(args)
		if err == nil {
			t.Fatalf("%s succeeded; want it stopped by the module proxy\n%s", strings.Join(args, " "), out)
		}
		return string(out)
	}
	writeSums(t, repo, dir)
	run("go", "mod", "init", "example.com/signup")
	run("go", "mod", "edit", "-replace", "github.com/flowgen/flowgen="+repo)
	return dir, run, fail
}

// writeSums writes dir's go.sum: the go.sum lines of both of the
// checkout's modules, at repo.
func writeSums(t *testing.T, repo, dir string) {
	t.Helper()
	var sums []byte
	for _, f := range []string{filepath.Join(repo, "go.sum"), filepath.Join(repo, "temporal", "go.sum")} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, b...)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sums, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeSignup writes into dir this package's flow, state and handlers,
// without their own go:generate lines (they run flowgen from the
// checkout), and a file with the go:generate line of doc, the text of
// docs/temporal.md.
func writeSignup(t *testing.T, dir, doc string) {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "\n//go:generate ")
	generate, _, _ := strings.Cut(rest, "\n")
	if !ok || !strings.Contains(generate, "-target temporal signup.flow") {
		t.Fatalf("docs/temporal.md has no //go:generate line for signup.flow: %q", generate)
	}
	files := map[string][]byte{"gen.go": []byte("package signup\n\n//go:generate " + generate + "\n")}
	for _, name := range []string{"signup.flow", "state.go", "handlers.go"} {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var kept [][]byte
		for l := range bytes.Lines(src) {
			if !bytes.HasPrefix(l, []byte("//go:generate ")) {
				kept = append(kept, l)
			}
		}
		files[name] = bytes.Join(kept, nil)
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
