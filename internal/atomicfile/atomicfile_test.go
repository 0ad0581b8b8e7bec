package atomicfile

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.flow")

	// A new file gets the permissions asked for.
	if err := WriteFile(path, []byte("one"), 0o640); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o640 {
		t.Fatalf("new file: %v, mode %v", err, st.Mode())
	}
	// Replacing keeps the existing permissions and leaves no temporary file.
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	st, _ = os.Stat(path)
	if string(b) != "two" || st.Mode().Perm() != 0o600 {
		t.Errorf("replaced file: %q, mode %v", b, st.Mode())
	}
	if got := names(t, dir); len(got) != 1 {
		t.Errorf("directory holds %q, want only x.flow", got)
	}
	// A relative path writes in the working directory.
	t.Chdir(dir)
	if err := WriteFile("rel", []byte("r"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "rel")); string(b) != "r" {
		t.Errorf("relative path: %q", b)
	}
}

// Failures leave the old file as it was and no temporary file behind.
func TestWriteFileErrorsLeaveNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.flow")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A directory in the way.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(sub, []byte("x"), 0o644); err == nil {
		t.Error("writing over a directory succeeded")
	}
	// A directory that does not exist.
	if err := WriteFile(filepath.Join(dir, "none", "x"), []byte("x"), 0o644); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
	// The rename, the last step before the data is in place, fails.
	failed := errors.New("rename failed")
	rename = func(string, string) error { return failed }
	t.Cleanup(func() { rename = os.Rename })
	if err := WriteFile(path, []byte("new"), 0o644); !errors.Is(err, failed) {
		t.Errorf("WriteFile with a failing rename = %v, want %v", err, failed)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("after a failed write the file holds %q, want the old content", b)
	}
	if got := names(t, dir); len(got) != 2 {
		t.Errorf("directory holds %q, want x.flow and sub", got)
	}
}

// WriteFiles writes every file or, when any of them cannot be written,
// none: gen's outputs of several inputs change together.
func TestWriteFilesAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a_flow.go"), filepath.Join(dir, "b_flow.go")
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		data, _ := os.ReadFile(p)
		return string(data)
	}
	// The last file cannot be written (a directory is in the way): the
	// first two, ready before it, are not renamed.
	err := WriteFiles([]File{{a, []byte("new a"), 0o644}, {b, []byte("new b"), 0o644}, {sub, []byte("x"), 0o644}})
	if err == nil {
		t.Fatal("WriteFiles over a directory succeeded")
	}
	if read(a) != "old" || read(b) != "old" {
		t.Errorf("after a failed WriteFiles: a %q, b %q, want both old", read(a), read(b))
	}
	if got := names(t, dir); !slices.Equal(got, []string{"a_flow.go", "b_flow.go", "sub"}) {
		t.Errorf("directory holds %q, want the three entries and no temporary file", got)
	}
	// A rename fails after the first succeeded: the first keeps its new
	// contents, the error is the rename's, and no temporary file stays.
	failed := errors.New("rename failed")
	calls := 0
	rename = func(from, to string) error {
		if calls++; calls == 2 {
			return failed
		}
		return os.Rename(from, to)
	}
	t.Cleanup(func() { rename = os.Rename })
	if err := WriteFiles([]File{{a, []byte("new a"), 0o644}, {b, []byte("new b"), 0o644}}); !errors.Is(err, failed) {
		t.Errorf("WriteFiles with a failing second rename = %v, want %v", err, failed)
	}
	if read(a) != "new a" || read(b) != "old" {
		t.Errorf("after the second rename failed: a %q, b %q, want new a and old", read(a), read(b))
	}
	if got := names(t, dir); !slices.Equal(got, []string{"a_flow.go", "b_flow.go", "sub"}) {
		t.Errorf("directory holds %q, want no temporary file", got)
	}
	// Both written.
	rename = os.Rename
	if err := WriteFiles([]File{{a, []byte("A"), 0o644}, {b, []byte("B"), 0o644}}); err != nil || read(a) != "A" || read(b) != "B" {
		t.Errorf("WriteFiles = %v: a %q, b %q", err, read(a), read(b))
	}
}

// A reader running beside a writer always sees one whole version.
func TestWriteFileReadersSeeOldOrNew(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	a, b := bytes.Repeat([]byte("a"), 64<<10), bytes.Repeat([]byte("b"), 96<<10)
	if err := WriteFile(path, a, 0o644); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			got, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("read: %v", err)
				return
			}
			if !bytes.Equal(got, a) && !bytes.Equal(got, b) {
				t.Errorf("read %d bytes that are neither version", len(got))
				return
			}
		}
	}()
	for i := range 50 {
		data := a
		if i%2 == 0 {
			data = b
		}
		if err := WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if got := names(t, dir); len(got) != 1 {
		t.Errorf("directory holds %q, want only f", got)
	}
}

func TestSyncDir(t *testing.T) {
	if err := SyncDir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if err := SyncDir(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("SyncDir of a missing directory succeeded")
	}
}

// RemoveTemp removes what a WriteFile that died before its rename left,
// and nothing else: not the file, not names that only look alike.
func TestRemoveTemp(t *testing.T) {
	dir := t.TempDir()
	keep := []string{"a.json", ".a.json", "a.json.tmp123", ".a.json.tmpx", ".tmp123", "b.tmp"}
	left := []string{".a.json.tmp123456", ".Flow.json.tmp9"}
	for _, name := range append(slices.Clone(keep), left...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A real temporary file's name, as WriteFile makes it.
	f, err := os.CreateTemp(dir, ".c.json"+tempInfix+"*")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	left = append(left, filepath.Base(f.Name()))
	removed, err := RemoveTemp(dir)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	slices.Sort(left)
	if !slices.Equal(removed, left) {
		t.Fatalf("removed %q, want %q", removed, left)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(keep)
	if !slices.Equal(names, keep) {
		t.Fatalf("left %q, want %q", names, keep)
	}
}

// Writing through a symbolic link replaces the file it leads to and keeps
// the link (fmt -w on a linked .flow, gen's output linked elsewhere); the
// temporary file goes in the target's directory, where the rename happens.
func TestWriteFileThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(real, "a.flow")
	if err := os.WriteFile(file, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A relative link, and a link to that link.
	link := filepath.Join(dir, "x.flow")
	if err := os.Symlink(filepath.Join("real", "a.flow"), link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	link2 := filepath.Join(dir, "y.flow")
	if err := os.Symlink(link, link2); err != nil {
		t.Fatal(err)
	}
	for i, path := range []string{link, link2} {
		data := []byte{'n', 'e', 'w', '0' + byte(i)}
		if err := WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Lstat(path); err != nil || st.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("%s is no longer a symbolic link (%v, %v)", path, st.Mode(), err)
		}
		st, _ := os.Stat(file)
		if b, _ := os.ReadFile(file); !bytes.Equal(b, data) || st.Mode().Perm() != 0o600 {
			t.Errorf("after writing %s the target holds %q, mode %v; want %q, 0600", path, b, st.Mode(), data)
		}
	}
	if got := names(t, real); !slices.Equal(got, []string{"a.flow"}) {
		t.Errorf("target directory holds %q, want only a.flow", got)
	}
	if got := names(t, dir); !slices.Equal(got, []string{"real", "x.flow", "y.flow"}) {
		t.Errorf("link directory holds %q", got)
	}
	// A link to nothing is an error that names the link, and writes nothing.
	dangling := filepath.Join(dir, "gone.flow")
	if err := os.Symlink("missing.flow", dangling); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(dangling, []byte("x"), 0o644); err == nil || !strings.Contains(err.Error(), dangling) {
		t.Errorf("WriteFile through a dangling link = %v, want an error naming it", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "missing.flow")); err == nil {
		t.Error("writing through a dangling link created its target")
	}
}

// An error names the file the caller asked to write, not the temporary file
// it failed on (a name the user never gave, shown by gen and fmt -w), and
// keeps its cause.
func TestErrorsNameThePath(t *testing.T) {
	dir := t.TempDir()
	// The temporary file cannot be created: its directory does not exist.
	missing := filepath.Join(dir, "none", "x.flow")
	err := WriteFile(missing, []byte("x"), 0o644)
	checkNames(t, err, missing, fs.ErrNotExist)

	// The rename fails, as os.Rename does: a LinkError naming both files.
	path := filepath.Join(dir, "y.flow")
	rename = func(from, to string) error {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: syscall.EXDEV}
	}
	t.Cleanup(func() { rename = os.Rename })
	err = WriteFile(path, []byte("y"), 0o644)
	checkNames(t, err, path, syscall.EXDEV)
}

// checkNames fails t unless err is a *fs.PathError for path (as the CLI
// shows it, relative to its working directory), caused by cause, and does
// not show a temporary file's name.
func checkNames(t *testing.T, err error, path string, cause error) {
	t.Helper()
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != path || !errors.Is(err, cause) {
		t.Errorf("error %v (%T), want a PathError for %s caused by %v", err, err, path, cause)
	}
	if err != nil && strings.Contains(err.Error(), tempInfix) {
		t.Errorf("error %q names the temporary file", err)
	}
}

// stopAfter is a context that is done once Err has been asked n times:
// a cancellation that comes while WriteFilesContext is part-way through.
type stopAfter struct {
	context.Context
	n atomic.Int32
}

func (c *stopAfter) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// A cancellation before the renames (Ctrl-C while the files are being
// staged) leaves every file as it was and no temporary file behind; once
// the renames have begun they all go through.
func TestWriteFilesContextCancelled(t *testing.T) {
	for asks := range 5 {
		dir := t.TempDir()
		var files []File
		for _, name := range []string{"a", "b", "c"} {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			files = append(files, File{Path: p, Data: []byte("new"), Perm: 0o644})
		}
		ctx := &stopAfter{Context: context.Background()}
		ctx.n.Store(int32(asks))
		err := WriteFilesContext(ctx, files)
		want := "old"
		if asks > len(files) {
			want = "new" // every file staged, and asked once more before the renames
		}
		if want == "old" && !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled after %d asks: err %v, want context.Canceled", asks, err)
		}
		if want == "new" && err != nil {
			t.Errorf("not cancelled before the renames: %v", err)
		}
		for _, f := range files {
			if b, _ := os.ReadFile(f.Path); string(b) != want {
				t.Errorf("cancelled after %d asks: %s holds %q, want %q", asks, f.Path, b, want)
			}
		}
		if got := names(t, dir); !slices.Equal(got, []string{"a", "b", "c"}) {
			t.Errorf("cancelled after %d asks: directory holds %q", asks, got)
		}
	}
}

// A file without its owner's write permission is refused, as gofmt -w and
// an editor refuse it (even for root, whom the file system would let
// write it): someone marked it not to be changed. Nothing is written,
// among several files neither, and the error names the file.
func TestWriteFileRefusesReadOnly(t *testing.T) {
	dir := t.TempDir()
	ro, rw := filepath.Join(dir, "ro_flow.go"), filepath.Join(dir, "rw_flow.go")
	for p, perm := range map[string]fs.FileMode{ro: 0o444, rw: 0o644} {
		if err := os.WriteFile(p, []byte("old"), perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, perm); err != nil {
			t.Fatal(err)
		}
	}
	err := WriteFiles([]File{{rw, []byte("new"), 0o644}, {ro, []byte("new"), 0o644}})
	var pe *fs.PathError
	if !errors.Is(err, ErrReadOnly) || !errors.As(err, &pe) || pe.Path != ro {
		t.Fatalf("WriteFiles over a 0444 file = %v, want a *fs.PathError for %s wrapping ErrReadOnly", err, ro)
	}
	for _, p := range []string{ro, rw} {
		if b, _ := os.ReadFile(p); string(b) != "old" {
			t.Errorf("%s holds %q after the refusal, want the old content", filepath.Base(p), b)
		}
	}
	if st, _ := os.Stat(ro); st.Mode().Perm() != 0o444 {
		t.Errorf("ro_flow.go mode %v after the refusal, want 0444", st.Mode().Perm())
	}
	if got := names(t, dir); !slices.Equal(got, []string{"ro_flow.go", "rw_flow.go"}) {
		t.Errorf("directory holds %q, want the two files and no temporary file", got)
	}
	// Through a symbolic link: the file it leads to is the one refused.
	link := filepath.Join(dir, "link.go")
	if err := os.Symlink(ro, link); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	if err := WriteFile(link, []byte("new"), 0o644); !errors.Is(err, ErrReadOnly) {
		t.Errorf("WriteFile through a link to a 0444 file = %v, want ErrReadOnly", err)
	}
	// Writable by its owner only is writable.
	if err := os.Chmod(ro, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(ro, []byte("new"), 0o644); err != nil {
		t.Errorf("WriteFile over a 0644 file: %v", err)
	}
}
