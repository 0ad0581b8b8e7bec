package engine

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// routeJSON creates a customer (undone by a delete), then chooses on the
// JSON state: gold customers with a large total, express orders not too
// heavy and not remote, old orders; otherwise Ship. Each target publishes
// what it is.
const routeJSON = `{
  "version": 1,
  "flows": [{
    "name": "Route",
    "state": "RouteState",
    "steps": [
      {"name": "Create", "action": {"kind": "rpc", "service": "customers", "endpoint": "Customer.Create", "request": "Customer", "response": "CustomerID"},
       "rollback": {"action": {"kind": "rpc", "service": "customers", "endpoint": "Customer.Delete", "request": "CustomerID"}}},
      {"name": "Route", "action": {"kind": "choose",
        "when": [
          {"if": {"and": [{"field": "Tier", "op": "==", "value": "gold"}, {"field": "Total", "op": ">=", "value": 100}]}, "target": "Concierge"},
          {"if": {"and": [{"field": "Express"}, {"not": {"or": [{"field": "Weight", "op": ">", "value": 20.5}, {"field": "Zone", "op": "==", "value": "remote"}]}}]}, "target": "ShipFast"},
          {"if": {"field": "Age", "op": ">", "duration": "72h"}, "target": "Review"}
        ],
        "otherwise": "Ship"}},
      {"name": "Concierge", "action": {"kind": "publish", "topic": "orders", "event": "concierge"}, "irreversible": true, "on": [{"on": "ok", "target": "done"}]},
      {"name": "ShipFast", "action": {"kind": "publish", "topic": "orders", "event": "fast"}, "irreversible": true, "on": [{"on": "ok", "target": "done"}]},
      {"name": "Review", "action": {"kind": "publish", "topic": "orders", "event": "review"}, "irreversible": true, "on": [{"on": "ok", "target": "done"}]},
      {"name": "Ship", "action": {"kind": "publish", "topic": "orders", "event": "ship"}, "irreversible": true}
    ]
  }]
}`

// A JSON flow's choose evaluates its conditions on the JSON state, in
// order, and records the branch it took as the outcome; a field missing or
// null reads as its zero value; a field of another type than the literal
// ends the step with the outcome error, naming the field, and the run is
// compensated.
func TestChooseJSON(t *testing.T) {
	e, run := chooseEngine(t, routeJSON, "Route")
	for _, c := range []struct {
		state, choice, to string
	}{
		{`{"Tier": "gold", "Total": 100}`, "when1", "Concierge"},
		{`{"Tier": "gold", "Total": 99.5, "Express": true, "Weight": 20.5}`, "when2", "ShipFast"},
		{`{"Express": true, "Zone": "remote", "Age": "73h"}`, "when3", "Review"},
		{`{"Age": 259200000000001}`, "when3", "Review"},
		{`{"Age": "72h", "Tier": null}`, "otherwise", "Ship"},
		{`{}`, "otherwise", "Ship"},
	} {
		id, final := run(c.state)
		if final != runtime.StateDone {
			t.Errorf("%s: ended %s:\n%s", c.state, final, transitionsOf(t, e, id))
			continue
		}
		if got, want := transitionsOf(t, e, id), "Route:running -> "+c.to+":running ["+c.choice+"]"; !strings.Contains(got, want) {
			t.Errorf("%s: history\n%s\nwant %s", c.state, got, want)
		}
	}

	for _, c := range []struct{ state, field string }{
		{`{"Tier": 1}`, `"Tier" is a number, not a string`},
		{`{"Tier": "gold", "Total": "lots"}`, `"Total" is a string, not a number`},
		{`{"Express": "yes"}`, `"Express" is a string, not a bool`},
		{`{"Age": "three days"}`, `"Age" is "three days", not a duration`},
	} {
		id, final := run(c.state)
		if final != runtime.StateCompensated {
			t.Errorf("%s: ended %s, want compensated", c.state, final)
		}
		h, _ := e.History(context.Background(), id)
		var ev *runtime.Event
		for i := range h {
			if h[i].From == "Route:running" {
				ev = &h[i]
			}
		}
		if ev == nil || ev.To != "failing" || ev.Outcome != runtime.OutcomeError || !strings.Contains(ev.Error, c.field) {
			t.Errorf("%s: the choice's event %+v, want an error naming %s", c.state, ev, c.field)
		}
		if got := transitionsOf(t, e, id); !strings.Contains(got, "failing -> Create:rollback") {
			t.Errorf("%s: Create not undone:\n%s", c.state, got)
		}
	}
}

// routeMembersJSON chooses on members of the JSON state's objects:
// Customer.Tier and Order.Total, Shipping.Express, Order.Lines.Count.
const routeMembersJSON = `{
  "version": 1,
  "flows": [{
    "name": "RouteMembers",
    "state": "RouteState",
    "steps": [
      {"name": "Route", "action": {"kind": "choose",
        "when": [
          {"if": {"and": [{"field": "Customer.Tier", "op": "==", "value": "gold"}, {"field": "Order.Total", "op": ">=", "value": 100}]}, "target": "Concierge"},
          {"if": {"field": "Shipping.Express"}, "target": "ShipFast"},
          {"if": {"field": "Order.Lines.Count", "op": ">", "value": 3}, "target": "Bulk"}
        ],
        "otherwise": "Ship"}},
      {"name": "Concierge", "action": {"kind": "publish", "topic": "orders", "event": "concierge"}, "irreversible": true, "on": [{"on": "ok", "target": "done"}]},
      {"name": "ShipFast", "action": {"kind": "publish", "topic": "orders", "event": "fast"}, "irreversible": true, "on": [{"on": "ok", "target": "done"}]},
      {"name": "Bulk", "action": {"kind": "publish", "topic": "orders", "event": "bulk"}, "irreversible": true, "on": [{"on": "ok", "target": "done"}]},
      {"name": "Ship", "action": {"kind": "publish", "topic": "orders", "event": "ship"}, "irreversible": true}
    ]
  }]
}`

// A JSON flow's condition reads a member in the JSON object of its field
// (Customer.Tier); a field or member on the way that is missing or null
// reads the member as its zero value, as the generated code reads one
// behind a nil pointer; a field on the way that is not an object ends the
// step with the outcome error, naming it.
func TestChooseJSONMembers(t *testing.T) {
	e, run := chooseEngine(t, routeMembersJSON, "RouteMembers")
	for _, c := range []struct {
		state, choice, to string
	}{
		{`{"Customer": {"Tier": "gold"}, "Order": {"Total": 100}}`, "when1", "Concierge"},
		{`{"Customer": {"Tier": "gold"}, "Order": {"Total": 99}, "Shipping": {"Express": true}}`, "when2", "ShipFast"},
		{`{"Order": {"Lines": {"Count": 4}}}`, "when3", "Bulk"},
		{`{"Customer": null, "Order": {"Lines": null}, "Shipping": {}}`, "otherwise", "Ship"},
		{`{"Customer": {"tier": "gold"}, "Order": {"Total": 100}}`, "otherwise", "Ship"},
		{`{}`, "otherwise", "Ship"},
	} {
		id, final := run(c.state)
		if final != runtime.StateDone {
			t.Errorf("%s: ended %s:\n%s", c.state, final, transitionsOf(t, e, id))
			continue
		}
		if got, want := transitionsOf(t, e, id), "Route:running -> "+c.to+":running ["+c.choice+"]"; !strings.Contains(got, want) {
			t.Errorf("%s: history\n%s\nwant %s", c.state, got, want)
		}
	}
	for _, c := range []struct{ state, err string }{
		{`{"Customer": "gold"}`, `state field "Customer" is a string, not an object with a member "Tier"`},
		{`{"Order": {"Lines": {"Count": "four"}}}`, `state field "Order.Lines.Count" is a string, not a number`},
	} {
		id, final := run(c.state)
		if final != runtime.StateFailed {
			t.Errorf("%s: ended %s, want failed", c.state, final)
		}
		h, _ := e.History(context.Background(), id)
		var ev *runtime.Event
		for i := range h {
			if h[i].From == "Route:running" {
				ev = &h[i]
			}
		}
		if ev == nil || ev.Outcome != runtime.OutcomeError || !strings.Contains(ev.Error, c.err) {
			t.Errorf("%s: the choice's event %+v, want an error with %s", c.state, ev, c.err)
		}
	}
}

// Options.MaxHistory bounds a JSON flow's runs: a loop with no wait in it
// fails at the bound and is compensated.
func TestEngineMaxHistory(t *testing.T) {
	fx := newFixture(t)
	e, err := New(Options{Store: fx.st, Caller: fx.caller, Broker: fx.broker, MaxHistory: 40})
	if err != nil {
		t.Fatal(err)
	}
	const loop = `{"version": 1, "flows": [{"name": "Loop", "state": "S", "steps": [
	  {"name": "Create", "action": {"kind": "rpc", "service": "customers", "endpoint": "Customer.Create", "request": "Customer", "response": "CustomerID"},
	   "rollback": {"action": {"kind": "rpc", "service": "customers", "endpoint": "Customer.Delete", "request": "CustomerID"}}},
	  {"name": "Again", "action": {"kind": "choose", "when": [{"if": {"field": "Stop"}, "target": "done"}], "otherwise": "Again"}}
	]}]}`
	if ds, err := e.LoadFlows("loop.json", []byte(loop)); err != nil {
		t.Fatalf("load: %v\n%v", err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer closeEngine(t, e)
	id, err := e.StartRun(context.Background(), "Loop", json.RawMessage(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "run compensated", func() bool { s, _ := e.Status(context.Background(), id); return s.State == runtime.StateCompensated })
	h, _ := e.History(context.Background(), id)
	if len(h) != 44 || !strings.Contains(h[40].Error, "history limit") {
		t.Fatalf("%d events; event 41: %+v", len(h), h[40])
	}
}

// chooseEngine starts an engine on the JSON flows of source, and returns
// it with a function that runs flow from a state to its end, returning
// the run's ID and final state.
func chooseEngine(t *testing.T, source, flow string) (*Engine, func(state string) (string, runtime.RunState)) {
	t.Helper()
	fx := newFixture(t)
	e, err := New(Options{Store: fx.st, Caller: fx.caller, Broker: fx.broker})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e.LoadFlows("route.json", []byte(source)); err != nil {
		t.Fatalf("load: %v\n%v", err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeEngine(t, e) })
	run := func(state string) (string, runtime.RunState) {
		t.Helper()
		id, err := e.StartRun(context.Background(), flow, json.RawMessage(state), "")
		if err != nil {
			t.Fatal(err)
		}
		var final runtime.RunState
		waitFor(t, "run "+id+" to end", func() bool {
			s, err := e.Status(context.Background(), id)
			final = s.State
			return err == nil && final.Terminal()
		})
		return id, final
	}
	return e, run
}

// A JSON flow whose choose has no otherwise, or a when line without a
// target, is refused when it is loaded (choose-otherwise, the target's
// check), so no run of it fails at the choice with "unknown outcome".
func TestEngineRefusesChooseWithUnroutedOutcome(t *testing.T) {
	for name, src := range map[string]string{
		"choose-otherwise": strings.Replace(routeJSON, `,
        "otherwise": "Ship"`, "", 1),
		"when without a target": strings.Replace(routeJSON, `, "target": "Review"`, "", 1),
	} {
		t.Run(name, func(t *testing.T) {
			if src == routeJSON {
				t.Fatal("the test's edit of routeJSON did not apply")
			}
			fx := newFixture(t)
			e, err := New(Options{Store: fx.st, Caller: fx.caller, Broker: fx.broker})
			if err != nil {
				t.Fatal(err)
			}
			ds, err := e.LoadFlows("route.json", []byte(src))
			if err == nil || !strings.Contains(err.Error(), "steps[1].action") {
				t.Fatalf("LoadFlows = %v (%v), want an error at the choose's action", err, ds)
			}
		})
	}
}
