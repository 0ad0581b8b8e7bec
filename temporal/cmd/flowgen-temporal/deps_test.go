package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The serving binary links the engine and the runtime, so by the rule of
// internal/deps it must not link the .flow parser, the Go package loader
// or the code generator.
func TestNoHeavyDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test=false", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 100 || !strings.Contains(string(out), "github.com/flowgen/flowgen/engine\n") {
		t.Fatalf("go list gave %d packages, without the engine: the check would pass vacuously", len(deps))
	}
	for _, d := range deps {
		for _, banned := range []string{"golang.org/x/tools", "github.com/alecthomas/participle", "github.com/dave/jennifer", "github.com/flowgen/flowgen/parser", "github.com/flowgen/flowgen/gen", "github.com/flowgen/flowgen/dsl/flowfile"} {
			if d == banned || strings.HasPrefix(d, banned+"/") {
				t.Errorf("flowgen-temporal links %s", d)
			}
		}
	}
}

// The binary carries the IANA zone database, so that a schedule naming a
// zone loads on a machine without zone files as flowgen check accepted it.
func TestLinksTheZoneDatabase(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test=false", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if !strings.Contains(string(out), "\ntime/tzdata\n") {
		t.Error("flowgen-temporal does not link time/tzdata")
	}
}
