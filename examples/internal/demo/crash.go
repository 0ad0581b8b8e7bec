package demo

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// crash is the kill of the kill-and-resume demo: the process kills itself
// once a run has completed step and that is on disk.
type crash struct {
	step string // "" for no crash
	w    io.Writer
}

// after kills the process if e, an event already on disk, completes the
// step: a run left step:running with no error.
func (c crash) after(e runtime.Event) {
	if c.step == "" || e.From != runtime.RunningState(c.step) || e.To == e.From || e.Error != "" {
		return
	}
	fmt.Fprintf(c.w, "  ** %s completed and that is on disk: the process kills itself (SIGKILL) **\n", c.step)
	killSelf()
}

// survived says, after the run the crash was for, that it never came.
func (c crash) survived() {
	if c.step != "" {
		fmt.Fprintf(c.w, "The run never completed %s, so the process lives on.\n", c.step)
	}
}

// killSelf ends the process at once, as a crash or `kill -9` would: no
// deferred function runs, no file is closed.
func killSelf() {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Kill() // SIGKILL on Unix
	}
	time.Sleep(time.Second) // the signal is on its way
	os.Exit(137)
}
