package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// temporalCommand is the program that serves JSON flows on Temporal. It
// lives in the Temporal module (temporal/cmd/flowgen-temporal), so that
// this command, and the core module, never link or download Temporal:
// `flowgen serve -temporal` runs it in its place.
const temporalCommand = "flowgen-temporal"

// temporalFlags registers serve's Temporal flags and returns -temporal's
// value. -namespace and -task-queue are only passed on: flowgen-temporal
// parses them, and has their defaults.
func temporalFlags(fs *flag.FlagSet) *string {
	addr := fs.String("temporal", "", "run the flows on the Temporal cluster at `HOST:PORT` instead of the embedded store: serve then runs "+temporalCommand+" serve with the same flags (docs/temporal.md)")
	fs.String(namespaceFlag, "", "with -temporal: the Temporal namespace `NS` (unset: "+temporalCommand+"'s default)")
	fs.String(taskQueueFlag, "", "with -temporal: the Temporal task queue `Q` of the runs, the same for every serve process of a deployment (unset: "+temporalCommand+"'s default)")
	return addr
}

// The flags that only -temporal reads.
const (
	namespaceFlag = "namespace"
	taskQueueFlag = "task-queue"
)

// checkTemporalOnly refuses the flags that only -temporal reads when serve
// runs on its store: ignored, they would leave whoever forgot -temporal
// believing the runs are on the cluster.
func checkTemporalOnly(fs *flag.FlagSet) error {
	var set []string
	fs.Visit(func(f *flag.Flag) {
		if f.Name == namespaceFlag || f.Name == taskQueueFlag {
			set = append(set, "-"+f.Name)
		}
	})
	if len(set) == 0 {
		return nil
	}
	return fmt.Errorf("%s: only read with -temporal HOST:PORT; without it, serve runs the flows on -store", strings.Join(set, ", "))
}

// serveOnTemporal replaces this process with `flowgen-temporal serve` and
// the arguments serve was given (execTemporal): the same process, so that
// signals and the exit status are flowgen-temporal's own. It looks for
// flowgen-temporal beside this executable, then on PATH; without it, it
// says how to install it and exits 2.
func serveOnTemporal(e *env) int {
	path, err := findTemporalCommand()
	if err != nil {
		return usageError(e, "-temporal runs %s, which is not installed (%v): install it from a checkout of flowgen with (cd temporal && go install ./cmd/%s)",
			temporalCommand, err, temporalCommand)
	}
	args := append([]string{temporalCommand, "serve"}, e.args...)
	if err := execTemporal(path, args); err != nil {
		return failf(e, "serve: running %s: %v", path, err)
	}
	return exitOK // not reached: execTemporal returns only on failure
}

// findTemporalCommand finds flowgen-temporal beside the running executable
// (both installed together), else on PATH.
func findTemporalCommand() (string, error) {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), temporalCommand)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath(temporalCommand)
	if errors.Is(err, exec.ErrNotFound) {
		return "", errors.New("not beside flowgen nor on PATH")
	}
	return p, err
}
