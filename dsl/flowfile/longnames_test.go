package flowfile

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/dsl"
)

// Every diagnostic of the check goldens' inputs, with each name (every
// capitalised identifier and every quoted string) made 3,000 bytes longer,
// stays a few kilobytes long: a diagnostic quotes a name cut (diag.Quote,
// diag.Cut), whichever check reports it. Before, the hints that show a
// name as code (`on ok -> Step`, `state FlowState`), the conditions, the
// callees and the ports' methods repeated it whole.
func TestLongNamesQuotedCut(t *testing.T) {
	inputs, err := filepath.Glob("../testdata/check/*/input.flow")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	upper := regexp.MustCompile(`\b[A-Z][A-Za-z0-9_]*\b`) // keywords are lower-case
	quoted := regexp.MustCompile(`"([^"\\\n]*)"`)
	for _, p := range inputs {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s := upper.ReplaceAllStringFunc(string(src), func(m string) string { return m + strings.Repeat("X", 3000) })
		s = quoted.ReplaceAllStringFunc(s, func(m string) string { return m[:len(m)-1] + strings.Repeat("y", 3000) + `"` })
		_, ds := Load("long.flow", []byte(s), dsl.CheckOptions{})
		if len(ds) == 0 {
			t.Errorf("%s: no diagnostics", p)
		}
		for _, d := range ds {
			if n := len(d.Message) + len(d.Hint); n > 4000 {
				t.Errorf("%s: %s of %d bytes: %.300s", p, d.Code, n, d.Message)
			}
		}
	}
}
