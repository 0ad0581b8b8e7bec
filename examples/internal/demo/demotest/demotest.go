// Package demotest holds what the examples' tests share: a history as
// lines to compare, the app on a new store, the runs of a store on disk,
// and the checks of the program itself (its output run twice on one
// store, its usage errors, and the kill-and-resume demo run for real).
package demotest

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/examples/internal/storedir/storedirtest"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// Line renders an event as "from -> to [outcome]".
func Line(e runtime.Event) string {
	l := e.From + " -> " + e.To
	if e.Outcome != "" {
		l += " [" + e.Outcome + "]"
	}
	return l
}

// Transitions renders the run's own events of a history as Lines, not
// those of its parallel branches: the order of these does not depend on
// timing.
func Transitions(history []runtime.Event) []string {
	var out []string
	for _, e := range history {
		if e.Branch == "" {
			out = append(out, Line(e))
		}
	}
	return out
}

// Open opens an example's app on a new store in a test directory, and
// closes it when the test ends.
func Open[A io.Closer](t *testing.T, open func(dir string) (A, error)) A {
	t.Helper()
	a, err := open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// StoredHistory returns the history of run id in the store in dir.
func StoredHistory(t *testing.T, dir, id string) []runtime.Event {
	t.Helper()
	return stored(t, dir, func(st *store.Store) ([]runtime.Event, error) { return st.Load(id) })
}

// StoredRuns lists the runs of flow in the store in dir.
func StoredRuns(t *testing.T, dir, flow string) []store.RunInfo {
	t.Helper()
	return stored(t, dir, func(st *store.Store) ([]store.RunInfo, error) { return st.List(store.Filter{Flow: flow}) })
}

// stored reads the store in dir, opened read-only (as the program that
// wrote it is over), and fails t if that fails.
func stored[T any](t *testing.T, dir string, read func(*store.Store) (T, error)) T {
	t.Helper()
	st, err := store.OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v, err := read(st)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// StoredRun returns the only run of flow in the store in dir.
func StoredRun(t *testing.T, dir, flow string) store.RunInfo {
	t.Helper()
	runs := StoredRuns(t, dir, flow)
	if len(runs) != 1 {
		t.Fatalf("the store holds %v, want one run of %s", runs, flow)
	}
	return runs[0]
}

// Output runs the program twice on one store and checks that its output
// has each of want both times, resumes nothing (every run had ended), and
// that the store holds runs runs of flow at the end: the second process
// ran its scenarios as runs of their own.
func Output(t *testing.T, run storedirtest.Run, flow string, runs int, want ...string) {
	t.Helper()
	dir := t.TempDir()
	for i := range 2 {
		var out, errs bytes.Buffer
		if code := run(context.Background(), []string{"-store", dir}, &out, &errs); code != 0 {
			t.Fatalf("exit %d: %s", code, errs.String())
		}
		for _, s := range append([]string{"store " + dir + "\n"}, want...) {
			if !strings.Contains(out.String(), s) {
				t.Errorf("run %d: output lacks %q:\n%s", i+1, s, out.String())
			}
		}
		if strings.Contains(out.String(), "resum") {
			t.Errorf("run %d resumed something, but every run had ended:\n%s", i+1, out.String())
		}
	}
	if got := len(StoredRuns(t, dir, flow)); got != runs {
		t.Errorf("the store holds %d runs of %s, want %d", got, flow, runs)
	}
}

// CommandLine checks the command line of an example with -crash-after:
// without -store it runs on a temporary store that it removes at exit,
// -crash-after needs -store (storedirtest checks both), and a bad flag,
// an argument or an unknown -crash-after step exit 2.
func CommandLine(t *testing.T, run storedirtest.Run) {
	t.Run("TemporaryStoreRemoved", func(t *testing.T) { storedirtest.TemporaryStoreRemoved(t, run) })
	t.Run("CrashAfterNeedsStore", func(t *testing.T) { storedirtest.CrashAfterNeedsStore(t, run) })
	t.Run("Usage", func(t *testing.T) {
		for _, args := range [][]string{{"-nope"}, {"extra"}, {"-store", t.TempDir(), "-crash-after", "Nope"}} {
			var out, errs bytes.Buffer
			if code := run(context.Background(), args, &out, &errs); code != 2 {
				t.Errorf("%q: exit %d, want 2 (%s)", args, code, errs.String())
			}
		}
	})
}

// Kill is one kill of the kill-and-resume demo: the step -crash-after
// names, and the machine state its completion leads to, in which the
// killed run waits in the store.
type Kill struct{ Step, Next string }

// KillAndResume is an example's kill-and-resume demo, run for real: the
// program in the current directory is built (the test is skipped with
// -short), then, for each kill on a store of its own, started with
// -crash-after Step: it must die by SIGKILL right after Step completed,
// leaving the one run of Flow in the store, not over, in Next. Started
// again on the same store it must resume that run, mark where it took
// over, and print End.
type KillAndResume struct {
	Flow  string
	Kills []Kill
	End   string
	// Killed, if not nil, checks the store in dir before the restart.
	Killed func(t *testing.T, dir string, k Kill, crashed store.RunInfo)
	// Resumed checks the store in dir once the second process resumed
	// the run; before is its history before the restart.
	Resumed func(t *testing.T, dir string, crashed store.RunInfo, before []runtime.Event)
	// Printed, if not nil, checks what the two processes printed (the
	// README shows it).
	Printed func(t *testing.T, k Kill, dir string, crashed store.RunInfo, first, second string)
}

// Run runs the demo, a subtest per kill.
func (d KillAndResume) Run(t *testing.T) {
	t.Helper()
	bin := build(t)
	for _, k := range d.Kills {
		t.Run(k.Step, func(t *testing.T) {
			dir := t.TempDir()
			first := crash(t, bin, dir, k.Step)
			crashed := StoredRun(t, dir, d.Flow)
			if want, _ := runtime.RunStateOf(k.Next); crashed.State != want || crashed.Machine != k.Next {
				t.Fatalf("stored run before the restart: %+v", crashed)
			}
			before := StoredHistory(t, dir, crashed.RunID)
			if d.Killed != nil {
				d.Killed(t, dir, k, crashed)
			}
			second := resume(t, bin, dir, crashed.RunID, d.End)
			d.Resumed(t, dir, crashed, before)
			if d.Printed != nil {
				d.Printed(t, k, dir, crashed, first, second)
			}
		})
	}
}

// build builds the example program in the current directory.
func build(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the program with the go command")
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(wd))
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// crash runs bin on the store in dir with -crash-after step, and fails t
// unless it died by SIGKILL right after step's completion: the last
// transition printed leaves step, and nothing came after the kill notice.
// It returns what bin printed.
func crash(t *testing.T, bin, dir, step string) string {
	t.Helper()
	out, err := exec.Command(bin, "-store", dir, "-crash-after", step).Output()
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatalf("the first run did not die: %v\n%s", err, out)
	}
	if goruntime.GOOS != "windows" && ee.ProcessState.String() != "signal: killed" {
		t.Errorf("the first run ended %q, want killed by SIGKILL", ee.ProcessState)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if n := len(lines); n < 2 || !strings.Contains(lines[n-1], "the process kills itself") ||
		!strings.HasPrefix(strings.TrimSpace(lines[n-2]), runtime.RunningState(step)+" ") {
		t.Errorf("the first run's output does not end with %s's completion and the kill:\n%s", step, out)
	}
	return string(out)
}

// resume runs bin again on the store in dir, after a crash, and fails t
// unless it resumed the one run runID, marked where it took over, and
// printed end (how the run ended and what it did). It returns what bin
// printed.
func resume(t *testing.T, bin, dir, runID, end string) string {
	t.Helper()
	out, err := exec.Command(bin, "-store", dir).Output()
	if err != nil {
		t.Fatalf("the second run: %v\n%s", err, out)
	}
	for _, s := range []string{
		"The store holds 1 unfinished run(s): resuming them.",
		"run " + runID + ", resumed:",
		"-- the previous process died here; this one resumed the run --",
		end,
	} {
		if !strings.Contains(string(out), s) {
			t.Errorf("the second run's output lacks %q:\n%s", s, out)
		}
	}
	return string(out)
}
