//go:build unix

package store

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestOpenTwiceInProcess: a second Open of a store this process has open
// (an engine's and the program's own, say) says so. It said "in use by
// another process", sending its reader to look for a process that does
// not exist.
func TestOpenTwiceInProcess(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "already open in this process") || strings.Contains(err.Error(), "another process") {
		t.Fatalf("second Open in this process: %v, want it to say the store is already open in this process", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenFile: a store opened on a file says the file is not a directory.
// Open said "open FILE/LOCK: not a directory", naming a LOCK file nobody
// made.
func TestOpenFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "runs")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := file + " is not a directory"
	if _, err := Open(file, Options{}); err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "LOCK") {
		t.Errorf("Open of a file: %v, want it to say %q", err, want)
	}
	if _, err := OpenReadOnly(file); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("OpenReadOnly of a file: %v, want it to say %q", err, want)
	}
}

// TestOpenNoDir: an empty directory name (an unset setting) is refused as
// such; it said "mkdir : no such file or directory".
func TestOpenNoDir(t *testing.T) {
	if _, err := Open("", Options{}); err == nil || !strings.Contains(err.Error(), "no directory given") {
		t.Errorf("Open(\"\"): %v, want \"no directory given\"", err)
	}
	if _, err := OpenReadOnly(""); err == nil || !strings.Contains(err.Error(), "no directory given") {
		t.Errorf("OpenReadOnly(\"\"): %v, want \"no directory given\"", err)
	}
}

// TestOpenHeldByAnotherProcess: while another process has a store open,
// Open fails and says so ("in use by another process"), writing nothing,
// also once its LOCK file was removed, OpenReadOnly reads it, and once
// that process dies (SIGKILL: it closes
// nothing) the kernel has dropped its lock and Open succeeds.
func TestOpenHeldByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(dir, Options{CompactEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	emitAll(t, st, fiveStepEvents("r1"))
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envLockChild+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "open\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q, %v", line, err)
	}
	before := segmentBytes(t, dir)
	if st, err := Open(dir, Options{CompactEvery: -1}); err == nil {
		st.Close()
		t.Fatal("Open of a store another process holds succeeded")
	} else if !strings.HasSuffix(err.Error(), "in use by another process") || !errors.Is(err, syscall.EWOULDBLOCK) || !errors.Is(err, ErrInUse) {
		// The text ends at what it means, without flock's "resource
		// temporarily unavailable"; the error still wraps it.
		t.Errorf("Open of a store another process holds: %v, want it to say so, and nothing after, wrapping EWOULDBLOCK and matching ErrInUse", err)
	}
	// LOCK stays after a clean stop, and may be taken for a stale lock
	// file: removed while the other process holds the store, it must not
	// let a second writer in. Before, Open locked a new LOCK and opened.
	if err := os.Remove(filepath.Join(dir, "LOCK")); err != nil {
		t.Fatal(err)
	}
	if st, err := Open(dir, Options{CompactEvery: -1}); err == nil {
		st.Close()
		t.Fatal("Open of a store another process holds, its LOCK removed, succeeded")
	} else if !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("Open of a store another process holds, its LOCK removed: %v, want it to say so", err)
	}
	ro, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatalf("OpenReadOnly beside the other process: %v", err)
	}
	if h, err := ro.Load("r1"); err != nil || len(h) != 6 {
		t.Errorf("read-only Load: %d events, %v", len(h), err)
	}
	ro.Close()
	if got := segmentBytes(t, dir); got != before {
		t.Errorf("the refused opens changed the segments")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	st, err = Open(dir, Options{CompactEvery: -1})
	if err != nil {
		t.Fatalf("Open once the holder died: %v", err)
	}
	defer st.Close()
	if h, err := st.Load("r1"); err != nil || len(h) != 6 {
		t.Errorf("Load after the holder died: %d events, %v", len(h), err)
	}
}

// segmentBytes is the contents of dir's segment files, concatenated.
func segmentBytes(t *testing.T, dir string) string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(p)
		b.Write(data)
	}
	return b.String()
}
