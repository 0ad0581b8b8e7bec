// Package flagdoc checks that the operator's documents name a flag's
// argument as -h does: where a document writes a flag with a placeholder
// for its argument (`-store DIR`, [-status STATE]), -h prints the same
// name (flag.UnquoteUsage takes it from backquotes in the usage). Only
// tests import it: flowgen's and flowgen-temporal's.
package flagdoc

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// typeNames are the flag package's names of a number's or a duration's
// type: they may stand for the documents' N, D, DURATION or R, since they
// say what is parsed (TestDurationFlagsNameDuration keeps "duration").
var typeNames = map[string]bool{"int": true, "uint": true, "duration": true, "float": true}

// placeholder is a flag followed by an upper-case word: -store DIR, in
// text, in a bracket or in backquotes. A lower-case word is a value
// (-target temporal, -format dot|mermaid), not a placeholder.
var placeholder = regexp.MustCompile("(?:^|[\\s\\[(`|])-([a-z][a-z0-9-]*) ([A-Z][A-Z0-9_=:.-]*)\\b")

// ArgNames checks the flags of sets, the flag sets of one program's verbs
// (named by their flag set's name), against the documents docs, paths
// under root. A flag that two verbs share has one argument name in both:
// the documents cannot tell the verbs apart. A placeholder for a flag of
// no set is another program's (go test -run) and is skipped.
func ArgNames(t testing.TB, root string, docs []string, sets ...*flag.FlagSet) {
	t.Helper()
	names := map[string]string{} // flag: the name -h gives its argument
	owner := map[string]string{} // flag: the first verb that has it
	for _, fs := range sets {
		fs.VisitAll(func(f *flag.Flag) {
			name, _ := flag.UnquoteUsage(f)
			if prev, ok := names[f.Name]; ok && prev != name && !(typeNames[prev] && typeNames[name]) {
				t.Errorf("%s -h prints -%s %s, %s -h prints -%s %s: name the argument one way", owner[f.Name], f.Name, prev, fs.Name(), f.Name, name)
				return
			}
			if _, ok := names[f.Name]; !ok {
				names[f.Name], owner[f.Name] = name, fs.Name()
			}
		})
	}
	for _, doc := range docs {
		b, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, m := range placeholder.FindAllStringSubmatch(string(b), -1) {
			fl, word := m[1], m[2]
			name, ok := names[fl]
			if !ok || name == word || typeNames[name] || seen[fl+" "+word] {
				continue // another program's (go test -run), agreed, or a number's or duration's
			}
			seen[fl+" "+word] = true
			t.Errorf("%s writes -%s %s, %s -h prints -%s %s: name the argument %s in backquotes in the flag's usage, or write it as -h does",
				doc, fl, word, owner[fl], fl, name, word)
		}
	}
}
