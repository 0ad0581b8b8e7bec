package gocheck

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The fields a branch declares with `writes` must be exported fields of
// the state type: the generated merge copies them (promoted ones too).
func TestWritesFields(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.22\n",
		"state.go": `package m

type OrderState struct {
	Authorization string
	Card          Card
	secret        string
	Ch            chan int
	Embedded
}

type Card struct{ Number string }

type Embedded struct{ Promoted int }

func (OrderState) Method() {}
`,
	})
	src := `flow Order {
    state OrderState
    parallel Prepare {
        step A { writes Authorization, Card, Promoted  irreversible }
        step B { writes Authorisation  irreversible }
        step C { writes secret  irreversible }
        step D { writes Method  irreversible }
        step E { writes Ch  irreversible }
    }
}
`
	got := loadStrings(t, src, dir)
	want := []string{
		`5:25: error state-field: state type "OrderState" has no field "Authorisation" [hint: did you mean "Authorization"?]`,
		`6:25: error state-field-unexported: state field "secret" is unexported: run snapshots are JSON, so a resumed run would lose it [hint: export the field, for example as "Secret"]`,
		`7:25: error state-field: "Method" is a method of "OrderState", not a field [hint: name a field of the state type]`,
		`8:25: error field-type: writes field "Ch" has type chan int, which JSON cannot carry (a channel) [hint: use data types for fields the flow sends, receives or stores]`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}

// Two branches that write an embedded struct and a field promoted from it
// write the same memory: the merge of the later one undoes the other's,
// as with two writers of one field. Through two levels of embedding too;
// one branch writing both, or fields of different embedded structs, is
// fine.
func TestParallelWritesEmbedded(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.22\n",
		"state.go": `package m

type S struct {
	Inner
	Base
	Own string
}

type Inner struct{ X, Y string }

type Base struct{ Deep }

type Deep struct{ Z string }
`,
	})
	src := `flow F {
    state S
    parallel P {
        step A { writes Inner  irreversible }
        step B { writes X  irreversible }
    }
    parallel Q {
        step C { writes Z  irreversible }
        step D { writes Base, Own  irreversible }
        step E { writes Y, Inner  irreversible }
    }
}
`
	got := loadStrings(t, src, dir)
	want := []string{
		`5:25: error parallel-write: branches "A" and "B" of parallel block "P" both write field "X": it is promoted from the embedded "Inner", which branch "A" writes whole [hint: the block merges each branch's fields into the run's state when it completes, so two writers of one field would race; let one branch write it (the other's is at line 4), or use two fields]`,
		`9:25: error parallel-write: branches "C" and "D" of parallel block "Q" both write field "Z": it is promoted from the embedded "Base", which branch "D" writes whole [hint: the block merges each branch's fields into the run's state when it completes, so two writers of one field would race; let one branch write it (the other's is at line 8), or use two fields]`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}
