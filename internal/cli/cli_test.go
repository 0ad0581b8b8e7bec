package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fmt -w does not touch a file that is already canonical (its modification
// time stays), so build tools watching it do not rebuild.
func TestFmtWriteSkipsUnchanged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.flow")
	src := "flow A {\n    state S\n\n    step One {\n        irreversible\n    }\n}\n"
	var out, errb bytes.Buffer
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// Make sure the canonical form is what we wrote; otherwise this test
	// would prove nothing.
	if code := Main([]string{"fmt", path}, nil, &out, &errb); code != 0 || out.String() != src {
		t.Fatalf("fmt: exit %d, output %q (stderr %s); fix the test's source to the canonical layout", code, out.String(), errb.String())
	}
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	if code := Main([]string{"fmt", "-w", path}, nil, &out, &errb); code != 0 {
		t.Fatalf("fmt -w: exit %d: %s", code, errb.String())
	}
	st, _ := os.Stat(path)
	if !st.ModTime().Equal(old) {
		t.Errorf("fmt -w rewrote an unchanged file (mtime %v, want %v)", st.ModTime(), old)
	}
}

func TestDisplay(t *testing.T) {
	e := &env{cwd: filepath.FromSlash("/home/u/proj")}
	for in, want := range map[string]string{
		"a.flow":               "a.flow",
		"./sub/../a.flow":      "a.flow",
		"../x/a.flow":          "../x/a.flow",
		"/home/u/proj/a.flow":  "a.flow",
		"/home/u/proj/d/a.flo": "d/a.flo",
		"/home/u/other/a.flow": "../other/a.flow",
		"/etc/a.flow":          "/etc/a.flow", // not ../../../etc/a.flow
	} {
		if got := e.display(filepath.FromSlash(in)); got != want {
			t.Errorf("display(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSuggestVerb(t *testing.T) {
	for in, want := range map[string]string{
		"chek": "check", "fmtt": "fmt", "grpah": "graph", "jsn": "json",
		"verison": "version", "CHECK": "check", "zzzzzz": "", "x": "",
		"dot": "graph -format dot", "mermaid": "graph -format mermaid", "SVG": "graph -format svg",
	} {
		if got := suggestVerb(in); got != want {
			t.Errorf("suggestVerb(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every verb answers -h with its usage on stderr and exit 0, and rejects an
// unknown flag with exit 2.
func TestEveryVerbHelp(t *testing.T) {
	for _, v := range verbs {
		var out, errb bytes.Buffer
		if code := Main([]string{v.name, "-h"}, nil, &out, &errb); code != 0 || !strings.HasPrefix(errb.String(), "usage: flowgen "+v.name) || out.Len() > 0 {
			t.Errorf("%s -h: exit %d, stderr %q, stdout %q", v.name, code, errb.String(), out.String())
		}
		out.Reset()
		errb.Reset()
		if code := Main([]string{v.name, "-no-such-flag"}, nil, &out, &errb); code != 2 {
			t.Errorf("%s -no-such-flag: exit %d, want 2", v.name, code)
		}
	}
}

// fmt -w writes every file that changes or, when one of them cannot be
// written, none, as gen does: the first file, which could be written, is
// left as it was too.
func TestFmtWriteAllOrNone(t *testing.T) {
	const messy = "flow A {\n  step One { irreversible }\n}\n"
	for _, tt := range []struct {
		name string
		// blocked returns the path of a file whose rewrite fails, created
		// under dir.
		blocked func(t *testing.T, dir string) string
	}{
		{"name too long for a temporary file", func(t *testing.T, dir string) string {
			// A name the file system takes, but not with the temporary
			// file's prefix and suffix: its creation fails, even as root.
			return filepath.Join(dir, strings.Repeat("n", 245)+".flow")
		}},
		{"read-only directory", func(t *testing.T, dir string) string {
			if os.Geteuid() == 0 {
				t.Skip("running as root, which a read-only directory does not stop")
			}
			ro := filepath.Join(dir, "ro")
			if err := os.Mkdir(ro, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(ro, "b.flow")
			if err := os.WriteFile(path, []byte(messy), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(ro, 0o555); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(ro, 0o755) })
			return path
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			first := filepath.Join(dir, "a.flow")
			if err := os.WriteFile(first, []byte(messy), 0o644); err != nil {
				t.Fatal(err)
			}
			blocked := tt.blocked(t, dir)
			if _, err := os.Stat(blocked); os.IsNotExist(err) {
				if err := os.WriteFile(blocked, []byte(messy), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			code, _, stderr := runCLI("fmt", "-w", first, blocked)
			if code != exitError || stderr == "" {
				t.Fatalf("fmt -w: exit %d, stderr %q; want an error", code, stderr)
			}
			for _, p := range []string{first, blocked} {
				if b, err := os.ReadFile(p); err != nil || string(b) != messy {
					t.Errorf("after a failed fmt -w, %s holds %q (%v); want it unchanged", filepath.Base(p), b, err)
				}
			}
		})
	}
}

// A flag after the files is not a flag to the flag package but one more
// file, which used to end in "open -nopkg: no such file or directory", exit
// 1: a new user's "flowgen check x.flow -nopkg" is a usage error that says
// where flags go. A file of that name, if there is one, is still read.
func TestFlagAfterArguments(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile("x.flow", []byte("flow X {\n    step A {\n        irreversible\n    }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"check", "x.flow", "-nopkg"},
		{"x.flow", "-nopkg"},
		{"gen", "x.flow", "-o=y.go"},
		{"fmt", "x.flow", "--w"},
		{"graph", "x.flow", "-format", "svg"},
	} {
		code, _, stderr := runCLI(args...)
		if code != exitUsage || !strings.Contains(stderr, "flags go before") {
			t.Errorf("%q: exit %d, stderr %q; want 2 and where flags go", args, code, stderr)
		}
	}
	if _, err := os.Stat("y.go"); err == nil {
		t.Error("gen wrote y.go")
	}
	// Not a flag of the verb: a file name like any other.
	if code, _, stderr := runCLI("check", "-nopkg", "x.flow", "-nofile"); code != exitError || !strings.Contains(stderr, "open -nofile") {
		t.Errorf("check x.flow -nofile: exit %d, %q; want 1, the file cannot be read", code, stderr)
	}
	// A file that is there is read, whatever its name.
	if err := os.WriteFile("-nopkg", []byte("flow Y {\n    step B {\n        irreversible\n    }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI("check", "-nopkg", "x.flow", "-nopkg"); code != exitOK {
		t.Errorf("check x.flow with a file named -nopkg: exit %d, %q", code, stderr)
	}
}

// A verb written as a flag (flowgen --version, flowgen -check x.flow) went
// to gen, whose error named gen's flags ("flowgen gen: flag provided but
// not defined: -version"); it is a usage error that names the verb.
func TestVerbAsFlag(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}, {"-check", "x.flow"}, {"--fmt=1"}} {
		code, _, stderr := runCLI(args...)
		verb := strings.TrimLeft(strings.SplitN(args[0], "=", 2)[0], "-")
		if code != exitUsage || strings.Contains(stderr, "flowgen gen") || !strings.Contains(stderr, "flowgen "+verb) {
			t.Errorf("%q: exit %d, stderr %q; want 2, naming the verb %s", args, code, stderr, verb)
		}
	}
}

// help is a verb of the synopsis (flowgen help [verb]), so "flowgen help
// help" prints the overview, as "flowgen help" does, rather than "unknown
// verb".
func TestHelpHelp(t *testing.T) {
	code, stdout, stderr := runCLI("help", "help")
	_, want, _ := runCLI("help")
	if code != exitOK || stdout != want || stderr != "" {
		t.Errorf("help help: exit %d, stdout %q, stderr %q; want 0 and the overview", code, stdout, stderr)
	}
}

// The overview's exit statuses are the README's: it left out 143, the
// status of gen or fmt -w stopped by SIGTERM while writing, which the
// README and the manual give.
func TestHelpExitStatuses(t *testing.T) {
	_, stdout, _ := runCLI("help")
	_, line, ok := strings.Cut(stdout, "exit status:")
	if !ok {
		t.Fatalf("the overview has no exit status line:\n%s", stdout)
	}
	for _, want := range []string{"0 ok", "1 errors", "2 usage errors", "130", "143", "SIGINT", "SIGTERM"} {
		if !strings.Contains(line, want) {
			t.Errorf("the overview's exit statuses do not say %q:%s", want, line)
		}
	}
}
