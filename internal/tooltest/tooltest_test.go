package tooltest

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
)

// fakeT records how a test ended, and stops its goroutine as a real one
// does (run).
type fakeT struct {
	testing.TB
	failed, skipped string
}

// run calls fn on a new fakeT in a goroutine of its own, for Fatalf and
// Skipf to end.
func run(fn func(f *fakeT) string) (f *fakeT, path string) {
	f = &fakeT{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		path = fn(f)
	}()
	<-done
	return f, path
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, a ...any) {
	f.failed = fmt.Sprintf(format, a...)
	runtime.Goexit()
}
func (f *fakeT) Skipf(format string, a ...any) {
	f.skipped = fmt.Sprintf(format, a...)
	runtime.Goexit()
}

// A program missing outside CI skips the test; with its variable set (as
// .ci/run sets it), it fails it, saying which variable and how to install.
func TestLookMissing(t *testing.T) {
	const env = "FLOWGEN_REQUIRE_TOOLTEST_NOSUCH"
	t.Setenv(env, "")
	f, _ := run(func(f *fakeT) string {
		return Look(f, env, "apt-get install nosuch", "flowgen-no-such-program-1", "flowgen-no-such-program-2")
	})
	if f.failed != "" || !strings.Contains(f.skipped, "flowgen-no-such-program-1 is not on PATH") || !strings.Contains(f.skipped, env) {
		t.Fatalf("unset: failed %q, skipped %q; want a skip naming the program and %s", f.failed, f.skipped, env)
	}
	t.Setenv(env, "1")
	f, _ = run(func(f *fakeT) string { return Look(f, env, "apt-get install nosuch", "flowgen-no-such-program-1") })
	if f.skipped != "" || !strings.Contains(f.failed, env+" is set") || !strings.Contains(f.failed, "apt-get install nosuch") {
		t.Fatalf("set: failed %q, skipped %q; want a failure naming %s and the install", f.failed, f.skipped, env)
	}
}

// The first program found is returned, whatever the variable says (this
// test's own binary, named by its path, stands for one on PATH).
func TestLookFound(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("FLOWGEN_REQUIRE_TOOLTEST_SELF", "1")
	f, p := run(func(f *fakeT) string {
		return Look(f, "FLOWGEN_REQUIRE_TOOLTEST_SELF", "", "flowgen-no-such-program", self)
	})
	if p != self || f.failed != "" || f.skipped != "" {
		t.Fatalf("Look = %q, failed %q, skipped %q; want %s", p, f.failed, f.skipped, self)
	}
}
