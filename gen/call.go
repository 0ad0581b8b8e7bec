package gen

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dave/jennifer/jen"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
)

// Calls. A flow that calls others (`call Billing (Invoice) -> Receipt`,
// `rollback call Refund (Receipt)`) runs each as a child run of the
// callee's generated definition: its constructor takes one parameter per
// flow it calls, after the handlers, typed *BillingFlow, so that a call is
// type-checked by the Go compiler end to end (the fields passed and
// received are of the callee's state type; gocheck reports them earlier,
// at the .flow position) and a missing callee does not compile. Build the
// callees first, with the same runtime options:
//
//	billing, err := NewBillingFlow(hb, opts...)
//	order, err := NewOrderFlow(ho, billing, opts...)

// callees are the flows of the file that fl calls, each once, in the order
// of their first call: computed once (findCallees), as every function that
// builds a group of steps takes them.
func (g *flowGen) callees() []*dsl.Flow { return g.calleeFlows }

// findCallees computes callees.
func (g *flowGen) findCallees() []*dsl.Flow {
	var out []*dsl.Flow
	seen := map[string]bool{}
	for _, cs := range g.fl.Calls() {
		if c := g.file.Callee(cs.Action); c != nil && !seen[c.Name] {
			seen[c.Name] = true
			out = append(out, c)
		}
	}
	return out
}

// calleeParam is the constructor's parameter holding callee's definition:
// billingFlow for flow Billing.
func (g *flowGen) calleeParam(callee *dsl.Flow) string {
	r, size := utf8.DecodeRuneInString(callee.Name)
	return g.local(string(unicode.ToLower(r)) + callee.Name[size:] + "Flow")
}

// calleeState is the state type of callee in Go.
func calleeState(callee *dsl.Flow) *jen.Statement {
	if callee.State == nil {
		return jen.Struct()
	}
	return jen.Id(callee.State.Name)
}

// calleeParams are the constructor's parameters of the flows fl calls.
func (g *flowGen) calleeParams() []jen.Code {
	var out []jen.Code
	for _, c := range g.callees() {
		out = append(out, jen.Id(g.calleeParam(c)).Op("*").Id(c.GoNames().Type))
	}
	return out
}

// calleeChecks refuse a nil callee definition, which would otherwise fail
// at the first call.
func (g *flowGen) calleeChecks() []jen.Code {
	var out []jen.Code
	for _, c := range g.callees() {
		out = append(out, jen.If(jen.Id(g.calleeParam(c)).Op("==").Nil()).Block(
			jen.Return(jen.Nil(), rt("MissingCallee").Call(jen.Lit(g.fl.Name), jen.Lit(c.Name))),
		))
	}
	return out
}

// calleeDoc says what the constructor's callee parameters are, or "".
func (g *flowGen) calleeDoc() string {
	cs := g.callees()
	if len(cs) == 0 {
		return ""
	}
	var names []string
	for _, c := range cs {
		names = append(names, g.calleeParam(c))
	}
	return fmt.Sprintf(" Its calls run child runs of %s, built with the same options.", diag.AndList(names))
}

// callArgs are the callee definition and the functions that give the
// child its state and take its final state: nil for a field not named.
func (g *flowGen) callArgs(a *dsl.Action) (callee *dsl.Flow, def, in, out jen.Code) {
	callee = g.file.Callee(a)
	C := calleeState(callee)
	def = jen.Id(g.calleeParam(callee)).Dot("Runtime").Call()
	in, out = jen.Nil(), jen.Nil()
	if a.Request != nil {
		in = g.stateFunc(C.Clone(), g.id("s").Dot(a.Request.Name))
	}
	if a.Response != nil {
		out = g.stateFunc(jen.Op("*").Add(C.Clone()), jen.Op("&").Add(g.id("s")).Dot(a.Response.Name))
	}
	return callee, def, in, out
}

// call is the runtime.NewCall of call step s.
func (g *flowGen) call(s *dsl.Step) *jen.Statement {
	callee, def, in, out := g.callArgs(s.Action)
	return rt("NewCall").Types(g.stateType(), calleeState(callee)).Call(args(2, jen.Id(g.consts[s.Name]), def, in, out)...)
}

// rollbackCall is the runtime.WithRollbackCall option of s's rollback.
func (g *flowGen) rollbackCall(s *dsl.Step) *jen.Statement {
	callee, def, in, _ := g.callArgs(s.Rollback.Action)
	return rt("WithRollbackCall").Types(g.stateType(), calleeState(callee)).Call(def, in)
}

// checkCall refuses a call of no flow of the file, which Check reports as
// "call-flow".
func checkCall(file *dsl.File, fl *dsl.Flow, s *dsl.Step, a *dsl.Action) error {
	if a == nil || a.Kind != dsl.ActionCall {
		return nil
	}
	if file.Callee(a) == nil {
		name := ""
		if a.Flow != nil {
			name = a.Flow.Name
		}
		return fmt.Errorf("gen: flow %q: step %q calls flow %q, which the file does not declare", fl.Name, s.Name, strings.TrimSpace(name))
	}
	return nil
}
