package runtime

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/looplab/fsm"
)

// stateKind classifies machine states.
type stateKind uint8

const (
	kindPending stateKind = iota
	kindFailing
	kindAborting
	kindRunning
	kindWaiting
	kindRollback
	kindParallel // a parallel block's branches run
	kindTerminal
)

// mstate is what the runtime needs to know of a machine state besides its
// name: what kind of phase it is, and of which step.
type mstate struct {
	name string
	kind stateKind
	step int // index in definition.steps, -1 for non-step states
}

// Names of the machine events that are not outcomes. They start with '@',
// which no outcome may, so a step's named outcomes never collide with them.
const (
	evStart = "@start" // pending -> the first step
	evAbort = "@abort" // a step or pending -> aborting
	// <step>:waiting -> <step>:running; and <step>:rollback to itself when
	// the event a gated rollback attempt waits for came (gateOpened).
	evWake = "@wake"
	// <step>:running -> failing: an outcome nothing routes, or the history
	// bound; <block>:parallel -> failing: the history bound.
	evFail = "@fail"
	// Leaving a rollback, and ending an unwind: named after the state they
	// lead to, because which one is the run's data (why it unwinds, what
	// is left to undo), not the flow's.
	evBackFailing  = "@" + MachineFailing
	evBackAborting = "@" + MachineAborting
)

// evUndo is the event that starts the rollback of a step.
func evUndo(step string) string { return "@undo:" + step }

// evEnd is the event that ends an unwind in a terminal state.
func evEnd(s RunState) string { return "@end:" + string(s) }

// stepDef is a registered step with its machine states.
type stepDef[S any] struct {
	*Step[S]
	index       int
	running     *mstate
	waiting     *mstate // nil: the step does not wait
	rollback    *mstate // nil: nothing to undo
	parallel    *mstate // a parallel block's state; nil for other steps
	entry       string  // the state the step is entered in: waiting, else running
	block       int     // a branch: the index of its block; else -1
	branches    []int   // a block: the indexes of its branches
	attempts    int
	rbAttempts  int
	hasRollback bool
}

// definition is a flow's immutable compiled form, built once at the first
// Start: its machine states and the looplab/fsm transitions every run's
// machine is made of. The machine decides where each outcome leads (the
// flow's routing is its transition table); the runtime only knows, per
// state, what to do there.
type definition[S any] struct {
	id     string
	steps  []stepDef[S]
	byID   map[string]int
	states map[string]*mstate
	events fsm.Events
	// edges maps a transition (from, to) to one machine event that makes
	// it: histories name states, not events, and replaying one checks each
	// recorded transition against the machine's table.
	edges map[[2]string]string
	// machines keeps the machines of ended and waiting runs for the next
	// ones: building one (its transition and callback maps) cost as much as
	// a 10-step run's transitions (docs/benchmarks.md), and a waiting run
	// should not hold one.
	machines sync.Pool
	// parallel: the flow has parallel blocks (runs keep lanes).
	parallel bool
	// valueState: S compares with == and its JSON is a function of its
	// value (isValueType), so a snapshot is re-encoded only when the state
	// changed.
	valueState bool
}

var (
	statePending  = &mstate{MachinePending, kindPending, -1}
	stateFailing  = &mstate{MachineFailing, kindFailing, -1}
	stateAborting = &mstate{MachineAborting, kindAborting, -1}
)

// stepIDError reports a step ID that Register refuses: empty, not UTF-8,
// a transition target's, "rollback", or holding ':', '/', '#', '@', white
// space or a control character. A step's ID is part of its idempotency
// key ("<run>/<step>", Key) and of its calls' child run IDs (ChildRunID),
// read back from the right by the separators it may not hold; the key is
// sent as an HTTP header (Idempotency-Key), where a control character is
// not allowed (net/http refuses to send it), and written in logs, where a
// line break would forge a line. Resume applies it to the steps of a
// child run's ID (checkHistoryRunID).
func stepIDError(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: step with an empty ID", ErrDefinition)
	case !utf8.ValidString(id):
		return notUTF8("step ID", id)
	case id == Done || id == Fail:
		return fmt.Errorf("%w: step ID %q is reserved for a transition target", ErrDefinition, id)
	case id == keyRollback:
		return fmt.Errorf("%w: step ID %q is reserved: its idempotency key \"<run>/%s\" would read as a rollback's (ParseKey), and be one for a run ID with a '/'", ErrDefinition, id, id)
	case strings.ContainsAny(id, ":/#@ \t\r\n"):
		return fmt.Errorf("%w: step ID %q contains ':', '/', '#', '@' or white space", ErrDefinition, id)
	case strings.ContainsFunc(id, unicode.IsControl):
		return fmt.Errorf("%w: step ID %q contains a control character", ErrDefinition, id)
	}
	return nil
}

func checkStep[S any](st *Step[S]) error {
	if st == nil {
		return fmt.Errorf("%w: nil step", ErrDefinition)
	}
	if err := stepIDError(st.ID); err != nil {
		return err
	}
	switch {
	case len(st.Branches) > 0:
		if err := checkBlock(st); err != nil {
			return err
		}
	case st.Exec == nil && st.Await == nil && st.Sleep == nil && st.Call == nil:
		return fmt.Errorf("%w: step %q has no Exec", ErrDefinition, st.ID)
	case st.Await != nil && st.Sleep != nil:
		return fmt.Errorf("%w: step %q both awaits an event and sleeps", ErrDefinition, st.ID)
	case st.Call != nil && (st.Await != nil || st.Sleep != nil):
		return fmt.Errorf("%w: step %q both calls a flow and awaits or sleeps", ErrDefinition, st.ID)
	case st.Call != nil && (st.Call.Runs == nil || st.Call.Flow == ""):
		return fmt.Errorf("%w: step %q calls no flow", ErrDefinition, st.ID)
	case st.rollbackCallBad:
		return fmt.Errorf("%w: step %q: its rollback calls no flow", ErrDefinition, st.ID)
	case st.RollbackAwait != nil && (st.Rollback == nil || st.rollbackCall != nil):
		return fmt.Errorf("%w: step %q: RollbackAwait needs a Rollback that is not a call", ErrDefinition, st.ID)
	case st.RollbackAwait != nil && (st.RollbackAwait.Topic == "" || st.RollbackAwait.Event == ""):
		return fmt.Errorf("%w: step %q: its rollback awaits an event without a topic or event name", ErrDefinition, st.ID)
	case st.Call != nil && st.Deadline > 0:
		// A deadline would leave the child running after the step
		// timed out: the child's own steps have the timeouts.
		return fmt.Errorf("%w: step %q calls flow %q and has a deadline: bound the child's steps instead", ErrDefinition, st.ID, st.Call.Flow)
	case st.Await != nil && (st.Await.Topic == "" || st.Await.Event == ""):
		return fmt.Errorf("%w: step %q awaits an event without a topic or event name", ErrDefinition, st.ID)
	case st.Sleep != nil && (st.Sleep.For <= 0) == (st.Sleep.Until == nil):
		return fmt.Errorf("%w: step %q must sleep either For a positive duration or Until a time", ErrDefinition, st.ID)
	case st.Irreversible && st.Rollback != nil:
		return fmt.Errorf("%w: step %q is irreversible but has a rollback", ErrDefinition, st.ID)
	}
	if err := checkDurations(st); err != nil {
		return err
	}
	for out := range st.Next {
		switch {
		case out == "":
			return fmt.Errorf("%w: step %q routes an empty outcome (use %q)", ErrDefinition, st.ID, OutcomeOK)
		case out == OutcomeRetry:
			return fmt.Errorf("%w: step %q routes the reserved outcome %q", ErrDefinition, st.ID, OutcomeRetry)
		case !utf8.ValidString(out):
			return notUTF8(fmt.Sprintf("step %q routes outcome", st.ID), out)
		case strings.HasPrefix(out, "@"):
			return fmt.Errorf("%w: step %q routes outcome %q: outcomes may not start with '@'", ErrDefinition, st.ID, out)
		}
	}
	return checkChoice(st)
}

// checkDurations refuses a negative timeout, deadline or backoff bound
// of st. Each is read as "> 0, else none", so a negative one was a bound
// that silently bound nothing: NewAwait(..., -time.Hour) waited forever
// where its documentation says a timeout that has passed ends the step,
// and a negative Timeout, Deadline or Max left attempts and backoffs
// unbounded. A Sleep's For is Register's own case above.
func checkDurations[S any](st *Step[S]) error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"Timeout", st.Timeout},
		{"Deadline", st.Deadline},
		{"RollbackTimeout", st.RollbackTimeout},
		{"Retry.Initial", st.Retry.Initial},
		{"Retry.Max", st.Retry.Max},
		{"RollbackRetry.Initial", st.RollbackRetry.Initial},
		{"RollbackRetry.Max", st.RollbackRetry.Max},
		{"Await.Timeout", awaitTimeout(st.Await)},
		{"RollbackAwait.Timeout", awaitTimeout(st.RollbackAwait)},
	} {
		if d.v < 0 {
			return fmt.Errorf("%w: step %q: %s %v is negative: a timeout, deadline or backoff is positive, or 0 for none",
				ErrDefinition, st.ID, d.name, d.v)
		}
	}
	return nil
}

func awaitTimeout[S any](a *Await[S]) time.Duration {
	if a == nil {
		return 0
	}
	return a.Timeout
}

// notUTF8 is the error of a name of the flow (what) that is not UTF-8.
// Names are metric labels, span names and history JSON: the Prometheus
// registry refuses a label value that is not UTF-8, and with it the whole
// of a /metrics scrape, and JSON would record U+FFFD for the bytes, a name
// no step has when the history is read back.
func notUTF8(what, name string) error {
	return fmt.Errorf("%w: %s %q is not valid UTF-8", ErrDefinition, what, name)
}

func buildDefinition[S any](id string, top []*Step[S]) (*definition[S], error) {
	if !utf8.ValidString(id) {
		return nil, notUTF8("flow ID", id)
	}
	if len(top) == 0 {
		return nil, fmt.Errorf("%w: flow %q has no steps", ErrDefinition, id)
	}
	// A block's branches follow it: steps holds every step the machine
	// has a state for.
	steps := make([]*Step[S], 0, len(top))
	for _, st := range top {
		steps = append(steps, st)
		steps = append(steps, st.Branches...)
	}
	d := &definition[S]{
		id:     id,
		steps:  make([]stepDef[S], len(steps)),
		byID:   make(map[string]int, len(steps)),
		states: make(map[string]*mstate, 8+3*len(steps)),
	}
	for _, s := range []*mstate{statePending, stateFailing, stateAborting} {
		d.states[s.name] = s
	}
	for _, s := range []RunState{StateDone, StateFailed, StateCompensated, StateAborted, StateCompensationFailed} {
		d.states[string(s)] = &mstate{string(s), kindTerminal, -1}
	}
	for i, st := range steps {
		d.byID[st.ID] = i
		sd := &d.steps[i]
		*sd = stepDef[S]{
			Step:        st,
			index:       i,
			running:     &mstate{RunningState(st.ID), kindRunning, i},
			attempts:    st.Retry.attempts(),
			rbAttempts:  st.RollbackRetry.attempts(),
			hasRollback: st.Rollback != nil,
			block:       -1,
		}
		d.states[sd.running.name] = sd.running
		sd.entry = sd.running.name
		if len(st.Branches) > 0 {
			d.parallel = true
			sd.parallel = &mstate{ParallelState(st.ID), kindParallel, i}
			d.states[sd.parallel.name] = sd.parallel
			sd.entry = sd.parallel.name
			delete(d.states, sd.running.name) // a block does not run: its branches do
			sd.running = nil
			for j := range st.Branches {
				sd.branches = append(sd.branches, i+1+j)
			}
		}
		if st.Await != nil || st.Sleep != nil || st.Call != nil {
			sd.waiting = &mstate{WaitingState(st.ID), kindWaiting, i}
			d.states[sd.waiting.name] = sd.waiting
			sd.entry = sd.waiting.name
		}
		if sd.hasRollback {
			sd.rollback = &mstate{RollbackState(st.ID), kindRollback, i}
			d.states[sd.rollback.name] = sd.rollback
		}
	}
	for i := range d.steps {
		for _, j := range d.steps[i].branches {
			d.steps[j].block = i
		}
	}
	var err error
	if d.events, err = d.machineEvents(); err != nil {
		return nil, err
	}
	d.machines.New = d.newMachine
	d.valueState = isValueType(reflect.TypeFor[S]())
	d.edges = make(map[[2]string]string)
	for _, ev := range d.events {
		for _, src := range ev.Src {
			if _, ok := d.edges[[2]string{src, ev.Dst}]; !ok {
				d.edges[[2]string{src, ev.Dst}] = ev.Name
			}
		}
	}
	return d, nil
}

// machineEvents builds the flow's transition table: which machine event
// leads from which state to which. Outcome events ("ok", "error",
// "timeout", named ones) follow the flow's routing (Step.Next, else the
// defaults: ok to the next step, error and timeout to failing); the '@'
// events are the runtime's own moves.
func (d *definition[S]) machineEvents() (fsm.Events, error) {
	var evs fsm.Events
	add := func(name, dst string, src ...string) {
		evs = append(evs, fsm.EventDesc{Name: name, Src: src, Dst: dst})
	}
	target := func(st *Step[S], out Outcome, to string) (string, error) {
		switch to {
		case Done:
			return string(StateDone), nil
		case Fail:
			return MachineFailing, nil
		}
		j, ok := d.byID[to]
		if !ok {
			return "", fmt.Errorf("%w: step %q routes outcome %q to unknown step %q", ErrDefinition, st.ID, out, to)
		}
		if blk := d.steps[j].block; blk >= 0 {
			return "", fmt.Errorf("%w: step %q routes outcome %q to %q, a branch of parallel block %q", ErrDefinition, st.ID, out, to, d.steps[blk].ID)
		}
		return d.steps[j].entry, nil
	}
	add(evStart, d.steps[0].entry, MachinePending)
	abortable := []string{MachinePending}
	var undoers []string
	for i := range d.steps {
		sd := &d.steps[i]
		if rb := sd.rollback; rb != nil {
			add(evUndo(sd.ID), rb.name, MachineFailing, MachineAborting)
			add(OutcomeRetry, rb.name, rb.name)
			if sd.RollbackAwait != nil {
				add(evWake, rb.name, rb.name)
			}
			undoers = append(undoers, rb.name)
		}
		if sd.block >= 0 {
			// A branch's own machine: it forks from the block's state and
			// joins back to it, whatever its outcome.
			blk, run := d.steps[sd.block].parallel.name, sd.running.name
			add(evFork(sd.ID), run, blk)
			for _, out := range []Outcome{OutcomeError, OutcomeOK, OutcomeTimeout} {
				add(out, blk, run)
			}
			add(OutcomeRetry, run, run)
			continue
		}
		routes := map[Outcome]string{OutcomeOK: string(StateDone), OutcomeError: MachineFailing, OutcomeTimeout: MachineFailing}
		if next := i + 1 + len(sd.branches); next < len(d.steps) {
			routes[OutcomeOK] = d.steps[next].entry
		}
		for _, out := range slices.Sorted(maps.Keys(sd.Next)) {
			to, err := target(sd.Step, out, sd.Next[out])
			if err != nil {
				return nil, err
			}
			routes[out] = to
		}
		if blk := sd.parallel; blk != nil {
			for _, out := range slices.Sorted(maps.Keys(routes)) {
				add(out, routes[out], blk.name)
			}
			add(evFail, MachineFailing, blk.name) // the history bound, as the block is entered
			abortable = append(abortable, blk.name)
			continue
		}
		run := sd.running.name
		for _, out := range slices.Sorted(maps.Keys(routes)) {
			add(out, routes[out], run)
		}
		if a := sd.Await; a != nil && a.EachAttempt {
			add(OutcomeRetry, sd.waiting.name, run) // the retry waits again
		} else {
			add(OutcomeRetry, run, run)
		}
		add(evFail, MachineFailing, run)
		abortable = append(abortable, run)
		if w := sd.waiting; w != nil {
			add(evWake, run, w.name)
			add(OutcomeTimeout, routes[OutcomeTimeout], w.name)
			add(OutcomeError, routes[OutcomeError], w.name)
			abortable = append(abortable, w.name)
		}
	}
	add(evAbort, MachineAborting, abortable...)
	if len(undoers) > 0 {
		add(evBackFailing, MachineFailing, undoers...)
		add(evBackAborting, MachineAborting, undoers...)
	}
	add(evEnd(StateFailed), string(StateFailed), MachineFailing)
	add(evEnd(StateCompensated), string(StateCompensated), MachineFailing)
	add(evEnd(StateAborted), string(StateAborted), MachineAborting)
	add(evEnd(StateCompensationFailed), string(StateCompensationFailed), MachineFailing, MachineAborting)
	return evs, nil
}

// machine returns a machine of the flow in state.
func (d *definition[S]) machine(state string) *fsm.FSM {
	m := d.machines.Get().(*fsm.FSM)
	m.SetState(state)
	return m
}

func (d *definition[S]) newMachine() any { return fsm.NewFSM(MachinePending, d.events, nil) }

// lookup finds a machine state named in a history.
func (d *definition[S]) lookup(name string, seq uint64) (*mstate, error) {
	if s, ok := d.states[name]; ok {
		return s, nil
	}
	step, phase, ok := ParseMachineState(name)
	switch {
	case !ok:
		return nil, &HistoryError{Seq: seq, Msg: fmt.Sprintf("unknown state %q", name)}
	case step != "":
		if _, known := d.byID[step]; known {
			return nil, &HistoryError{Seq: seq, Step: step, Msg: fmt.Sprintf("step has no %s phase in flow %q", phase, d.id)}
		}
		return nil, &HistoryError{Seq: seq, Step: step, Msg: fmt.Sprintf("no such step in flow %q", d.id)}
	}
	return nil, &HistoryError{Seq: seq, Msg: fmt.Sprintf("unknown state %q", name)}
}

// eventStep is the Step field of an event from one state to another: the
// step it leaves, else the step it enters.
func (d *definition[S]) eventStep(from, to *mstate) string {
	if from.step >= 0 {
		return d.steps[from.step].ID
	}
	if to.step >= 0 {
		return d.steps[to.step].ID
	}
	return ""
}

// illegal wraps a machine error of a transition the runtime tried: a bug in
// the runtime, never a user error.
func (d *definition[S]) illegal(from, event string, err error) error {
	return fmt.Errorf("runtime: flow %q: illegal transition %q from %s: %w", d.id, event, from, err)
}

// isNoTransition reports whether err is looplab/fsm's "nothing moved"
// (a self-transition such as a retry), which is not a failure.
func isNoTransition(err error) bool {
	var nt fsm.NoTransitionError
	return errors.As(err, &nt) && nt.Err == nil
}
