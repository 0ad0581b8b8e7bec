//go:build unix

package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime/store"
)

// within runs f, which returns what is wrong ("": nothing), and fails the
// test with it, or when f does not return in time: the test then fails
// at once, and the named pipe at fifo is opened for writing until f
// returns, so that the opens waiting on it return.
func within(t *testing.T, fifo, what string, f func() string) {
	t.Helper()
	done := make(chan string, 1)
	go func() { done <- f() }()
	select {
	case problem := <-done:
		if problem != "" {
			t.Errorf("%s: %s", what, problem)
		}
	case <-time.After(10 * time.Second):
		// Each open waiting on the pipe returns once a writer comes
		// (and reads nothing): the test's cleanup then ends.
		go func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
		t.Fatalf("%s waits on the named pipe", what)
	}
}

// A named pipe in the flows directory, with a flow's file name, is
// refused, saying what it is, without waiting for a writer: before, the
// start hung on it, and so did a PUT /flows of that flow, holding the
// load lock that every later one waits for.
func TestFlowsDirNamedPipe(t *testing.T) {
	dir := t.TempDir()
	e := dirEngine(t, dir)
	c := apiClient{t, httptestServer(t, e)}
	fifo := filepath.Join(dir, "B.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	within(t, fifo, "PUT of a flow whose file is a named pipe", func() string {
		if status, out := c.do("PUT", "/flows", flowDoc(rpcFlow("B", "B.Start"))); status < 400 {
			return fmt.Sprintf("%d %v, want an error", status, out)
		}
		return ""
	})
	within(t, fifo, "PUT of another flow after it", func() string {
		if status, out := c.do("PUT", "/flows", flowDoc(rpcFlow("A", "A.Start"))); status != 200 {
			return fmt.Sprintf("%d %v, want 200", status, out)
		}
		return ""
	})
	e2, err := New(Options{Store: store.NewMemory(), FlowsDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	within(t, fifo, "LoadFlowsDir with a named pipe", func() string {
		if _, err := e2.LoadFlowsDir(); err == nil || !strings.Contains(err.Error(), "B.json is a named pipe (FIFO), not a regular file") {
			return fmt.Sprintf("%v, want the error saying what B.json is", err)
		}
		return ""
	})
}
