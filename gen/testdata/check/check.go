// Package check helps the programs that run the generated goldens: it
// turns a run's history into readable transition lines and exits the
// program with a message when a run went anywhere unexpected.
package check

import (
	"fmt"
	"os"
	"strings"

	"github.com/flowgen/flowgen/runtime"
)

// Transitions returns one line per event: "from -> to", with the outcome
// in brackets when the event has one.
func Transitions(events []runtime.Event) []string {
	out := make([]string, 0, len(events))
	for _, e := range events {
		line := e.From + " -> " + e.To
		if e.Outcome != "" {
			line += " [" + e.Outcome + "]"
		}
		out = append(out, line)
	}
	return out
}

// Run checks a finished run: its final state and its transitions.
func Run(what string, sink *runtime.MemorySink, runID string, final, wantFinal runtime.RunState, want ...string) {
	got := Transitions(sink.History(runID))
	if final != wantFinal || strings.Join(got, "\n") != strings.Join(want, "\n") {
		Fatalf("%s: run ended %s (want %s) after\n\t%s\nwant\n\t%s", what, final, wantFinal,
			strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	fmt.Printf("%s: %s, %d transitions\n", what, final, len(got))
}

// Equal fails the program when got != want.
func Equal[T comparable](what string, got, want T) {
	if got != want {
		Fatalf("%s = %v, want %v", what, got, want)
	}
}

// Fatalf prints the message and exits with status 1.
func Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}
