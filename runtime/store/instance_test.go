package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
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

// TestDamagedInstanceIsRefused: an INSTANCE that holds no instance ID, in
// a store that holds runs, makes Open fail, naming the file and what to
// do, and leaves it as it is; before, Open quietly made a new ID, and the
// engine restarted on the store was taken for another process by its
// broker. OpenReadOnly still reads the store (with no instance). Once the
// operator removed the file, Open makes a new ID. In a store that holds
// no record the damaged file is replaced: nothing had an identity yet.
func TestDamagedInstanceIsRefused(t *testing.T) {
	for name, damage := range map[string][]byte{
		"empty":       {},
		"zeros":       make([]byte, 33),
		"short":       []byte("0123456789abcdef\n"),
		"not hex":     []byte("0123456789abcdef0123456789abcdeg\n"),
		"one more":    []byte("0123456789abcdef0123456789abcdef0\n"),
		"larger":      bytes.Repeat([]byte("0123456789abcdef"), 100),
		"two entries": []byte("0123456789abcdef0123456789abcdef\n0123456789abcdef0123456789abcdef\n"),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, Options{CompactEvery: -1})
			if err != nil {
				t.Fatal(err)
			}
			emitAll(t, s, history("r1", "F", doneRun...))
			s.Close()
			path := filepath.Join(dir, "INSTANCE")
			if err := os.WriteFile(path, damage, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err = Open(dir, Options{CompactEvery: -1})
			var ie *InstanceError
			if !errors.Is(err, ErrInstance) || !errors.As(err, &ie) || ie.Path != path ||
				!strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "restore the file") || !strings.Contains(err.Error(), "remove the file") {
				t.Fatalf("Open = %v; want an *InstanceError naming %s and what to do", err, path)
			}
			if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, damage) {
				t.Fatalf("INSTANCE after the refused Open: %q, %v; want it as it was", b, err)
			}
			ro, err := OpenReadOnly(dir)
			if err != nil {
				t.Fatalf("OpenReadOnly: %v", err)
			}
			if h, err := ro.Load("r1"); err != nil || len(h) != len(doneRun) || ro.Instance() != "" {
				t.Errorf("read-only: %d events, %v, instance %q; want %d, none", len(h), err, ro.Instance(), len(doneRun))
			}
			ro.Close()
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			s, err = Open(dir, Options{CompactEvery: -1})
			if err != nil {
				t.Fatalf("Open once the file was removed: %v", err)
			}
			defer s.Close()
			if len(s.Instance()) != 32 {
				t.Errorf("Instance %q; want a new one", s.Instance())
			}
		})
	}

	dir := t.TempDir()
	s, err := Open(dir, Options{CompactEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	old := s.Instance()
	s.Close()
	if err := os.WriteFile(filepath.Join(dir, "INSTANCE"), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{CompactEvery: -1})
	if err != nil {
		t.Fatalf("a store that holds no record: %v; want a new ID", err)
	}
	defer s.Close()
	if got := s.Instance(); len(got) != 32 || got == old {
		t.Errorf("Instance %q; want a new one", got)
	}
}

// TestInstanceTmpLinkIsNotFollowed: a store without an INSTANCE (made
// before it existed) whose INSTANCE.tmp is a symbolic link: Open makes
// INSTANCE a regular file of its own and leaves the file the link names
// alone. Before, it wrote the ID into that file and renamed the link
// into INSTANCE's place.
func TestInstanceTmpLinkIsNotFollowed(t *testing.T) {
	dir, elsewhere := t.TempDir(), filepath.Join(t.TempDir(), "precious")
	s, err := Open(dir, Options{CompactEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	emitAll(t, s, history("r1", "F", doneRun...))
	s.Close()
	if err := os.Remove(filepath.Join(dir, "INSTANCE")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(elsewhere, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(dir, "INSTANCE.tmp")); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{CompactEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if b, err := os.ReadFile(elsewhere); err != nil || string(b) != "precious" {
		t.Errorf("the file the link named holds %q, %v; want it untouched", b, err)
	}
	fi, err := os.Lstat(filepath.Join(dir, "INSTANCE"))
	if err != nil || !fi.Mode().IsRegular() || len(s.Instance()) != 32 {
		t.Errorf("INSTANCE: %v, %v, instance %q; want a regular file with an ID", fi, err, s.Instance())
	}
}
