package runtime

import (
	"context"
	"fmt"
	"reflect"
)

// Typed service ports. Generated code declares, for every service a flow's
// rpc lines call, a Go interface (the service's port) with one method per
// endpoint, taking and returning the Go types of the state fields; the
// generated constructor takes an implementation of each port. A port can
// be any client (gRPC, Connect, a hand-written fake), or the generated
// adapter <Flow><Service>Caller, whose methods call CallPort and
// CallPortNoResponse over a Caller: the HTTP caller of engine/httpcall,
// NATS, a MemoryCaller. The context a port method gets is the step's, so
// IdempotencyKey, Attempt and RunID answer in it, and its deadline is the
// attempt's.

// CallPort makes one request of service/endpoint through c and returns its
// response decoded into a Rsp: the method of a generated port adapter for
// an endpoint whose calls keep a response. req is encoded by c as an rpc
// step's request is (nil sends null). Without a Caller it returns a
// permanent error wrapping ErrNotConfigured.
func CallPort[Rsp any](ctx context.Context, c Caller, service, endpoint string, req any) (Rsp, error) {
	var rsp Rsp
	if c == nil {
		return rsp, noCaller(service, endpoint)
	}
	err := c.Call(ctx, service, endpoint, req, &rsp)
	return rsp, err
}

// CallPortNoResponse makes one request of service/endpoint through c and
// discards the response (c gets a nil rsp): the method of a generated port
// adapter for an endpoint whose calls keep none.
func CallPortNoResponse(ctx context.Context, c Caller, service, endpoint string, req any) error {
	if c == nil {
		return noCaller(service, endpoint)
	}
	return c.Call(ctx, service, endpoint, req, nil)
}

func noCaller(service, endpoint string) error {
	return Permanent(fmt.Errorf("%w: port of service %s calls %s through a nil Caller", ErrNotConfigured, service, endpoint))
}

// IsNil reports whether v, a generated constructor's handlers or port, is
// nil: a nil interface, or one that holds a nil pointer or a nil func (a
// nil *T, as a variable declared and never set gives). A method of either
// would panic at its first call, or fail, after the steps before it had
// done their work, where v == nil let it through. A nil pointer whose
// methods read none of its fields would run; pass &T{} instead. Other
// kinds are not nil here: a nil map or slice reads as empty. It is the
// constructor's one test of its arguments (MissingHandlers, MissingPort).
// reflect is the one way to see a nil value of a type the runtime does not
// know; it runs once per argument, when the flow is built.
func IsNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Func:
		return rv.IsNil()
	}
	return false
}

// MissingHandlers is the error a generated constructor returns when it
// was given nil handlers (IsNil; handlers names their interface, SignupHandlers)
// for a flow with Go steps or Go rollbacks: each of them would panic,
// after the steps before it had done their work. It wraps
// ErrNotConfigured, as MissingPort does.
func MissingHandlers(flow, handlers string) error {
	return fmt.Errorf("%w: flow %q: its %s are nil: its Go steps and Go rollbacks are their methods",
		ErrNotConfigured, flow, handlers)
}

// OptionAsHandlers is the error a generated constructor returns when it
// was given a runtime Option as the handlers of a flow that has no Go
// steps (handlers names their empty interface, constructor the
// constructor): the option would be dropped, a sink among them, and the
// runs would not be recorded. It wraps ErrNotConfigured, as
// MissingHandlers does.
func OptionAsHandlers(flow, handlers, constructor string) error {
	return fmt.Errorf("%w: flow %q: a runtime.Option was given as its %s, where it would be ignored: "+
		"the flow has no Go steps, so pass nil first (%s(nil, ...))", ErrNotConfigured, flow, handlers, constructor)
}

// PortWithoutCaller is the error a generated constructor returns when a
// port of its services is the generated adapter over a runtime.Caller
// (adapter names it: SignupCustomersCaller) with a nil Caller: one written
// as SignupCustomersCaller{}, or over an engine without a Caller. Each of
// its calls would fail, after the steps before it had done their work. It
// wraps ErrNotConfigured, as MissingPort does.
func PortWithoutCaller(flow, services, field, adapter string) error {
	return fmt.Errorf("%w: flow %q: %s.%s is a port adapter, %s, over a nil Caller: give it the runtime.Caller that reaches the service, or a port of your own",
		ErrNotConfigured, flow, services, field, adapter)
}

// AdapterWithoutCaller reports whether port is the generated port adapter
// A (<Flow><Service>Caller, a struct of one field, its Caller) over a nil
// Caller: A's zero value, or a pointer to it, or a nil *A. The adapter's
// methods have value receivers, so a pointer to it is a port as well; a
// generated constructor refuses both forms with PortWithoutCaller.
func AdapterWithoutCaller[A comparable](port any) bool {
	var zero A
	switch p := port.(type) {
	case A:
		return p == zero
	case *A:
		return p == nil || *p == zero
	}
	return false
}

// MissingPort is the error a generated constructor returns when its
// services argument lacks a port: services.field is nil (IsNil). It wraps
// ErrNotConfigured, as a missing Caller does for an untyped rpc step.
func MissingPort(flow, services, field string) error {
	return fmt.Errorf("%w: flow %q: %s.%s is nil: every service the flow calls needs a port (%sFromCaller builds them all from a runtime.Caller)",
		ErrNotConfigured, flow, services, field, services)
}
