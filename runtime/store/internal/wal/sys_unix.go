//go:build unix

package wal

import (
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

// lockDir takes an exclusive advisory lock on dir/LOCK so that two processes
// never append to the same log. The kernel drops it when the process dies.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, filePerm)
	if err != nil {
		return nil, err
	}
	locked.Lock()
	defer locked.Unlock()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fi, serr := f.Stat()
		f.Close()
		if serr == nil {
			for _, held := range locked.files {
				if os.SameFile(fi, held) {
					return nil, fmt.Errorf("wal: %s is already open in this process: close the other log (Store) first, or share it", dir)
				}
			}
		}
		return nil, fmt.Errorf("wal: %s is in use by another process: %w", dir, err)
	}
	if fi, err := f.Stat(); err == nil {
		if locked.files == nil {
			locked.files = map[*os.File]os.FileInfo{}
		}
		locked.files[f] = fi
	}
	return f, nil
}

// unlockDir closes a LOCK file lockDir returned, which drops its lock.
func unlockDir(f *os.File) error {
	locked.Lock()
	defer locked.Unlock()
	delete(locked.files, f)
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
