package flagerr

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

// A bad duration says what the flag wants, where the flag package says
// "parse error"; a good one is parsed as flag.Duration parses it, and -h
// shows its default as flag.Duration's does.
func TestDurationSaysWhatItWants(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	d := Duration(fs, "retain", 90*time.Second, "older than this `duration`")
	if *d != 90*time.Second || fs.Lookup("retain").DefValue != "1m30s" {
		t.Fatalf("default %v, shown %q; want 1m30s", *d, fs.Lookup("retain").DefValue)
	}
	err := fs.Parse([]string{"-retain", "xyz"})
	const want = `invalid value "xyz" for flag -retain: want a duration such as 720h or 30m`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("-retain xyz: %v, want %q...", err, want)
	}
	if err := fs.Parse([]string{"-retain", "720h"}); err != nil || *d != 720*time.Hour {
		t.Fatalf("-retain 720h: %v, %v", err, *d)
	}
	if name, _ := flag.UnquoteUsage(fs.Lookup("retain")); name != "duration" {
		t.Fatalf("-h shows -retain %s, want duration", name)
	}
}

// An empty path flag is an error that says so; a path is taken, and a
// flag left out is "".
func TestPathRefusesEmpty(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	p := Path(fs, "tokens", "`FILE` of tokens")
	if err := fs.Parse(nil); err != nil || *p != "" {
		t.Fatalf("no -tokens: %v, %q", err, *p)
	}
	err := fs.Parse([]string{"-tokens", ""})
	const want = `invalid value "" for flag -tokens: the flag is empty`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf(`-tokens "": %v, want %q...`, err, want)
	}
	if err := fs.Parse([]string{"-tokens=t.txt"}); err != nil || *p != "t.txt" {
		t.Fatalf("-tokens=t.txt: %v, %q", err, *p)
	}
	if name, _ := flag.UnquoteUsage(fs.Lookup("tokens")); name != "FILE" {
		t.Fatalf("-h shows -tokens %s, want FILE", name)
	}
}
