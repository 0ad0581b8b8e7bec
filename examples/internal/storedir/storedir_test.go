package storedir

import (
	"flag"
	"regexp"
	"testing"
)

// -store's help names its argument DIR and never glues it to a word: it
// read "DIRectory of the durable store", the placeholder cut out of a
// word, which reads as a typo.
func TestFlagUsage(t *testing.T) {
	fs := flag.NewFlagSet("example", flag.ContinueOnError)
	Flag(fs)
	name, usage := flag.UnquoteUsage(fs.Lookup("store"))
	if name != "DIR" || regexp.MustCompile(`DIR\w`).MatchString(usage) {
		t.Errorf("-store %s: %q; want -store DIR, and DIR a word of its own", name, usage)
	}
}
