//go:build !unix

package wal

import "os"

// lockDir is a no-op where advisory locks are not available.
func lockDir(dir string) ([]*os.File, error) { return nil, nil }

func unlockDir([]*os.File) error { return nil }

func noRoom(error) bool { return false }
