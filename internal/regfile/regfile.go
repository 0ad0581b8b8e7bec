// Package regfile reads the files a server is given on its command line
// and reads again on SIGHUP (a token file, a TLS key pair), those of
// its flows directory, and the files beside a command's inputs that it
// reads on its own (the other .flow files of the package, its Go files),
// and a durable store's segment files (runtime/store, and so the CLI
// verbs that read a store):
// regular files only, once symbolic links are followed (a Kubernetes secret is a link to
// a regular file, and is read), and never in a way that waits. A named
// pipe's open waits for a writer, and its read for the writer's end: a
// server given one would hang at start, and SIGTERM would wait on it.
package regfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Check refuses a path that names something other than a regular file
// once symbolic links are followed: a named pipe, a device, a socket, a
// directory. A path that cannot be stat'ed is not its concern (nil):
// reading it says why. A command calls it to refuse such a path as its
// command line's mistake before it starts; Read applies it too.
func Check(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return nil
	}
	return regular(path, st.Mode())
}

// regular is Check's rule, for the mode m of the file at path.
func regular(path string, m fs.FileMode) error {
	if m.IsRegular() {
		return nil
	}
	what := "not a regular file"
	switch {
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO), not a regular file: reading one waits for a writer"
	case m&fs.ModeDevice != 0:
		what = "a device, not a regular file"
	case m&fs.ModeSocket != 0:
		what = "a socket, not a regular file"
	case m.IsDir():
		what = "a directory, not a regular file"
	}
	return fmt.Errorf("%s is %s", path, what)
}

// Read reads the regular file at path, refusing one larger than max
// bytes (max >= 0) without reading it whole, and returns the mode of that very file
// (not of another renamed over it meanwhile). It never waits: the path
// is checked first (Check), and what was opened is checked again, as a
// named pipe put in the file's place meanwhile would be opened too
// (O_NONBLOCK: at once, without a writer) and must not be read.
func Read(path string, max int64) ([]byte, fs.FileMode, error) {
	f, st, err := open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	if max < 0 {
		src, err := io.ReadAll(f)
		return src, st.Mode(), err
	}
	src, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(src)) > max {
		err = fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return src, st.Mode(), err
}

// Open opens the regular file at path for reading, as Read does, without
// waiting: for a reader that keeps the file open (a store's segments).
func Open(path string) (*os.File, error) {
	f, _, err := open(path)
	return f, err
}

// open is Open, with the opened file's FileInfo.
func open(path string) (*os.File, fs.FileInfo, error) {
	if err := Check(path); err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err == nil {
		err = regular(path, st.Mode())
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st, nil
}
