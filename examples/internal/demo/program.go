// Package demo is the scaffolding that the runnable examples (signup,
// order, cancellation) share around their flows: the command line and
// its exit statuses, the tag of a process's runs, the crash of the
// kill-and-resume demo, the printing of histories as runs go and after a
// resume, and the file in which the fake services keep their data. It
// lives here once so that the examples behave and print alike, and so
// that each example's own files show only its flow: how it is built, its
// handlers and services, and its scenarios.
package demo

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/examples/internal/storedir"
)

// Program is an example program's command line: -store, and -crash-after
// when CrashAfter (its usage) is not empty; Columns lay out the history
// lines it prints as its runs go.
type Program struct {
	Name       string
	CrashAfter string
	Columns    Columns
}

// Main runs body on the store's directory (storedir: -store, or a new
// temporary one removed at exit) with the Live output for stdout and
// -crash-after, and returns the program's exit status: 2 for a usage
// error (a bad flag, an argument, -crash-after without -store, or a usage
// error body returns), 1 when body fails otherwise. The errors go to
// stderr, prefixed with the program's name.
func (p Program) Main(args []string, stdout, stderr io.Writer, body func(dir string, live *Live) error) int {
	fs := flag.NewFlagSet(p.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	store := storedir.Flag(fs)
	crashAfter := new(string)
	if p.CrashAfter != "" {
		crashAfter = fs.String("crash-after", "", p.CrashAfter)
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", p.Name, fs.Arg(0))
		fs.Usage()
		return 2
	}
	if err := storedir.CheckCrashAfter(*store, *crashAfter); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", p.Name, err)
		fs.Usage()
		return 2
	}
	// A -store directory this process makes is its own to take back when
	// the command line turns out wrong (-crash-after a step the flows do
	// not have): a usage error leaves nothing on disk.
	_, statErr := os.Stat(*store)
	made := *store != "" && errors.Is(statErr, os.ErrNotExist)
	dir, err := storedir.Open(p.Name, *store)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", p.Name, err)
		return 1
	}
	// Removed after body has closed the store.
	defer dir.Remove()
	if err := body(dir.Path, NewLive(stdout, p.Columns, *crashAfter)); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", p.Name, err)
		if errors.As(err, new(usageError)) {
			if made {
				_ = os.RemoveAll(dir.Path)
			}
			return 2
		}
		return 1
	}
	dir.Farewell(stdout)
	return 0
}

// usageError is a bad command line that only the built flow can tell:
// Main exits 2 for it.
type usageError string

func (e usageError) Error() string { return string(e) }

// CheckStep returns a usage error when the step of -crash-after is not
// one of steps, the steps of flows whose completion the crash can follow
// (nil without -crash-after).
func (l *Live) CheckStep(steps []string, flows ...string) error {
	step := l.crash.step
	if step == "" || slices.Contains(steps, step) {
		return nil
	}
	if len(flows) == 1 {
		return usageError(fmt.Sprintf("-crash-after: flow %s has no step %q (it has %s)", flows[0], step, strings.Join(steps, ", ")))
	}
	return usageError(fmt.Sprintf("-crash-after: flows %s have no step %q (they have %s)", diag.AndList(flows), step, strings.Join(steps, ", ")))
}
