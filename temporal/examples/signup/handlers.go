package signup

import (
	"context"
	"fmt"
)

// handlers implements SignupHandlers exactly as examples/signup does: the
// handlers do not change with the target.
type handlers struct {
	cancelled func(subscriptionID string) error
}

func (h handlers) CancelSubscription(_ context.Context, s *SignupState) error {
	return h.cancelled(s.SubscriptionID)
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
