package demo

import (
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// Reach waits until run is in the machine state machine (it looks every
// millisecond, as a demo can afford); false when the run ended first.
// The examples use it to act on a run where it waits: pay, abort, move
// the fake clock on.
func Reach[S any](run *runtime.Run[S], machine string) bool {
	for run.Status().Machine != machine {
		select {
		case <-run.Done():
			return false
		case <-time.After(time.Millisecond):
		}
	}
	return true
}
