//go:build !unix

package wal

import "os"

// lockDir is a no-op where advisory locks are not available.
func lockDir(dir string) (*os.File, error) { return os.Open(dir) }

func unlockDir(f *os.File) error { return f.Close() }

func syncDir(dir string) error { return nil }
