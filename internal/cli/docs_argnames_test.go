package cli

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// Where the operator's documents write a flag of serve with a placeholder
// for its argument (`-namespace NS`, `[-store DIR]`), serve -h names the
// argument the same (flag.UnquoteUsage takes the name from backquotes in the usage):
// serve -h printed "-namespace namespace" and "-task-queue queue" where
// the README, the manual and docs/engine.md wrote NS and Q, and "-addr
// string" where they wrote ADDR. Only the flag package's names of a
// number's or a duration's type (int, duration, float) may stand for
// the documents' N, D, DURATION or R: they say what is parsed, and
// TestDurationFlagsNameDuration keeps "duration".
func TestDocsNameServeFlagArgumentsAsHelpDoes(t *testing.T) {
	typeNames := map[string]bool{"int": true, "uint": true, "duration": true, "float": true}
	// The name serve -h gives the argument of each flag.
	names := map[string]string{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	serveVerb.flags(fs)
	fs.VisitAll(func(f *flag.Flag) { names[f.Name], _ = flag.UnquoteUsage(f) })
	placeholder := regexp.MustCompile("(?:^|[\\s\\[(`|])-([a-z][a-z0-9-]*) ([A-Z][A-Z0-9_=:.-]*)\\b")
	for _, doc := range []string{"README.md", "cmd/flowgen/doc.go", "docs/engine.md", "docs/store.md"} {
		b, err := os.ReadFile(filepath.Join("..", "..", doc))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, m := range placeholder.FindAllStringSubmatch(string(b), -1) {
			fl, word := m[1], m[2]
			name, ok := names[fl]
			if !ok || name == word || typeNames[name] || seen[fl+" "+word] {
				continue // not serve's (runs -flow, go test -run), agreed, or a number's or duration's
			}
			seen[fl+" "+word] = true
			t.Errorf("%s writes -%s %s, serve -h prints -%s %s: name the argument %s in backquotes in the flag's usage, or write it as -h does",
				doc, fl, word, fl, name, word)
		}
	}
}
