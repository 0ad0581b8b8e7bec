package store

import (
	"os"
	"path/filepath"
	"testing"
)

// A store's instance ID is made by its first Open and the same at every
// later one, read-only too; another store has its own. An engine's hold
// of its ID on a broker names it, so that the engine restarted on its
// store (after a kill -9 too) takes its ID back at once, where another
// process waits for the hold to expire.
func TestInstanceSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	first := s.Instance()
	if len(first) != 32 {
		t.Fatalf("Instance %q; want 32 hex digits", first)
	}
	s.Close()
	fi, err := os.Stat(filepath.Join(dir, "INSTANCE"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("INSTANCE mode %v; want 0600", fi.Mode().Perm())
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Instance(); got != first {
		t.Errorf("reopened: Instance %q; want %q", got, first)
	}
	ro, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := ro.Instance(); got != first {
		t.Errorf("read-only: Instance %q; want %q", got, first)
	}
	ro.Close()
	s.Close()
	other, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if other.Instance() == first {
		t.Errorf("two stores share the instance %q", first)
	}
}
