package dsl

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/internal/snippet"
)

// MaxNameLen bounds every name a flow writes, in bytes: flows, steps
// (parallel blocks and their branches), Go rollbacks, outcomes, the
// state type and its fields, rpc services and endpoints, topics and
// events, called flows (docs/engine.md#names-and-ids). The engine takes
// the same limit for the names of its requests (engine.MaxNameLen): a
// flow is saved as <flow>.json, and names go into the store, the brokers,
// the logs and every diagnostic that quotes them.
const MaxNameLen = 128

// NameProblem says what is wrong with name s (what it is: "flow name",
// "topic"): empty, longer than MaxNameLen, not UTF-8, or with a control
// character or a format character (Unicode's Cf: a bidirectional override
// such as U+202E, a zero-width joiner or space, a soft hyphen), which the
// web view and the logs do not show as itself: "admin\u200b" or
// "fl\u202ewoS" would display as another name. "" when nothing is.
func NameProblem(what, s string) string {
	switch {
	case s == "":
		return "empty " + what
	case len(s) > MaxNameLen:
		// Its start, as its length is said.
		return fmt.Sprintf("%s %s is %d bytes long, longer than %d", what, snippet.Quote(s, 32), len(s), MaxNameLen)
	case !utf8.ValidString(s):
		return fmt.Sprintf("%s %q is not UTF-8", what, s)
	}
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			return fmt.Sprintf("%s %q contains the control character %U", what, s, r)
		case unicode.Is(unicode.Cf, r):
			return fmt.Sprintf("%s %q contains the invisible format character %U (a bidirectional override or a zero-width character), which would show the name as another", what, s, r)
		}
	}
	return ""
}

// checkNameLimits reports every name of f outside the limits of
// NameProblem (code "name-limit"), where the file writes it. Check runs it
// first, whatever else is wrong: the other checks quote the names they
// report cut (diag.Quote), and this one says why. An empty name is the
// other checks' to report.
func checkNameLimits(f *File) diag.List {
	var ds diag.List
	eachName(f, func(at diag.Range, what, s string) {
		if s == "" {
			return
		}
		if msg := NameProblem(what, s); msg != "" {
			ds = append(ds, diag.Errorf(at, "name-limit", "%s", msg).
				WithHint("names are at most %d bytes of UTF-8 without control or format characters", MaxNameLen))
		}
	})
	return ds
}

// eachName calls check with every name f writes (empty ones included),
// what it is ("topic", "step name") and where the file writes it: the walk
// of checkNameLimits and checkReservedTopics.
func eachName(f *File, check func(at diag.Range, what, s string)) {
	ident := func(at diag.Range, what string, id *Ident) {
		if id != nil {
			check(pick(id.Range, at), what, id.Name)
		}
	}
	action := func(at diag.Range, a *Action) {
		if a == nil {
			return
		}
		at = pick(a.Range, at)
		check(at, "service", a.Service)
		check(at, "endpoint", a.Endpoint)
		check(at, "topic", a.Topic)
		check(at, "event", a.Event)
		ident(at, "flow name", a.Flow)
		for _, b := range a.When {
			if b != nil {
				ident(pick(b.Range, at), "step name", b.Target)
			}
		}
		ident(at, "step name", a.Otherwise)
	}
	for _, fl := range f.Flows {
		if fl == nil {
			continue
		}
		check(pick(fl.NameRange, fl.Range), "flow name", fl.Name)
		ident(fl.NameRange, "state type", fl.State)
		for _, t := range fl.Triggers {
			if t == nil {
				continue
			}
			check(pick(t.At("endpoint"), fl.NameRange), "rpc endpoint", t.Endpoint)
			check(pick(t.At("topic"), fl.NameRange), "topic", t.Topic)
			check(pick(t.At("event"), fl.NameRange), "event", t.Event)
		}
		for _, s := range fl.AllSteps() { // parallel blocks and their branches included
			at := pick(s.NameRange, s.Range)
			check(at, "step name", s.Name)
			action(s.Range, s.Action)
			if s.Rollback != nil {
				rr := pick(s.Rollback.Range, s.Range)
				ident(rr, "rollback name", s.Rollback.Name)
				action(rr, s.Rollback.Action)
			}
			for _, p := range s.Publish {
				if p != nil {
					pr := pick(p.Range, s.Range)
					check(pr, "topic", p.Topic)
					check(pr, "event", p.Event)
				}
			}
			for _, o := range s.Outcomes {
				ident(at, "outcome", o)
			}
			for _, t := range s.Transitions {
				if t != nil {
					ident(pick(t.Range, at), "outcome", t.On)
					ident(pick(t.Range, at), "step name", t.Target)
				}
			}
		}
		for _, r := range fl.FieldRefs() { // fields of actions, conditions, payloads, writes
			ident(pick(r.Step.NameRange, r.Step.Range), "state field", r.Field)
		}
	}
}
