package gocheck

import "testing"

// TestDashCommaTagIsKept: encoding/json drops a field tagged exactly
// `json:"-"`, but `json:"-,"` names it "-" and keeps it (internal/jsontag),
// so a flow may read and write such a field, a condition's member too.
func TestDashCommaTagIsKept(t *testing.T) {
	dir := writeModule(t, map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.22\n",
		"state.go": `package m

type S struct {
	In     string ` + "`json:\"-,\"`" + `
	Out    string
	Inner  Inner
}

type Inner struct {
	Flag bool ` + "`json:\"-,\"`" + `
}
`,
	})
	src := `flow F {
    state S
    step A { rpc s "S.A" (In) -> Out  irreversible }
    step B { choose { when Inner.Flag -> C  otherwise -> fail } }
    step C { irreversible }
}
`
	got := loadStrings(t, src, dir)
	if len(got) != 0 {
		t.Errorf("fields tagged `json:\"-,\"` refused:\n%v", got)
	}
}
