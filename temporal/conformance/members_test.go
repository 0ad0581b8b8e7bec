package conformance

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/conformance/members"
)

// memberCases run members/members.flow's JSON form: a choose whose
// conditions read members of the state's objects. Their states are the
// generated forms' cases (members.Cases) as encoding/json writes them (a
// nil pointer null, an embedded Account's fields in Customer's object),
// and what only JSON writes: an object missing, a member missing from its
// object, a duration as a string, a field on a member's way that is not an
// object.
func memberCases(t *testing.T) []conformanceCase {
	var out []conformanceCase
	add := func(name, state, to string, refused bool) {
		c := conformanceCase{name: "members-" + strings.ReplaceAll(name, " ", "-"), flow: "Members", state: state,
			want: runtime.StateDone, check: routedTo(to)}
		if refused {
			c.script, c.want = script{members.Endpoints[to]: {permanent}}, runtime.StateCompensated
		}
		out = append(out, c)
	}
	for _, c := range members.Cases {
		s := c.State
		s.OrderID = "m-" + c.Name
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		add(c.Name, string(b), c.To, c.Refused)
	}
	add("no customer object", `{"OrderID":"m-j1","Shipping":{"Express":true}}`, members.MembersStepShipFast, false)
	add("no since", `{"OrderID":"m-j2","Customer":{"Tier":"silver","Blocked":false}}`, members.MembersStepWelcome, false)
	add("since a string", `{"OrderID":"m-j3","Customer":{"Tier":"silver","Since":"1000h"},"Order":{"Lines":{"Count":4}}}`, members.MembersStepBulk, false)
	add("no lines object", `{"OrderID":"m-j4","Customer":{"Tier":"silver","Since":"25h"},"Order":{}}`, members.MembersStepShip, false)
	// A field on a member's way that is not an object: the choose ends
	// with the outcome error, naming it, and the run rolls Open back.
	out = append(out, conformanceCase{name: "members-not-an-object", flow: "Members", state: `{"OrderID":"m-j5","Customer":"gold"}`,
		want: runtime.StateCompensated, check: func(t *testing.T, o outcome) {
			t.Helper()
			err := `state field "Customer" is a string, not an object with a member "Tier"`
			if !slices.ContainsFunc(o.Transitions, func(tr string) bool {
				return strings.HasPrefix(tr, runtime.RunningState(members.MembersStepRoute)+">") && strings.Contains(tr, " error: ") && strings.Contains(tr, err)
			}) {
				t.Errorf("history %q: want the choose to end error with %s", o.Transitions, err)
			}
		}})
	return out
}

// routedTo checks that the run's choose went to step to.
func routedTo(to string) func(*testing.T, outcome) {
	return func(t *testing.T, o outcome) {
		t.Helper()
		route := fmt.Sprintf("%s>%s ", runtime.RunningState(members.MembersStepRoute), runtime.RunningState(to))
		if !slices.ContainsFunc(o.Transitions, func(tr string) bool { return strings.HasPrefix(tr, route) }) {
			t.Errorf("history %q: want the choose to go to %s", o.Transitions, to)
		}
	}
}

// TestMembers runs memberCases on the runtime and on a real Temporal
// server and compares them: the engine's conditions read the members on
// the JSON state (a null or missing object on the way as the zero value),
// and the Temporal workers compile the same definition with the engine's
// compiler (jsonflows), so both go where the generated forms go
// (members' TestMembersFormsAgree).
func TestMembers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	docs := []string{flowJSON(t, filepath.Join("members", "members.flow"))}
	ts := newServer(t)
	for i, c := range memberCases(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := c.compare(t, ts, fmt.Sprintf("members-%d", i), docs)
			if !t.Failed() {
				c.check(t, o)
			}
		})
	}
}
