package cli

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/internal/flagdoc"
)

// Where the operator's documents write a flag of a verb with a placeholder
// for its argument (`-namespace NS`, [-status STATE]), the verb's -h names
// the argument the same (flag.UnquoteUsage takes the name from backquotes
// in the usage): serve -h printed "-namespace namespace" and "-addr string"
// where the README, the manual and docs/engine.md wrote NS and ADDR; runs
// -h "-status string" where the README wrote S and the manual STATE, gen
// -h "-o file" where both wrote FILE. A flag that two verbs share is named
// one way in both (-flow, -store, -target).
func TestDocsNameFlagArgumentsAsHelpDoes(t *testing.T) {
	var sets []*flag.FlagSet
	for _, v := range verbs {
		fs := flag.NewFlagSet(v.name, flag.ContinueOnError)
		v.flags(fs)
		sets = append(sets, fs)
	}
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil || len(docs) == 0 {
		t.Fatalf("docs/*.md: %v, %d files", err, len(docs))
	}
	for i, d := range docs {
		docs[i] = strings.TrimPrefix(d, "../../")
	}
	flagdoc.ArgNames(t, "../..", append([]string{"README.md", "cmd/flowgen/doc.go"}, docs...), sets...)
}
