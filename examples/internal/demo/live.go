package demo

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/flowgen/flowgen/runtime"
)

// Live is an example's output as its runs go: it prints the transitions
// of the runs it follows, and with a crash step (-crash-after) kills the
// process once a run has completed that step. It is a runtime.Sink meant
// to come after the store (runtime.FanOut(store, live)): what it prints,
// and the kill, come once the event is on disk, so a resumed run goes on
// from the last line printed.
type Live struct {
	w     io.Writer
	cols  Columns
	crash crash

	mu       sync.Mutex
	followed map[string]bool
}

// NewLive returns a Live printing to w in cols; crashAfter is the step
// whose completion kills the process ("" for none).
func NewLive(w io.Writer, cols Columns, crashAfter string) *Live {
	return &Live{w: w, cols: cols, crash: crash{step: crashAfter, w: w}, followed: map[string]bool{}}
}

// Follow prints the transitions of run runID from now on.
func (l *Live) Follow(runID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.followed[runID] = true
}

// Emit prints e if its run is followed, then kills the process if e
// completes the crash step. A child run of a followed run is followed
// from its first event, which names its parent; its lines say which run
// they are of.
func (l *Live) Emit(_ context.Context, e runtime.Event) error {
	l.print(e)
	l.crash.after(e)
	return nil
}

func (l *Live) print(e runtime.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.Parent != nil && l.followed[e.Parent.RunID] {
		l.followed[e.RunID] = true
	}
	if !l.followed[e.RunID] {
		return
	}
	if e.Parent != nil || isChild(e.RunID) {
		fmt.Fprintf(l.w, "%s  (child run %s)\n", l.cols.Line(e), e.RunID)
		return
	}
	fmt.Fprintln(l.w, l.cols.Line(e))
}

// isChild says whether runID is the ID of a child run.
func isChild(runID string) bool {
	_, _, ok := runtime.ParseChildRunID(runID)
	return ok
}
