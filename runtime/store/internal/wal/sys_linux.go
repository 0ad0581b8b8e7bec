//go:build linux

package wal

import (
	"os"
	"syscall"
)

// syncFile uses fdatasync: appends change the file size, which fdatasync
// flushes too (it is needed to read the data back), so it is as durable as
// fsync here and skips the timestamp update.
func syncFile(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
