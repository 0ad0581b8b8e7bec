package members

import "time"

// Case is a start state of Members and the step its choose routes it to:
// one list for the generated forms' test (TestMembersFormsAgree) and the
// JSON form's (conformance's TestMembers, the state as encoding/json
// writes it), so that all four executors are held to the same decisions.
type Case struct {
	Name  string
	State MembersState
	To    string // the step Route goes to
	// Refused: the service of the step routed to refuses for good, and the
	// run rolls Open back.
	Refused bool
}

// Endpoints are the endpoints of the steps Route goes to.
var Endpoints = map[string]string{
	MembersStepConcierge: "Concierge.Book",
	MembersStepShipFast:  "Parcel.Express",
	MembersStepWelcome:   "Welcome.Send",
	MembersStepBulk:      "Parcel.Freight",
	MembersStepShip:      "Parcel.Send",
}

const old = 1000 * time.Hour // a customer's Since past Welcome's 24h

// Cases are each of Route's conditions deciding, by value and through
// pointers, nil ones included.
var Cases = []Case{
	{Name: "gold", To: MembersStepConcierge,
		State: MembersState{Customer: &Customer{Tier: "gold", Account: &Account{Since: old}}, Order: Order{Total: 150}}},
	{Name: "express", To: MembersStepShipFast,
		State: MembersState{Customer: &Customer{Tier: "gold", Account: &Account{Since: old}}, Order: Order{Total: 99}, Shipping: &Shipping{Express: true}}},
	// Blocked, promoted through the embedded Account, stops ShipFast.
	{Name: "express but blocked", To: MembersStepShip,
		State: MembersState{Customer: &Customer{Tier: "silver", Account: &Account{Blocked: true, Since: old}}, Shipping: &Shipping{Express: true}, Order: Order{Lines: &Lines{Count: 2}}}},
	// No customer: Customer.Blocked reads false, so not Blocked holds.
	{Name: "express without a customer", To: MembersStepShipFast,
		State: MembersState{Shipping: &Shipping{Express: true}}},
	// No customer: Customer.Tier reads "" (!= "gold" holds) and
	// Customer.Since 0s (< 24h holds).
	{Name: "no customer", To: MembersStepWelcome, State: MembersState{}},
	// A customer without an Account: Since reads 0s through the nil
	// embedded pointer.
	{Name: "customer without an account", To: MembersStepWelcome,
		State: MembersState{Customer: &Customer{Tier: "silver"}}},
	{Name: "bulk", To: MembersStepBulk,
		State: MembersState{Customer: &Customer{Tier: "silver", Account: &Account{Since: old}}, Order: Order{Lines: &Lines{Count: 5}}}},
	// No lines: Order.Lines.Count reads 0.
	{Name: "no lines", To: MembersStepShip,
		State: MembersState{Customer: &Customer{Tier: "silver", Account: &Account{Since: old}}, Order: Order{Total: 50}}},
	{Name: "concierge refused", To: MembersStepConcierge, Refused: true,
		State: MembersState{Customer: &Customer{Tier: "gold"}, Order: Order{Total: 100}}},
}
