//go:build linux || darwin

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// gen -o naming something that is not a regular file is refused without
// reading it: reading /dev/zero never ends (gen -o /dev/zero once grew until
// the kernel killed it), and opening a named pipe waits for a writer. The
// pipe here has one, that writes a hand-written package clause and closes:
// a gen that reads its output would refuse it as hand-written code instead.
func TestGenOutputNotRegular(t *testing.T) {
	dir := t.TempDir()
	flow := filepath.Join(dir, "simple.flow")
	if err := os.WriteFile(flow, []byte("flow Simple {\n    state S\n    step A {\n        irreversible\n    }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "simple_flow.go")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // waits for a reader
		if err != nil {
			return
		}
		w.WriteString("package x\n")
		w.Close()
	}()
	t.Cleanup(func() {
		// Release the writer if gen never opened the pipe.
		if r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			<-wrote
			r.Close()
		}
	})
	code, _, stderr := runCLI("gen", "-nopkg", "-pkg", "x", "-o", fifo, flow)
	if code != 1 || !strings.Contains(stderr, "not a regular file") {
		t.Errorf("gen -o FIFO: exit %d, stderr:\n%s\nwant exit 1 and %q", code, stderr, "not a regular file")
	}
}
