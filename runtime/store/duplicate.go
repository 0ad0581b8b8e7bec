package store

import (
	"fmt"

	"github.com/flowgen/flowgen/runtime"
)

// duplicateRun is the store's refusal of a run's first event when the run
// ID is taken: the caller's duplicate, which Start returns to whoever chose
// the ID. It is still an ErrSequence, as every refusal of Emit's, but says
// only what the caller needs: "event out of sequence" read as a failing
// store.
type duplicateRun struct {
	runID, detail string
}

func (e *duplicateRun) Error() string {
	return fmt.Sprintf("%v: %q %s", runtime.ErrDuplicateRun, e.runID, e.detail)
}

func (e *duplicateRun) Unwrap() []error { return []error{runtime.ErrDuplicateRun, ErrSequence} }
