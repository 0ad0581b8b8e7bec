package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A store directory may hold a subdirectory of another owner: flowgen
// serve keeps its flows in <store>/flows when -flows is not given. The
// store reads, compacts and removes only its own files, so such a
// directory opens as a new store, compacts, reopens (read-only too) and
// keeps the subdirectory and its files as they were.
func TestStoreKeepsAForeignSubdirectory(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "flows")
	file := filepath.Join(sub, "Greet.json")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(`{"version": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if ok, err := Exists(dir); err != nil || ok {
		t.Fatalf("Exists of a directory with only a subdirectory: %v, %v; want false, no store", ok, err)
	}
	st, err := Open(dir, compactOpts())
	if err != nil {
		t.Fatal(err)
	}
	w, err := writeWorkload(st, 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CompactAll(context.Background()); err != nil {
		t.Fatalf("compaction beside a subdirectory: %v", err)
	}
	w.check(t, st, true)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatalf("read-only open beside a subdirectory: %v", err)
	}
	w.check(t, ro, true)
	ro.Close()
	st, err = Open(dir, compactOpts())
	if err != nil {
		t.Fatalf("reopen beside a subdirectory: %v", err)
	}
	w.check(t, st, true)
	if _, err := st.CompactAll(context.Background()); err != nil {
		t.Fatalf("second compaction: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != `{"version": 1}` {
		t.Fatalf("the subdirectory's file after the store's life: %q, %v; want it untouched", b, err)
	}
}
