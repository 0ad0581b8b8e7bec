package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// envFullDiskChild names the store a child process opens with no room
// to write (TestFullDisk).
const envFullDiskChild = "FLOWGEN_FULLDISK_CHILD"

// fullDiskChild opens the store in dir as on a full disk (every file
// limited to 1 byte: a write past it fails with EFBIG, as one on a full
// disk fails with ENOSPC), reads it, tries `flowgen compact`'s
// CompactAll and an Emit, and prints what each gave.
func fullDiskChild(dir string) int {
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 1, Max: 1}); err != nil {
		fmt.Println("setrlimit:", err)
		return 1
	}
	st, err := Open(dir, Options{CompactEvery: -1})
	fmt.Printf("open: %v\n", err)
	if err != nil {
		return 0
	}
	defer st.Close()
	fmt.Printf("instance: %d digits\n", len(st.Instance()))
	runs, err := st.List(Filter{})
	events := 0
	for _, r := range runs {
		h, lerr := st.Load(r.RunID)
		err = cmpOr(err, lerr)
		events += len(h)
	}
	fmt.Printf("read: %d runs, %d events, %v\n", len(runs), events, err)
	_, err = st.CompactAll(context.Background())
	fmt.Printf("compact: %s\n", compactSays(err))
	err = st.Emit(context.Background(), history("new", "F", doneRun...)[0])
	fmt.Printf("emit: %v\n", err != nil)
	return 0
}

// compactSays is what a compaction's error says: on a full disk the
// compaction is abandoned and the store is as it was, which its message
// says first. Before, it began "log failed permanently" (the seal's new
// segment had no room), which read as a broken store.
func compactSays(err error) string {
	const want = "store: compaction abandoned, the store is unchanged: starting a new segment: "
	if err == nil {
		return "<nil>"
	}
	if msg := err.Error(); !strings.HasPrefix(msg, want) || strings.Contains(msg, "permanently") {
		return msg
	}
	return "abandoned, unchanged"
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// TestFullDisk: a store on a disk with no room left opens, and its runs
// read whole; a compaction (which needs a new segment) and an Emit fail,
// unacknowledged; and it opens again, as often as it is tried, still with
// no room. Once there is room, every run is there, and appends and a
// compaction work. Before, the compaction's new segment, made but with no
// room for its header, was made again by every later Open, which failed:
// `flowgen compact`, run to free room, left a store that could not be
// opened for writing until room was made some other way.
func TestFullDisk(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 4 << 10, CompactEvery: -1}
	const runs = 20
	writeRuns(t, dir, opts, runs)
	checkFullDisk(t, dir, runs, 32)
	st, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range runs {
		if h, err := st.Load(fmt.Sprintf("r%d", i)); err != nil || len(h) != len(doneRun) {
			t.Fatalf("run r%d after the full disk: %d events, %v", i, len(h), err)
		}
	}
	emitAll(t, st, history("new", "F", doneRun...))
	if _, err := st.CompactAll(context.Background()); err != nil {
		t.Fatalf("compaction once there is room: %v", err)
	}
	if h, err := st.Load("new"); err != nil || len(h) != len(doneRun) {
		t.Fatalf("a run written once there is room: %d events, %v", len(h), err)
	}
	if got, err := st.List(Filter{}); err != nil || len(got) != runs+1 {
		t.Fatalf("%d runs, %v; want %d", len(got), err, runs+1)
	}
}

// checkFullDisk opens the store in dir as on a full disk, three times
// over, in a child process (fullDiskChild), and checks what it did: it
// opened with an instance ID of digits hex digits, read every run's
// events, and failed a compaction and an Emit.
func checkFullDisk(t *testing.T, dir string, runs, digits int) {
	t.Helper()
	want := fmt.Sprintf("open: <nil>\ninstance: %d digits\nread: %d runs, %d events, <nil>\ncompact: abandoned, unchanged\nemit: true\n", digits, runs, runs*len(doneRun))
	for try := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envFullDiskChild+"="+dir)
		out, err := cmd.Output()
		if err != nil || string(out) != want {
			t.Fatalf("child %d on a full disk: %v\n%s\nwant\n%s", try, err, out, want)
		}
	}
}

// TestFullDiskBeforeInstance: a store made before INSTANCE existed opens
// on a full disk, with no instance ID (an engine on it holds its ID
// under one of its own, as for any store without one), reads, and fails
// only the writes, leaving no INSTANCE.tmp; with room, the next Open
// makes its ID. Before, Open failed: it could not write INSTANCE, so a
// full disk kept such a store from being read or compacted by its owner.
func TestFullDiskBeforeInstance(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 4 << 10, CompactEvery: -1}
	const runs = 5
	writeRuns(t, dir, opts, runs)
	if err := os.Remove(filepath.Join(dir, "INSTANCE")); err != nil {
		t.Fatal(err)
	}
	checkFullDisk(t, dir, runs, 0)
	for _, name := range []string{"INSTANCE", "INSTANCE.tmp"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after the opens on a full disk: %v; want none", name, err)
		}
	}
	st, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if len(st.Instance()) != 32 {
		t.Errorf("Instance %q once there is room; want one made", st.Instance())
	}
}

// writeRuns makes a store in dir holding runs done runs, r0, r1, ...
func writeRuns(t *testing.T, dir string, opts Options, runs int) {
	t.Helper()
	st, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range runs {
		emitAll(t, st, history(fmt.Sprintf("r%d", i), "F", doneRun...))
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}
