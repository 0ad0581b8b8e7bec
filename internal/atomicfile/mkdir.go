package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// MkdirAll makes dir, with its missing parents, each with perm, and syncs
// the parent of every directory it made, deepest first, so that each new
// entry on the way outlives a crash: a file written into dir and synced
// is then reachable after a power cut, not lost with a directory whose
// own entry never reached the disk. A dir that exists is left as it is
// (its owner chose its mode); one that is not a directory is an error
// (ENOTDIR). The project's stores and flows directories are made by it.
func MkdirAll(dir string, perm fs.FileMode) error {
	return mkdirAll(dir, perm, SyncDir)
}

// mkdirAll is MkdirAll with the directory sync given, for tests to
// record.
func mkdirAll(dir string, perm fs.FileMode, sync func(string) error) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
		}
		return nil
	}
	var made []string // deepest first
	for d := filepath.Clean(dir); ; {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		made = append(made, d)
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if err := os.MkdirAll(dir, perm); err != nil {
		return err
	}
	for _, d := range made {
		if err := sync(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}
