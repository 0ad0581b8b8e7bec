package flagerr

import (
	"errors"
	"flag"
)

// PathVar defines a string flag that names a file or a directory, as
// flag.FlagSet.StringVar does with the default "", that refuses an empty
// value: `invalid value "" for flag -tokens: the flag is empty`. Given
// empty, most often as a variable that is not set (`-tokens "$TOKENS"`),
// it would read as the flag left out and change what the command does
// without a word: serve would serve the API open. Left out, the flag is ""
// as before. Every path flag of the serve commands is one.
func PathVar(fs *flag.FlagSet, p *string, name, usage string) {
	*p = ""
	fs.Var((*pathValue)(p), name, usage)
}

// Path is PathVar with a new variable.
func Path(fs *flag.FlagSet, name, usage string) *string {
	p := new(string)
	PathVar(fs, p, name, usage)
	return p
}

// errEmptyPath is what an empty path flag gets.
var errEmptyPath = errors.New("the flag is empty: give a path, or leave the flag out")

type pathValue string

func (v *pathValue) Set(s string) error {
	if s == "" {
		return errEmptyPath
	}
	*v = pathValue(s)
	return nil
}

func (v *pathValue) String() string { return string(*v) }

func (v *pathValue) Get() any { return string(*v) }
