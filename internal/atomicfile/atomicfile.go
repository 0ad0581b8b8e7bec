// Package atomicfile replaces files so that a reader, and the disk after a
// crash or a power cut, sees the old content or the new, never a mix or an
// empty file. It is the project's one atomic file writer: the CLI writes
// generated and formatted files with it, and the engine the JSON flows it
// keeps in its flows directory.
//
// github.com/google/renameio/v2 was considered and not used: it does not
// sync the directory after the rename (so the rename itself may not survive
// a power cut), and it does not build its WriteFile on Windows.
package atomicfile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
)

// WriteFile replaces path with data. The data goes to a temporary file in
// path's directory (so that the rename stays on one file system), which is
// given its permissions, synced, closed and renamed over path; then the
// directory is synced, so that the rename is on disk when WriteFile
// returns. An existing file keeps its permission bits; a new one gets perm.
// A path that exists and is not a regular file (a directory, a device) is
// an error, and so is a file its owner may not write (ErrReadOnly).
//
// A path that is a symbolic link stays one: WriteFile replaces the file the
// link leads to (in that file's directory), as a plain write through the
// link would, rather than renaming over the link. A link that leads to no
// file is an error.
//
// On an error before the rename, path is unchanged and the temporary file
// is removed. An error writing or renaming the temporary file is a
// *fs.PathError for path, with its cause: the temporary file's name is
// not one the caller gave. An error syncing the directory comes after the rename: path
// then holds data, which may not survive a crash.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return WriteFiles([]File{{Path: path, Data: data, Perm: perm}})
}

// ErrNotRegular is why WriteFile will not replace a path: it is there and
// is not a regular file (a directory, a device, a named pipe).
var ErrNotRegular = errors.New("not a regular file")

// ErrReadOnly is why WriteFile will not replace a file: its owner may not
// write it (mode 0444, say). Someone marked it not to be changed, as a
// file kept read-only by a version control system or a build, and gofmt -w
// and editors refuse it too; the rename would replace it all the same, even
// for root, whom a plain write would not stop either. Make it writable
// (chmod u+w) to let it be replaced.
var ErrReadOnly = errors.New("read-only file (its owner may not write it): make it writable (chmod u+w) to replace it")

// File is one file for WriteFiles: its path, its new contents, and the
// permissions it gets if it is new.
type File struct {
	Path string
	Data []byte
	Perm fs.FileMode
}

// WriteFiles replaces several files as WriteFile replaces one, and as one
// change as far as a file system allows: every file is first written and
// synced to its temporary file, and only when all of them are ready are
// they renamed into place, then their directories synced. So an error
// while writing any of them (no room, no permission, a path that is a
// directory) leaves every path unchanged and no temporary file behind. A
// rename can still fail after others succeeded (the temporary files are
// then in place, so this is rare); the files renamed before it keep their
// new contents, synced, and the error is the failed rename's.
func WriteFiles(files []File) error {
	return WriteFilesContext(context.Background(), files)
}

// WriteFilesContext is WriteFiles that stops when ctx is done (the user
// pressed Ctrl-C) before the renames begin: then every path is unchanged,
// no temporary file is left, and the error is ctx's. Once the renames have
// begun they all go through, so that the files stay one change.
func WriteFilesContext(ctx context.Context, files []File) error {
	staged := make([]*stagedFile, 0, len(files))
	defer func() {
		for _, st := range staged {
			st.discard()
		}
	}()
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		st, err := stage(f)
		if err != nil {
			return err
		}
		staged = append(staged, st)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var dirs []string
	var err error
	for len(staged) > 0 {
		st := staged[0]
		if err = rename(st.tmp, st.path); err != nil {
			err = writeError(st.asked, err)
			break
		}
		staged = staged[1:]
		if !slices.Contains(dirs, st.dir) {
			dirs = append(dirs, st.dir)
		}
	}
	// The files renamed before a failed rename keep their new contents:
	// their directories are synced all the same.
	for _, dir := range dirs {
		if serr := SyncDir(dir); serr != nil && err == nil {
			err = serr
		}
	}
	return err
}

// stagedFile is a file written and synced under its temporary name, ready
// to be renamed over path (asked, through any symbolic links).
type stagedFile struct {
	asked, path, dir, tmp string
}

// discard removes the temporary file of a staged file that was not
// renamed.
func (st *stagedFile) discard() { os.Remove(st.tmp) }

// stage writes f's data to a temporary file beside the file f.Path names
// (through a symbolic link), with the permissions the file will have, and
// syncs and closes it. On an error nothing is left behind.
func stage(f File) (*stagedFile, error) {
	path, err := target(f.Path)
	if err != nil {
		return nil, err
	}
	perm := f.Perm
	if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: %w", path, ErrNotRegular)
		}
		if st.Mode().Perm()&0o200 == 0 {
			return nil, &fs.PathError{Op: "write", Path: path, Err: ErrReadOnly}
		}
		perm = st.Mode().Perm()
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+tempInfix+"*")
	if err != nil {
		return nil, writeError(f.Path, err)
	}
	if err := fill(tmp, f.Data, perm); err != nil {
		os.Remove(tmp.Name())
		return nil, writeError(f.Path, err)
	}
	return &stagedFile{asked: f.Path, path: path, dir: dir, tmp: tmp.Name()}, nil
}

// fill writes data to tmp, gives it perm, syncs and closes it.
func fill(tmp *os.File, data []byte, perm fs.FileMode) error {
	_, err := tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeError is err, from the temporary file of path or its rename, as an
// error about path: the file the caller asked to write. The temporary
// file's name, which the user never gave, goes; the cause stays (errors.Is
// sees it).
func writeError(path string, err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	return &fs.PathError{Op: "write", Path: path, Err: err}
}

// target is the file path names: path itself, or the file a symbolic link
// at path leads to, through any chain of links.
func target(path string) (string, error) {
	st, err := os.Lstat(path)
	if err != nil || st.Mode()&fs.ModeSymlink == 0 {
		return path, nil // a new file, or not a link: WriteFile handles both
	}
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("%s: symbolic link to a file that cannot be reached: %w", path, err)
	}
	return resolved, nil
}

// tempInfix marks WriteFile's temporary files: "." + the file's name +
// tempInfix + the digits os.CreateTemp puts for its "*".
const tempInfix = ".tmp"

// isTemp reports whether name is one of WriteFile's temporary files.
func isTemp(name string) bool {
	i := strings.LastIndex(name, tempInfix)
	if !strings.HasPrefix(name, ".") || i < 2 {
		return false
	}
	digits := name[i+len(tempInfix):]
	return digits != "" && strings.Trim(digits, "0123456789") == ""
}

// RemoveTemp removes from dir the temporary files that WriteFile calls
// left when their process died between creating and renaming them, and
// returns their names. Call it only while no WriteFile into dir can be
// under way (a process starting on a directory it alone writes).
func RemoveTemp(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, ent := range ents {
		if name := ent.Name(); ent.Type().IsRegular() && isTemp(name) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return removed, err
			}
			removed = append(removed, name)
		}
	}
	return removed, nil
}

// rename is os.Rename; tests replace it to fail at the last step.
var rename = os.Rename

// SyncDir makes the entries of dir (a rename, a new file) durable. Windows
// cannot sync a directory and needs no such step: it does nothing there.
func SyncDir(dir string) error {
	if goruntime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
