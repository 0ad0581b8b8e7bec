package parser

import (
	"fmt"
	"slices"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/flowgen/flowgen/diag"
)

// Keywords are not reserved: the lexer reads them as names, and the
// grammar takes a name wherever one fits. So a call whose flow name was
// left out, with the next statement on the next line,
//
//	call
//	irreversible
//
// parses as a call of flow irreversible, and "call Billing ->" followed by
// a statement as a call whose final state goes to a field of that name.
// The checks would then report a flow or field that does not exist, on
// the keyword's line. callKeywordError reports instead what went wrong,
// at the call: a flow name is exported (Check's rule), so no statement
// keyword can be one; a field could be named like a keyword, so only a
// keyword on a later line than the "->" is taken for the next statement.

// statementKeywords are the words that start a statement of a flow or a
// step: what follows a call that lost its name.
var statementKeywords = slices.Concat(flowKeywords, stepKeywords)

// callKeywordError returns the error of the first call in f that took a
// statement keyword for its flow or its response field (callKeyword).
func callKeywordError(f *File, toks []lexer.Token) (diag.Diagnostic, bool) {
	for _, fl := range f.Flows {
		for _, st := range fl.Body {
			var steps []*Step
			switch {
			case st.Step != nil:
				steps = append(steps, st.Step)
			case st.Parallel != nil:
				for _, ps := range st.Parallel.Body {
					if ps.Step != nil {
						steps = append(steps, ps.Step)
					}
				}
			}
			for _, s := range steps {
				for _, ss := range s.Body {
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
			}
		}
	}
	return diag.Diagnostic{}, false
}

// callKeywordBefore is callKeyword for the token before toks[i], where the
// parser stopped: a keyword with arguments read as a call's name leaves
// them unexpected (call, then on ok -> Next, stops at ok).
func callKeywordBefore(toks []lexer.Token, i int) (diag.Diagnostic, bool) {
	if i < 2 {
		return diag.Diagnostic{}, false
	}
	switch toks[i-2].Value {
	case "call":
		return callKeyword(toks, i-1, false)
	case "->":
		if callArrow(toks, i-2) {
			return callKeyword(toks, i-1, true)
		}
	}
	return diag.Diagnostic{}, false
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
