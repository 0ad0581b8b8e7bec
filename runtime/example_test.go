package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// SignupState is the data of one signup run.
type SignupState struct {
	Email          string `json:"email"`
	CustomerID     string `json:"customer_id,omitempty"`
	SubscriptionID string `json:"subscription_id,omitempty"`
}

// A flow written by hand: an RPC step with a rollback, a Go step that fails
// once and is retried, then fails for good, so the customer is deleted.
func Example() {
	// In-process fakes of the services; a real Caller speaks to the network.
	customers := runtime.NewMemoryCaller()
	customers.Handle("customers", "Customer.Create", runtime.HandleFunc(func(ctx context.Context, email string) (string, error) {
		return "cus_1", nil
	}))
	customers.Handle("customers", "Customer.Delete", runtime.HandleFunc(func(ctx context.Context, id string) (any, error) {
		fmt.Println("deleting", id, "key", runtime.IdempotencyKey(ctx))
		return nil, nil
	}))

	history := runtime.NewMemorySink()
	signup := runtime.New[SignupState]("Signup",
		runtime.WithCaller(customers),
		runtime.WithSink(history),
		runtime.WithClock(runtime.NewAutoClock(time.Now())), // backoffs take no time here
	)
	err := signup.Register(
		runtime.NewRPC("customers", "Customer.Create",
			func(s *SignupState) any { return s.Email },
			runtime.WithID[SignupState]("CreateCustomer"),
			runtime.WithResponse(func(s *SignupState) any { return &s.CustomerID }),
			runtime.WithRollback(func(ctx context.Context, s *SignupState) error {
				return customers.Call(ctx, "customers", "Customer.Delete", s.CustomerID, nil)
			})),
		runtime.NewStep("CreateSubscription", func(ctx context.Context, s *SignupState) (runtime.Outcome, error) {
			if runtime.Attempt(ctx) == 1 {
				return "", errors.New("subscriptions: unavailable")
			}
			return "", runtime.Permanent(errors.New("plan does not exist"))
		}, runtime.WithRetry[SignupState](runtime.RetryPolicy{Attempts: 3, Initial: 100e6, Jitter: true})),
	)
	if err != nil {
		panic(err)
	}

	res, err := signup.Execute(context.Background(), SignupState{Email: "ann@example.com"}, runtime.WithRunID("run-1"))
	fmt.Println("final:", res.Final)
	fmt.Println("error:", err)
	for _, e := range history.History("run-1") {
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%d %s -> %s %s %s", e.Seq, e.From, e.To, e.Outcome, e.Error)))
	}
	// Output:
	// deleting cus_1 key run-1/CreateCustomer/rollback
	// final: compensated
	// error: step CreateSubscription: plan does not exist
	// 1 pending -> CreateCustomer:running
	// 2 CreateCustomer:running -> CreateSubscription:running ok
	// 3 CreateSubscription:running -> CreateSubscription:running retry subscriptions: unavailable
	// 4 CreateSubscription:running -> failing error plan does not exist
	// 5 failing -> CreateCustomer:rollback
	// 6 CreateCustomer:rollback -> failing ok
	// 7 failing -> compensated
}
