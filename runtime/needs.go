package runtime

import (
	"errors"
	"fmt"
	"strings"
)

// needs is what a step needs from its flow's options: a predefined step
// knows (an rpc needs a Caller), and so do awaits and publications.
type needs uint8

const (
	needCaller needs = 1 << iota
	needPublisher
	needSubscriber
)

func (st *Step[S]) needed() needs {
	n := st.needs
	if st.Await != nil || st.RollbackAwait != nil {
		n |= needSubscriber
	}
	if len(st.Publish) > 0 {
		n |= needPublisher
	}
	return n
}

// checkNilOptions returns an error wrapping ErrNotConfigured for each
// option of f given a nil pointer or func inside its interface (IsNil, the
// rule generated constructors apply to handlers and ports): a `var st
// *store.Store` or `var bus *MemoryBus` never set passes the options'
// `== nil` tests, and the run panics when it first uses it, after the
// steps before had done their work (a nil Subscriber at the first await
// takes the process down). Such an option is a mistake whether or not a
// step needs it, so it is refused always.
func (f *Flow[S]) checkNilOptions() error {
	o := &f.opts
	var errs []error
	for _, opt := range []struct {
		name string
		v    any
	}{
		{"WithSink", o.sink},
		{"WithClock", o.clock},
		{"WithCaller", o.caller},
		{"WithPublisher", o.pub},
		{"WithSubscriber", o.sub},
		{"WithObserver", o.observer},
		{"WithChildren", o.children},
	} {
		if opt.v != nil && IsNil(opt.v) {
			errs = append(errs, fmt.Errorf("%w: flow %q: %s got a nil %T: give it one that is set, or leave the option out",
				ErrNotConfigured, f.id, opt.name, opt.v))
		}
	}
	return errors.Join(errs...)
}

// checkNeeds returns an error wrapping ErrNotConfigured that names, for each
// of the Caller, Publisher and Subscriber the flow lacks, the steps that
// need it: a flow that would fail at its first rpc, publication or await
// is refused when it is defined instead.
func (f *Flow[S]) checkNeeds(steps []*Step[S]) error {
	lacks := []struct {
		need   needs
		absent bool
		what   string
	}{
		{needCaller, f.opts.caller == nil, "a Caller (WithCaller)"},
		{needPublisher, f.opts.pub == nil, "a Publisher (WithPublisher)"},
		{needSubscriber, f.opts.sub == nil, "a Subscriber (WithSubscriber)"},
	}
	var errs []error
	for _, l := range lacks {
		if !l.absent {
			continue
		}
		var ids []string
		for _, st := range steps {
			if st.needed()&l.need != 0 {
				ids = append(ids, st.ID)
			}
		}
		switch len(ids) {
		case 0:
		case 1:
			errs = append(errs, fmt.Errorf("%w: flow %q: step %s needs %s", ErrNotConfigured, f.id, ids[0], l.what))
		default:
			errs = append(errs, fmt.Errorf("%w: flow %q: steps %s need %s", ErrNotConfigured, f.id, strings.Join(ids, ", "), l.what))
		}
	}
	return errors.Join(errs...)
}
