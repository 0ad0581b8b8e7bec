package cli

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

// Every duration flag of every verb, -retain and serve's timeouts among
// them, says what it wants of a bad value (flagerr.DurationVar), not the
// flag package's "parse error", and -h names its value "duration".
func TestDurationFlagsSayWhatTheyWant(t *testing.T) {
	n := 0
	for _, v := range verbs {
		fs := flag.NewFlagSet(v.name, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		v.flags(fs)
		fs.VisitAll(func(f *flag.Flag) {
			g, ok := f.Value.(flag.Getter)
			if !ok {
				return
			}
			if _, ok := g.Get().(time.Duration); !ok {
				return
			}
			n++
			err := fs.Set(f.Name, "xyz")
			if err == nil || !strings.Contains(err.Error(), "want a duration such as 720h") {
				t.Errorf("%s -%s xyz: %v, want it to say what it wants", v.name, f.Name, err)
			}
			if name, _ := flag.UnquoteUsage(f); name != "duration" {
				t.Errorf("%s -h shows -%s %s, want -%[2]s duration", v.name, f.Name, name)
			}
		})
	}
	if n < 7 { // serve's -retain, -broker-max-age and four timeouts, compact's -retain
		t.Fatalf("found %d duration flags, want at least 7", n)
	}
}
