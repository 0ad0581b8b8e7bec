package engine

import (
	"context"
	"testing"

	"github.com/flowgen/flowgen/internal/pointerjsontest"
)

// A Go handler of a JSON flow sets a state field to a value: State.Set
// encoded it so, the amount as {}. It is encoded through a pointer
// (runtime.Addressed).
func TestStateSetKeepsPointerJSONMethods(t *testing.T) {
	var s State
	if err := s.Set("Balance", pointerjsontest.New(1234)); err != nil {
		t.Fatal(err)
	}
	if got, want := s.String("Balance"), pointerjsontest.JSON(1234); got != want {
		t.Errorf("the field holds %s, want %s", got, want)
	}
}

// A step publishes a state field, a value: the engine's publisher encoded
// it so, the amount as {}, and every receiver got that. It is encoded
// through a pointer (runtime.Addressed).
func TestPublisherKeepsPointerJSONMethods(t *testing.T) {
	var got []Message
	p := brokerPublisher{publish: func(_ context.Context, m Message) error { got = append(got, m); return nil }, link: func(context.Context) string { return "" }}
	if err := p.Publish(context.Background(), "billing", "credited", pointerjsontest.New(1234)); err != nil {
		t.Fatal(err)
	}
	if want := pointerjsontest.JSON(1234); len(got) != 1 || string(got[0].Payload) != want {
		for _, m := range got {
			t.Logf("published %s", m.Payload)
		}
		t.Errorf("published %d messages, want one of %s", len(got), want)
	}
}
