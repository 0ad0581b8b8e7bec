package gen

import (
	"fmt"
	"go/types"

	"github.com/dave/jennifer/jen"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
)

// needsGoType is the error of a flow the generator needs a state field's
// Go type for, generated without its Go package (-nopkg, or a package that
// cannot be loaded): a diagnostic at the field, so that the command shows
// the line, as it does for every error of an input.
func needsGoType(at diag.Range, state, format string, args ...any) error {
	return diag.Errorf(at, "go-type", "%s, and the generator needs its Go type", fmt.Sprintf(format, args...)).
		WithHint("generate in the Go package that declares %s, with the package loaded (not with -nopkg; when it cannot be loaded, the go-package warning says why)", state)
}

// stateFieldType is the Go type of field id of flow fl's state type state,
// declared in pkg; an error says which of the two is missing.
func stateFieldType(fl *dsl.Flow, state string, pkg *types.Package, id *dsl.Ident) (types.Type, error) {
	tn, ok := pkg.Scope().Lookup(state).(*types.TypeName)
	if !ok {
		return nil, fmt.Errorf("gen: flow %q: state type %q is not declared in package %s", fl.Name, state, pkg.Name())
	}
	ft := dsl.FieldType(pkg, tn.Type(), id)
	if ft == nil {
		return nil, fmt.Errorf("gen: flow %q: state type %s has no field %q", fl.Name, state, id.Name)
	}
	return ft, nil
}

// Typed service ports (dsl/ports.go has the names): per service a flow
// calls, an interface with one method per endpoint over the Go types of
// the state fields, an adapter of it over a runtime.Caller, and the
// <Flow>Services struct the constructor takes. The types come from the Go
// package the file is generated into (Options.Types).

// portGen is a port with its methods' Go types resolved.
type portGen struct {
	dsl.Port
	methods []portMethodGen
}

// portMethodGen is a port method with its signature's types; req and rsp
// are nil when the method takes no request or returns no response.
type portMethodGen struct {
	dsl.PortMethod
	req, rsp jen.Code
}

// resolvePorts finds the Go types of every port method's request and
// response fields in pkg. It fails, rather than write code that does not
// compile, when a type is needed and pkg is nil (the package was not
// loaded), lacks the state type or the field, or two calls of an endpoint
// carry fields of different types. typeNames collects the unqualified type
// names the signatures use: a local of the generated code may not shadow
// them.
func resolvePorts(fl *dsl.Flow, state string, pkg *types.Package, imports map[string]string, typeNames map[string]bool) ([]portGen, error) {
	ports := fl.Ports()
	field := func(id *dsl.Ident, m dsl.PortMethod, p dsl.Port) (types.Type, jen.Code, error) {
		if id == nil {
			return nil, nil, nil
		}
		if pkg == nil {
			return nil, nil, needsGoType(id.Range, state, "method %s of port %s carries state field %q", m.Name, p.Interface, id.Name)
		}
		ft, err := stateFieldType(fl, state, pkg, id)
		if err != nil {
			return nil, nil, err
		}
		code, err := typeCode(ft, pkg, imports)
		if err != nil {
			return nil, nil, fmt.Errorf("gen: flow %q: field %q of %s: %w", fl.Name, id.Name, state, err)
		}
		collectTypeNames(ft, pkg, typeNames)
		return ft, code, nil
	}
	var out []portGen
	for _, p := range ports {
		pg := portGen{Port: p}
		for _, m := range p.Methods {
			mg := portMethodGen{PortMethod: m}
			var reqT, rspT types.Type
			for _, c := range m.Calls {
				for _, f := range []struct {
					id   *dsl.Ident
					t    *types.Type
					code *jen.Code
				}{{c.Action.Request, &reqT, &mg.req}, {c.Action.Response, &rspT, &mg.rsp}} {
					ft, code, err := field(f.id, m, p)
					if err != nil {
						return nil, err
					}
					switch {
					case ft == nil:
					case *f.t == nil:
						*f.t, *f.code = ft, code
					case !types.Identical(*f.t, ft):
						return nil, fmt.Errorf("gen: flow %q: endpoint %q of service %q is called with fields of types %s and %s; its port method has one signature",
							fl.Name, m.Endpoint, p.Service, *f.t, ft)
					}
				}
			}
			pg.methods = append(pg.methods, mg)
		}
		out = append(out, pg)
	}
	return out, nil
}

// collectTypeNames adds the names a signature with t uses at package
// level: the types of pkg that t names unqualified (Card, []Item,
// map[string]Price), and the packages of the others (uuid in uuid.UUID).
func collectTypeNames(t types.Type, pkg *types.Package, names map[string]bool) {
	claim := func(obj *types.TypeName) {
		switch p := obj.Pkg(); {
		case p == pkg:
			names[obj.Name()] = true
		case p != nil:
			names[p.Name()] = true
		}
	}
	switch t := t.(type) {
	case *types.Named:
		claim(t.Obj())
		for i := range t.TypeArgs().Len() {
			collectTypeNames(t.TypeArgs().At(i), pkg, names)
		}
	case *types.Alias:
		claim(t.Obj())
	case *types.Pointer:
		collectTypeNames(t.Elem(), pkg, names)
	case *types.Slice:
		collectTypeNames(t.Elem(), pkg, names)
	case *types.Array:
		collectTypeNames(t.Elem(), pkg, names)
	case *types.Map:
		collectTypeNames(t.Key(), pkg, names)
		collectTypeNames(t.Elem(), pkg, names)
	case *types.Struct:
		for i := range t.NumFields() {
			collectTypeNames(t.Field(i).Type(), pkg, names)
		}
	}
}

// portSig is the method's signature: (ctx context.Context[, req Req])
// (Rsp, error) or error.
func (g *flowGen) portSig(m portMethodGen) (params []jen.Code, results *jen.Statement) {
	params = []jen.Code{g.id("ctx").Qual(contextPkg, "Context")}
	if m.req != nil {
		params = append(params, g.id("req").Add(m.req))
	}
	if m.rsp != nil {
		return params, jen.Params(m.rsp, jen.Error())
	}
	return params, jen.Error()
}

// portDecls are the declarations of the flow's ports: per service its
// interface, its Caller adapter and the adapter's methods; then the
// services struct and the function that builds it from a Caller.
func (g *flowGen) portDecls() []jen.Code {
	if len(g.ports) == 0 {
		return nil
	}
	n := g.names
	var decls []jen.Code
	for _, p := range g.ports {
		decls = append(decls, jen.Add(docComment(prose(fmt.Sprintf("%s is service %q as flow %s calls it: one method per endpoint, "+
			"taking and returning the Go types of the state fields the rpc lines name. Implement it with any client "+
			"(gRPC, Connect, a fake), or use %s over a runtime.Caller. ctx is the step's: runtime.IdempotencyKey(ctx) is the same "+
			"across retries and resumes, runtime.Attempt(ctx) counts them, and its deadline is the attempt's. "+
			"An error is retried as the step's retry policy says unless runtime.Permanent marks it.",
			p.Interface, p.Service, g.fl.Name, p.Adapter))...)).Line().
			Type().Id(p.Interface).InterfaceFunc(func(ig *jen.Group) {
			for i, m := range p.methods {
				if i > 0 {
					ig.Line()
				}
				ig.Add(docComment(prose(fmt.Sprintf("%s calls %q (%s).", m.Name, m.Endpoint, portUses(m.PortMethod)))...))
				params, results := g.portSig(m)
				ig.Id(m.Name).Params(params...).Add(results)
			}
		}))
		decls = append(decls, jen.Add(docComment(prose(fmt.Sprintf("%s is %s over a runtime.Caller (engine/httpcall, NATS, runtime.MemoryCaller): "+
			"each method is one Call of service %q, with the step's context, so the Caller sees its idempotency key.",
			p.Adapter, p.Interface, p.Service))...)).Line().
			Type().Id(p.Adapter).Struct(jen.Id(dsl.AdapterCallerField).Add(rt("Caller"))))
		for _, m := range p.methods {
			params, results := g.portSig(m)
			req := jen.Code(jen.Nil())
			if m.req != nil {
				req = g.id("req")
			}
			var body jen.Code
			if m.rsp != nil {
				body = rt("CallPort").Types(m.rsp).Call(g.id("ctx"), g.id("p").Dot(dsl.AdapterCallerField), jen.Lit(p.Service), jen.Lit(m.Endpoint), req)
			} else {
				body = rt("CallPortNoResponse").Call(g.id("ctx"), g.id("p").Dot(dsl.AdapterCallerField), jen.Lit(p.Service), jen.Lit(m.Endpoint), req)
			}
			decls = append(decls, jen.Add(docComment(fmt.Sprintf("%s calls %q of service %q through %s.Caller.", m.Name, m.Endpoint, p.Service, g.local("p")))).Line().
				Func().Params(g.id("p").Id(p.Adapter)).Id(m.Name).Params(params...).Add(results).
				Block(jen.Return(body)))
		}
	}
	decls = append(decls, jen.Add(docComment(prose(fmt.Sprintf("%s are the services flow %s calls, one port each; %s needs every one. "+
		"%s builds them all over one runtime.Caller.", n.Services, g.fl.Name, n.Constructor, n.ServicesFromCaller))...)).Line().
		Type().Id(n.Services).StructFunc(func(sg *jen.Group) {
		for _, p := range g.ports {
			sg.Id(p.Field).Id(p.Interface).Comment(fmt.Sprintf("service %q", p.Service))
		}
	}))
	decls = append(decls, jen.Add(docComment(prose(fmt.Sprintf("%s returns %s whose every port calls c (%s): "+
		"the services of a flow whose requests and responses travel as JSON, such as engine/httpcall's Caller or NATS. "+
		"A nil c gives adapters over no Caller, which %s refuses, saying that the Caller is missing.",
		n.ServicesFromCaller, n.Services, g.ports[0].Adapter+", ...", n.Constructor))...)).Line().
		Func().Id(n.ServicesFromCaller).Params(g.id("c").Add(rt("Caller"))).Id(n.Services).
		Block(jen.Return(jen.Id(n.Services).ValuesFunc(func(vg *jen.Group) {
			for _, p := range g.ports {
				vg.Line().Id(p.Field).Op(":").Id(p.Adapter).Values(jen.Id(dsl.AdapterCallerField).Op(":").Add(g.id("c")))
			}
			vg.Line()
		}))))
	return decls
}

// portUses says which rpc lines call a method: "step Reserve", "the
// rollback of step Reserve and step Retry".
func portUses(m dsl.PortMethod) string {
	var uses []string
	for _, c := range m.Calls {
		uses = append(uses, c.Describe())
	}
	return diag.AndList(uses)
}

// portCall is the call of the port method that an rpc line (a step's
// action, or its rollback's) makes, inside a function of (ctx, s): the
// statements that come first, and the expression of the call's error. It
// sends the request field and, when the line has one, writes the response
// field, only when the call succeeds.
func (g *flowGen) portCall(a *dsl.Action) (stmts []jen.Code, err jen.Code) {
	p, m := g.portOf(a)
	args := []jen.Code{g.id("ctx")}
	if a.Request != nil {
		args = append(args, g.id("s").Dot(a.Request.Name))
	}
	call := g.id("svc").Dot(p.Field).Dot(m.Name).Call(args...)
	switch {
	case m.rsp == nil:
		return nil, call
	case a.Response == nil: // another call of the endpoint keeps the response; this one does not
		return []jen.Code{jen.List(jen.Id("_"), g.id("err")).Op(":=").Add(call)}, g.id("err")
	}
	return []jen.Code{
		jen.List(g.id("rsp"), g.id("err")).Op(":=").Add(call),
		jen.If(g.id("err").Op("==").Nil()).Block(g.id("s").Dot(a.Response.Name).Op("=").Add(g.id("rsp"))),
	}, g.id("err")
}

// portOf is the port and method an rpc line calls.
func (g *flowGen) portOf(a *dsl.Action) (*portGen, *portMethodGen) {
	for i := range g.ports {
		p := &g.ports[i]
		if p.Service != a.Service {
			continue
		}
		for j := range p.methods {
			if p.methods[j].Endpoint == a.Endpoint {
				return p, &p.methods[j]
			}
		}
	}
	return nil, nil // a call whose names dsl.Flow.Ports could not give a method; newFlowGen refuses it
}

// portsNil are the constructor's first statements with ports: a nil port
// (runtime.IsNil: a nil *T in the interface too) is refused, with the
// field it is missing from, and so is the port's
// adapter over a nil Caller (its zero value, or a pointer to it:
// runtime.AdapterWithoutCaller), whose every call would fail at run time.
func (g *flowGen) portsNil() []jen.Code {
	var out []jen.Code
	for _, p := range g.ports {
		field := g.id("svc").Dot(p.Field)
		// The adapter first: a nil pointer to it is one over a nil
		// Caller, which PortWithoutCaller says how to mend.
		out = append(out, jen.If(rt("AdapterWithoutCaller").Types(jen.Id(p.Adapter)).Call(field)).Block(
			jen.Return(jen.Nil(), rt("PortWithoutCaller").Call(jen.Lit(g.fl.Name), jen.Lit(g.names.Services), jen.Lit(p.Field), jen.Lit(p.Adapter)))))
		out = append(out, jen.If(rt("IsNil").Call(field)).Block(
			jen.Return(jen.Nil(), rt("MissingPort").Call(jen.Lit(g.fl.Name), jen.Lit(g.names.Services), jen.Lit(p.Field)))))
	}
	return out
}
