package cli

// The verbs that read a durable store: runs, history and inbox. Owned with
// runtime/store; registered by the init below so that cli.go stays as is.

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// init adds the store verbs after version's peers. cli.go's init (which
// sets verbs) runs first: Go runs a package's init functions in the order
// its files are presented to the compiler, sorted by name.
func init() {
	verbs = append(verbs, runsVerb, historyVerb, inboxVerb)
}

const timeLayout = "2006-01-02T15:04:05.000Z07:00"

var runsVerb = &verb{
	name:  "runs",
	short: "list the runs in a store",
	summary: `Runs lists the runs in a durable store (runtime/store): run ID, flow, state,
current or last step, number of events, time of the last event and, for a
child run of a call, its parent run, in the order the runs started. A run
with an abort accepted that it has yet to take (its step in flight has not
returned, or the engine has not resumed it) says "(abort pending)" after its
state; -json says "abort_requested": true, as GET /runs/{id} does. The
store is opened read-only, so it can be read while a service has it open.

The runs are read and printed a page at a time, as GET /runs pages them
(1,000 runs; the table's columns are aligned a page at a time). -limit N
prints one page of at most N runs and, when more follow, says on stderr the
-cursor of the next page: the cursor GET /runs answers as next_cursor, so
that either continues the other's pages. -order newest lists the latest
runs first.`,
	flags: func(fs *flag.FlagSet) func(*env, []string) int {
		dir := storeFlag(fs)
		flow := fs.String("flow", "", "only runs of the flow with this `NAME`")
		status := fs.String("status", "", "only runs in this `STATE`: "+joinStates()+", or active (not over)")
		asJSON := fs.Bool("json", false, "print one JSON object per run, one per line")
		pages := addPageFlags(fs, "runs", "run", "runs", "the order they started", "GET /runs")
		return func(e *env, args []string) int {
			if len(args) != 0 {
				return usageError(e, "unexpected arguments %q", args)
			}
			if *dir == "" {
				return usageError(e, "-store is required")
			}
			f := store.Filter{Flow: *flow}
			page, newest, code, ok := pages.read(e, func(c string) (err error) {
				f.After, err = engine.RunsCursorAfter(c)
				return err
			})
			if !ok {
				return code
			}
			f.Newest = newest
			switch s := runtime.RunState(*status); {
			case s == "":
			case s == "active":
				f.NonTerminal = true
			case validState(s):
				f.State = s
			default:
				return badChoice(e, "status", *status, "one of "+joinStates()+", or active", statusChoices())
			}
			st, err := openStore(*dir, true, store.Options{})
			if err != nil {
				return failf(e, "%v", err)
			}
			defer st.Close()
			var enc *json.Encoder
			tw := newTable(e.stdout)
			if *asJSON {
				enc = json.NewEncoder(e.stdout)
			} else {
				fmt.Fprintln(tw, "RUN\tFLOW\tSTATE\tSTEP\tEVENTS\tUPDATED\tPARENT")
			}
			for first := true; ; {
				runs, next, err := engine.RunsPage(st.List, f, page)
				if errors.Is(err, engine.ErrRunsCursorGone) {
					if first {
						return failf(e, "-cursor %q %v", *pages.cursor, err)
					}
					// Another process compacted the store while this one read it.
					return failf(e, "run %q, which the next page continues after, %v", f.After, err)
				}
				first = false
				if err != nil {
					return failf(e, "%v", err)
				}
				for _, r := range runs {
					if enc != nil {
						if err := enc.Encode(engine.ListRun(st, r)); err != nil {
							return failf(e, "%v", err)
						}
						continue
					}
					state := string(r.State)
					if engine.AbortPending(st, r.RunID, r.State) {
						state += " (abort pending)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", shown(r.RunID), r.Flow, state, dash(r.Step), r.Events, r.Updated.Format(timeLayout), shown(dash(r.Parent)))
				}
				tw.Flush()
				if next == "" {
					return exitOK
				}
				if pages.stop(e, engine.RunsCursor(next)) {
					return exitOK
				}
				f.After = next
			}
		}
	},
}

var historyVerb = &verb{
	name:  "history",
	args:  "RUN",
	short: "print the timeline of one run in a store",
	summary: `History prints the timeline of one run from a durable store: for each event
its time, sequence number, step, transition (from -> to), attempt, outcome
and error (its first line; -json has all of it, and the state snapshot);
then the run's state, when its next attempt starts if it is in a retry's
backoff, what it waits for and until when if it waits (a
sleep's wake-up time, an await's event, a call's child run, and the
deadline), whether an abort accepted waits for the run to take it, its
parent run if a call started it, and the child runs its calls started.`,
	flags: func(fs *flag.FlagSet) func(*env, []string) int {
		dir := storeFlag(fs)
		asJSON := fs.Bool("json", false, "print the events as JSON objects (the runtime.Event form), one per line")
		return func(e *env, args []string) int {
			if len(args) != 1 {
				return usageError(e, "want exactly one run ID, got %d arguments", len(args))
			}
			if args[0] == "" {
				// No run has an empty ID: a shell variable that was
				// never set, not a run the store lacks.
				return usageError(e, "empty run ID")
			}
			if *dir == "" {
				return usageError(e, "-store is required")
			}
			st, err := openStore(*dir, true, store.Options{})
			if err != nil {
				return failf(e, "%v", err)
			}
			defer st.Close()
			// A page at a time, as GET /runs/{id}/history reads it: a
			// run holds up to 25,000 events, each with a state of up to
			// megabytes. -json prints each page as it is read; the
			// table shows no state and no payload (of the event that
			// woke a waiting run, as large as its sender made it), and
			// holds the events without them (runtime.Replay, below,
			// reads neither).
			var h []runtime.Event
			var enc *json.Encoder
			if *asJSON {
				enc = json.NewEncoder(e.stdout)
			}
			err = engine.EachHistoryPage(st, args[0], *asJSON, func(page []runtime.Event) error {
				if enc == nil {
					for i := range page {
						page[i].Payload = nil
					}
					h = append(h, page...)
					return nil
				}
				for _, ev := range page {
					if err := enc.Encode(ev); err != nil {
						return err
					}
				}
				return nil
			})
			if errors.Is(err, runtime.ErrUnknownRun) {
				return failf(e, "no run %q in store %s", args[0], *dir)
			}
			if err != nil {
				return failf(e, "%v", err)
			}
			if *asJSON {
				return exitOK
			}
			tw := newTable(e.stdout)
			fmt.Fprintln(tw, "TIME\tSEQ\tSTEP\tTRANSITION\tATTEMPT\tOUTCOME\tERROR")
			for _, ev := range h {
				attempt := "-"
				if ev.Attempt > 0 {
					attempt = strconv.Itoa(ev.Attempt)
				}
				outcome := dash(ev.Outcome)
				switch {
				case ev.Woke():
					outcome = "woken" // as the web view says
				case ev.BackAtGate():
					outcome = "gate closed" // no failure: the same attempt runs once the wait it records ends
				case ev.Interrupted():
					outcome = "interrupted" // the abort cut the step short: as the diagram lights it
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s -> %s\t%s\t%s\t%s\n", ev.Time.Format(timeLayout), ev.Seq, dash(ev.Step),
					ev.From, ev.To, attempt, outcome, firstLineMore(ev.Error))
			}
			tw.Flush()
			if len(h) > 0 {
				if s, err := runtime.Replay(h); err == nil {
					fmt.Fprintf(e.stdout, "\nrun %s (flow %s) is %s after %d events, %s\n", shown(s.RunID), s.Flow, s.State, len(h),
						h[len(h)-1].Time.Sub(h[0].Time).Round(time.Microsecond))
					if !s.RetryAt.IsZero() {
						fmt.Fprintln(e.stdout, retryLine(s))
					}
					if s.Wait != nil {
						fmt.Fprintln(e.stdout, waitLine(s.Step, s.Wait))
					}
					if engine.AbortPending(st, s.RunID, s.State) {
						fmt.Fprintln(e.stdout, "abort pending: accepted, not yet taken by the run (its step in flight has not returned, or the engine has not resumed it); it then rolls back and ends aborted")
					}
					if p := s.Parent; p != nil {
						fmt.Fprintf(e.stdout, "parent: run %s (flow %s)\n", shown(p.RunID), p.Flow)
					}
					for _, c := range s.Children {
						fmt.Fprintf(e.stdout, "child: run %s (flow %s)\n", shown(c.RunID), c.Flow)
					}
				} else {
					fmt.Fprintf(e.stdout, "\nthe history does not replay: %v\n", err)
				}
			}
			return exitOK
		}
	},
}

// retryLine says when the next attempt of a run in a retry's backoff
// starts (runtime.Status.RetryAt): of its step, or of the step's rollback.
func retryLine(s runtime.Status) string {
	what := "step " + s.Step
	if _, phase, _ := runtime.ParseMachineState(s.Machine); phase == runtime.PhaseRollback {
		what = "the rollback of step " + s.Step
	}
	return fmt.Sprintf("%s tries again: attempt %d at %s", what, s.Attempt, s.RetryAt.Format(timeLayout))
}

// waitLine says what a waiting run's step waits for, and until when, as
// its history records it (runtime.Wait).
func waitLine(step string, w *runtime.Wait) string {
	var what string
	switch {
	case w.Child != nil:
		what = fmt.Sprintf("waits for its child run %s (flow %s) to end", shown(w.Child.RunID), w.Child.Flow)
	case w.Topic != "" || w.Event != "":
		what = "waits for " + w.Awaited()
	case !w.Until.IsZero():
		what = "sleeps until " + w.Until.Format(timeLayout)
	default:
		what = "waits"
	}
	line := "step " + step + " " + what
	if !w.Deadline.IsZero() {
		line += "; times out at " + w.Deadline.Format(timeLayout)
	}
	return line
}

func validState(s runtime.RunState) bool {
	for _, v := range runtime.RunStates {
		if v == s {
			return true
		}
	}
	return false
}

// statusChoices are the values of runs -status: the run states and
// active.
func statusChoices() []string { return append(runStateNames(), "active") }

func joinStates() string { return strings.Join(runStateNames(), ", ") }

func runStateNames() []string {
	names := make([]string, len(runtime.RunStates))
	for i, s := range runtime.RunStates {
		names[i] = string(s)
	}
	return names
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// firstLineMore is the first line of s, saying how many lines follow (a
// panic's stack, for one).
func firstLineMore(s string) string {
	first, rest, ok := strings.Cut(s, "\n")
	if !ok {
		return shown(first)
	}
	return fmt.Sprintf("%s (+%d lines, see -json)", shown(first), strings.Count(rest, "\n")+1)
}

// shown escapes, as Go does in a quoted string, the characters of s that
// a terminal acts on or hides rather than shows: control characters (an
// ESC sequence can retitle the window, move the cursor, rewrite the
// lines above; a newline or a tab breaks the table's rows and columns),
// format characters (U+202E reverses what follows) and bytes that are not
// UTF-8. An error is anyone's text: a remote provider's error message, a
// publisher's event in a dead letter's reason; and so are a run ID (a
// client's), a message's topic, event and ID (a broker's) and a claim's
// key (made of a run ID).
func shown(s string) string {
	hidden := func(r rune) bool {
		return diag.Hidden(r) || r == utf8.RuneError
	}
	if !strings.ContainsFunc(s, hidden) {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case hidden(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}
