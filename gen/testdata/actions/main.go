// Command actions runs every kind of action of the generated Actions flow
// (rpc with and without request and response, awaits with and without
// payload and correlation, publish steps and publications, an rpc rollback
// with a response) and exits 1 on a wrong transition.
package main

import (
	"context"
	"errors"
	"strings"

	"goldens/check"

	"github.com/flowgen/flowgen/runtime"
)

type handlers struct{}

func (handlers) Decide(_ context.Context, s *ActionsState) (ActionsDecideOutcome, error) {
	return ActionsDecideOutcome(s.Choice), nil
}

func (handlers) Undecide(_ context.Context, s *ActionsState) error {
	s.Undecided = true
	return nil
}

func run(choice string) (runtime.Result[ActionsState], *runtime.MemorySink, *runtime.MemoryBus) {
	caller := runtime.NewMemoryCaller()
	touched := 0
	caller.Handle("users", "User.Get", runtime.HandleFunc(func(context.Context, any) (any, error) { return nil, nil }))
	caller.Handle("users", "User.Touch", runtime.HandleFunc(func(_ context.Context, id string) (any, error) {
		if touched++; touched == 1 {
			return nil, errors.New("users: busy") // retried: the flow says retry 2
		}
		return nil, nil
	}))
	caller.Handle("users", "User.Next", runtime.HandleFunc(func(context.Context, any) (string, error) { return "u-1", nil }))
	caller.Handle("users", "User.Lock", runtime.HandleFunc(func(_ context.Context, id string) (string, error) { return "lock-" + id, nil }))
	caller.Handle("users", "User.Unlock", runtime.HandleFunc(func(_ context.Context, lock string) (string, error) {
		return "unlocked-" + strings.TrimPrefix(lock, "lock-"), nil
	}))
	bus := runtime.NewMemoryBus()
	ctx := context.Background()
	for _, m := range []struct {
		event string
		user  User
	}{
		{"user.ready", User{Name: "ignored"}},
		{"user.updated", User{Name: "ada"}},
		{"user.deleted", User{Name: "someone else", CorrelationID: "u-2"}},
		{"user.deleted", User{Name: "ada, deleted", CorrelationID: "u-1"}},
	} {
		if err := bus.Publish(ctx, "users", m.event, m.user); err != nil {
			check.Fatalf("publish: %v", err)
		}
	}
	sink := runtime.NewMemorySink()
	f, err := NewActionsFlow(handlers{}, ActionsServicesFromCaller(caller), runtime.WithPublisher(bus), runtime.WithSubscriber(bus), runtime.WithSink(sink))
	if err != nil {
		check.Fatalf("NewActionsFlow: %v", err)
	}
	res, _ := f.Execute(ctx, ActionsState{Choice: choice})
	return res, sink, bus
}

var upToDecide = []string{
	"pending -> Call:running",
	"Call:running -> CallIn:running [ok]",
	"CallIn:running -> CallIn:running [retry]",
	"CallIn:running -> CallOut:running [ok]",
	"CallOut:running -> Wait:waiting [ok]",
	"Wait:waiting -> Wait:running",
	"Wait:running -> WaitInto:waiting [ok]",
	"WaitInto:waiting -> WaitInto:running",
	"WaitInto:running -> WaitCorrelated:waiting [ok]",
	"WaitCorrelated:waiting -> WaitCorrelated:running",
	"WaitCorrelated:running -> Announce:running [ok]",
	"Announce:running -> Undoable:running [ok]",
	"Undoable:running -> Decide:running [ok]",
}

func main() {
	res, sink, bus := run("yes")
	check.Run("yes", sink, res.RunID, res.Final, runtime.StateDone, append(upToDecide,
		"Decide:running -> Announce2:running [yes]",
		"Announce2:running -> done [ok]")...)
	check.Equal("yes: user", res.State.User.Name, "ada, deleted")
	check.Equal("yes: lock", res.State.Lock, "lock-u-1")
	var got []string
	for _, m := range bus.Published() {
		if m.Event != "user.ready" && m.Event != "user.updated" && m.Event != "user.deleted" {
			got = append(got, m.Topic+"/"+m.Event+" "+string(m.Payload))
		}
	}
	check.Equal("yes: published", strings.Join(got, "; "),
		`users/user.seen null; audit/user.seen "u-1"; users/user.locked "lock-u-1"; audit/user.locked null; users/user.decided null`)

	// maybe routes to fail: Decide itself completed, so its Go rollback
	// runs, then Undoable's rpc rollback, whose response lands in UserID.
	res, sink, _ = run("maybe")
	check.Run("maybe", sink, res.RunID, res.Final, runtime.StateCompensated, append(upToDecide,
		"Decide:running -> failing [maybe]",
		"failing -> Decide:rollback",
		"Decide:rollback -> failing [ok]",
		"failing -> Undoable:rollback",
		"Undoable:rollback -> failing [ok]",
		"failing -> compensated")...)
	check.Equal("maybe: undecided", res.State.Undecided, true)
	check.Equal("maybe: user ID from the rollback's response", res.State.UserID, "unlocked-u-1")

	// An outcome the step does not declare is an error the run fails on.
	res, sink, _ = run("perhaps")
	check.Equal("perhaps: final", res.Final, runtime.StateCompensated)
	check.Equal("perhaps: unknown outcome", errors.Is(res.Err, runtime.ErrUnknownOutcome), true)
}
