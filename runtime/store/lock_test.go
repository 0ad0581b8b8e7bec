//go:build unix

package store

import (
	"os"
	"path/filepath"
	"strings"
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
