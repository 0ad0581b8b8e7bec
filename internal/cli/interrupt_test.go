//go:build unix

package cli

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/flowgen/flowgen/internal/atomicfile"
)

// Ctrl-C while gen or fmt -w writes its files (SIGINT in the middle of
// the write) stops the write before its renames: every file is as it was,
// no temporary file is left in the directory, and the exit status is the
// shell's for a process SIGINT ended (130); for SIGTERM, 143, as the
// README and the manual say. It used to kill the process between creating
// the temporary files and renaming them, leaving them.
func TestInterruptedWriteLeavesNothing(t *testing.T) {
	orig := writeFiles
	t.Cleanup(func() { writeFiles = orig })
	sig := syscall.SIGINT
	writeFiles = func(ctx context.Context, files []atomicfile.File) error {
		// The signal comes once the command is writing, as Ctrl-C would.
		if err := syscall.Kill(os.Getpid(), sig); err != nil {
			t.Error(err)
		}
		<-ctx.Done()
		return orig(ctx, files)
	}
	const src = "flow A {\n  step One {   irreversible }\n}\n"
	for _, c := range []struct {
		sig  syscall.Signal
		code int
		args []string
	}{
		{syscall.SIGINT, 130, []string{"fmt", "-w", "a.flow", "b.flow"}},
		{syscall.SIGINT, 130, []string{"gen", "-nopkg", "-pkg", "p", "a.flow", "b.flow"}},
		{syscall.SIGTERM, 143, []string{"fmt", "-w", "a.flow", "b.flow"}},
		{syscall.SIGTERM, 143, []string{"gen", "-nopkg", "-pkg", "p", "a.flow", "b.flow"}},
	} {
		sig = c.sig // the signal writeFiles sends
		args := c.args
		t.Run(args[0]+"/"+sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			for _, name := range []string{"a.flow", "b.flow"} {
				if err := os.WriteFile(name, []byte(strings.Replace(src, "A", strings.ToUpper(name[:1]), 1)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			code, _, stderr := runCLI(args...)
			if code != c.code || !strings.Contains(stderr, "interrupted") {
				t.Errorf("%v: exit %d, stderr %q; want %d and why", args, code, stderr, c.code)
			}
			if got, want := dirEntries(t, dir), []string{"a.flow", "b.flow"}; !slices.Equal(got, want) {
				t.Errorf("%v: directory holds %q, want %q", args, got, want)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "a.flow")); string(b) != src {
				t.Errorf("%v: a.flow was rewritten:\n%s", args, b)
			}
		})
	}
}
