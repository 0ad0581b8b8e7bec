// Command choosemember runs the generated Route flow, whose conditions
// read members of the state's structs: each branch taken by the state it
// is given, and a nil pointer on the way read as the zero value of the
// member behind it (no panic), as the JSON engine reads a missing or null
// member.
package main

import (
	"context"
	"time"

	"goldens/check"

	"github.com/flowgen/flowgen/runtime"
)

type handlers struct{}

func (handlers) Concierge(_ context.Context, s *RouteState) error { s.Went = "concierge"; return nil }
func (handlers) ShipFast(_ context.Context, s *RouteState) error  { s.Went = "fast"; return nil }
func (handlers) Welcome(_ context.Context, s *RouteState) error   { s.Went = "welcome"; return nil }
func (handlers) Bulk(_ context.Context, s *RouteState) error      { s.Went = "bulk"; return nil }
func (handlers) Ship(_ context.Context, s *RouteState) error      { s.Went = "ship"; return nil }

func main() {
	f, err := NewRouteFlow(handlers{}, runtime.WithSink(runtime.NewMemorySink()))
	if err != nil {
		check.Fatalf("NewRouteFlow: %v", err)
	}
	ctx := context.Background()
	cases := []struct {
		name  string
		state RouteState
		went  string
	}{
		{"gold", RouteState{Customer: &Customer{Tier: "gold"}, Order: Order{Total: 100}}, "concierge"},
		{"gold but small", RouteState{Customer: &Customer{Tier: "gold", Account: &Account{Since: time.Hour}}, Order: Order{Total: 99.5}}, "welcome"},
		{"all nil", RouteState{}, "ship"},
		{"express, no customer", RouteState{Shipping: &Shipping{Express: true}}, "fast"},
		{"express, customer without account", RouteState{Customer: &Customer{}, Shipping: &Shipping{Express: true}}, "fast"},
		{"express, blocked", RouteState{Customer: &Customer{Account: &Account{Blocked: true}}, Shipping: &Shipping{Express: true}}, "ship"},
		{"tier, no account: since reads 0s", RouteState{Customer: &Customer{Tier: "silver"}}, "welcome"},
		{"old customer", RouteState{Customer: &Customer{Tier: "silver", Account: &Account{Since: 48 * time.Hour}}}, "ship"},
		{"bulk", RouteState{Order: Order{Lines: &Lines{Count: 4}}}, "bulk"},
		{"few lines", RouteState{Order: Order{Lines: &Lines{Count: 3}}}, "ship"},
		{"bronze, blocked, two lines", RouteState{Customer: &Customer{Tier: "bronze", Account: &Account{Blocked: true, Since: 48 * time.Hour}}, Order: Order{Lines: &Lines{Count: 2}}}, "bulk"},
		{"bronze, not blocked", RouteState{Customer: &Customer{Tier: "bronze", Account: &Account{Since: 48 * time.Hour}}, Order: Order{Lines: &Lines{Count: 2}}}, "ship"},
		{"bronze, blocked, no lines", RouteState{Customer: &Customer{Tier: "bronze", Account: &Account{Blocked: true, Since: 48 * time.Hour}}}, "ship"},
		{"old vip", RouteState{Customer: &Customer{Tier: "vip", Account: &Account{Since: 48 * time.Hour}}}, "concierge"},
		{"vip without account: since reads 0s", RouteState{Customer: &Customer{Tier: "vip"}}, "welcome"},
	}
	for _, c := range cases {
		res, err := f.Execute(ctx, c.state)
		if err != nil {
			check.Fatalf("%s: %v", c.name, err)
		}
		check.Equal(c.name+": went", res.State.Went, c.went)
		check.Equal(c.name+": final", res.Final, runtime.StateDone)
	}
}
