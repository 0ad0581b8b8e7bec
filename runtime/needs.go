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
