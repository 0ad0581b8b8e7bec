package demo

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// TestColumns: fixed columns pad the line to its outcome; Fit's put the
// outcome two spaces after the target; the error's first line follows.
func TestColumns(t *testing.T) {
	e := runtime.Event{From: "A:running", To: "A:running", Outcome: "retry", Error: "busy\nmore"}
	for _, c := range []struct {
		cols Columns
		want string
	}{
		{Columns{From: 12, Outcome: 34}, "  A:running    -> A:running        [retry]  busy"},
		{Fit([]runtime.Event{e, {From: "pending", To: "A:running"}}), "  A:running -> A:running  [retry]  busy"},
	} {
		if got := c.cols.Line(e); got != c.want {
			t.Errorf("%+v: %q, want %q", c.cols, got, c.want)
		}
	}
}

// TestCheckStep: a step of the flows passes (as no step does); another is
// a usage error naming the flows and their steps.
func TestCheckStep(t *testing.T) {
	steps := []string{"A", "B"}
	if err := NewLive(nil, Columns{}, "B").CheckStep(steps, "F"); err != nil {
		t.Errorf("a step of the flow: %v", err)
	}
	if err := NewLive(nil, Columns{}, "").CheckStep(steps, "F"); err != nil {
		t.Errorf("no step: %v", err)
	}
	for _, c := range []struct {
		flows []string
		want  string
	}{
		{[]string{"F"}, `-crash-after: flow F has no step "C" (it has A, B)`},
		{[]string{"F", "G", "H"}, `-crash-after: flows F, G and H have no step "C" (they have A, B)`},
	} {
		err := NewLive(nil, Columns{}, "C").CheckStep(steps, c.flows...)
		if _, ok := err.(usageError); !ok || err.Error() != c.want {
			t.Errorf("%v: %#v, want the usage error %q", c.flows, err, c.want)
		}
	}
}

// A usage error that only the built flows can tell (-crash-after a step
// they do not have) leaves no store behind in a -store directory the
// program made for it, and leaves one that was there before alone.
func TestUsageErrorLeavesNoNewStore(t *testing.T) {
	body := func(dir string, live *Live) error {
		// As the examples' body does: the store is opened (made), then
		// the step checked.
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "0000000000000001.seg"), nil, 0o644); err != nil {
			return err
		}
		return live.CheckStep([]string{"A"}, "F")
	}
	p := Program{Name: "x", CrashAfter: "kill after `STEP`"}
	made := filepath.Join(t.TempDir(), "store")
	if code := p.Main([]string{"-store", made, "-crash-after", "Nope"}, io.Discard, io.Discard, body); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if _, err := os.Stat(made); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the refused command line left its new store behind: %v", err)
	}
	there := t.TempDir()
	if code := p.Main([]string{"-store", there, "-crash-after", "Nope"}, io.Discard, io.Discard, body); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if _, err := os.Stat(filepath.Join(there, "0000000000000001.seg")); err != nil {
		t.Errorf("a -store directory that was there was touched: %v", err)
	}
}
