package gen

import (
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/flowgen/flowgen/diag"
)

// stepConsts is the const block of the flow's step IDs, in file order.
func (g *flowGen) stepConsts() jen.Code {
	return jen.Add(docComment(prose(fmt.Sprintf("Steps of flow %s, in %s order. A step's ID is its name in the .flow file; events and Status name steps by it.", g.fl.Name, g.source))...)).Line().
		Const().DefsFunc(func(d *jen.Group) {
		for i, sn := range g.names.Steps {
			if i > 0 {
				d.Line()
			}
			s := sn.Step
			// The action is described where the constructor builds the
			// step; here the step's own doc is enough.
			d.Add(docComment(paragraphs(
				[]string{fmt.Sprintf("%s is step %s.", sn.Const, s.Name)},
				docLines(s.Doc),
			)...))
			d.Id(sn.Const).Op("=").Lit(s.Name)
		}
	})
}

// outcomeTypes are, for each step that declares outcomes, the type its
// handler method returns and a constant per declared outcome.
func (g *flowGen) outcomeTypes() []jen.Code {
	var out []jen.Code
	for _, sn := range g.names.Steps {
		if sn.OutcomeType == "" {
			continue
		}
		s := sn.Step
		var consts []string
		for _, o := range sn.Outcomes {
			consts = append(consts, o.Const)
		}
		typ := jen.Add(docComment(prose(fmt.Sprintf(
			`%s is how step %s of flow %s ends: %s, or "" for ok.`, sn.OutcomeType, s.Name, g.fl.Name, diag.OrList(consts)))...,
		)).Line().Type().Id(sn.OutcomeType).String()
		block := jen.Const().DefsFunc(func(d *jen.Group) {
			for _, o := range sn.Outcomes {
				d.Add(docComment(prose(fmt.Sprintf("%s (%q) %s.", o.Const, o.Outcome.Name, describeTarget(g.next(s, o.Outcome.Name))))...))
				d.Id(o.Const).Id(sn.OutcomeType).Op("=").Lit(o.Outcome.Name)
			}
		})
		out = append(out, typ, block)
	}
	return out
}
