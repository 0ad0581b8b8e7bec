//go:build unix

package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// locked holds the LOCK files this process has locked, so that a second
// Open of a log this process has open is told so, not that another
// process holds it: flock conflicts between two descriptors of one
// process as it does between processes.
var locked struct {
	sync.Mutex
	files map[*os.File]os.FileInfo
}

// lockDir takes an exclusive advisory lock on dir/LOCK, and on dir
// itself, so that two processes never append to the same log. The kernel
// drops them when the process dies. LOCK stays after a clean stop, and
// an operator may take it for a stale lock file and remove it while a
// process holds it: a second process would then lock a new LOCK and
// write beside the first. The directory cannot go while it holds the
// log, so its lock holds (LOCK's is kept for versions that lock it alone).
func lockDir(dir string) ([]*os.File, error) {
	var held []*os.File
	for _, path := range []string{filepath.Join(dir, "LOCK"), dir} {
		f, err := lockFile(dir, path)
		if path == dir && errors.Is(err, errNoLock) {
			// A file system that cannot lock a directory (NFS emulates
			// flock with write locks, which a directory opened for reading
			// cannot take): LOCK's lock alone, as before.
			break
		}
		if err != nil {
			unlockDir(held)
			return nil, err
		}
		held = append(held, f)
	}
	return held, nil
}

// errNoLock is matched by lockFile's error when the lock could not be
// taken for another reason than another holder.
var errNoLock = errors.New("cannot lock")

// lockFile opens path (LOCK, made if missing, or the log's directory dir)
// and locks it.
func lockFile(dir, path string) (*os.File, error) {
	var f *os.File
	var err error
	if path == dir {
		f, err = os.Open(dir)
	} else {
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, filePerm)
	}
	if err != nil {
		return nil, err
	}
	locked.Lock()
	defer locked.Unlock()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fi, serr := f.Stat()
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("wal: lock %s: %w (%w)", path, err, errNoLock)
		}
		if serr == nil {
			for _, held := range locked.files {
				if os.SameFile(fi, held) {
					return nil, fmt.Errorf("wal: %s is already open in this process: close the other log (Store) first, or share it", dir)
				}
			}
		}
		return nil, &inUseError{dir: dir, err: err}
	}
	if fi, err := f.Stat(); err == nil {
		if locked.files == nil {
			locked.files = map[*os.File]os.FileInfo{}
		}
		locked.files[f] = fi
	}
	return f, nil
}

// inUseError is lockFile's error when another process holds the lock. It
// wraps flock's EWOULDBLOCK for errors.Is, but its text ends at what it
// means: "resource temporarily unavailable" said nothing more to whoever
// started a second server on the store.
type inUseError struct {
	dir string
	err error
}

func (e *inUseError) Error() string {
	return fmt.Sprintf("wal: %s is in use by another process", e.dir)
}

func (e *inUseError) Unwrap() error { return e.err }

// Is makes the error ErrInUse too, for callers that must tell "another
// process has it" from other failures without flock's errno.
func (e *inUseError) Is(target error) bool { return target == ErrInUse }

// unlockDir closes the files lockDir returned, which drops their locks.
func unlockDir(held []*os.File) error {
	locked.Lock()
	defer locked.Unlock()
	var errs []error
	for _, f := range held {
		delete(locked.files, f)
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// noRoom reports whether err is a write refused for want of room: a full
// disk, a quota, a file size limit.
func noRoom(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EFBIG)
}
