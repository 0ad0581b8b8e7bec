package demo

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"time"
)

// RunTag tells this process's runs from earlier ones in the same store:
// an example names its runs after a scenario and the tag.
func RunTag() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Sprint(time.Now().UnixNano())
	}
	return hex.EncodeToString(b[:])
}

// Scenario is what the demo says of a run it plays: its name, which with
// this process's RunTag is the run's ID, and what it shows.
type Scenario struct {
	Name, About string
}

// Intro returns s. An example's scenario type has it by embedding
// Scenario: it is how Play reads the scenario.
func (s Scenario) Intro() Scenario { return s }

// Play plays this process's scenarios, each as a run of its own named
// after it and a new RunTag: with -crash-after only crash, else each of
// scenarios in turn. It announces the run, plays it (l prints its
// transitions as they happen), says if the crash never came, and reports
// the outcome.
func Play[S interface{ Intro() Scenario }, O Outcome](l *Live, scenarios []S, crash S, play func(sc S, id string) (O, error)) error {
	list := scenarios
	if l.crash.step != "" {
		list = []S{crash}
	}
	tag := RunTag()
	for _, sc := range list {
		in := sc.Intro()
		id := in.Name + "-" + tag
		Announce(l.w, in.Name, id, in.About)
		l.Follow(id)
		o, err := play(sc, id)
		if err != nil {
			return err
		}
		l.crash.survived()
		o.Report(l.w)
	}
	return nil
}

// Announce prints the line that introduces run id, which plays the
// scenario name: "name (run id): about".
func Announce(w io.Writer, name, id, about string) {
	fmt.Fprintf(w, "%s (run %s): %s\n", name, id, about)
}
