package store

import (
	"os"
	"syscall"
)

// syncData is the sync the log uses (fdatasync), for the raw baselines.
func syncData(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
