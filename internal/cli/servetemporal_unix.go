//go:build unix

package cli

import (
	"os"
	"syscall"
)

// execTemporal replaces this process with the program at path: signals
// reach it as they would reach serve, and its exit status is the
// command's. It returns only when the replacement failed.
func execTemporal(path string, args []string) error {
	return syscall.Exec(path, args, os.Environ())
}
