package diag

import "path/filepath"

// Beside is how diagnostics show the file name of the directory of file,
// a path as diagnostics show it (relative to the working directory, with
// slashes): beside it, so that both read from the same place. A message
// that points at another file of a .flow file's directory (a sibling
// .flow, a Go declaration of its package) names it so.
func Beside(file, name string) string {
	return filepath.ToSlash(filepath.Join(filepath.Dir(file), name))
}
