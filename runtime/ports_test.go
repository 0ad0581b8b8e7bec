package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"
)

type portCard struct{ Number string }
type portAuth struct {
	ID     string
	Amount int
}

// CallPort and CallPortNoResponse are what a generated port adapter calls:
// the request goes through the Caller as an rpc step's does, the response
// comes back typed, and the step's context (idempotency key, attempt)
// reaches the service.
func TestCallPort(t *testing.T) {
	c := NewMemoryCaller()
	var keys []string
	c.Handle("payments", "Card.Authorize", HandleFunc(func(ctx context.Context, card portCard) (portAuth, error) {
		keys = append(keys, IdempotencyKey(ctx))
		if Attempt(ctx) < 2 {
			return portAuth{}, errors.New("busy")
		}
		return portAuth{ID: "auth-" + card.Number, Amount: 42}, nil
	}))
	c.Handle("payments", "Card.Void", HandleFunc(func(ctx context.Context, a portAuth) (string, error) {
		keys = append(keys, IdempotencyKey(ctx))
		return "voided", nil
	}))
	type state struct {
		Card portCard
		Auth portAuth
		Fail bool
	}
	f := New[state]("Ports", WithSink(NewMemorySink()))
	auth := NewStep[state]("Authorize", func(ctx context.Context, s *state) (Outcome, error) {
		rsp, err := CallPort[portAuth](ctx, c, "payments", "Card.Authorize", s.Card)
		if err == nil {
			s.Auth = rsp
		}
		return OutcomeOK, err
	})
	auth.Retry = RetryPolicy{Attempts: 3}
	auth.Rollback = func(ctx context.Context, s *state) error {
		return CallPortNoResponse(ctx, c, "payments", "Card.Void", s.Auth)
	}
	fail := NewStep[state]("Fail", func(ctx context.Context, s *state) (Outcome, error) {
		return OutcomeOK, Permanent(errors.New("out of stock"))
	})
	fail.Irreversible = true
	if err := f.Register(auth, fail); err != nil {
		t.Fatal(err)
	}
	res, err := f.Execute(context.Background(), state{Card: portCard{Number: "4242"}}, WithRunID("r1"))
	if err == nil {
		t.Fatal("the run did not fail")
	}
	if res.State.Auth != (portAuth{ID: "auth-4242", Amount: 42}) {
		t.Errorf("Auth = %+v", res.State.Auth)
	}
	want := []string{"r1/Authorize", "r1/Authorize", "r1/Authorize/rollback"}
	if strings.Join(keys, " ") != strings.Join(want, " ") {
		t.Errorf("idempotency keys the service saw = %v, want %v", keys, want)
	}
	if _, err := CallPort[portAuth](context.Background(), nil, "payments", "Card.Authorize", nil); !errors.Is(err, ErrNotConfigured) || !IsPermanent(err) {
		t.Errorf("CallPort without a Caller = %v, want a permanent ErrNotConfigured", err)
	}
	if err := CallPortNoResponse(context.Background(), nil, "payments", "Card.Void", nil); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("CallPortNoResponse without a Caller = %v", err)
	}
	if err := MissingPort("Order", "OrderServices", "Payments"); !errors.Is(err, ErrNotConfigured) || !strings.Contains(err.Error(), "OrderServices.Payments is nil") {
		t.Errorf("MissingPort = %v", err)
	}
	if err := PortWithoutCaller("Order", "OrderServices", "Payments", "OrderPaymentsCaller"); !errors.Is(err, ErrNotConfigured) || !strings.Contains(err.Error(), "OrderServices.Payments is a port adapter, OrderPaymentsCaller, over a nil Caller") {
		t.Errorf("PortWithoutCaller = %v", err)
	}
}

// TestAdapterWithoutCaller: a generated adapter is a port by value and by
// pointer (value receivers); over a nil Caller both forms are refused, and
// any other port, an adapter with a Caller, or another type, is not.
func TestAdapterWithoutCaller(t *testing.T) {
	type adapter struct{ Caller Caller }
	type other struct{ Caller Caller }
	c := NewMemoryCaller()
	for _, tc := range []struct {
		name string
		port any
		want bool
	}{
		{"zero value", adapter{}, true},
		{"pointer to zero", &adapter{}, true},
		{"nil pointer", (*adapter)(nil), true},
		{"value with a Caller", adapter{c}, false},
		{"pointer with a Caller", &adapter{c}, false},
		{"another type, zero", other{}, false},
		{"nil", nil, false},
	} {
		if got := AdapterWithoutCaller[adapter](tc.port); got != tc.want {
			t.Errorf("%s: AdapterWithoutCaller = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestIsNil: a generated constructor's test of its handlers and ports
// sees a nil pointer or func in the interface, which == nil does not; a
// nil map or slice, which reads as empty, is a value.
func TestIsNil(t *testing.T) {
	type port interface{ M() }
	var np *namedPort
	var nf portFunc
	for _, tc := range []struct {
		name string
		v    port
		want bool
	}{
		{"nil interface", nil, true},
		{"nil pointer", np, true},
		{"nil func", nf, true},
		{"pointer", &namedPort{}, false},
		{"value", namedPort{}, false},
		{"func", portFunc(func() {}), false},
		{"nil map", portMap(nil), false},
	} {
		if got := IsNil(tc.v); got != tc.want {
			t.Errorf("%s: IsNil = %v, want %v", tc.name, got, tc.want)
		}
	}
}

type namedPort struct{}

func (namedPort) M() {}

type portFunc func()

func (f portFunc) M() { f() }

type portMap map[string]int

func (portMap) M() {}
