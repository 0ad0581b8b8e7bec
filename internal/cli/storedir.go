package cli

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/flowgen/flowgen/runtime/store"
)

// storeFlag defines -store of the verbs that read or maintain an existing
// store (runs, history, inbox, compact), named DIR in -h as the README
// writes it.
func storeFlag(fs *flag.FlagSet) *string {
	return fs.String("store", "", "store directory `DIR` (required)")
}

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
		return nil, openStoreError(err)
	}
	return st, nil
}

// openStoreError is the error of a store that would not open, for every
// verb and serve alike. A store another process holds (store.ErrInUse),
// and damage (store.ErrCorrupt), also say what the operator does about
// it: for damage as docs/store.md#crash-safety does (there is no repair
// tool, and the files are the evidence, so they are kept first).
func openStoreError(err error) error {
	if errors.Is(err, store.ErrInUse) {
		return fmt.Errorf("open store: %w: a running flowgen serve, or compact, holds its LOCK; stop it first (runs, history and inbox read the store meanwhile)", err)
	}
	if errors.Is(err, store.ErrCorrupt) {
		return fmt.Errorf("open store: %w; the store is damaged and was left as it is: copy its directory as it is (cp -a) before anything else, then restore it from a backup (docs/store.md#crash-safety)", err)
	}
	return fmt.Errorf("open store: %w", err)
}

// newStoreDir returns, when dir holds nothing yet (it does not exist, or
// is an empty directory), the function that removes what a store opened
// in it then made (the directory too if it did not exist), unless that
// store recorded something; nil when dir holds something already, which
// is never removed.
func newStoreDir(dir string) func() {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return func() {
			if !recorded(dir) {
				_ = os.RemoveAll(dir)
			}
		}
	case err == nil && len(entries) == 0:
		return func() {
			if recorded(dir) {
				return
			}
			made, _ := os.ReadDir(dir)
			for _, e := range made {
				_ = os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
	}
	return nil
}

// recorded reports whether the store in dir holds a run or an inbox
// message (an abort request needs a run), or may: one that cannot be read
// is kept. A start that fails once its engine has begun to start (the
// consumers of one flow made, the next flow's refused: the address, bound
// before, is no longer what fails it) may have recorded what its
// consumers took meanwhile and acknowledged (on NATS, a trigger's event or
// an awaited one), which then is nowhere else.
func recorded(dir string) bool {
	if ok, err := store.Exists(dir); err == nil && !ok {
		return false
	}
	st, err := store.OpenReadOnly(dir)
	if err != nil {
		return true
	}
	defer st.Close()
	runs, err := st.List(store.Filter{Limit: 1})
	if err != nil || len(runs) > 0 {
		return true
	}
	msgs, err := st.Messages(store.MessageFilter{Limit: 1, NoPayload: true})
	return err != nil || len(msgs) > 0
}
