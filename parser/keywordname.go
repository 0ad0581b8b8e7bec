package parser

import (
	"fmt"
	"slices"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/internal/ident"
)

// Keywords are not reserved: the lexer reads them as names, and the
// grammar takes a name wherever one fits. So a call whose flow name was
// left out, with the next statement on the next line,
//
//	call
//	irreversible
//
// parses as a call of flow irreversible, "call Billing ->" followed by a
// statement as a call whose final state goes to a field of that name,
// "on ok ->" followed by a statement as a transition to a step of that
// name, and a choose's "when X ->" or "otherwise ->" followed by the next
// when or otherwise line as a line to a step of that name. The checks
// would then report a flow, field or step that does not exist, on the
// keyword's line, and a keyword that takes arguments leaves them to a
// syntax error of their own. keywordNameError reports instead what went
// wrong, at the call or the "->": a flow or step name is exported
// (Check's rule), so no keyword can be one; a field could be named like a
// keyword, so only a keyword on a later line than the "->" is taken for
// the next statement.

// statementKeywords are the words that start a statement of a flow or a
// step: what follows a call or a transition that lost its name.
var statementKeywords = slices.Concat(flowKeywords, stepKeywords)

// targetKeywords are what follows a "->" that lost its step: a statement,
// or the next line of a choose block.
var targetKeywords = slices.Concat(statementKeywords, []string{ident.KeywordWhen, ident.KeywordOtherwise})

// keywordNameError returns the error of the first call in f that took a
// statement keyword for its flow or its response field (callKeyword), or
// transition or choose line that took a keyword for its target
// (targetKeyword).
func keywordNameError(f *File, toks []lexer.Token) (diag.Diagnostic, bool) {
	for _, fl := range f.Flows {
		for _, st := range fl.Body {
			switch {
			case st.Step != nil:
				if d, bad := stepKeywordName(st.Step, toks); bad {
					return d, true
				}
			case st.Parallel != nil:
				for _, ps := range st.Parallel.Body {
					d, bad := diag.Diagnostic{}, false
					switch {
					case ps.Step != nil:
						d, bad = stepKeywordName(ps.Step, toks)
					case ps.On != nil:
						d, bad = targetKeyword(toks, tokenAt(toks, ps.On.Target.Pos.Offset))
					}
					if bad {
						return d, true
					}
				}
			}
		}
	}
	return diag.Diagnostic{}, false
}

// stepKeywordName is keywordNameError for the statements of step s.
func stepKeywordName(s *Step, toks []lexer.Token) (diag.Diagnostic, bool) {
	for _, ss := range s.Body {
		if ss.On != nil {
			if d, bad := targetKeyword(toks, tokenAt(toks, ss.On.Target.Pos.Offset)); bad {
				return d, true
			}
			continue
		}
		if ss.Choose != nil {
			if d, bad := chooseKeywordTarget(ss.Choose, toks); bad {
				return d, true
			}
			continue
		}
		c := ss.Call
		if c == nil && ss.Rollback != nil {
			c = ss.Rollback.Call
		}
		if c == nil {
			continue
		}
		if d, bad := callKeyword(toks, tokenAt(toks, c.Flow.Pos.Offset), false); bad {
			return d, true
		}
		if c.Response != nil {
			if d, bad := callKeyword(toks, tokenAt(toks, c.Response.Pos.Offset), true); bad {
				return d, true
			}
		}
	}
	return diag.Diagnostic{}, false
}

// chooseKeywordTarget is keywordNameError for the when and otherwise lines
// of c.
func chooseKeywordTarget(c *Choose, toks []lexer.Token) (diag.Diagnostic, bool) {
	for _, cs := range c.Body {
		target := cs.Otherwise
		if cs.When != nil {
			target = cs.When.Target
		}
		if d, bad := targetKeyword(toks, tokenAt(toks, target.Pos.Offset)); bad {
			return d, true
		}
	}
	return diag.Diagnostic{}, false
}

// keywordNameBefore is callKeyword or targetKeyword for the token before
// toks[i], where the parser stopped: a keyword with arguments read as a
// call's name or a transition's target leaves them unexpected (call, then
// on ok -> Next, stops at ok; on ok ->, then rollback Undo, stops at Undo;
// when X ->, then otherwise -> Next, stops at the second "->").
func keywordNameBefore(toks []lexer.Token, i int) (diag.Diagnostic, bool) {
	if i < 2 {
		return diag.Diagnostic{}, false
	}
	switch toks[i-2].Value {
	case "call":
		return callKeyword(toks, i-1, false)
	case "->":
		switch {
		case callArrow(toks, i-2):
			return callKeyword(toks, i-1, true)
		case targetArrow(toks, i-2):
			return targetKeyword(toks, i-1)
		}
	}
	return diag.Diagnostic{}, false
}

// onArrow reports whether the "->" at toks[j] is a transition's: on
// outcome ->. (A correlation's "on path" is never followed by "->": the
// grammar reads "on name ->" as a transition.)
func onArrow(toks []lexer.Token, j int) bool {
	return j >= 2 && toks[j-1].Type == tokIdent && toks[j-2].Value == "on"
}

// targetArrow reports whether the "->" at toks[j] leads to a step: a
// transition's, or a when or otherwise line's (in a choose block, every
// "->" is one of these).
func targetArrow(toks []lexer.Token, j int) bool {
	return onArrow(toks, j) || inChoose(toks, j)
}

// arrowForm says how the line whose "->" is (or should be) at toks[j] is
// written, when that "->" leads to a step; "" for another "->".
func arrowForm(toks []lexer.Token, j int) string {
	switch {
	case onArrow(toks, j):
		return "a transition is written on outcome -> Target"
	case !inChoose(toks, j):
		return ""
	case lastOf(toks, j, ident.KeywordWhen, ident.KeywordOtherwise) == ident.KeywordOtherwise:
		return "an otherwise line is written otherwise -> Target"
	}
	return "a when line is written when <condition> -> Target"
}

// callArrow reports whether the "->" at toks[j] is a call's: call Flow
// [(Request)] ->.
func callArrow(toks []lexer.Token, j int) bool {
	k := j - 1
	if k >= 3 && toks[k].Value == ")" && toks[k-2].Value == "(" {
		k -= 3
	}
	return k >= 1 && toks[k].Type == tokIdent && toks[k-1].Value == "call"
}

// callKeyword reports the call whose flow (or, with response, whose field
// after "->") is toks[j], when that token is a statement keyword that
// starts the next statement; the token before it is the call keyword (the
// "->"), where the error is.
func callKeyword(toks []lexer.Token, j int, response bool) (diag.Diagnostic, bool) {
	kw, at := toks[j], toks[j-1]
	if !slices.Contains(statementKeywords, kw.Value) {
		return diag.Diagnostic{}, false
	}
	if !response {
		_, hint := describeExpected("Ident", toks, j)
		return diag.Errorf(tokenRange(at), "syntax", "call has no flow name: %s is a keyword, not a flow name", keywordAt(kw, at)).
			WithHint("%s", hint), true
	}
	if kw.Pos.Line == at.Pos.Line {
		return diag.Diagnostic{}, false
	}
	return diag.Errorf(tokenRange(at), "syntax", `"->" has no state field after it: %s is a keyword, not a field name`, keywordAt(kw, at)).
		WithHint(`name the state field that takes the called flow's final state, such as call Billing (Invoice) -> Receipt, or drop the "->"`), true
}

// targetKeyword reports the transition or choose line whose target,
// toks[j], is a keyword: the "->" before it lost its target. A step name
// is exported, so this is so whichever line the keyword is on.
func targetKeyword(toks []lexer.Token, j int) (diag.Diagnostic, bool) {
	kw, at := toks[j], toks[j-1]
	if !slices.Contains(targetKeywords, kw.Value) {
		return diag.Diagnostic{}, false
	}
	return diag.Errorf(tokenRange(at), "syntax", `"->" has no target: %s is a keyword, not a step name`, keywordAt(kw, at)).
		WithHint("%s", targetHint(toks, j-1)), true
}

// targetHint says how the line of the "->" at toks[j] is written and what
// its target is.
func targetHint(toks []lexer.Token, j int) string {
	return arrowForm(toks, j) + ": a step of the flow (its name starts with an upper-case letter), done or fail"
}

// keywordAt quotes the keyword kw, with its line when that is not the
// line of the token at, where the error is reported.
func keywordAt(kw, at lexer.Token) string {
	if kw.Pos.Line != at.Pos.Line {
		return fmt.Sprintf("%q on line %d", kw.Value, kw.Pos.Line)
	}
	return fmt.Sprintf("%q", kw.Value)
}

func tokenRange(t lexer.Token) diag.Range {
	return diag.Range{Start: toPos(t.Pos), End: toPos(advance(t.Pos, t.Value))}
}
