package wal

import (
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

// mkdirDurable creates dir if missing and syncs its parent so the new
// directory entry survives a crash.
func mkdirDurable(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return err
	}
	return syncDir(filepath.Dir(filepath.Clean(dir)))
}
