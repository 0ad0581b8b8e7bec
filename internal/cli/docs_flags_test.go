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

// Every flag's line in -h names what it takes (`-store DIR`, `-retain
// duration`), never the flag package's "value", which it shows for a flag
// of a type of its own without a name in backquotes in its usage: serve's
// -h read "-store value", "-flows value", "-service value".
func TestFlagsNameTheirArgument(t *testing.T) {
	for _, v := range verbs {
		fs := flag.NewFlagSet(v.name, flag.ContinueOnError)
		v.flags(fs)
		fs.VisitAll(func(f *flag.Flag) {
			if name, _ := flag.UnquoteUsage(f); name == "value" {
				t.Errorf("flowgen %s -h: -%s value: name what it takes in backquotes in its usage", v.name, f.Name)
			}
		})
	}
}

// -store reads "-store DIR" in every verb's -h, as the README and
// docs/engine.md write it: runs, history, inbox and compact read
// "-store string" (the flag package's name for a string flag), serve
// "-store DIR".
func TestStoreFlagNamesDir(t *testing.T) {
	for _, v := range verbs {
		fs := flag.NewFlagSet(v.name, flag.ContinueOnError)
		v.flags(fs)
		f := fs.Lookup("store")
		if f == nil {
			continue
		}
		if name, _ := flag.UnquoteUsage(f); name != "DIR" {
			t.Errorf("flowgen %s -h: -store %s, want -store DIR", v.name, name)
		}
	}
}
