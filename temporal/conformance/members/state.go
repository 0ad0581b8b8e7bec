// Package members is conformance's members.flow generated for both
// targets: a choose whose conditions read members of the state's structs,
// through pointers that may be nil. Its test runs each case on the runtime
// form (NewMembersFlow) and on the Temporal form (NewMembersTemporal, a
// real server) and requires the same outcome; the conformance suite runs
// the same file's JSON form, on the same cases' states as encoding/json
// writes them, on both executors (TestMembers).
package members

import "time"

//go:generate go run -C ../../.. ./cmd/flowgen gen -target temporal temporal/conformance/members/members.flow

// MembersState is the data of one Members run.
type MembersState struct {
	OrderID  string
	Customer *Customer
	Order    Order
	Shipping *Shipping
	Ticket   string
}

// Customer embeds Account by pointer: Blocked and Since are promoted
// through it (and in JSON, members of Customer's object).
type Customer struct {
	Tier string
	*Account
}

// Account is what Customer embeds.
type Account struct {
	Blocked bool
	Since   time.Duration
}

// Order is a member of the state by value.
type Order struct {
	Total float64
	Lines *Lines
}

// Lines counts an order's lines.
type Lines struct {
	Count int
}

// Shipping says how an order ships.
type Shipping struct {
	Express bool
}
