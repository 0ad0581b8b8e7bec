//go:build unix

package store

import (
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
