package gocheck

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

const correlateStateGo = `package m

import "encoding/json"

type S struct {
	OrderID string
	P       Payment
	PP      *Payment
	Legacy  Legacy
	Nested  Nested
	Any     any
	Raw     json.RawMessage
	M       map[string]Inner
	Str     string
	E       WithEmbedded
	T       Text
	Anon    struct {
		ID string ` + "`json:\"id\"`" + `
	}
	AnonList []struct {
		ID string ` + "`json:\"id\"`" + `
	}
}

type Payment struct {
	OrderID string ` + "`json:\"order_id\"`" + `
	Amount  int
	Hidden  string ` + "`json:\"-\"`" + `
}

type Legacy struct {
	CorrelationID string ` + "`json:\"correlation_id\"`" + `
}

type Nested struct {
	Payment Payment ` + "`json:\"payment\"`" + `
	Note    string
}

type Inner struct{ X string }

type Base struct {
	OrderID string ` + "`json:\"order_id\"`" + `
}

type WithEmbedded struct {
	Base
	*Legacy
}

type Text struct{ V string }

func (t *Text) UnmarshalText(b []byte) error { t.V = string(b); return nil }
`

func TestGoPackageCorrelateMember(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"go.mod":   "module example.com/m\n\ngo 1.22\n",
		"state.go": correlateStateGo,
	})
	src := `flow F {
    state S
    step A { await t "e" -> P correlate OrderID on order_id timeout 1h }
    step B { await t "e" -> P correlate OrderID timeout 1h }
    step C { await t "e" -> Legacy correlate OrderID timeout 1h }
    step D { await t "e" -> Nested correlate OrderID on "payment.order_id" timeout 1h }
    step E { await t "e" -> Nested correlate OrderID on "payment.orderid" timeout 1h }
    step G { await t "e" -> Nested correlate OrderID on "Note.id" timeout 1h }
    step H { await t "e" -> Any correlate OrderID on x timeout 1h }
    step I { await t "e" -> Raw correlate OrderID on x timeout 1h }
    step J { await t "e" -> M correlate OrderID on "key.X" timeout 1h }
    step K { await t "e" -> M correlate OrderID on "key.zz" timeout 1h }
    step L { await t "e" -> E correlate OrderID on order_id timeout 1h }
    step M { await t "e" -> E correlate OrderID timeout 1h }
    step N { await t "e" -> PP correlate OrderID on Amount timeout 1h }
    step O { await t "e" -> Str correlate OrderID on x timeout 1h }
    step P { await t "e" correlate OrderID on x timeout 1h }
    step Q { await t "e" -> T correlate OrderID on x timeout 1h }
    step R { await t "e" -> P correlate OrderID on hidden timeout 1h }
    step S { await t "e" -> P correlate OrderID on "order_id..x" timeout 1h }
    step T { await t "e" -> Nope correlate OrderID on x timeout 1h }
    step U { await t "e" -> Anon correlate OrderID on ID timeout 1h }
    step V { await t "e" -> AnonList correlate OrderID on id timeout 1h }
}
`
	got := loadStrings(t, src, dir)
	const defaultHint = " [hint: name the payload member that carries the run's OrderID, such as `correlate OrderID on order_id`, or add a \"correlation_id\" member to the type]"
	const pathHint = " [hint: members are JSON names (json tags, else field names); correct the path, or add the member to the type if the events carry it]"
	want := []string{
		`4:41: warning correlate-member: await in step "B" correlates on "correlation_id" (the default path), but its payload type Payment has no member "correlation_id"` + defaultHint,
		`7:57: warning correlate-member: await in step "E" correlates on "payment.orderid", but member "payment" (type Payment) of its payload type Nested has no member "orderid" [hint: did you mean "order_id"? members are compared exactly, as the events carry them]`,
		`8:57: warning correlate-member: await in step "G" correlates on "Note.id", but member "Note" (type string) of its payload type Nested is not a JSON object` + pathHint,
		`12:52: warning correlate-member: await in step "K" correlates on "key.zz", but member "key" (type Inner) of its payload type map[string]Inner has no member "zz"` + pathHint,
		`16:54: warning correlate-member: await in step "O" correlates on "x", but its payload type string is not a JSON object` + pathHint,
		`19:52: warning correlate-member: await in step "R" correlates on "hidden", but its payload type Payment has no member "hidden"` + pathHint,
		`20:52: error correlate-path: await in step "S" correlates on "order_id..x", which is not a payload path: it has an empty member (a dot at either end, or two in a row) [hint: write the JSON object members from the top of the payload down, separated by dots, such as ` + "`on order_id` or `on \"payment.order_id\"`" + `]`,
		`21:29: error state-field: state type "S" has no field "Nope" [hint: add the field to S, or name one of its fields]`,
		// An anonymous struct's type is printed without its tags.
		`22:55: warning correlate-member: await in step "U" correlates on "ID", but its payload type struct{ID string} has no member "ID" [hint: did you mean "id"? members are compared exactly, as the events carry them]`,
		`23:59: warning correlate-member: await in step "V" correlates on "id", but its payload type []struct{ID string} is not a JSON object` + pathHint,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}
