//go:build unix

package wal

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestReplaceSyncedMakesANewTmp: replaceSynced (INSTANCE, the compaction
// manifest) writes a new .tmp, never one that is there already. Before, it
// opened the .tmp with O_TRUNC and no O_EXCL: a symbolic link planted
// there had the file it names overwritten and then stood in the file's
// place, and a leftover's mode (0644) was kept. A step that fails
// leaves no .tmp behind.
func TestReplaceSyncedMakesANewTmp(t *testing.T) {
	sync := func(f *os.File) error { return f.Sync() }

	t.Run("leftover", func(t *testing.T) {
		dir := t.TempDir()
		tmp := filepath.Join(dir, "X.tmp")
		if err := os.WriteFile(tmp, []byte("half a crash's write, longer than the new one"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(tmp, 0o644); err != nil { // whatever the umask
			t.Fatal(err)
		}
		if err := replaceSynced(dir, "X", []byte("new"), sync); err != nil {
			t.Fatal(err)
		}
		checkReplaced(t, dir, "new")
	})

	t.Run("link", func(t *testing.T) {
		dir, elsewhere := t.TempDir(), filepath.Join(t.TempDir(), "precious")
		if err := os.WriteFile(elsewhere, []byte("precious"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(elsewhere, filepath.Join(dir, "X.tmp")); err != nil {
			t.Fatal(err)
		}
		if err := replaceSynced(dir, "X", []byte("new"), sync); err != nil {
			t.Fatal(err)
		}
		checkReplaced(t, dir, "new")
		if b, err := os.ReadFile(elsewhere); err != nil || string(b) != "precious" {
			t.Errorf("the file the link named: %q, %v; want it untouched", b, err)
		}
	})

	t.Run("failed rename", func(t *testing.T) {
		dir := t.TempDir()
		// A directory that is not empty cannot be renamed over.
		if err := os.MkdirAll(filepath.Join(dir, "X", "in"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := replaceSynced(dir, "X", []byte("new"), sync); err == nil {
			t.Fatal("rename over a directory succeeded")
		}
		if _, err := os.Lstat(filepath.Join(dir, "X.tmp")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("X.tmp after a failed rename: %v; want it gone", err)
		}
	})

	t.Run("failed sync", func(t *testing.T) {
		dir := t.TempDir()
		boom := errors.New("sync failed")
		if err := replaceSynced(dir, "X", []byte("new"), func(*os.File) error { return boom }); !errors.Is(err, boom) {
			t.Fatalf("replaceSynced = %v; want %v", err, boom)
		}
		for _, name := range []string{"X", "X.tmp"} {
			if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s after a failed sync: %v; want none", name, err)
			}
		}
	})
}

// checkReplaced checks that dir/X is a regular file of mode 0600 holding
// want, and that no X.tmp is left.
func checkReplaced(t *testing.T, dir, want string) {
	t.Helper()
	path := filepath.Join(dir, "X")
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != filePerm {
		t.Errorf("X is %v; want a regular file, %v", fi.Mode(), os.FileMode(filePerm))
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != want {
		t.Errorf("X holds %q, %v; want %q", b, err, want)
	}
	if _, err := os.Lstat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("X.tmp: %v; want it gone", err)
	}
}

// TestRewriteMakesNewFiles: a compaction's new segments (compact.j) are
// new files too. Before, a symbolic link planted at compact.0 after Open
// had the file it names truncated and written with the kept records.
func TestRewriteMakesNewFiles(t *testing.T) {
	dir, elsewhere := t.TempDir(), filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(elsewhere, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := sealedLog(t, dir, 512, 20)
	defer l.Close()
	if err := os.Symlink(elsewhere, compactPath(dir, 0)); err != nil {
		t.Fatal(err)
	}
	hi := rewriteAll(t, l)
	if b, err := os.ReadFile(elsewhere); err != nil || string(b) != "precious" {
		t.Errorf("the file the link named: %d bytes, %v; want it untouched", len(b), err)
	}
	fi, err := os.Lstat(SegmentPath(dir, hi))
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("the new segment %d: %v, %v; want a regular file", hi, fi, err)
	}
}

// rewriteAll compacts l's sealed segments keeping every record, and
// returns the last of them.
func rewriteAll(t *testing.T, l *Log) uint64 {
	t.Helper()
	lo, hi, _ := l.Sealed()
	rw, err := l.Rewrite(lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Scan(lo, hi, func(_ Pos, p []byte) error { _, err := rw.Add(p); return err }); err != nil {
		t.Fatal(err)
	}
	if err := rw.Prepare(); err != nil {
		t.Fatal(err)
	}
	if err := rw.Commit(); err != nil {
		t.Fatal(err)
	}
	return hi
}
