package flagerr

import (
	"errors"
	"flag"
	"time"
)

// DurationVar defines a duration flag, as flag.FlagSet.DurationVar does,
// whose bad value says what it wants: `invalid value "xyz" for flag
// -retain: want a duration such as 720h or 30m`, where the flag package
// says only "parse error". Every duration flag of the commands is one.
//
// usage names the value in backquotes (“older than this `duration`”), as
// `FILE` names a file: without them, -h would show the flag's value as
// "value" (flag.UnquoteUsage knows only its own types).
func DurationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var((*durationValue)(p), name, usage)
}

// Duration is DurationVar with a new variable.
func Duration(fs *flag.FlagSet, name string, value time.Duration, usage string) *time.Duration {
	p := new(time.Duration)
	DurationVar(fs, p, name, value, usage)
	return p
}

// errWantDuration is what a bad duration gets; time.ParseDuration's own
// error would repeat the value, which the flag package quotes already.
var errWantDuration = errors.New("want a duration such as 720h or 30m (units h, m, s, ms, us, ns; no d: 30 days is 720h)")

type durationValue time.Duration

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return errWantDuration
	}
	*d = durationValue(v)
	return nil
}

func (d *durationValue) String() string { return time.Duration(*d).String() }

func (d *durationValue) Get() any { return time.Duration(*d) }
