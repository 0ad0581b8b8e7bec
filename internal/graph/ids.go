package graph

import (
	"fmt"
	"strings"
)

// idKey identifies a node independently of its name, so that two things
// whose names happen to join into the same string (flow "A_B" step "C" and
// flow "A" step "B_C") still get distinct ids.
type idKey struct {
	flow int
	kind nodeKind
	n    int    // step index, for steps and undo states
	name string // terminal name
}

// idAlloc hands out node ids that are valid, unquoted, in Mermaid (where
// an id is a bare word and a few words are keywords) and, quoted, in DOT.
// Ids are readable (derived from the names) and unique.
type idAlloc struct {
	byKey map[idKey]string
	used  map[string]bool
}

func newIDs() *idAlloc {
	return &idAlloc{byKey: map[idKey]string{}, used: map[string]bool{}}
}

// get returns the id of key, allocating one derived from want the first
// time.
func (a *idAlloc) get(key idKey, want string) string {
	if id, ok := a.byKey[key]; ok {
		return id
	}
	base := sanitizeID(want)
	id := base
	for n := 2; a.used[id]; n++ {
		id = fmt.Sprintf("%s_%d", base, n)
	}
	a.used[id] = true
	a.byKey[key] = id
	return id
}

// reservedIDs are words that the Mermaid state diagram lexer (which is
// case-insensitive) or the DOT grammar treat as keywords. Our ids never
// equal one of them.
var reservedIDs = map[string]bool{
	"end": true, "state": true, "note": true, "class": true, "classdef": true,
	"style": true, "click": true, "href": true, "default": true, "direction": true,
	"scale": true, "as": true, "hide": true, "left": true, "right": true, "of": true,
	"fork": true, "join": true, "choice": true, "concurrent": true, "acctitle": true,
	"accdescr": true, "statediagram": true, "graph": true, "digraph": true,
	"subgraph": true, "node": true, "edge": true, "strict": true,
}

// sanitizeID keeps ASCII letters, digits and underscores; anything else
// becomes _XXXX (its code point), so distinct names stay distinct. The id
// starts with a letter and is never a reserved word.
func sanitizeID(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, "_%04X", r)
		}
	}
	id := b.String()
	if id == "" || !(id[0] >= 'a' && id[0] <= 'z' || id[0] >= 'A' && id[0] <= 'Z') {
		id = "n" + id
	}
	if reservedIDs[strings.ToLower(id)] {
		id += "_"
	}
	return id
}
