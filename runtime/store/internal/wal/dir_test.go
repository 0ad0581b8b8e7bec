package wal

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestMkdirSyncsEveryNewParent: a store directory Open creates along with
// missing parents ("data/runs", data new too) has each new directory's
// entry synced in its parent, deepest first, so that none of them can be
// lost to a crash once a record is acknowledged. Only the store
// directory's own parent was synced: data's entry in its parent was not.
func TestMkdirSyncsEveryNewParent(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "data", "x", "runs")
	var synced []string
	record := func(d string) error { synced = append(synced, d); return nil }
	if err := mkdirDurable(dir, record); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("%s: %v", dir, err)
	}
	want := []string{filepath.Join(base, "data", "x"), filepath.Join(base, "data"), base}
	if !slices.Equal(synced, want) {
		t.Errorf("synced %q, want %q", synced, want)
	}
	// An existing directory: nothing to create, nothing to sync.
	synced = nil
	if err := mkdirDurable(dir, record); err != nil || len(synced) != 0 {
		t.Errorf("existing directory: synced %q, %v", synced, err)
	}
}
