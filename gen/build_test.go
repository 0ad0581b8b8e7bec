package gen

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// goldenModule is a temporary module that requires this repository through
// a replace directive, with the repository's go.sum, so that the go command
// builds it offline from the module cache.
type goldenModule struct {
	dir string
	env []string
}

func newGoldenModule(t *testing.T) *goldenModule {
	t.Helper()
	if testing.Short() {
		t.Skip("builds Go code with the go command")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	rootMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go \S+$`).Find(rootMod)
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	m := &goldenModule{dir: t.TempDir()}
	m.write(t, "go.mod", "module goldens\n\n"+string(goLine)+"\n\n"+
		"require github.com/flowgen/flowgen v0.0.0\n\n"+
		"replace github.com/flowgen/flowgen => "+filepath.ToSlash(root)+"\n")
	m.write(t, "go.sum", string(sum))
	m.env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOTOOLCHAIN=local", "GOWORK=off")
	m.copy(t, filepath.Join("testdata", "check", "check.go"), "check/check.go")
	return m
}

func (m *goldenModule) write(t *testing.T, name, data string) {
	t.Helper()
	path := filepath.Join(m.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (m *goldenModule) copy(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	m.write(t, to, string(data))
}

// goCmd runs the go command in the module and returns its combined output.
func (m *goldenModule) goCmd(args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = m.dir
	cmd.Env = m.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// addCase copies a golden case into the module as package <name>: its
// want.go under the name the CLI gives it, and its program.
func (m *goldenModule) addCase(t *testing.T, c goldenCase) {
	t.Helper()
	m.copy(t, filepath.Join(c.dir, "want.go"), c.name+"/input_flow.go")
	files, err := filepath.Glob(filepath.Join(c.dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if filepath.Base(f) != "want.go" {
			m.copy(t, f, c.name+"/"+filepath.Base(f))
		}
	}
}

// TestGoldensBuildAndRun compiles every golden want.go with its program
// and runs the program, which exits 1 when a run takes a transition it
// should not (see testdata/check).
func TestGoldensBuildAndRun(t *testing.T) {
	m := newGoldenModule(t)
	cases := goldenCases(t)
	for _, c := range cases {
		m.addCase(t, c)
	}
	if out, err := m.goCmd("vet", "./..."); err != nil {
		t.Fatalf("go vet: %v\n%s", err, out)
	}
	bin := filepath.Join(m.dir, "bin") + string(filepath.Separator)
	if out, err := m.goCmd("build", "-o", bin, "./..."); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A guard against a run that hangs (waiting for an event that
			// never comes), not a measure of time.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(bin, c.name))
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%s: %v\n%s%s", c.name, err, stdout.String(), stderr.String())
			}
			t.Logf("%s", stdout.String())
		})
	}
}

// TestMissingHandlerFailsBuild: a handler type without one of the methods
// of the generated interface does not compile, and the compiler names the
// method.
func TestMissingHandlerFailsBuild(t *testing.T) {
	m := newGoldenModule(t)
	var signup goldenCase
	for _, c := range goldenCases(t) {
		if c.name == "signup" {
			signup = c
		}
	}
	m.copy(t, filepath.Join(signup.dir, "want.go"), "missing/input_flow.go")
	m.copy(t, filepath.Join(signup.dir, "state.go"), "missing/state.go")
	m.write(t, "missing/main.go", `package main

import "context"

type handlers struct{}

func (handlers) CancelSubscription(context.Context, *SignupState) error { return nil }
func (handlers) Review(context.Context, *SignupState) (SignupReviewOutcome, error) { return "", nil }
func (handlers) Activate(context.Context, *SignupState) error { return nil }
func (handlers) Deactivate(context.Context, *SignupState) error { return nil }

func main() { NewSignupFlow(handlers{}, SignupServices{}) }
`)
	out, err := m.goCmd("build", "-o", os.DevNull, "./missing")
	if err == nil {
		t.Fatal("go build succeeded without the ExpireTrial handler")
	}
	if !strings.Contains(out, "missing method ExpireTrial") {
		t.Errorf("go build output does not name the missing method:\n%s", out)
	}
}

// TestWrongPortFailsBuild: a typed service port whose method takes or
// returns another type than the state field the rpc line names does not
// compile, and the compiler names the port and the method. This is what
// the typed ports are for: the mistake is a compile error in the user's
// code, not a JSON error at run time.
func TestWrongPortFailsBuild(t *testing.T) {
	m := newGoldenModule(t)
	var signup goldenCase
	for _, c := range goldenCases(t) {
		if c.name == "signup" {
			signup = c
		}
	}
	for name, tc := range map[string]struct{ method, want string }{
		// CustomerID is a string: the response type is wrong.
		"response": {`func (customers) CustomerCreate(context.Context, Customer) (int, error) { return 0, nil }`,
			`wrong type for method CustomerCreate`},
		// Customer is a struct: the request type is wrong.
		"request": {`func (customers) CustomerCreate(context.Context, string) (string, error) { return "", nil }`,
			`wrong type for method CustomerCreate`},
	} {
		t.Run(name, func(t *testing.T) {
			dir := "wrong" + name
			m.copy(t, filepath.Join(signup.dir, "want.go"), dir+"/input_flow.go")
			m.copy(t, filepath.Join(signup.dir, "state.go"), dir+"/state.go")
			m.write(t, dir+"/main.go", `package main

import (
	"context"

	"github.com/flowgen/flowgen/runtime"
)

type handlers struct{}

func (handlers) CancelSubscription(context.Context, *SignupState) error { return nil }
func (handlers) Review(context.Context, *SignupState) (SignupReviewOutcome, error) { return "", nil }
func (handlers) Activate(context.Context, *SignupState) error { return nil }
func (handlers) Deactivate(context.Context, *SignupState) error { return nil }
func (handlers) ExpireTrial(context.Context, *SignupState) error { return nil }

type customers struct{}

`+tc.method+`
func (customers) CustomerDelete(context.Context, string) error { return nil }

func main() {
	svc := SignupServicesFromCaller(runtime.NewMemoryCaller())
	svc.Customers = customers{}
	NewSignupFlow(handlers{}, svc)
}
`)
			out, err := m.goCmd("build", "-o", os.DevNull, "./"+dir)
			if err == nil {
				t.Fatal("go build succeeded with a port of the wrong type")
			}
			if !strings.Contains(out, "customers does not implement SignupCustomers") || !strings.Contains(out, tc.want) {
				t.Errorf("go build output does not name the port and the method:\n%s", out)
			}
		})
	}
}
