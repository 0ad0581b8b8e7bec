// Command choose runs the generated Route flow: each branch of its choose
// taken by the state it is given, the first that holds winning, the
// otherwise, the choice recorded as the outcome of the step's event, and a
// failure after the choice rolling back what came before it (the choice
// has nothing to undo).
package main

import (
	"context"
	"time"

	"goldens/check"

	"github.com/flowgen/flowgen/runtime"
)

type handlers struct{}

func (handlers) Price(_ context.Context, s *RouteState) error {
	s.Priced = true
	return nil
}

func (handlers) Unprice(_ context.Context, s *RouteState) error {
	s.Priced = false
	return nil
}

func (handlers) Concierge(_ context.Context, s *RouteState) error { s.Went = "concierge"; return nil }
func (handlers) ShipFast(_ context.Context, s *RouteState) error  { s.Went = "fast"; return nil }
func (handlers) Review(_ context.Context, s *RouteState) error    { s.Went = "review"; return nil }
func (handlers) Ship(_ context.Context, s *RouteState) error      { s.Went = "ship"; return nil }

func main() {
	sink := runtime.NewMemorySink()
	f, err := NewRouteFlow(handlers{}, runtime.WithSink(sink))
	if err != nil {
		check.Fatalf("NewRouteFlow: %v", err)
	}
	ctx := context.Background()
	cases := []struct {
		name    string
		state   RouteState
		outcome string
		went    string
	}{
		{"gold", RouteState{Tier: "gold", Total: 100, Express: true}, "when1", "concierge"},
		{"gold but small", RouteState{Tier: "gold", Total: 99, Express: true, Weight: 20.5, Zone: "city"}, "when2", "fast"},
		{"express too heavy", RouteState{Express: true, Weight: 20.6, Attempts: 1}, "when3", "review"},
		{"express remote", RouteState{Express: true, Zone: Remote}, "otherwise", "ship"},
		{"old", RouteState{Age: 72*time.Hour + 1}, "when3", "review"},
		{"three days exactly", RouteState{Age: 72 * time.Hour}, "otherwise", "ship"},
		{"no attempts", RouteState{Attempts: 0}, "otherwise", "ship"},
		{"negative attempts", RouteState{Attempts: -1}, "when3", "review"},
		{"too negative", RouteState{Attempts: -2}, "otherwise", "ship"},
	}
	for _, c := range cases {
		res, _ := f.Execute(ctx, c.state)
		check.Equal(c.name+": went", res.State.Went, c.went)
		h := sink.History(res.RunID)
		check.Equal(c.name+": choice", h[2].Outcome, c.outcome)
		next := map[string]string{"concierge": "Concierge", "fast": "ShipFast", "review": "Review", "ship": "Ship"}[c.went]
		check.Equal(c.name+": to", h[2].To, runtime.RunningState(next))
		if c.went == "review" {
			// Review fails the run: Price is undone, the choice has no
			// rollback state of its own.
			check.Run(c.name, sink, res.RunID, res.Final, runtime.StateCompensated,
				"pending -> Price:running",
				"Price:running -> Route:running [ok]",
				"Route:running -> Review:running ["+c.outcome+"]",
				"Review:running -> failing [ok]",
				"failing -> Price:rollback",
				"Price:rollback -> failing [ok]",
				"failing -> compensated")
			check.Equal(c.name+": unpriced", res.State.Priced, false)
		} else {
			check.Equal(c.name+": final", res.Final, runtime.StateDone)
		}
	}
}
