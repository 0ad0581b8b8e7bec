// Package storedirtest checks that an example program keeps its store as
// package storedir says: a temporary store is removed at exit, and
// -crash-after needs -store.
package storedirtest

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
)

// Run is an example program: its exit status for args.
type Run func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// TemporaryStoreRemoved runs the program without -store, with $TMPDIR a
// new test directory (where os.MkdirTemp("", ...) creates the store), and
// fails t unless the program ran on a store there and left nothing behind.
func TemporaryStoreRemoved(t *testing.T, run Run) {
	t.Helper()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var out, errs bytes.Buffer
	if code := run(context.Background(), nil, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	if !strings.Contains(out.String(), "store "+tmp) {
		t.Fatalf("the program did not run on a store in %s:\n%s", tmp, out.String())
	}
	noneLeft(t, tmp)
	if strings.Contains(out.String(), "runs -store "+tmp) {
		t.Errorf("the output points at the removed store:\n%s", out.String())
	}
}

// CrashAfterNeedsStore runs the program with -crash-after and no -store,
// and fails t unless that is a usage error made before any store is.
// (An unknown step keeps the test alive if the check is lost: the program
// then exits 2 for the step, after making the store.)
func CrashAfterNeedsStore(t *testing.T, run Run) {
	t.Helper()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"-crash-after", "Nope"}, &out, &errs); code != 2 || !strings.Contains(errs.String(), "-crash-after needs -store") {
		t.Errorf("exit %d, stderr %q; want 2 and that -crash-after needs -store", code, errs.String())
	}
	noneLeft(t, tmp)
}

// noneLeft fails t if dir holds anything.
func noneLeft(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) > 0 {
		t.Errorf("the program left %s in the temporary directory", ents[0].Name())
	}
}
