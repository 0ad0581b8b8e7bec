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

// Closest names the flag of the set closest to an unknown one, if any is
// within reach; nothing for another error.
func TestClosest(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("tokens", "", "")
	fs.Int("n", 0, "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-tokenz"}, "tokens"},
		{[]string{"--token"}, "tokens"},
		{[]string{"-store"}, ""},
		{[]string{"-m"}, ""},
		{[]string{"-n", "abc"}, ""},
	} {
		if got := Closest(fs.Parse(c.args), fs); got != c.want {
			t.Errorf("Closest after %q = %q, want %q", c.args, got, c.want)
		}
	}
}
