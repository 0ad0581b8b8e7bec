package main

import (
	"context"
	"fmt"
)

// handlers implements SignupHandlers: the Go steps and rollbacks of the
// flow. The rpc, await and publish steps need no code.
type handlers struct {
	services *services
}

func (h handlers) CancelSubscription(_ context.Context, s *SignupState) error {
	return h.services.cancelSubscription(s.SubscriptionID)
}

func (handlers) Activate(_ context.Context, s *SignupState) error {
	s.Active = true
	return nil
}

func (handlers) Deactivate(_ context.Context, s *SignupState) error {
	s.Active = false
	return nil
}

func (handlers) ExpireTrial(_ context.Context, s *SignupState) error {
	if s.Payment.Cents != 0 {
		return fmt.Errorf("customer %s has paid", s.CustomerID)
	}
	return nil
}
