package wal

import (
	"os"
	"path/filepath"
)

// mkdirDurable creates dir if missing and syncs its parent so the new
// directory entry survives a crash.
func mkdirDurable(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return syncDir(filepath.Dir(filepath.Clean(dir)))
}
