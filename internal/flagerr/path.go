package flagerr

import (
	"flag"
	"fmt"
)

// PathVar defines a string flag that names a file or a directory, as
// flag.FlagSet.StringVar does with the default "", that refuses an empty
// value: `invalid value "" for flag -tokens: the flag is empty`. Given
// empty, most often as a variable that is not set (`-tokens "$TOKENS"`),
// it would read as the flag left out and change what the command does
// without a word: serve would serve the API open. Left out, the flag is ""
// as before. Every path flag of the serve commands is one.
func PathVar(fs *flag.FlagSet, p *string, name, usage string) {
	NonEmptyVar(fs, p, name, "", "a path", usage)
}

// Path is PathVar with a new variable.
func Path(fs *flag.FlagSet, name, usage string) *string {
	p := new(string)
	PathVar(fs, p, name, usage)
	return p
}

// NonEmptyVar is PathVar for a flag of another kind, whose value, what,
// the error names ("a URL"), and whose default is value: one that empty
// would otherwise give another meaning without a word (serve's -nats ""
// ran on the in-process broker, -id "" as the engine's own default ID).
func NonEmptyVar(fs *flag.FlagSet, p *string, name, value, what, usage string) {
	*p = value
	fs.Var(&nonEmpty{p, what}, name, usage)
}

// NonEmpty is NonEmptyVar with a new variable.
func NonEmpty(fs *flag.FlagSet, name, value, what, usage string) *string {
	p := new(string)
	NonEmptyVar(fs, p, name, value, what, usage)
	return p
}

type nonEmpty struct {
	p    *string
	what string
}

func (v *nonEmpty) Set(s string) error {
	if s == "" {
		return fmt.Errorf("the flag is empty: give %s, or leave the flag out", v.what)
	}
	*v.p = s
	return nil
}

func (v *nonEmpty) String() string {
	if v == nil || v.p == nil { // the flag package's zero value, for -h's defaults
		return ""
	}
	return *v.p
}

func (v *nonEmpty) Get() any { return *v.p }
