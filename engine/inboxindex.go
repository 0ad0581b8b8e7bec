package engine

import (
	"slices"
)

type teKey [2]string

// tePending are the pending messages of one topic/event, oldest first
// (in the order they became pending), and, for each field a correlated
// await asked for since the topic/event last had none pending, the same
// messages by their value at it. A field is indexed at its first await,
// from the list (a field's values are only known once an await names it),
// and kept up to date from then on: an await finds the oldest message of
// its value without reading the others'.
type tePending struct {
	head, tail *inMsg                // linked by inMsg.prev and next
	byField    map[string]valueIndex // by corrKey
}

// all yields the pending messages, oldest first.
func (p *tePending) all(yield func(*inMsg) bool) {
	for m := p.head; m != nil && yield(m); m = m.next {
	}
}

// byValue lists things by a correlation value, each list oldest first: the
// pending messages of a topic/event (valueIndex), and the waits that
// correlate on one field (teWaits).
type byValue[T comparable] map[string][]T

func (b byValue[T]) put(v string, x T) { b[v] = append(b[v], x) }

// take removes x from v's list, and the list once empty; it reports
// whether x was there.
func (b byValue[T]) take(v string, x T) bool {
	list, found := without(b[v], x)
	switch {
	case found && len(list) == 0:
		delete(b, v)
	case found:
		b[v] = list
	}
	return found
}

// valueIndex is the pending messages of a topic/event that have a value at
// a field, by that value, oldest first.
type valueIndex map[string][]*inMsg

func (vi valueIndex) add(m *inMsg, field string) {
	if v, ok := m.correlation(field); ok {
		byValue[*inMsg](vi).put(v, m)
	}
}

func (vi valueIndex) drop(m *inMsg, field string) {
	if v, ok := m.correlation(field); ok {
		byValue[*inMsg](vi).take(v, m)
	}
}

// without returns list, oldest first, without x, and whether x was in
// it. Taking the oldest, the usual case (an await took it, or it expired),
// reslices rather than moves the others.
func without[T comparable](list []T, x T) ([]T, bool) {
	switch i := slices.Index(list, x); {
	case i < 0:
		return list, false
	case i == 0:
		var zero T
		list[0] = zero // let it go
		return list[1:], true
	default:
		return slices.Delete(list, i, i+1), true
	}
}

// withValue returns the messages whose value at field is value, oldest
// first, indexing field if it is not yet.
func (p *tePending) withValue(field, value string) []*inMsg {
	field = corrKey(field)
	vi, ok := p.byField[field]
	if !ok {
		vi = valueIndex{}
		for m := range p.all {
			vi.add(m, field)
		}
		if p.byField == nil {
			p.byField = map[string]valueIndex{}
		}
		p.byField[field] = vi
	}
	return vi[value]
}
