package gocheck

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A field name cut short inside a word (RefundReq, four edits from
// RefundRequest) gets the field it begins as its did-you-mean
// (diag.DidYouMean), and a name that begins two fields gets none.
func TestFieldCutShortSuggested(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.22\n",
		"state.go": `package m

type RefundState struct {
	RefundRequest string
	RefundReason  string
	Receipt       string
}
`,
	})
	src := `flow Refund {
    state RefundState
    step A { rpc s "S.A" (RefundReq) -> Receipt  irreversible }
    step B { rpc s "S.B" (RefundRe) -> Receipt  irreversible }
}
`
	want := []string{
		`3:27: error state-field: state type "RefundState" has no field "RefundReq" [hint: did you mean "RefundRequest"?]`,
		`4:27: error state-field: state type "RefundState" has no field "RefundRe" [hint: add the field to RefundState, or name one of its fields]`,
	}
	if diff := cmp.Diff(want, loadStrings(t, src, dir)); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}
