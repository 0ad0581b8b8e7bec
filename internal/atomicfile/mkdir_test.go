package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// TestMkdirAllSyncsEveryNewParent: a directory made along with missing
// parents ("data/x/runs", data new too) has each new directory's entry
// synced in its parent, deepest first, so that none of them can be lost
// to a crash once a file in it is acknowledged. The engine's flows
// directory synced only its own parent, and made the parents 0755.
func TestMkdirAllSyncsEveryNewParent(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "data", "x", "runs")
	var synced []string
	record := func(d string) error { synced = append(synced, d); return nil }
	if err := mkdirAll(dir, 0o700, record); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Dir(dir), filepath.Join(base, "data")} {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, %v; want a directory with mode 0700", d, fi, err)
		}
	}
	want := []string{filepath.Join(base, "data", "x"), filepath.Join(base, "data"), base}
	if !slices.Equal(synced, want) {
		t.Errorf("synced %q, want %q", synced, want)
	}
	// An existing directory: nothing to make, nothing to sync, its mode kept.
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	synced = nil
	if err := mkdirAll(dir, 0o700, record); err != nil || len(synced) != 0 {
		t.Errorf("existing directory: synced %q, %v", synced, err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o750 {
		t.Errorf("existing directory's mode changed to %v", fi.Mode().Perm())
	}
	if err := MkdirAll(dir, 0o700); err != nil {
		t.Errorf("MkdirAll of an existing directory: %v", err)
	}
}

// TestMkdirAllNotADirectory: a path that is a file is refused as not a
// directory, and left as it is.
func TestMkdirAllNotADirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "flows")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := MkdirAll(file, 0o700); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("MkdirAll of a file: %v, want ENOTDIR", err)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "x" {
		t.Errorf("file changed: %q, %v", b, err)
	}
}
