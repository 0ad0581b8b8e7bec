package wal

import (
	"fmt"
	"os"
	"path/filepath"
)

// The log's files hold every run's state (what callers sent: e-mail
// addresses, payloads), which an engine's API shows only to those it
// lets in: they are the owner's alone, as the flows directory's are,
// whatever the umask. Files made before keep their modes.
const (
	dirPerm  = 0o700
	filePerm = 0o600
)

// mkdirDurable creates dir if missing, with its missing parents, and
// syncs the parent of each directory it created (sync: syncDir), deepest
// first, so that every new directory entry on the way survives a crash.
func mkdirDurable(dir string, sync func(string) error) error {
	if fi, err := os.Stat(dir); err == nil {
		return isDir(dir, fi)
	}
	var created []string // deepest first
	for d := filepath.Clean(dir); ; {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		created = append(created, d)
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return err
	}
	for _, d := range created {
		if err := sync(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// isDir reports a dir that is not a directory as such, rather than as the
// error of opening a file in it ("open DIR/LOCK: not a directory").
func isDir(dir string, fi os.FileInfo) error {
	if !fi.IsDir() {
		return fmt.Errorf("wal: %s is not a directory: a log is a directory of segment files", dir)
	}
	return nil
}
