package gen

import (
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/internal/ident"
)

// notHandlerKinds names the kinds of step the user does not implement, as
// the table lists them: "an rpc, await, publish, sleep, choose or call".
func notHandlerKinds() string {
	var words []string
	for _, k := range dsl.Kinds() {
		switch {
		case k.Handler:
		case len(words) == 0:
			words = append(words, k.Noun)
		default:
			words = append(words, k.Keyword)
		}
	}
	return diag.OrList(words)
}

// handlers is the interface of the Go steps and Go rollbacks of the flow,
// one method each, in dsl.Flow.GoMethods order. The constructor takes it,
// so a type that lacks a method does not compile.
func (g *flowGen) handlers() jen.Code {
	n := g.names
	intro := prose(fmt.Sprintf("%s are the Go steps and rollbacks of flow %s, implemented by you and passed to %s. "+
		"Each method works on the run's state; an error is retried as the step's retry policy says unless runtime.Permanent marks it, "+
		"and a panic is an error. ctx is cancelled when the run is aborted, and runtime.IdempotencyKey(ctx) "+
		"identifies the action across retries and resumes.", n.Handlers, g.fl.Name, n.Constructor))
	if len(n.Methods) == 0 {
		intro = prose(fmt.Sprintf("%s is empty: every step of flow %s is %s. Pass nil to %s.",
			n.Handlers, g.fl.Name, notHandlerKinds(), n.Constructor))
	}
	return jen.Add(docComment(intro...)).Line().
		Type().Id(n.Handlers).InterfaceFunc(func(ig *jen.Group) {
		for i, m := range n.Methods {
			if i > 0 {
				ig.Line()
			}
			ig.Add(docComment(g.methodDoc(m)...))
			sig := ig.Id(m.Name).Params(g.ctxStateParams()...)
			if ot := g.outcomeType(m); ot != "" {
				sig.Params(jen.Id(ot), jen.Error())
			} else {
				sig.Error()
			}
		}
	})
}

// outcomeType is the outcome type a Go step method returns, or "".
func (g *flowGen) outcomeType(m dsl.GoMethod) string {
	if m.Rollback || len(m.Steps) == 0 {
		return ""
	}
	return g.stepNames(m.Steps[0]).OutcomeType
}

func (g *flowGen) methodDoc(m dsl.GoMethod) []string {
	if m.Rollback {
		var steps []string
		for _, s := range m.Steps {
			steps = append(steps, s.Name)
		}
		what := "step " + steps[0]
		if len(steps) > 1 {
			what = "steps " + diag.AndList(steps)
		}
		return prose(fmt.Sprintf("%s undoes %s when a later step fails or the run is aborted. "+
			"It runs under a context that the abort does not cancel.", m.Name, what))
	}
	s := m.Steps[0]
	doc := docLines(s.Doc)
	if len(doc) == 0 {
		doc = prose(fmt.Sprintf("%s runs step %s.", m.Name, s.Name))
	}
	var routing []string
	if ot := g.outcomeType(m); ot != "" {
		routing = prose(fmt.Sprintf("It returns %s %s to choose where the run goes (\"\" is ok).", ident.Article(ot), ot))
	}
	return paragraphs(doc, routing, g.branchDoc(s))
}
