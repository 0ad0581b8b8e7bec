package dsl

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/flowgen/flowgen/parser"
)

func TestBuildSmoke(t *testing.T) {
	src, err := os.ReadFile("../testdata/flows/good/signup.flow")
	if err != nil {
		t.Fatal(err)
	}
	pf, d := parser.Parse("signup.flow", src)
	if len(d) > 0 {
		t.Fatal(d)
	}
	f, d := Build(pf)
	if len(d) > 0 {
		t.Fatal(d)
	}
	b, _ := json.MarshalIndent(f, "", "  ")
	t.Logf("%s", b)
}
