package cli

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// The language and checks references name flags of the command in
// backquotes (`-nopkg`, `flowgen check -strict`): each is a flag of the
// verb named, or, when none is, of some verb. checks.md once sent readers
// to a `-strict-rollback` that no verb has.
func TestDocFlagsExist(t *testing.T) {
	flagsOf := func(v *verb) *flag.FlagSet {
		fs := flag.NewFlagSet(v.name, flag.ContinueOnError)
		v.flags(fs)
		return fs
	}
	ref := regexp.MustCompile("`(?:flowgen ([a-z]+) )?-([a-z][a-z-]*)[^`]*`")
	for _, name := range []string{"language.md", "checks.md"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "docs", name))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ref.FindAllStringSubmatch(string(b), -1) {
			verbName, fl := m[1], m[2]
			found := false
			for _, v := range verbs {
				if (verbName == "" || v.name == verbName) && flagsOf(v).Lookup(fl) != nil {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("docs/%s: %s: no such flag", name, m[0])
			}
		}
	}
}
