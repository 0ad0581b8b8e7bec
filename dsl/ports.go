package dsl

import (
	"fmt"
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/internal/ident"
)

// Typed service ports. For every service that a flow's rpc lines call (a
// step's action or its rollback), the generated code declares a Go
// interface, the service's port, with one method per endpoint; the
// constructor takes an implementation of each, so a request or response
// of the wrong type is a compile error in the user's code rather than a
// JSON error at run time. For flow Order calling service payments:
//
//	OrderPayments            the port: CardAuthorize(ctx, req Card) (Authorization, error)
//	OrderPaymentsCaller      the port over a runtime.Caller (httpcall, NATS, MemoryCaller)
//	OrderServices            a struct with one field per port (Payments), the constructor's argument
//	OrderServicesFromCaller  OrderServices whose every port is its Caller adapter
//
// Names come from ident.CamelCase: the port of service "payments" is
// Order + "Payments", the method of endpoint "Card.Authorize" is
// "CardAuthorize". A service or endpoint that gives no exported Go name
// ("9lives"), two services or two endpoints of one service that give the
// same name, and an endpoint called with a request in one place and
// without in another are check errors (checkPorts).

// Port is the generated interface of one service a flow calls.
type Port struct {
	Service   string // "payments"
	Field     string // "Payments": the service's field of <Flow>Services
	Interface string // "OrderPayments"
	Adapter   string // "OrderPaymentsCaller"
	Methods   []PortMethod
	Range     diag.Range // the first rpc line that calls the service
}

// PortMethod is one method of a port: an endpoint of the service.
type PortMethod struct {
	Name     string // "CardAuthorize"
	Endpoint string // "Card.Authorize"
	// Calls are the rpc lines that call the endpoint, in file order: a
	// step's action (Rollback false) or its rollback.
	Calls []PortCall
	// Request is the state field the first call sends (nil: the calls send
	// no request, and the method takes none). Response is the field of the
	// first call that keeps a response (nil: none does, and the method
	// returns only an error); a call without `-> Field` discards it.
	Request, Response *Ident
}

// PortCall is one rpc line that calls a port method.
type PortCall struct {
	Step     *Step
	Action   *Action
	Rollback bool
}

// Ports returns the ports of the services f calls, in the order the file
// first calls them, each method in the order its endpoint is first
// called. A flow without rpc lines has none. Names that collide keep the
// first service or endpoint; checkPorts reports the others.
func (f *Flow) Ports() []Port {
	ports, _ := f.ports()
	return ports
}

// PortsChecked is Ports with the diagnostics of its names, which Check
// reports: the generator refuses a flow that has any.
func (f *Flow) PortsChecked() ([]Port, diag.List) { return f.ports() }

// rpcCalls are the rpc lines of f in file order: each step's action, then
// its rollback.
func (f *Flow) rpcCalls() []PortCall {
	var out []PortCall
	for _, s := range f.AllSteps() { // a branch's rpc calls its port too
		if a := s.Action; a != nil && a.Kind == ActionRPC {
			out = append(out, PortCall{Step: s, Action: a})
		}
		if s.Rollback != nil && s.Rollback.Action != nil && s.Rollback.Action.Kind == ActionRPC {
			out = append(out, PortCall{Step: s, Action: s.Rollback.Action, Rollback: true})
		}
	}
	return out
}

// AdapterCallerField is the field of a port's adapter (Port.Adapter) that
// holds the runtime.Caller its methods call through: no endpoint may give
// a method of that name.
const AdapterCallerField = "Caller"

// ports computes Ports and the diagnostics of their names (codes "name",
// "name-collision" and "port-call").
func (f *Flow) ports() ([]Port, diag.List) {
	var ports []Port
	var ds diag.List
	byService := map[string]int{}  // service -> index in ports
	byField := map[string]string{} // port field -> service
	for _, c := range f.rpcCalls() {
		a := c.Action
		if strings.TrimSpace(a.Service) == "" || strings.TrimSpace(a.Endpoint) == "" {
			continue // reported as "empty"
		}
		pi, ok := byService[a.Service]
		if !ok {
			field := ident.GoName(a.Service)
			if field == "" {
				ds = append(ds, diag.Errorf(a.Range, "name", "service %q gives no Go name for its port: its letters and digits must start with a letter that has an upper case, as an exported Go name does", a.Service).
					WithHint("%s", nameHint("service", a.Service, "svc")))
				continue
			}
			if prev, dup := byField[field]; dup {
				ds = append(ds, diag.Errorf(a.Range, "name-collision", "service %q and service %q of flow %q both give the port %s%s (%s)", a.Service, prev, f.Name, f.Name, field, where(ports[byService[prev]].Range)).
					WithHint("rename one of the services so that their letters and digits differ"))
				continue
			}
			byField[field] = a.Service
			pi = len(ports)
			byService[a.Service] = pi
			ports = append(ports, Port{Service: a.Service, Field: field, Interface: f.Name + field, Adapter: f.Name + field + "Caller", Range: a.Range})
		}
		p := &ports[pi]
		name := ident.GoName(a.Endpoint)
		if name == "" {
			ds = append(ds, diag.Errorf(a.Range, "name", "endpoint %q of service %q gives no Go method name for port %s: its letters and digits must start with a letter that has an upper case, as an exported Go name does", a.Endpoint, a.Service, p.Interface).
				WithHint("%s", nameHint("endpoint", a.Endpoint, "Call")))
			continue
		}
		if name == AdapterCallerField {
			ds = append(ds, diag.Errorf(a.Range, "name-collision", "endpoint %q of service %q gives the method %s, the name of the field that holds the runtime.Caller of port %s's adapter %s",
				a.Endpoint, a.Service, name, p.Interface, p.Adapter).
				WithHint("rename the endpoint, for example %q", a.Endpoint+".Call"))
			continue
		}
		mi := -1
		for i, m := range p.Methods {
			if m.Name == name {
				mi = i
				break
			}
		}
		if mi < 0 {
			p.Methods = append(p.Methods, PortMethod{Name: name, Endpoint: a.Endpoint})
			mi = len(p.Methods) - 1
		}
		m := &p.Methods[mi]
		if m.Endpoint != a.Endpoint {
			ds = append(ds, diag.Errorf(a.Range, "name-collision", "endpoints %q and %q of service %q both give the method %s of port %s (%s)",
				a.Endpoint, m.Endpoint, a.Service, diag.Cut(name), diag.Cut(p.Interface), where(m.Calls[0].Action.Range)).
				WithHint("rename one of the endpoints so that their letters and digits differ"))
			continue
		}
		if len(m.Calls) > 0 && (m.Request == nil) != (a.Request == nil) {
			first := m.Calls[0].Action
			with, without := "sends a request", "none"
			if a.Request == nil {
				with, without = "sends no request", "one"
			}
			ds = append(ds, diag.Errorf(a.Range, "port-call", "rpc %s %q %s here but %s at %s: method %s of port %s takes one request type, or none",
				diag.Cut(ident.Format(a.Service)), a.Endpoint, with, without, where(first.Range), diag.Cut(name), diag.Cut(p.Interface)).
				WithHint("send the same kind of field on every call of an endpoint, or call two endpoints"))
			continue
		}
		if len(m.Calls) == 0 {
			m.Request = a.Request
		}
		if m.Response == nil {
			m.Response = a.Response
		}
		m.Calls = append(m.Calls, c)
	}
	return ports, ds
}

// Describe says where a call is, for generated comments: "step Reserve"
// or "the rollback of step Reserve".
func (c PortCall) Describe() string {
	if c.Rollback {
		return fmt.Sprintf("the rollback of step %s", c.Step.Name)
	}
	return "step " + c.Step.Name
}

// nameHint suggests a name for a service or endpoint that gives no Go name:
// prefix before its digits ("9lives" -> "svc9lives"), or just the rule
// when it has no letter or digit at all.
func nameHint(what, name, prefix string) string {
	if c := ident.CamelCase(name); c != "" {
		return diag.Sprintf("name the %s starting with a letter such as A-Z, for example %q", what, prefix+c)
	}
	return fmt.Sprintf("name the %s with letters and digits, starting with a letter such as A-Z", what)
}
