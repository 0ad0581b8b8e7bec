//go:build linux || darwin

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// pipeWith makes a named pipe at path whose writer, each time a reader
// opens it, writes content and closes: a command that reads the pipe
// (once or more) sees content rather than hang, and one that leaves it
// alone does not hang on it either.
func pipeWith(t *testing.T, path, content string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			w, err := os.OpenFile(path, os.O_WRONLY, 0) // waits for a reader
			if err != nil {
				return
			}
			select {
			case <-done:
				w.Close()
				return
			default:
			}
			w.WriteString(content)
			w.Close()
		}
	}()
	t.Cleanup(func() {
		close(done)
		// Release the writer's open, which waits for a reader.
		if r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			<-stopped
			r.Close()
		}
	})
}

// The files beside an input that a command reads on its own (the other
// .flow files a call may name, the Go files that give gen its package
// name) are read only when they are regular files: opening a named pipe
// waits for a writer, so one named x.flow or x.go hung check and gen, and
// a link to /dev/zero would fill the memory. The pipes here have writers,
// so a command that still read them would not hang but see what they
// write: flow B, package p.
func TestFilesBesideNotRegularAreNotRead(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.flow")
	if err := os.WriteFile(a, []byte("flow A {\n    step X {\n        call B\n        irreversible\n    }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pipeWith(t, filepath.Join(dir, "b.flow"), "flow B {\n    step Y {\n        irreversible\n    }\n}\n")
	code, _, stderr := runCLI("check", "-nopkg", a)
	if code != 1 || !strings.Contains(stderr, `calls flow "B", which neither this file nor its Go package declares`) {
		t.Errorf("check beside a pipe b.flow: exit %d, stderr:\n%s\nwant exit 1: B is not declared", code, stderr)
	}

	dir = t.TempDir()
	c := filepath.Join(dir, "c.flow")
	if err := os.WriteFile(c, []byte("flow C {\n    step Y {\n        irreversible\n    }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pipeWith(t, filepath.Join(dir, "p.go"), "package p\n")
	code, _, stderr = runCLI("gen", "-nopkg", c)
	if code != 1 || !strings.Contains(stderr, "no Go files in") {
		t.Errorf("gen beside a pipe p.go: exit %d, stderr:\n%s\nwant exit 1: no Go files", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "c_flow.go")); err == nil {
		t.Error("gen beside a pipe p.go wrote c_flow.go")
	}
}
