package parser

import (
	"fmt"
	"slices"
	"strings"

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
// parses as a call of flow irreversible (and "rollback" so, as a Go
// rollback named irreversible); a state field left out after an
// rpc's, await's or call's "->", the "(" of an rpc, call or publish, after
// "sleep until", "correlate" or "writes" (or a comma of its list), with a
// statement on the next line,
// takes that statement's keyword for the field, and so does an outcome
// left out after "outcomes" or a comma of its list (a trailing comma) for
// the outcome; "on ok ->" followed by a
// statement parses as a transition to a step of that name, and a
// choose's "when X ->" or "otherwise ->" followed by the next when or
// otherwise line as a line to a step of that name; and a condition that
// lost its operand after "when", "and", "or" or "not" takes the next
// line's otherwise or when for a field ("when Express and", then
// "otherwise -> Ship", is the condition "Express and otherwise"). The checks would then
// report a flow, field or step that does not exist, or a second action,
// on the keyword's line, and a keyword that takes arguments leaves them
// to a syntax error of their own. keywordNameError reports instead what
// went wrong, at the call or at the token that lost its name: a flow or
// step name is exported (Check's rule), so no keyword can be one; a field
// could be named like a keyword, so only a keyword on a later line than
// that token is taken for the next statement (so for an outcome), or one
// on its line that the input cannot have meant as a field: the parser
// stopped at its argument, or it is a rollback whose rpc or call would be
// a second action (slotKeyword, rollbackFieldKeyword).

// statementKeywords are the words that start a statement of a flow or a
// step: what follows a call or a transition that lost its name.
var statementKeywords = slices.Concat(flowKeywords, stepKeywords)

// targetKeywords are what follows a "->" that lost its step: a statement,
// or the next line of a choose block.
var targetKeywords = slices.Concat(statementKeywords, []string{ident.KeywordWhen, ident.KeywordOtherwise})

// IsTargetKeyword reports whether name, written as the target of a
// transition or a choose line, would be read as a keyword (a statement's,
// or the next line of a choose block), and the "->" as without its
// target: a name the JSON form may hold (where Check refuses it) and .flow
// cannot write.
func IsTargetKeyword(name string) bool { return slices.Contains(targetKeywords, name) }

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
		for _, f := range stmtNames(ss) {
			if d, bad := slotKeyword(toks, tokenAt(toks, f.Pos.Offset), false); bad {
				return d, true
			}
		}
		if d, bad := rollbackFieldKeyword(ss, toks); bad {
			return d, true
		}
		if rb := ss.Rollback; rb != nil && rb.Name != nil {
			if d, bad := rollbackKeyword(toks, tokenAt(toks, rb.Name.Pos.Offset)); bad {
				return d, true
			}
		}
		c := ss.Call
		if c == nil && ss.Rollback != nil {
			c = ss.Rollback.Call
		}
		if c == nil {
			continue
		}
		if d, bad := callKeyword(toks, tokenAt(toks, c.Flow.Pos.Offset)); bad {
			return d, true
		}
	}
	return diag.Diagnostic{}, false
}

// stmtNames are the names of ss that follow a token of their own
// (fieldSlot, outcomeSlot): the state fields of an rpc's, await's or
// call's response, a sleep's until, a correlation, writes; the outcomes.
func stmtNames(ss *StepStmt) []*Token {
	var out []*Token
	add := func(ts ...*Token) {
		for _, t := range ts {
			if t != nil {
				out = append(out, t)
			}
		}
	}
	rpc, call := ss.RPC, ss.Call
	if rb := ss.Rollback; rb != nil {
		rpc, call = rb.RPC, rb.Call
	}
	if rpc != nil {
		add(rpc.Response)
	}
	if call != nil {
		add(call.Response)
	}
	if a := ss.Await; a != nil {
		add(a.Into, a.Correlate.FieldToken())
	}
	if ss.Sleep != nil {
		add(ss.Sleep.Until)
	}
	for _, f := range ss.Writes {
		add(f.Name)
	}
	for _, o := range ss.Outcomes {
		add(o.Name)
	}
	return out
}

// rollbackFieldKeyword reports the state field of ss's action that is
// the keyword rollback followed, on its line, by rpc or call: the action
// lost its field (rpc s "S.Do" (X) -> rollback rpc s "S.Undo" (X)), and
// the rollback's rpc or call, read as a statement of its own, would be a
// second action, which the model's error would name instead.
func rollbackFieldKeyword(ss *StepStmt, toks []lexer.Token) (diag.Diagnostic, bool) {
	if ss.RPC == nil && ss.Await == nil && ss.Call == nil && ss.Sleep == nil {
		return diag.Diagnostic{}, false // a rollback's field, writes, outcomes: not a second action
	}
	for _, f := range stmtNames(ss) {
		j := tokenAt(toks, f.Pos.Offset)
		if f.Value != "rollback" || j+1 >= len(toks) {
			continue
		}
		next := toks[j+1]
		if next.Pos.Line == f.Pos.Line && (next.Value == ident.KeywordRPC || next.Value == ident.KeywordCall) {
			return slotKeyword(toks, j, true)
		}
	}
	return diag.Diagnostic{}, false
}

// chooseKeywordTarget is keywordNameError for the when and otherwise lines
// of c: their targets, and the fields of their conditions.
func chooseKeywordTarget(c *Choose, toks []lexer.Token) (diag.Diagnostic, bool) {
	for _, cs := range c.Body {
		target := cs.Otherwise
		if cs.When != nil {
			target = cs.When.Target
			if d, bad := condKeywordField(cs.When.Cond, toks); bad {
				return d, true
			}
		}
		if d, bad := targetKeyword(toks, tokenAt(toks, target.Pos.Offset)); bad {
			return d, true
		}
	}
	return diag.Diagnostic{}, false
}

// condKeywordField is condKeyword for the fields of the comparisons of
// cond, parenthesised groups included.
func condKeywordField(cond *Or, toks []lexer.Token) (diag.Diagnostic, bool) {
	if cond == nil {
		return diag.Diagnostic{}, false
	}
	for _, and := range cond.Terms {
		for _, u := range and.Factors {
			switch {
			case u == nil:
			case u.Group != nil:
				if d, bad := condKeywordField(u.Group, toks); bad {
					return d, true
				}
			case u.Compare != nil && u.Compare.Field != nil:
				if d, bad := condKeyword(toks, tokenAt(toks, u.Compare.Field.Pos.Offset)); bad {
					return d, true
				}
			}
		}
	}
	return diag.Diagnostic{}, false
}

// condOperators are the words of a condition that a condition follows.
var condOperators = []string{ident.KeywordWhen, ident.KeywordAnd, ident.KeywordOr, ident.KeywordNot}

// condKeyword reports the field of a condition toks[j] when it is the
// keyword of a choose line (when, otherwise) on a later line than the
// when, and, or or not before it, which lost its condition: the error is
// there. (A field named so on the same line is a field, as elsewhere.)
func condKeyword(toks []lexer.Token, j int) (diag.Diagnostic, bool) {
	if j < 1 || j >= len(toks) {
		return diag.Diagnostic{}, false
	}
	kw, at := toks[j], toks[j-1]
	if kw.Value != ident.KeywordWhen && kw.Value != ident.KeywordOtherwise || !slices.Contains(condOperators, at.Value) ||
		kw.Pos.Line == at.Pos.Line || !inChoose(toks, j) {
		return diag.Diagnostic{}, false
	}
	return diag.Errorf(tokenRange(at), "syntax", `%q has no condition after it: %s is a keyword, not a field name`, at.Value, keywordAt(kw, at)).
		WithHint("a when line is written when <condition> -> Target, and each and, or and not is followed by a condition: when Express and not Oversize -> Ship"), true
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
	switch {
	case toks[i-2].Value == "call":
		return callKeyword(toks, i-1)
	case toks[i-2].Value == "rollback":
		if d, bad := rollbackKeyword(toks, i-1); bad {
			return d, true
		}
	case toks[i-2].Value == "->" && targetArrow(toks, i-2):
		return targetKeyword(toks, i-1)
	}
	if d, bad := onKeyword(toks, i-1); bad {
		return d, true
	}
	// A choose line's keyword taken for a condition's field, followed by
	// what the grammar cannot take after a field (or, then when Ok -> X,
	// stops at Ok).
	if d, bad := condKeyword(toks, i-1); bad {
		return d, true
	}
	// The keyword taken for a field, or its first argument, is where the
	// parser stopped (sleep until, then on timeout -> X, stops at "->").
	// On one line too (rpc s "S.Do" (X) -> rollback Undo stops at Undo,
	// await t "e" -> timeout 1h at 1h): a field of that name leaves the
	// parser unable to go on, so the keyword is the statement it starts.
	for _, j := range []int{i - 1, i - 2} {
		if d, bad := slotKeyword(toks, j, true); bad {
			return d, true
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
	if w := toks[j].Value; toks[j].Type == tokIdent && slices.Contains([]string{ident.KeywordAnd, ident.KeywordOr, ident.KeywordNot}, strings.ToLower(w)) {
		// when X AND Y: keywords are lower case.
		return fmt.Sprintf("conditions combine with and, or and not, in lower case: %s", strings.ToLower(w))
	}
	if toks[j].Type == tokIdent && toks[j].Value == "in" {
		// when Tier in ("gold", "silver"): a set, as SQL or Python write it.
		return `a condition compares a field with one value; join several with or: when Tier == "gold" or Tier == "silver" -> Target`
	}
	if j >= 3 && toks[j].Type == tokDuration && toks[j-1].Type == tokDuration && toks[j-3].Type == tokIdent {
		// when Wait > 1h 30m: the first word ended the comparison.
		return fmt.Sprintf("%s: %s %s %s%s", oneWordDuration, toks[j-3].Value, toks[j-2].Value, toks[j-1].Value, toks[j].Value)
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

// callKeyword reports the call whose flow is toks[j], when that token is
// a statement keyword that starts the next statement; the token before it
// is the call keyword, where the error is.
func callKeyword(toks []lexer.Token, j int) (diag.Diagnostic, bool) {
	kw, at := toks[j], toks[j-1]
	if !slices.Contains(statementKeywords, kw.Value) {
		return diag.Diagnostic{}, false
	}
	_, hint := describeExpected("Ident", toks, j)
	return diag.Errorf(tokenRange(at), "syntax", "call has no flow name: %s is a keyword, not a flow name", keywordAt(kw, at)).
		WithHint("%s", hint), true
}

// rollbackKeyword reports the Go rollback whose method name is toks[j],
// when that token is a statement keyword on a later line than the
// rollback keyword before it, where the error is: a method name is
// exported (Check's rule), so no keyword is one. An action's keyword is
// left to rollbackActionHint (rollback publish t "e": an action written as
// a rollback), and rpc and call start a rollback of their own.
func rollbackKeyword(toks []lexer.Token, j int) (diag.Diagnostic, bool) {
	if j < 1 || j >= len(toks) {
		return diag.Diagnostic{}, false
	}
	kw, at := toks[j], toks[j-1]
	if at.Value != "rollback" || kw.Pos.Line == at.Pos.Line || !slices.Contains(statementKeywords, kw.Value) || slices.Contains(actionKeywords, kw.Value) {
		return diag.Diagnostic{}, false
	}
	return diag.Errorf(tokenRange(at), "syntax", "rollback has no method name: %s is a keyword, not a method name", keywordAt(kw, at)).
		WithHint("name the Go method that undoes the step, such as rollback CancelSubscription, or write rollback rpc ... or rollback call ..."), true
}

// slotKeyword reports the state field or outcome toks[j] when it is a
// statement keyword on a later line than the token before it, which a
// field (fieldSlot) or an outcome (outcomeSlot) follows: that token lost
// its name, and the error is there. With sameLine, a keyword on that
// token's line counts too: where the keyword taken for a name is known
// to have made the input wrong (the parser stopped at its argument), a
// field of that name is not what was meant.
func slotKeyword(toks []lexer.Token, j int, sameLine bool) (diag.Diagnostic, bool) {
	if j < 1 || j >= len(toks) {
		return diag.Diagnostic{}, false
	}
	kw, at := toks[j], toks[j-1]
	if !slices.Contains(statementKeywords, kw.Value) || kw.Pos.Line == at.Pos.Line && !sameLine {
		return diag.Diagnostic{}, false
	}
	if kw.Pos.Line == at.Pos.Line && at.Value == "correlate" && kw.Value == "on" {
		return diag.Diagnostic{}, false // correlate on path: the path's own on, which the parser's hint explains
	}
	what, name := "state field", "a field name"
	hint, ok := fieldSlot(toks, j-1)
	if !ok {
		what, name = "outcome", "an outcome name"
		if hint, ok = outcomeSlot(toks, j-1); !ok {
			return diag.Diagnostic{}, false
		}
	}
	return diag.Errorf(tokenRange(at), "syntax", `%q has no %s after it: %s is a keyword, not %s`, at.Value, what, keywordAt(kw, at), name).
		WithHint("%s", hint), true
}

// fieldSlot reports whether the grammar takes a state field name after
// toks[j]: an rpc's, await's or call's "->", sleep's "until", "correlate",
// "writes" or a comma of its list, and the "(" of an rpc's, call's or
// publish's field; hint says how to write it.
func fieldSlot(toks []lexer.Token, j int) (hint string, ok bool) {
	switch at := toks[j].Value; {
	case at == "(":
		return parenSlot(toks, j)
	case at == "->" && callArrow(toks, j):
		return `name the state field that takes the called flow's final state, such as call Billing (Invoice) -> Receipt, or drop the "->"`, true
	case at == "->":
		switch actionOfArrow(toks, j) {
		case ident.KeywordRPC:
			return `name the state field that takes the response, such as rpc customers "Customer.Create" (Customer) -> CustomerID, or drop the "->"`, true
		case ident.KeywordAwait:
			return `name the state field that takes the event's payload, such as await payments "payment.succeeded" -> Payment, or drop the "->"`, true
		}
	case at == ident.KeywordUntil && j > 0 && toks[j-1].Value == ident.KeywordSleep:
		return "name the time.Time field of the state that holds when to wake, such as sleep until ReminderAt", true
	case at == "correlate":
		return "name the state field whose value the event must carry, such as correlate OrderID", true
	case at == ident.KeywordWrites || at == "," && inList(toks, j, ident.KeywordWrites):
		return "name the fields the step writes, such as writes Reservation, Total", true
	}
	return "", false
}

// parenSlot is fieldSlot for the "(" at toks[j]: rpc service "Endpoint" (,
// publish topic "event" (, call Flow (.
func parenSlot(toks []lexer.Token, j int) (hint string, ok bool) {
	switch {
	case j >= 2 && toks[j-1].Type == tokIdent && toks[j-2].Value == ident.KeywordCall:
		return "name the state field passed as the child's initial state, and close the parentheses: call Billing (Invoice)", true
	case j < 3 || toks[j-1].Type != tokString:
		return "", false
	case toks[j-3].Value == ident.KeywordRPC:
		return `name the state field sent, and close the parentheses: rpc customers "Customer.Create" (Customer)`, true
	case toks[j-3].Value == ident.KeywordPublish:
		return `name the state field published, and close the parentheses: publish mail "welcome" (Customer)`, true
	}
	return "", false
}

// outcomeSlot reports whether the grammar takes an outcome name after
// toks[j]: "outcomes", or a comma of its list; hint says how to write it.
func outcomeSlot(toks []lexer.Token, j int) (hint string, ok bool) {
	const example = "name the outcomes the Go step returns, such as outcomes approved, rejected"
	switch at := toks[j].Value; {
	case at == "outcomes":
		return example, true
	case at == "," && inList(toks, j, "outcomes"):
		return example + `, or drop the ","`, true
	}
	return "", false
}

// actionOfArrow is the keyword of the rpc or await line whose "->" is
// toks[j] (rpc service "Endpoint" [(Request)] ->, await topic "event" ->),
// or "".
func actionOfArrow(toks []lexer.Token, j int) string {
	k := j - 1
	if k >= 3 && toks[k].Value == ")" && toks[k-2].Value == "(" {
		k -= 3
	}
	if k < 2 || toks[k].Type != tokString {
		return ""
	}
	return toks[k-2].Value
}

// inList reports whether the comma toks[j] separates the names of a list
// that keyword starts: the fields of writes, the outcomes of outcomes.
func inList(toks []lexer.Token, j int, keyword string) bool {
	for j >= 2 && toks[j].Value == "," && toks[j-1].Type == tokIdent {
		j -= 2
	}
	return toks[j].Value == keyword
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

// onKeyword reports the transition whose outcome is toks[j], when that
// token is a statement keyword on a later line than the "on" before it:
// the "on" lost its outcome, and the parser, reading the keyword as one,
// stopped at what follows it (on, then irreversible, stops at the "}"
// after it), so the error is at the "on". The outcome timeout is also a
// statement keyword; "on", then "timeout 5s", is left to the parser. A
// correlation's "on path" (correlate Field on) is not a transition.
func onKeyword(toks []lexer.Token, j int) (diag.Diagnostic, bool) {
	if j < 1 || j >= len(toks) {
		return diag.Diagnostic{}, false
	}
	kw, at := toks[j], toks[j-1]
	if at.Value != "on" || kw.Pos.Line == at.Pos.Line || kw.Value == "timeout" || !slices.Contains(statementKeywords, kw.Value) ||
		j >= 3 && toks[j-3].Value == "correlate" {
		return diag.Diagnostic{}, false
	}
	return diag.Errorf(tokenRange(at), "syntax", `"on" has no outcome after it: %s is a keyword, not an outcome`, keywordAt(kw, at)).
		WithHint("a transition is written on outcome -> Target: %s", outcomesHint), true
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
