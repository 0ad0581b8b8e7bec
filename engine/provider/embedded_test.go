package provider

import (
	"encoding/json"
	"strings"
	"testing"
)

type commonMembers struct {
	ID   string `json:"id"`
	Note string
}

type auditMembers struct {
	By string `json:"by"`
}

type left struct{ X int }
type right struct{ X int }

// embeddedState is a state type as a user writes one: encoding/json
// takes the members of its embedded structs as its own (an unexported
// one's too), a field of its own hides an embedded one's of that name,
// an embedded struct with a tag name is one member, and a name two
// embedded structs give at one depth is no member at all.
type embeddedState struct {
	commonMembers
	auditMembers
	left
	right
	Name   string        `json:"name"`
	Note   int           `json:"note"`
	Inner  commonMembers `json:"inner"`
	Tagged auditMembers  `json:"tagged"`
}

// DecodeStrict takes the members encoding/json decodes into a struct with
// embedded structs, as written, and refuses the others: the engine holds
// a generated flow's start to it (engine.typed.checkStart), and a state
// type that embeds a struct of common members got 400 for the members it
// has, as "unknown member".
func TestDecodeStrictEmbeddedStructs(t *testing.T) {
	in := `{"id": "a", "Note": "n", "by": "b", "name": "x", "note": 3, "inner": {"id": "c"}, "tagged": {"by": "d"}}`
	var s embeddedState
	if err := DecodeStrict([]byte(in), &s); err != nil {
		t.Fatalf("DecodeStrict(%s): %v", in, err)
	}
	if s.ID != "a" || s.commonMembers.Note != "n" || s.By != "b" || s.Note != 3 || s.Inner.ID != "c" || s.Tagged.By != "d" {
		t.Errorf("decoded %+v", s)
	}
	// What encoding/json writes of the type, it reads back.
	out, err := json.Marshal(embeddedState{commonMembers: commonMembers{ID: "a", Note: "n"}, Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if err := DecodeStrict(out, new(embeddedState)); err != nil {
		t.Errorf("DecodeStrict(%s), encoding/json's own: %v", out, err)
	}
	for _, c := range []struct{ in, err string }{
		{`{"ID": "a"}`, `unknown member "ID" (names are case-sensitive)`},
		{`{"By": "a"}`, `unknown member "By"`},
		{`{"X": 1}`, `unknown member "X"`},
		{`{"commonMembers": {}}`, `unknown member "commonMembers"`},
		{`{"inner": {"Note": "n", "ID": "c"}}`, `inner: unknown member "ID"`},
		{`{"id": "a", "id": "b"}`, `member "id" given twice`},
	} {
		err := DecodeStrict([]byte(c.in), new(embeddedState))
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("DecodeStrict(%s): %v, want %q", c.in, err, c.err)
		}
	}
}
