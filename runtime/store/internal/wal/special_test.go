//go:build unix

package wal

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSegmentNotARegularFile: a segment name that is a named pipe, a
// directory or a symbolic link to nothing, or a compaction manifest or an
// INSTANCE file that is a named pipe, makes Open (for writing and
// read-only, as the CLI's verbs open a store) fail at once, naming the file and what it is. A
// named pipe's open waited for a writer: Open, and `flowgen runs -store`,
// hung for good. A link to a regular segment is read as that segment.
func TestSegmentNotARegularFile(t *testing.T) {
	fifo := func(p string) error { return syscall.Mkfifo(p, 0o600) }
	seg2 := func(dir string) string { return SegmentPath(dir, 2) }
	tests := []struct {
		name string
		path func(dir string) string
		make func(path string) error
		want string
	}{
		{"fifo", seg2, fifo, "named pipe"},
		{"dir", seg2, func(p string) error { return os.Mkdir(p, 0o700) }, "a directory, not a regular file"},
		{"dangling link", seg2, func(p string) error { return os.Symlink(filepath.Join(filepath.Dir(p), "nowhere"), p) }, "no such file"},
		{"manifest fifo", func(dir string) string { return filepath.Join(dir, manifestName) }, fifo, "named pipe"},
		{"instance fifo", func(dir string) string { return filepath.Join(dir, instanceName) }, func(p string) error {
			if err := os.Remove(p); err != nil { // the writer's Open made it
				return err
			}
			return fifo(p)
		}, "named pipe"},
	}
	for _, tc := range tests {
		for _, ro := range []bool{false, true} {
			dir := t.TempDir()
			logOf(t, dir, payload(1))
			path := tc.path(dir)
			if err := tc.make(path); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				l, err := Open(dir, Options{ReadOnly: ro}, nil)
				if err == nil {
					l.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s, read-only %v: Open = %v; want an error naming %s, %q", tc.name, ro, err, path, tc.want)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("%s, read-only %v: Open waits", tc.name, ro)
			}
		}
	}

	// A symbolic link to a segment elsewhere is that segment.
	dir, other := t.TempDir(), t.TempDir()
	logOf(t, other, payload(7))
	if err := os.Symlink(SegmentPath(other, 1), SegmentPath(dir, 1)); err != nil {
		t.Fatal(err)
	}
	recs, l, err := readAll(t, dir, Options{ReadOnly: true})
	if err != nil || len(recs) != 1 || string(recs[0]) != string(payload(7)) {
		t.Fatalf("read through a link: %q, %v", recs, err)
	}
	l.Close()
}
