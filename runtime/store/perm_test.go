//go:build unix

package store

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestStoreFilesPrivate: the store holds every run's state (what callers
// sent: e-mail addresses, payloads), which an engine's API shows only to
// whom it lets in. Under the common umask 022 its directory and files,
// the segments a compaction writes included, must still be its owner's
// alone (they were 0755 and 0644: any local user read every run).
func TestStoreFilesPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "store")
	st, err := Open(dir, compactOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w, err := writeWorkload(st, 50)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CompactAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.check(t, st, true)
	n := 0
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v: its group or others may read it", path, info.Mode().Perm())
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 { // the directory, LOCK, a segment at least
		t.Fatalf("%d files and directories checked", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "LOCK")); err != nil {
		t.Fatal(err)
	}
}
