package runtime

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/looplab/fsm"
)

// stateKind classifies machine states.
type stateKind uint8

const (
	kindPending stateKind = iota
	kindFailing
	kindAborting
	kindRunning
	kindRollback
	kindTerminal
)

// Positions of the fixed machine states in definition.states; step i has its
// running state at posFirstStep+2i and its rollback state right after.
const (
	posPending = iota
	posFailing
	posAborting
	posDone
	posFailed
	posCompensated
	posAborted
	posCompensationFailed
	posFirstStep
)

type mstate struct {
	name string
	kind stateKind
	step int // index in definition.steps, -1 for non-step states
}

// stepDef is a registered step with everything resolved that a run would
// otherwise look up per transition.
type stepDef[S any] struct {
	*Step[S]
	index       int
	running     int // position of "<id>:running"
	rollback    int // position of "<id>:rollback"
	hasRollback bool
	okTo        int // target position of the ok outcome
	errTo       int
	timeoutTo   int
	named       map[Outcome]int
	attempts    int
	rbAttempts  int
}

// target returns the position an outcome leads to, and whether Next routes it.
func (d *stepDef[S]) target(out Outcome) (int, bool) {
	if out == OutcomeOK {
		return d.okTo, true
	}
	to, ok := d.named[out]
	return to, ok
}

// definition is a flow's immutable compiled form, built once at the first
// Start: the state table, the resolved steps, and the looplab/fsm event table
// that every run's machine is built from.
type definition[S any] struct {
	id     string
	states []mstate
	steps  []stepDef[S]
	byID   map[string]int
	events fsm.Events
	// valueState: S holds no references but strings and has no custom JSON
	// or text marshaling, so its JSON is a function of its memory.
	valueState bool
	// flat encodes S without encoding/json when S has a flat shape (see
	// flatEncoder); nil otherwise.
	flat *flatEncoder
	// machines recycles per-run state machines: building one from events is
	// most of the cost of a short run, and a finished run's machine is as
	// good as new after SetState.
	machines sync.Pool
}

var fixedStates = [posFirstStep]mstate{
	posPending:            {MachinePending, kindPending, -1},
	posFailing:            {MachineFailing, kindFailing, -1},
	posAborting:           {MachineAborting, kindAborting, -1},
	posDone:               {string(StateDone), kindTerminal, -1},
	posFailed:             {string(StateFailed), kindTerminal, -1},
	posCompensated:        {string(StateCompensated), kindTerminal, -1},
	posAborted:            {string(StateAborted), kindTerminal, -1},
	posCompensationFailed: {string(StateCompensationFailed), kindTerminal, -1},
}

func checkStep[S any](st *Step[S]) error {
	switch {
	case st == nil:
		return fmt.Errorf("%w: nil step", ErrDefinition)
	case st.ID == "":
		return fmt.Errorf("%w: step with an empty ID", ErrDefinition)
	case st.ID == Done || st.ID == Fail:
		return fmt.Errorf("%w: step ID %q is reserved for a transition target", ErrDefinition, st.ID)
	case strings.ContainsAny(st.ID, ":/# \t\r\n"):
		return fmt.Errorf("%w: step ID %q contains ':', '/', '#' or white space", ErrDefinition, st.ID)
	case st.Exec == nil:
		return fmt.Errorf("%w: step %q has no Exec", ErrDefinition, st.ID)
	case st.Irreversible && st.Rollback != nil:
		return fmt.Errorf("%w: step %q is irreversible but has a rollback", ErrDefinition, st.ID)
	}
	for out := range st.Next {
		switch out {
		case "":
			return fmt.Errorf("%w: step %q routes an empty outcome (use %q)", ErrDefinition, st.ID, OutcomeOK)
		case OutcomeRetry:
			return fmt.Errorf("%w: step %q routes the reserved outcome %q", ErrDefinition, st.ID, OutcomeRetry)
		}
	}
	return nil
}

func buildDefinition[S any](id string, steps []*Step[S]) (*definition[S], error) {
	if len(steps) == 0 {
		return nil, fmt.Errorf("%w: flow %q has no steps", ErrDefinition, id)
	}
	d := &definition[S]{
		id:     id,
		states: make([]mstate, posFirstStep, posFirstStep+2*len(steps)),
		steps:  make([]stepDef[S], len(steps)),
		byID:   make(map[string]int, len(steps)),
	}
	copy(d.states, fixedStates[:])
	d.valueState = isValueType(reflect.TypeFor[S]())
	d.flat = newFlatEncoder(reflect.TypeFor[S]())
	for i, st := range steps {
		d.byID[st.ID] = i
		d.states = append(d.states,
			mstate{RunningState(st.ID), kindRunning, i},
			mstate{RollbackState(st.ID), kindRollback, i})
	}
	resolve := func(st *Step[S], out Outcome, target string) (int, error) {
		switch target {
		case Done:
			return posDone, nil
		case Fail:
			return posFailing, nil
		}
		if j, ok := d.byID[target]; ok {
			return posFirstStep + 2*j, nil
		}
		return 0, fmt.Errorf("%w: step %q routes outcome %q to unknown step %q", ErrDefinition, st.ID, out, target)
	}
	for i, st := range steps {
		sd := &d.steps[i]
		*sd = stepDef[S]{
			Step:        st,
			index:       i,
			running:     posFirstStep + 2*i,
			rollback:    posFirstStep + 2*i + 1,
			hasRollback: st.Rollback != nil,
			okTo:        posDone,
			errTo:       posFailing,
			timeoutTo:   posFailing,
			attempts:    st.Retry.attempts(),
			rbAttempts:  st.RollbackRetry.attempts(),
		}
		if i+1 < len(steps) {
			sd.okTo = posFirstStep + 2*(i+1)
		}
		for out, target := range st.Next {
			to, err := resolve(st, out, target)
			if err != nil {
				return nil, err
			}
			switch out {
			case OutcomeOK:
				sd.okTo = to
			case OutcomeError:
				sd.errTo = to
			case OutcomeTimeout:
				sd.timeoutTo = to
			default:
				if sd.named == nil {
					sd.named = make(map[Outcome]int)
				}
				sd.named[out] = to
			}
		}
	}
	d.events = d.fsmEvents()
	d.machines.New = func() any { return fsm.NewFSM(MachinePending, d.events, nil) }
	return d, nil
}

// fsmEvents builds the transition table: one fsm event per destination
// state, named after it, whose sources are exactly the states the runtime
// may leave for it. Anything else is refused by the machine.
func (d *definition[S]) fsmEvents() fsm.Events {
	srcs := make([][]string, len(d.states))
	add := func(to int, from string) {
		for _, s := range srcs[to] {
			if s == from {
				return
			}
		}
		srcs[to] = append(srcs[to], from)
	}
	add(d.steps[0].running, MachinePending)
	add(posAborting, MachinePending)
	for i := range d.steps {
		sd := &d.steps[i]
		from := d.states[sd.running].name
		add(sd.running, from) // retry
		add(posFailing, from)
		add(posAborting, from)
		add(sd.okTo, from)
		add(sd.errTo, from)
		add(sd.timeoutTo, from)
		for _, to := range sd.named {
			add(to, from)
		}
		if sd.hasRollback {
			rb := d.states[sd.rollback].name
			add(sd.rollback, MachineFailing)
			add(sd.rollback, MachineAborting)
			add(sd.rollback, rb) // retry
			add(posFailing, rb)
			add(posAborting, rb)
		}
	}
	add(posFailed, MachineFailing)
	add(posCompensated, MachineFailing)
	add(posCompensationFailed, MachineFailing)
	add(posAborted, MachineAborting)
	add(posCompensationFailed, MachineAborting)
	var evs fsm.Events
	for to, s := range srcs {
		if len(s) > 0 {
			evs = append(evs, fsm.EventDesc{Name: d.states[to].name, Src: s, Dst: d.states[to].name})
		}
	}
	return evs
}

// lookup finds the position of a machine state named in a history.
func (d *definition[S]) lookup(name string, seq uint64) (int, error) {
	step, phase, ok := ParseMachineState(name)
	if !ok {
		return 0, &HistoryError{Seq: seq, Msg: fmt.Sprintf("unknown state %q", name)}
	}
	if step == "" {
		for i := range fixedStates {
			if fixedStates[i].name == phase {
				return i, nil
			}
		}
	}
	i, ok := d.byID[step]
	if !ok {
		return 0, &HistoryError{Seq: seq, Step: step, Msg: fmt.Sprintf("no such step in flow %q", d.id)}
	}
	if phase == PhaseRunning {
		return d.steps[i].running, nil
	}
	if !d.steps[i].hasRollback {
		return 0, &HistoryError{Seq: seq, Step: step, Msg: fmt.Sprintf("step has no rollback in flow %q", d.id)}
	}
	return d.steps[i].rollback, nil
}

// eventStep is the Step field of an event from one position to another.
func (d *definition[S]) eventStep(from, to int) string {
	if s := d.states[from].step; s >= 0 {
		return d.steps[s].ID
	}
	if s := d.states[to].step; s >= 0 {
		return d.steps[s].ID
	}
	return ""
}

// stepID is the ID of step i, or "" for -1.
func (d *definition[S]) stepID(i int) string {
	if i < 0 {
		return ""
	}
	return d.steps[i].ID
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// isValueType reports whether t's JSON encoding depends only on its memory:
// no pointers, slices, maps, interfaces, channels or functions anywhere
// (strings are fine: immutable), and no custom marshaling that might read
// anything else.
func isValueType(t reflect.Type) bool {
	if t.Implements(jsonMarshaler) || t.Implements(textMarshaler) ||
		reflect.PointerTo(t).Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(textMarshaler) {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.String:
		return true
	case reflect.Array:
		return isValueType(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !isValueType(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}
