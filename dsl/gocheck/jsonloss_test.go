package gocheck

import (
	"strings"
	"testing"
)

// TestJSONHiddenFields: a field the flow reads or writes must survive the
// JSON of a run's snapshot, or a resumed run reads it as zero. Besides an
// unexported field and one tagged `json:"-"`, encoding/json drops a field
// promoted from an embedded struct tagged `json:"-"`, one whose JSON name
// a shallower or tagged field takes, and the fields of two embedded structs
// that share a JSON name at one depth (dsl.JSONLoss). These compiled and
// checked clean, and lost the fields on resume.
func TestJSONHiddenFields(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.22\n",
		"state.go": `package m

type Base struct{ Region string }
type Order struct {
	ID    string
	Total int
}
type Customer struct{ ID string }

type S struct {
	Base ` + "`json:\"-\"`" + `
	Order
	Customer
	X    int ` + "`json:\"Y\"`" + `
	Y    int
	Kept Order
}
`,
	})
	src := `flow F {
    state S
    step A { rpc s "S.A" (Region) -> Y  irreversible }
    step B { rpc s "S.B" (X) -> Order  irreversible }
    step C { rpc s "S.C" (Kept) -> Total  irreversible }
    step D { choose { when Order.ID == "o" -> E  when Kept.ID == "k" or Order.Total > 1 -> E  otherwise -> done } }
    step E { irreversible }
}
`
	got := loadStrings(t, src, dir)
	want := []string{
		"3:27: error state-field-unexported: state field \"Region\" is promoted from Base, which is tagged `json:\"-\"`: run snapshots are JSON, so a resumed run would lose it [hint: remove the `json:\"-\"` tag of Base, or move the field out of it]",
		`3:38: error state-field-unexported: state field "Y" is hidden from JSON by X, whose JSON name is also "Y": run snapshots are JSON, so a resumed run would lose it [hint: give one of them another JSON name, with a json tag]`,
		`4:33: error state-field-unexported: state field "Order" is an embedded struct whose field ID is dropped by JSON, and so is Customer.ID: both have the JSON name "ID" at one depth: run snapshots are JSON, so a resumed run would lose it [hint: give one of them another JSON name, with a json tag]`,
		`6:28: error state-field-unexported: condition "Order.ID" reads a field that is dropped by JSON, and so is Customer.ID: both have the JSON name "ID" at one depth: run snapshots and the JSON engine carry the state as JSON, which drops it, so it would read as zero there [hint: give one of them another JSON name, with a json tag]`,
	}
	sameLines(t, got, want)
}

// TestPromotedCodec: a state type that embeds time.Time promotes its
// MarshalJSON and UnmarshalJSON, so encoding/json writes a run's state as
// the time alone: every other field is lost in each snapshot, named by the
// flow or not. It checked clean.
func TestPromotedCodec(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.22\n",
		"state.go": `package m

import "time"

type S struct {
	time.Time
	Region string
	N      int
}

// Own encodes itself: the checks leave that to it.
type Own struct {
	time.Time
	Region string
}

func (Own) MarshalJSON() ([]byte, error) { return []byte("{}"), nil }
`,
	})
	src := `flow F {
    state S
    step A { rpc s "S.A" (Region) -> N  irreversible }
}
flow G {
    state Own
    step A { rpc s "S.A" (Region) -> Region  irreversible }
}
`
	got := loadStrings(t, src, dir)
	want := []string{
		"2:11: error state-json: state type S promotes MarshalJSON from an embedded field, so encoding/json writes and reads a run's state as that field alone: fields N, Region are lost in every snapshot, and a resumed run sees them zero [hint: name the embedded field (`Time time.Time`), or declare MarshalJSON on S itself]",
		"3:27: error state-field-unexported: state field \"Region\" is left out of the JSON of S, which promotes MarshalJSON from its embedded Time: encoding/json calls it for the whole S, and it sees only Time: run snapshots are JSON, so a resumed run would lose it [hint: name the embedded field (`Time time.Time`), or declare MarshalJSON on S itself]",
		"3:38: error state-field-unexported: state field \"N\" is left out of the JSON of S, which promotes MarshalJSON from its embedded Time: encoding/json calls it for the whole S, and it sees only Time: run snapshots are JSON, so a resumed run would lose it [hint: name the embedded field (`Time time.Time`), or declare MarshalJSON on S itself]",
	}
	sameLines(t, got, want)
}

// TestUnsettableEmbeddedPointer: encoding/json writes the fields of an
// embedded pointer to an unexported struct type when it is set, but cannot
// allocate it when it decodes them ("json: cannot set embedded pointer to
// unexported struct"), so a run whose snapshot holds them cannot resume,
// whether the flow names them or not. It checked clean.
func TestUnsettableEmbeddedPointer(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.22\n",
		"state.go": `package m

type inner struct{ Note string }

type Exported struct{ Tag string }

type S struct {
	*inner
	*Exported
	N int
}
`,
	})
	src := `flow F {
    state S
    step A { rpc s "S.A" (N) -> N  irreversible }
}
`
	got := loadStrings(t, src, dir)
	want := []string{
		"2:11: error state-json: state type S reaches Note through *inner, an embedded pointer to an unexported struct type: encoding/json writes them when it is set, but cannot set it when it decodes them, so a run whose snapshot holds them cannot resume [hint: embed inner by value, or export its type]",
	}
	sameLines(t, got, want)
}

func sameLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
