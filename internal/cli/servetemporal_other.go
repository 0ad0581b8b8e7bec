//go:build !unix

package cli

import (
	"errors"
	"os"
	"os/exec"
)

// execTemporal runs the program at path in the foreground where a process
// cannot replace itself, and exits with its status (interrupts reach both
// processes from the console).
func execTemporal(path string, args []string) error {
	cmd := exec.Command(path, args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		os.Exit(exit.ExitCode())
	}
	if err == nil {
		os.Exit(0)
	}
	return err
}
