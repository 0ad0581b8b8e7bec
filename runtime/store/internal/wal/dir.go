package wal

import (
	"fmt"
	"os"

	"github.com/flowgen/flowgen/internal/atomicfile"
)

// The log's files hold every run's state (what callers sent: e-mail
// addresses, payloads), which an engine's API shows only to those it
// lets in: they are the owner's alone, as the flows directory's are,
// whatever the umask. Files made before keep their modes.
const (
	dirPerm  = 0o700
	filePerm = 0o600
)

// mkdirDurable makes dir, with its missing parents, each new entry
// synced into its parent (atomicfile.MkdirAll), so that no directory on
// the way to an acknowledged record can be lost to a crash. A dir that is
// not a directory is named as such.
func mkdirDurable(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		return isDir(dir, fi)
	}
	return atomicfile.MkdirAll(dir, dirPerm)
}

// isDir reports a dir that is not a directory as such, rather than as the
// error of opening a file in it ("open DIR/LOCK: not a directory").
func isDir(dir string, fi os.FileInfo) error {
	if !fi.IsDir() {
		return fmt.Errorf("wal: %s is not a directory: a log is a directory of segment files", dir)
	}
	return nil
}
