package gocheck

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The fields of calls are checked against the called flow's state type:
// the field passed as the child's state, the one receiving its final
// state, for a call and a rollback call alike.
func TestCallTypes(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.22\n",
		"state.go": `package m

type Invoice struct{ Amount int }

type OrderState struct {
	Bill    Invoice
	Receipt Invoice
	Wrong   string
	Ptr     *Invoice
}
`,
	})
	src := `flow Order {
    state OrderState
    step Charge {
        call Billing (Bill) -> Receipt
        rollback call Billing (Wrong)
    }
    step Again {
        call Billing (Ptr) -> Wrong
        irreversible
    }
}

flow Billing {
    state Invoice
    step Pay { irreversible }
}
`
	got := loadStrings(t, src, dir)
	want := []string{
		`5:32: error call-type: field "Wrong" has type string, but flow Billing's state is Invoice [hint: a rollback call's field in ( ) is the child run's initial state, of type Invoice: pass a field of that type, or declare Wrong as Invoice]`,
		`8:23: error call-type: field "Ptr" has type *Invoice, but flow Billing's state is Invoice [hint: the field in ( ) is the child run's initial state, of type Invoice: pass a field of that type, or declare Ptr as Invoice]`,
		`8:31: error call-type: field "Wrong" has type string, but flow Billing's state is Invoice [hint: the field after -> receives the child run's final state, of type Invoice: receive it in a field of that type, or declare Wrong as Invoice]`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}
