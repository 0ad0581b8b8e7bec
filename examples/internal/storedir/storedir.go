// Package storedir is where the examples keep their durable store: the
// directory -store names, or a new temporary one that the program removes
// at exit, since nobody else knows it. The examples share it so that they
// behave alike (and no example leaves a directory behind in $TMPDIR).
package storedir

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// Flag defines -store on fs; an empty value means a temporary store.
func Flag(fs *flag.FlagSet) *string {
	return fs.String("store", "", "directory `DIR` of the durable store (default: a new temporary directory, removed at exit)")
}

// ErrCrashNeedsStore is the usage error of -crash-after without -store:
// the kill would leave a temporary store behind, and no second run could
// resume from it.
var ErrCrashNeedsStore = errors.New("-crash-after needs -store DIR: the run is resumed from that store")

// CheckCrashAfter returns ErrCrashNeedsStore when crashAfter is set and
// store (the value of -store) is not.
func CheckCrashAfter(store, crashAfter string) error {
	if crashAfter != "" && store == "" {
		return ErrCrashNeedsStore
	}
	return nil
}

// Dir is the directory of an example's store.
type Dir struct {
	Path      string
	temporary bool
}

// Open returns the directory store names or, if store is empty, a new
// temporary directory named prog-store-*, which Remove removes.
func Open(prog, store string) (*Dir, error) {
	if store != "" {
		return &Dir{Path: store}, nil
	}
	d, err := os.MkdirTemp("", prog+"-store-")
	if err != nil {
		return nil, err
	}
	return &Dir{Path: d, temporary: true}, nil
}

// Remove removes a temporary directory and everything in it; a directory
// that -store named stays. Call it after the store is closed.
func (d *Dir) Remove() error {
	if !d.temporary {
		return nil
	}
	return os.RemoveAll(d.Path)
}

// Farewell prints the program's last line: how to list the runs in the
// store, or, for a temporary store, that it is gone.
func (d *Dir) Farewell(w io.Writer) {
	if d.temporary {
		fmt.Fprintln(w, "The store was temporary and is removed now; with -store DIR it stays, and go run ./cmd/flowgen runs -store DIR lists its runs.")
		return
	}
	fmt.Fprintf(w, "Every run is in the store: go run ./cmd/flowgen runs -store %s\n", d.Path)
}
