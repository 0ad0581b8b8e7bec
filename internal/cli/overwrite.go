package cli

import (
	"bytes"
	"errors"
	"go/ast"
	goparser "go/parser"
	"go/token"
	"io/fs"
	"os"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/internal/atomicfile"
)

// errHandWritten is why gen will not replace a file: it has no generated
// code header, so it may be the user's own code that happens to have the
// output's name.
var errHandWritten = errors.New(`not overwriting a file that was not generated (it has no "// Code generated ... DO NOT EDIT." line before its package clause); rename or remove it, or write the code elsewhere with -o`)

// needsWrite reports whether gen should write data to path: the file does
// not exist yet, it is empty (or white space only: it holds nothing to
// lose, and an editor or "touch" may have created it), or it is generated
// code that differs from data. An equal file is left alone (its time
// stays, so builds stay cached). A file that cannot be read is an error;
// any other file, not generated code, is errHandWritten. A path that is
// not a regular file is not read: a device such as /dev/zero never ends,
// and opening a named pipe waits for a writer.
func needsWrite(path string, data []byte) (bool, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return true, nil
	case err != nil:
		return false, err
	case !st.Mode().IsRegular():
		return false, &fs.PathError{Op: "write", Path: path, Err: atomicfile.ErrNotRegular}
	}
	old, err := os.ReadFile(path)
	switch {
	case err != nil:
		return false, err
	case bytes.Equal(old, data):
		return false, nil
	case dsl.IsBlank(old):
		return true, nil
	case !isGenerated(path, old):
		return false, errHandWritten
	}
	return true, nil
}

// isGenerated reports whether src is generated Go code by the convention
// of https://go.dev/s/generatedcode: a line matching
// `^// Code generated .* DO NOT EDIT\.$` before the package clause, which
// go/ast checks. A file whose package clause does not parse is not.
func isGenerated(path string, src []byte) bool {
	f, err := goparser.ParseFile(token.NewFileSet(), path, src, goparser.PackageClauseOnly|goparser.ParseComments)
	return err == nil && ast.IsGenerated(f)
}
