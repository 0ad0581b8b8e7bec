package flagerr

import (
	"flag"
	"io"
	"testing"
)

// Unknown reads what the flag package of this Go release says, one dash or
// two; any other error is not an unknown flag.
func TestUnknown(t *testing.T) {
	parse := func(args ...string) error {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Int("n", 0, "")
		return fs.Parse(args)
	}
	for _, args := range [][]string{{"-tokenz"}, {"--tokenz"}, {"-tokenz=x"}} {
		if name, ok := Unknown(parse(args...)); !ok || name != "tokenz" {
			t.Errorf("Unknown(parse(%q)) = %q, %v; want tokenz, true", args, name, ok)
		}
	}
	for _, args := range [][]string{{"-n", "abc"}, {"-h"}, {}} {
		if name, ok := Unknown(parse(args...)); ok {
			t.Errorf("Unknown(parse(%q)) = %q, true; want false", args, name)
		}
	}
}
