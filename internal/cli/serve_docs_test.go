package cli

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docs/engine.md's table of serve's flags has a row for every flag, with
// its default, and the README's command summary names every flag: a flag
// added, or a default changed, without the operator's documentation fails
// here.
func TestServeFlagsDocumented(t *testing.T) {
	read := func(path string) string {
		b, err := os.ReadFile(filepath.Join("..", "..", path))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	engineDoc, readme := read("docs/engine.md"), read("README.md")
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	serveVerb.flags(fs)
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		name := regexp.QuoteMeta("`-" + f.Name)
		row := regexp.MustCompile(`(?m)^\| [^|]*` + name + "[ `][^\n]*$").FindString(engineDoc)
		switch {
		case row == "":
			t.Errorf("docs/engine.md has no row for serve -%s in its flag table", f.Name)
		case f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0s" && !strings.Contains(row, "`"+f.DefValue+"`"):
			t.Errorf("docs/engine.md's row for serve -%s does not give its default `%s`: %s", f.Name, f.DefValue, row)
		}
		if !strings.Contains(readme, "-"+f.Name) {
			t.Errorf("README.md does not name serve -%s", f.Name)
		}
	})
	if n < 20 {
		t.Fatalf("serve has %d flags: the flag set was not read", n)
	}
}
