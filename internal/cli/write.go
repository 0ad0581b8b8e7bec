package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/flowgen/flowgen/internal/atomicfile"
)

// writeFiles is atomicfile.WriteFilesContext; a test replaces it to be
// interrupted part-way.
var writeFiles = atomicfile.WriteFilesContext

// interrupted is the cause of a write that a signal stopped.
type interrupted struct{ sig os.Signal }

func (i interrupted) Error() string { return i.sig.String() }

// writeAll writes the files of gen or fmt -w, all or none. A SIGINT
// (Ctrl-C) or SIGTERM while they are written would kill the process
// between creating the temporary files and renaming them, leaving the
// temporary files behind; instead the write stops before its renames, so
// every file stays as it was and no temporary file is left, and the exit
// status is the one the shell reports for a process the signal ended
// (128 + its number: 130 for SIGINT). Once the renames have begun they
// finish, and the command succeeds. Before the write, the signal ends
// the process as usual: nothing is written yet.
func writeAll(e *env, files []atomicfile.File) int {
	if len(files) == 0 {
		return exitOK
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		select {
		case sig := <-sigs:
			cancel(interrupted{sig})
		case <-ctx.Done():
		}
	}()
	err := writeFiles(ctx, files)
	var in interrupted
	if errors.Is(err, context.Canceled) && errors.As(context.Cause(ctx), &in) {
		fmt.Fprintf(e.stderr, "flowgen: interrupted (%v): no file was written\n", in.sig)
		if n, ok := in.sig.(syscall.Signal); ok {
			return 128 + int(n)
		}
		return exitError
	}
	if err != nil {
		return failf(e, "%s", pathError(e, err))
	}
	return exitOK
}
