package main

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/flowgen/flowgen/internal/cli"
)

var update = flag.Bool("update", false, "rewrite the expected output in testdata/*.txtar")

// TestMain registers the real CLI as the command "flowgen" of the scripts:
// testscript runs this test binary under that name, so scripts exercise
// exactly what main does.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"flowgen": func() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

func TestScripts(t *testing.T) {
	goEnv := goEnvironment(t)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:           "testdata",
		UpdateScripts: *update,
		Setup: func(e *testscript.Env) error {
			// Scripts that check a flow against its Go package run the go
			// command (through go/packages); give it the caches of the
			// machine, and no network or toolchain downloads.
			for k, v := range goEnv {
				e.Setenv(k, v)
			}
			e.Setenv("GOPROXY", "off")
			e.Setenv("GOTOOLCHAIN", "local")
			e.Setenv("GOFLAGS", "-mod=mod")
			// gen_module.txtar builds a fresh module against this checkout
			// (go mod edit -replace ...=$FLOWGEN_ROOT, its go.sum copied).
			e.Setenv("FLOWGEN_ROOT", root)
			return nil
		},
	})
}

// goEnvironment returns the go command's cache locations, which scripts
// need because testscript gives them a fresh, unwritable HOME.
func goEnvironment(t *testing.T) map[string]string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	v := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(v) != 3 {
		t.Fatalf("go env: unexpected output %q", out)
	}
	return map[string]string{"GOCACHE": v[0], "GOMODCACHE": v[1], "GOPATH": v[2]}
}

// The binary carries the IANA zone database, so that check and serve
// accept a schedule naming a zone on every machine, one without zone files
// too.
func TestLinksTheZoneDatabase(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test=false", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if !strings.Contains(string(out), "\ntime/tzdata\n") {
		t.Error("flowgen does not link time/tzdata")
	}
}
