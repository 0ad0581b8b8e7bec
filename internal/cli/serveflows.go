package cli

// Where serve keeps the flows PUT /flows defines when -flows is not given.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/flowgen/flowgen/internal/atomicfile"
)

// defaultFlowsDir is serve's flows directory without -flows: a
// subdirectory of the store, so that a PUT /flows answered 200 is kept as
// the runs it starts are, and a restart on the same -store serves it again
// (a 200 means durable). The store reads only its own files there.
func defaultFlowsDir(store string) string {
	return filepath.Join(store, "flows")
}

// makeDefaultFlowsDir creates dir, the store's subdirectory, if missing:
// private as the store's own files (0700), its entry synced so that the
// flows saved in it outlive a crash.
func makeDefaultFlowsDir(dir string) error {
	err := os.Mkdir(dir, 0o700)
	if errors.Is(err, fs.ErrExist) {
		return nil // a file there is refused by the load, named
	}
	if err == nil {
		err = atomicfile.SyncDir(filepath.Dir(dir))
	}
	if err != nil {
		return fmt.Errorf("flows directory %s: %w", dir, err)
	}
	return nil
}
