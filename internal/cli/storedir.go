package cli

import (
	"fmt"

	"github.com/flowgen/flowgen/runtime/store"
)

// openStore opens the store in dir for the verbs that read or maintain an
// existing one (runs, history, inbox: read-only; compact: to rewrite it).
// A directory that holds no store is an error: opened read-only it would
// list nothing, as if the store were empty, and compact would create one
// in it; either way a mistyped -store would pass for a real one.
func openStore(dir string, readOnly bool, opts store.Options) (*store.Store, error) {
	ok, err := store.Exists(dir)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("%s holds no store (no segment files; flowgen serve -store or store.Open makes one)", dir)
	}
	var st *store.Store
	if readOnly {
		st, err = store.OpenReadOnly(dir)
	} else {
		st, err = store.Open(dir, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}
