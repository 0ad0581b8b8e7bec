// Package cli is the flowgen command line: Main takes the arguments and
// streams, so that tests run the whole command in-process. The manual is the
// package doc of cmd/flowgen.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/internal/flagerr"
	"github.com/flowgen/flowgen/internal/graph"
)

// Exit codes. Usage errors are distinct from diagnostics so that scripts
// (and go generate) can tell "you called me wrong" from "your flow is
// wrong".
const (
	exitOK    = 0
	exitError = 1 // diagnostics with an error, or an I/O failure
	exitUsage = 2 // bad verb, flag or arguments
)

// env is what every verb runs with.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	cwd            string   // for relative display paths; "" if unknown
	verb           *verb    // the verb running
	args           []string // the verb's arguments as given, flags included
}

// verb is one subcommand.
type verb struct {
	name    string
	args    string // argument synopsis after the flags
	short   string // one line for the overview; "" means summary's first sentence
	summary string
	// flags registers the verb's flags and returns the function that runs
	// it with the remaining arguments.
	flags func(fs *flag.FlagSet) func(e *env, args []string) int
}

// verbs in the order the help lists them; gen is the default verb. Other
// files may append verbs in init functions, which run after this variable
// is initialised.
var verbs = []*verb{genVerb, checkVerb, fmtVerb, graphVerb, jsonVerb, versionVerb}

func lookupVerb(name string) *verb {
	for _, v := range verbs {
		if v.name == name {
			return v
		}
	}
	return nil
}

// Main runs flowgen with args (without the program name) and returns the
// process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	out := &outWriter{w: stdout}
	code := dispatch(args, stdin, out, stderr)
	// A verb's output is what it was asked for: cut short (a full disk,
	// a closed pipe), it is a failure, not a success with less to read.
	// A verb that saw the error itself (-json's encoders) has said so.
	if out.err != nil && code == exitOK {
		return failf(&env{stderr: stderr}, "writing the output: %v", out.err)
	}
	return code
}

// outWriter remembers the first error writing to stdout, and writes
// nothing after it, so that no output goes on past a hole.
type outWriter struct {
	w   io.Writer
	err error
}

func (o *outWriter) Write(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	o.err = err
	return n, err
}

// dispatch runs the verb args name.
func dispatch(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	if wd, err := os.Getwd(); err == nil {
		e.cwd = wd
	}
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help":
		return help(e, args[1:])
	case "-h", "-help", "--help":
		usage(stderr)
		return exitOK
	}
	if v := lookupVerb(args[0]); v != nil {
		return run(e, v, args[1:])
	}
	// Not a verb: flowgen FILE... means flowgen gen FILE..., as in
	// //go:generate go tool flowgen signup.flow. A word that is neither a
	// verb nor something that looks like an input is a mistyped verb.
	if a := args[0]; !strings.HasPrefix(a, "-") && !looksLikeInput(a) {
		fmt.Fprintf(stderr, "flowgen: unknown command %q", a)
		if s := suggestVerb(a); s != "" {
			fmt.Fprintf(stderr, "; did you mean %q?", s)
		}
		fmt.Fprintf(stderr, "\nrun 'flowgen help' for usage\n")
		return exitUsage
	}
	// A verb written as a flag (flowgen --version) would be gen's unknown
	// flag, an error about a verb the user did not ask for.
	if name, _, _ := strings.Cut(strings.TrimLeft(args[0], "-"), "="); strings.HasPrefix(args[0], "-") && lookupVerb(name) != nil {
		fmt.Fprintf(stderr, "flowgen: %s is not a flag; the verb is written without dashes: flowgen %s\nrun 'flowgen help' for usage\n", args[0], name)
		return exitUsage
	}
	return run(e, genVerb, args)
}

// looksLikeInput reports whether a (not a verb) should be taken as a file
// for the default verb.
func looksLikeInput(a string) bool {
	switch strings.ToLower(filepath.Ext(a)) {
	case ".flow", ".json":
		return true
	}
	_, err := os.Stat(a)
	return err == nil
}

func run(e *env, v *verb, args []string) int {
	e.verb, e.args = v, args
	fs := flag.NewFlagSet("flowgen "+v.name, flag.ContinueOnError)
	exec := v.flags(fs)
	// The flag package would print a bad flag's error followed by the whole
	// manual of the verb, which scrolls the error out of sight: -h asks for
	// the manual, a mistake gets the error and the synopsis, as every other
	// usage error does.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			verbUsage(e.stderr, v, fs)
			return exitOK
		}
		return usageError(e, "%s", flagerr.Describe(err, fs))
	}
	if a := flagAfterArgs(fs); a != "" {
		return usageError(e, "%s after the arguments is not read as a flag: flags go before the arguments", a)
	}
	return exec(e, fs.Args())
}

// flagAfterArgs is the first argument left after the flags that names a
// flag of fs ("flowgen check x.flow -nopkg": the flag package stops at
// x.flow) and is no file, or "". Such a slip would otherwise end in "open
// -nopkg: no such file or directory".
func flagAfterArgs(fs *flag.FlagSet) string {
	for _, a := range fs.Args() {
		name, ok := strings.CutPrefix(a, "-")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(strings.TrimPrefix(name, "-"), "=")
		if fs.Lookup(name) == nil {
			continue
		}
		if _, err := os.Lstat(a); err != nil {
			return a
		}
	}
	return ""
}

// usageError prints msg and the running verb's synopsis, and returns
// exitUsage.
func usageError(e *env, format string, args ...any) int {
	v := e.verb
	fmt.Fprintf(e.stderr, "flowgen %s: %s\n", v.name, fmt.Sprintf(format, args...))
	fmt.Fprintf(e.stderr, "usage: flowgen %s\nrun 'flowgen help %s' for details\n", synopsis(v), v.name)
	return exitUsage
}

// failf prints an error that is not a diagnostic (I/O, internal) and
// returns exitError.
func failf(e *env, format string, args ...any) int {
	fmt.Fprintf(e.stderr, "flowgen: %s\n", fmt.Sprintf(format, args...))
	return exitError
}

func synopsis(v *verb) string {
	s := v.name
	if hasFlags(v) {
		s += " [flags]"
	}
	if v.args != "" {
		s += " " + v.args
	}
	return s
}

func hasFlags(v *verb) bool {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	v.flags(fs)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

func verbUsage(w io.Writer, v *verb, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: flowgen %s\n\n%s\n", synopsis(v), v.summary)
	if hasFlags(v) {
		fmt.Fprintf(w, "\nflags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "flowgen compiles .flow files into Go and checks, formats, draws and exports them.\n\n")
	fmt.Fprintf(w, "usage:\n")
	fmt.Fprintf(w, "  flowgen [gen] [flags] FILE...   (gen is the default verb)\n")
	fmt.Fprintf(w, "  flowgen <verb> [flags] [args]\n\nverbs:\n")
	for _, v := range verbs {
		fmt.Fprintf(w, "  %-8s %s\n", v.name, shortHelp(v))
	}
	fmt.Fprintf(w, "\nrun 'flowgen help <verb>' or 'flowgen <verb> -h' for a verb's flags.\n")
	fmt.Fprintf(w, "exit status: 0 ok (warnings allowed), 1 errors in the input or I/O errors, 2 usage errors,\n130 (143) interrupted by SIGINT (SIGTERM) while gen or fmt -w wrote, which then writes nothing.\n")
}

// shortHelp is the verb's line in the overview.
func shortHelp(v *verb) string {
	if v.short != "" {
		return v.short
	}
	text := strings.Join(strings.Fields(v.summary), " ")
	for _, end := range []string{". ", ": "} {
		if i := strings.Index(text, end); i >= 0 {
			text = text[:i]
		}
	}
	return strings.TrimSuffix(text, ".")
}

func help(e *env, args []string) int {
	switch len(args) {
	case 0:
		usage(e.stdout)
		return exitOK
	case 1:
		if args[0] == "help" {
			usage(e.stdout)
			return exitOK
		}
		v := lookupVerb(args[0])
		if v == nil {
			fmt.Fprintf(e.stderr, "flowgen help: unknown verb %q", args[0])
			if s := suggestVerb(args[0]); s != "" {
				fmt.Fprintf(e.stderr, "; did you mean %q?", s)
			}
			fmt.Fprintln(e.stderr)
			return exitUsage
		}
		fs := flag.NewFlagSet("flowgen "+v.name, flag.ContinueOnError)
		v.flags(fs)
		verbUsage(e.stdout, v, fs)
		return exitOK
	}
	fmt.Fprintf(e.stderr, "usage: flowgen help [verb]\n")
	return exitUsage
}

// suggestVerb returns what a mistyped word most likely meant, or "": the
// graph verb for a diagram format, else the verb closest to it within two
// edits, and fewer edits than the word has letters.
func suggestVerb(s string) string {
	// A diagram format typed as a verb (flowgen dot, flowgen mermaid) is
	// what graph draws: closer in meaning than any verb's spelling.
	if slices.Contains(graph.Formats, strings.ToLower(s)) {
		return "graph -format " + strings.ToLower(s)
	}
	names := make([]string, len(verbs))
	for i, v := range verbs {
		names[i] = v.name
	}
	return diag.Closest(s, names, min(2, len(s)-1))
}
