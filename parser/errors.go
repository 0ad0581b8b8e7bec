package parser

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/internal/ident"
)

// The parser runs with no lookahead (UseLookahead(0)): the grammar is LL(1),
// so once a statement's keyword has matched, participle commits to it and
// reports the error at the token that broke it, with what the rule expected
// there. syntaxError rewrites that report in the project's wording,
// "expected X, found Y", naming X by its role (a step name, a duration)
// rather than by its grammar rule.

// expectRe picks the expectation out of participle's message, which is all
// that UnexpectedTokenError exposes of it.
var expectRe = regexp.MustCompile(`\(expected (.*)\)$`)

// startsWith maps what participle may say it expected (a token type, or a
// rule that the statement keyword has already committed to) to the first
// thing that rule expects, which describeExpected names.
var startsWith = map[string]string{
	"<ident>":      "Ident",
	"<string>":     "String",
	"<duration>":   "Duration",
	"<number>":     "Number",
	"Step":         "Ident",
	"RPC":          "Ident",
	"Await":        "Ident",
	"Correlate":    "Ident",
	"Publish":      "Ident",
	"On":           "Ident",
	"EventTrigger": "Ident",
	"Outcome":      "Ident",
	"Retry":        "Number",
	"Backoff":      "Duration",
	"Call":         "Ident",
	"Parallel":     "Ident",
	// A choose condition: participle names the alternatives of a Unary,
	// and the literal types a comparison takes.
	`(("(" Or ")") | Compare)`:                              "Condition",
	`(<string> | <number> | <duration> | "true" | "false")`: "Value",
	"Choose": `"{"`,
}

// syntaxError turns a participle error into a positioned diagnostic.
func syntaxError(err error, toks []lexer.Token) diag.Diagnostic {
	var uerr *participle.UnexpectedTokenError
	if !errors.As(err, &uerr) {
		var perr participle.Error
		if errors.As(err, &perr) {
			return diag.Errorf(rangeAt(perr.Position()), "syntax", "%s", perr.Message())
		}
		return diag.Errorf(rangeAt(toks[0].Pos), "syntax", "%v", err)
	}
	tok := uerr.Unexpected
	i := tokenAt(toks, tok.Pos.Offset)
	if d, bad := keywordNameBefore(toks, i); bad {
		return d
	}
	expect := ""
	if m := expectRe.FindStringSubmatch(uerr.Message()); m != nil {
		expect = firstTerm(m[1])
		if t, ok := startsWith[expect]; ok {
			expect = t
		}
	}
	want, hint := describeExpected(expect, toks, i)
	d := diag.Errorf(tokenRange(tok), "syntax", "expected %s, found %s", want, describeToken(tok))
	if hint != "" {
		d = d.WithHint("%s", hint)
	}
	return d
}

// tokenAt is the index of the token at offset: the first that starts
// there or after it (tokenIndex), else the last.
func tokenAt(toks []lexer.Token, offset int) int {
	return min(tokenIndex(toks, offset), len(toks)-1)
}

// firstTerm returns the first term of a participle expectation such as
// `Ident "{" StepStmt* "}"` (Ident) or `("none" | "full")?` (the group).
func firstTerm(s string) string {
	if strings.HasPrefix(s, "(") {
		depth := 0
		for i, c := range s {
			switch c {
			case '(':
				depth++
			case ')':
				depth--
				if depth == 0 {
					return s[:i+1]
				}
			}
		}
		return s
	}
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i]
	}
	return s
}

// describeToken says what was found, for "found Y".
func describeToken(t lexer.Token) string {
	switch t.Type {
	case lexer.EOF:
		return "end of file"
	case tokString:
		return "string " + t.Value
	case tokDuration:
		return "duration " + t.Value
	case tokNumber:
		return "number " + t.Value
	default:
		return fmt.Sprintf("%q", t.Value)
	}
}

// outcomesHint says which outcomes an on line can name.
const outcomesHint = "outcomes are ok, error, timeout or one declared with outcomes"

// describeExpected names what the grammar expected at toks[i], using the
// tokens before it to say which role it plays.
func describeExpected(expect string, toks []lexer.Token, i int) (want, hint string) {
	prev := func(n int) string {
		if i-n < 0 {
			return ""
		}
		return toks[i-n].Value
	}
	found := toks[i]
	switch expect {
	case "":
		// The file level: only flows may appear there.
		return `"flow"`, "a .flow file holds flow declarations: flow Name { ... }"
	case "Ident":
		switch prev(1) {
		case "flow":
			return "flow name", "a flow is written flow Name { ... }, its name an exported Go name such as Signup"
		case ident.KeywordCall:
			if prev(2) == "rollback" {
				return "flow name", "name the flow that undoes the step, such as rollback call Refund (Receipt)"
			}
			return "flow name", "name a flow of this file or of its Go package, such as call Billing (Invoice) -> Receipt"
		case "step":
			return "step name", "a step is written step Name { ... }, its name an exported Go name such as CreateCustomer"
		case ident.KeywordParallel:
			return "parallel block name", "name the block: parallel Prepare { step A { ... } step B { ... } }"
		case "state":
			return "state type name", "name the Go struct type that holds the run's data"
		case "event", "await", "publish":
			line := prev(1)
			if prev(2) == "trigger" {
				line = "trigger " + line
			}
			return "topic name", fmt.Sprintf(`write the topic, then the event name in quotes, such as %s billing "invoice.paid"`, line)
		case "rpc":
			if prev(2) == "rollback" {
				return "service name", `write the service, then the endpoint in quotes, such as rollback rpc customers "Customer.Delete" (CustomerID)`
			}
			return "service name", `write the service, then the endpoint in quotes, such as rpc customers "Customer.Create"`
		case "(":
			if found.Value == ")" {
				return "state field name", "name the state field to send in the parentheses, or drop them to send none"
			}
			return "state field name", ""
		case "correlate", ident.KeywordUntil:
			if hint, ok := fieldSlot(toks, i-1); ok {
				return "state field name", hint
			}
		case "->":
			if targetArrow(toks, i-1) {
				if arrow := toks[i-1]; found.Pos.Line > arrow.Pos.Line {
					// Newlines mean nothing, so the error is where the
					// next statement starts; say which "->" it is about.
					return "target step name, done or fail", fmt.Sprintf(`the "->" at line %d has no target; %s`, arrow.Pos.Line, targetHint(toks, i-1))
				}
				return "target step name, done or fail", targetHint(toks, i-1)
			}
			hint, _ := fieldSlot(toks, i-1)
			return "state field name", hint
		case "on":
			return "outcome", outcomesHint
		case "outcomes", ",":
			return "outcome name", "name the outcomes the Go step may end with besides ok and error, such as outcomes approved, rejected"
		}
		return "name", ""
	case "String":
		hint := "strings are double quoted: \"text\""
		switch {
		case prev(2) == "rpc" || prev(1) == "rpc":
			return "endpoint string", `write the endpoint in quotes, such as "Customer.Create"`
		case prev(1) == "schedule":
			return "schedule string", `write a cron expression or @every in quotes, such as "0 3 * * *" or "@every 1h"`
		case prev(2) == "event" || prev(2) == "await" || prev(2) == "publish":
			return "event name string", `write the event name in quotes, such as "payment.succeeded"`
		}
		return "string", hint
	case "Duration":
		if found.Type == tokNumber {
			return "duration", fmt.Sprintf("add a unit: %ss, %sms or %sm", found.Value, found.Value, found.Value)
		}
		return "duration", "durations use Go syntax, such as 250ms, 10s or 1h30m"
	case "Sleep":
		hint := "a sleep is written sleep 336h, or sleep until Field, a time.Time field of the state"
		switch {
		case found.Type == tokNumber:
			hint = fmt.Sprintf("add a unit: %sh, %sm or %ss", found.Value, found.Value, found.Value)
		case found.Type == tokIdent && closest(found.Value, []string{ident.KeywordUntil}) != "":
			hint = fmt.Sprintf("did you mean %q?", ident.KeywordUntil)
		}
		return `duration or "until"`, hint
	case "Condition":
		switch {
		case found.Type == tokString || found.Type == tokNumber || found.Type == tokDuration:
			return "condition", `a condition starts with the state field: Total >= 100, Tier == "gold"`
		case prev(1) == ident.KeywordWhen:
			return "condition", "a when line is written when <condition> -> Target, such as when Total >= 100 -> Review"
		}
		return "condition", fmt.Sprintf("%q is followed by a condition: a state field compared with a literal (Total >= 100) or a bool field alone (Express)", prev(1))
	case "Value":
		if found.Type == tokIdent && (strings.EqualFold(found.Value, "true") || strings.EqualFold(found.Value, "false")) {
			// True, FALSE: a boolean as other languages write it, not a
			// string to quote.
			return "value to compare with", fmt.Sprintf("booleans are written in lower case: %s %s %s", prev(2), prev(1), strings.ToLower(found.Value))
		}
		if found.Type == tokIdent && slices.Contains([]string{"<", "<=", ">", ">="}, prev(1)) && 'A' <= found.Value[0] && found.Value[0] <= 'Z' {
			// Total > Limit: an order between two fields, which quoting
			// would not give.
			return "value to compare with", fmt.Sprintf("a state field is compared with a literal (%s %s 100), not with another field: set the comparison into a bool field in an earlier Go step, and test that field (when OverLimit -> ...)", prev(2), prev(1))
		}
		if found.Type == tokIdent {
			// Most often a string without its quotes: Tier == gold.
			return "value to compare with", fmt.Sprintf("a state field is compared with a literal: a string, number, duration, true or false, not with another field or a Go constant; text is quoted: %s %s %q", prev(2), prev(1), found.Value)
		}
		return "value to compare with", `write the literal after the operator, such as Total >= 100 or Tier == "gold"`
	case `"{"`:
		if prev(1) == ident.KeywordChoose {
			return `"{"`, "a choose holds its lines in braces: " + chooseForm
		}
		if kw := prev(2); kw == "flow" || kw == "step" || kw == ident.KeywordParallel {
			return `"{"`, fmt.Sprintf("a %s's name is one word, followed by its body in braces: %s %s { ... }", kw, kw, prev(1))
		}
		return `"{"`, ""
	case "Number":
		if prev(1) == "retry" {
			if slices.Contains(retryParts, found.Value) {
				return "number of attempts", "write the number of attempts first; " + retryOrder
			}
			return "number of attempts", "write the total number of attempts, such as retry 3"
		}
		if prev(1) == "multiplier" {
			return "number", "write the factor each backoff delay grows by, such as multiplier 1.5 (2 when none is written)"
		}
		return "number", ""
	case "(<ident> | <string>)":
		if prev(1) == "on" {
			return "payload path", `name the payload member to compare, such as on order_id, or write a dotted path as a string: on "payment.order_id"`
		}
		return "name or string", ""
	case `"}"`:
		if prev(2) == "correlate" && prev(1) == "on" {
			// "correlate on x": "on" was read as the field.
			return `step statement or "}"`, "correlate names the state field first: correlate Field on path"
		}
		if found.Type == lexer.EOF {
			return `"}"`, unclosedHint(toks, i)
		}
		if want, hint, ok := bareField(toks, i); ok {
			return want, hint
		}
		if want, hint, ok := listComma(toks, i); ok {
			return want, hint
		}
		want, hint := blockStatement(toks, i)
		if h, ok := retryPartHint(toks, i); ok {
			hint = h
		}
		if h, ok := actionPartHint(toks, i); ok {
			hint = h
		}
		if h, ok := rollbackActionHint(toks, i); ok {
			hint = h
		}
		if h, ok := splitDurationHint(toks, i); ok {
			hint = h
		}
		return want, hint
	case `")"`:
		if found.Value == "," && i >= 2 && toks[i-2].Value == "(" && !inChoose(toks, i) {
			// rpc s "S.Do" (A, B): a field list where one field goes.
			return `")"`, "the parentheses hold one state field, sent as the whole request, payload or input: make it a struct field of the state that holds the others"
		}
		return `")"`, unclosedParen(toks, i)
	case `".."`:
		return `".."`, `a backoff range is written backoff 100ms..5s`
	case `"->"`:
		return `"->"`, arrowForm(toks, i)
	case "Field":
		hint, _ := fieldSlot(toks, i-1)
		return "state field name", hint
	case "Trigger":
		return `"rpc", "event" or "schedule"`, `a trigger is trigger rpc "Endpoint", trigger event topic "event" or trigger schedule "spec"`
	case "Rollback":
		return `Go rollback name, "rpc" or "call"`, `a rollback is a Go method (rollback CancelSubscription), an rpc (rollback rpc customers "Customer.Delete" (CustomerID)) or a call of a flow (rollback call Refund (Receipt))`
	case `("none" | "full")`, `"none"`:
		return `"none" or "full"`, "jitter full (the default) waits a random time up to each backoff delay; jitter none waits the delay exactly"
	}
	return strings.NewReplacer("Ident", "name", "String", "string").Replace(expect), ""
}

// blockStatement names what starts a statement of the innermost open
// block at toks[i], which is not one.
func blockStatement(toks []lexer.Token, i int) (want, hint string) {
	found := toks[i]
	open := openBraces(toks, i)
	var misclosed string
	if len(open) > 0 && (found.Value == "flow" || found.Value == "step" || found.Value == ident.KeywordParallel) {
		misclosed = misclosedHint(toks, i, open[len(open)-1])
	}
	if inChoose(toks, i) {
		return `when, otherwise or "}"`, statementHint(found, []string{ident.KeywordWhen, ident.KeywordOtherwise}, ident.KeywordChoose, open, misclosed,
			"a choose block holds when <condition> -> Target lines and an otherwise -> Target line")
	}
	switch len(open) {
	case 1:
		return `flow statement or "}"`, statementHint(found, flowKeywords, "flow", open, misclosed,
			"a flow holds state, trigger, retry, timeout, deadline, step and parallel statements")
	case 2:
		if parallelBlock(toks, open[1]) {
			return `step, on or "}"`, statementHint(found, []string{"step", "on"}, parallelBlockName, open, misclosed,
				"a parallel block holds its branches (step statements) and its own on lines")
		}
		return `step statement or "}"`, stepHint(found, open, misclosed)
	case 3:
		if parallelBlock(toks, open[1]) { // a branch
			return `step statement or "}"`, stepHint(found, open, misclosed)
		}
	}
	return `"}"`, ""
}

// oneWordDuration begins the hint for a duration written as two words.
const oneWordDuration = "a duration is one word, its units written together"

// splitDurationHint recognises a duration written as two words after a
// statement that takes one (sleep 2h 30m, timeout 1m 30s): the first
// ended the statement, and the second, at toks[i], starts none.
func splitDurationHint(toks []lexer.Token, i int) (string, bool) {
	if i < 2 || toks[i].Type != tokDuration || toks[i-1].Type != tokDuration {
		return "", false
	}
	switch kw := toks[i-2].Value; kw {
	case ident.KeywordSleep, "timeout", "deadline":
		return fmt.Sprintf("%s: %s %s%s", oneWordDuration, kw, toks[i-1].Value, toks[i].Value), true
	}
	return "", false
}

// retryParts are the keywords of a retry's optional parts, in the order
// the grammar takes them: read from Retry's fields, the grammar's own
// order.
var retryParts = func() []string {
	var out []string
	t := reflect.TypeFor[Retry]()
	for i := range t.NumField() {
		if m := partKeywordRe.FindStringSubmatch(t.Field(i).Tag.Get("parser")); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}()

// partKeywordRe picks the keyword out of an optional part's grammar:
// "( 'jitter' @( 'none' | 'full' ) )?".
var partKeywordRe = regexp.MustCompile(`^\( '(\w+)'`)

// retryOrder is the hint of a retry whose parts are out of order.
var retryOrder = fmt.Sprintf("the parts of a retry come in this order, each at most once: %s, as in retry 3 backoff 100ms..5s multiplier 1.5 jitter none",
	strings.Join(retryParts, ", "))

// retryPartHint recognises a part of a retry (found at toks[i], where a
// statement should start) that came after a part the grammar takes after
// it, or a second time: the retry statement ended at the part before it,
// so the parser sees a statement that cannot start with that keyword.
func retryPartHint(toks []lexer.Token, i int) (string, bool) {
	if toks[i].Type != tokIdent {
		return "", false
	}
	hint := retryOrder
	if !slices.Contains(retryParts, toks[i].Value) {
		// retry 3 backof 1s..5s: a misspelt part.
		part := closest(toks[i].Value, retryParts)
		if part == "" || closest(toks[i].Value, statementKeywords) != "" {
			return "", false
		}
		hint = fmt.Sprintf("did you mean %q? %s", part, retryOrder)
	}
	// Back over the retry's own tokens (its count, durations, "..",
	// part keywords and jitter words) to its "retry".
	for j := i - 1; j >= 0; j-- {
		switch t := toks[j]; {
		case t.Type == tokIdent && t.Value == "retry":
			return hint, true
		case t.Type == tokIdent && slices.Contains(statementKeywords, t.Value):
			return "", false
		case t.Type == tokIdent || t.Type == tokNumber || t.Type == tokDuration || t.Value == "..":
		default:
			return "", false
		}
	}
	return "", false
}

// rollbackActionHint recognises an action that cannot undo a step (one
// whose keyword IsRollbackKeyword does not take), written as a rollback
// (rollback sleep 1h, rollback publish t "e"): its keyword was read as a
// Go rollback's name, and what follows it (toks[i],
// where a statement should start) as the next statement, which it cannot
// start.
func rollbackActionHint(toks []lexer.Token, i int) (string, bool) {
	if i < 2 || toks[i-2].Type != tokIdent || toks[i-2].Value != "rollback" || toks[i-1].Type != tokIdent {
		return "", false
	}
	var why string
	switch kw := toks[i-1].Value; {
	case !slices.Contains(actionKeywords, kw) || IsRollbackKeyword(kw):
		return "", false
	case kw == ident.KeywordSleep:
		why = "a sleep changes nothing, so it undoes nothing, and an undo that must wait is a flow with a sleep step, run with rollback call"
	case kw == ident.KeywordChoose:
		why = "a choose routes the run, it undoes nothing"
	default:
		why = "to publish or wait while undoing, run a flow that does, with rollback call Flow (Field)"
	}
	_, forms := describeExpected("Rollback", toks, i) // what a rollback may be
	kw := toks[i-1].Value
	return fmt.Sprintf("%s; %q names a Go method %s: %s", forms, "rollback "+kw, kw, why), true
}

// actionForms is how each action line with parts after its names is
// written, its parts in the order the grammar takes them, for hints.
var actionForms = map[string]string{
	ident.KeywordRPC:     `the parts of an rpc come in this order: rpc service "Endpoint" (Request) -> Response, as in rpc customers "Customer.Create" (Customer) -> CustomerID`,
	ident.KeywordAwait:   `the parts of an await come in this order, each at most once: await topic "event" -> Payload correlate Field on path timeout D, as in await payments "payment.succeeded" -> Payment correlate OrderID timeout 72h`,
	ident.KeywordCall:    `the parts of a call come in this order: call Flow (Input) -> Output, as in call Billing (Invoice) -> Receipt`,
	ident.KeywordPublish: `a publication has a payload and no response: publish topic "event" (Field)`,
	ident.KeywordSleep:   `a sleep waits a duration or until a time, and has nothing else on its line: sleep 336h, or sleep until ReminderAt (a time.Time field of the state)`,
}

// actionPartHint recognises a part of an action line ("(", "->",
// correlate or timeout, found at toks[i], where a statement should start)
// written after a part the grammar takes after it, or a second time, or
// one its action does not have (publish ... -> X): the line ended at the
// part before it. It walks back over the line's tokens to its keyword.
func actionPartHint(toks []lexer.Token, i int) (string, bool) {
	switch toks[i].Value {
	case "(", "->", "correlate", "timeout", ident.KeywordUntil:
	default:
		return "", false
	}
	awaitOnly := toks[i].Value == "correlate" || toks[i].Value == "timeout"
	for j := i - 1; j >= 0; j-- {
		switch t := toks[j]; {
		case t.Type == tokIdent && actionForms[t.Value] != "":
			if awaitOnly && t.Value != ident.KeywordAwait {
				return "", false
			}
			return actionForms[t.Value], true
		case t.Type == tokIdent && (t.Value == "correlate" || t.Value == "on" || t.Value == "timeout"):
			awaitOnly = true // a part of an await's line, or another statement
		case t.Type == tokIdent && slices.Contains(statementKeywords, t.Value):
			return "", false
		case t.Type == tokIdent || t.Type == tokString || t.Type == tokDuration || t.Value == "(" || t.Value == ")" || t.Value == "->":
		default:
			return "", false
		}
	}
	return "", false
}

var (
	flowKeywords = []string{"state", "trigger", "retry", "timeout", "deadline", "step", ident.KeywordParallel}
	// actionKeywords start the action line of a step.
	actionKeywords = []string{ident.KeywordRPC, ident.KeywordAwait, ident.KeywordPublish, ident.KeywordSleep, ident.KeywordChoose, ident.KeywordCall}
	stepKeywords   = slices.Concat(actionKeywords, []string{"retry", "timeout", "deadline", "rollback", "irreversible", "outcomes", ident.KeywordWrites, "on"})
)

// parallelBlockName names a parallel block in hints.
const parallelBlockName = "parallel block"

// chooseForm is how a choose block is written, for hints.
const chooseForm = "choose { when <condition> -> Target ... otherwise -> Target }"

// statementHint explains an unexpected token where a statement of a flow,
// step or choose (block) should start: a block that was not closed (the
// one misclosed names, when a "}" closed it by its indent: misclosedHint;
// else the innermost open one), a line of a choose outside one, a
// misspelt keyword, or else what the block may hold.
func statementHint(found lexer.Token, keywords []string, block string, open []lexer.Token, misclosed, otherwise string) string {
	switch {
	case found.Value == "flow" || found.Value == "step" && (block == "step" || block == ident.KeywordChoose):
		if misclosed != "" {
			return fmt.Sprintf("%ss do not nest: %s", found.Value, misclosed)
		}
		o := open[len(open)-1]
		return fmt.Sprintf("%ss do not nest: is the \"}\" of the %s opened at line %d missing?", found.Value, block, o.Pos.Line)
	case found.Value == ident.KeywordParallel && block == "step":
		// Written in a step on purpose, or after a step whose "}" is missing.
		o := open[len(open)-1]
		if misclosed == "" {
			misclosed = fmt.Sprintf("is the \"}\" of the step opened at line %d missing?", o.Pos.Line)
		}
		return "a parallel block is written in the flow, in place of a step, not inside one: parallel Prepare { step A { ... } step B { ... } }; or " + misclosed
	case found.Value == ident.KeywordParallel && block == parallelBlockName:
		return "parallel blocks do not nest: write the inner block's steps as branches of this one, or put the inner block after this one"
	case block == parallelBlockName && slices.Contains([]string{"retry", "timeout", "deadline"}, found.Value):
		// A step statement written on the block: the block does no work
		// of its own, its branches do.
		return fmt.Sprintf("a block has no %s of its own: its branches do the work, each with the flow's retry, timeout and deadline unless it writes its own", found.Value)
	case block == parallelBlockName && slices.Contains([]string{"rollback", "irreversible", ident.KeywordWrites}, found.Value):
		return fmt.Sprintf("a block has no %s of its own: write it in the branch it is about", found.Value)
	case block == ident.KeywordChoose && slices.Contains([]string{"if", "elif", "case"}, found.Value):
		// otherToolWords takes these for a choose, which a choose block
		// cannot hold: inside one, the word is its when.
		return "did you mean when? " + chooseForm
	case block != ident.KeywordChoose && (found.Value == ident.KeywordWhen || found.Value == ident.KeywordOtherwise):
		return "when and otherwise lines belong in a choose block: " + chooseForm
	case block == "flow" && found.Value == "on":
		// Most often written after the "}" of the step or block it routes.
		return `an on line routes the outcome of the step or parallel block it is written in: move it inside that step's or block's braces, before its "}"`
	case block == "flow" && slices.Contains(stepKeywords, found.Value) && !slices.Contains(flowKeywords, found.Value):
		return fmt.Sprintf("%s is a step statement: write it in a step, such as step Name { %s ... }", found.Value, found.Value)
	case block == "step" && found.Value == "correlate":
		// Not after an await's event and field (actionPartHint takes
		// that case): a line of its own, or after another statement.
		return "correlate is a part of an await line, after its event and payload field: " + actionForms[ident.KeywordAwait]
	case found.Type == tokIdent:
		if hint, ok := otherToolWords[found.Value]; ok && slices.Contains(keywords, hint.keyword) {
			return hint.say
		}
		if k := closest(found.Value, keywords); k != "" {
			return fmt.Sprintf("did you mean %q?", k)
		}
	}
	return otherwise
}

// otherToolWords are the words that other workflow tools and languages
// use for what a flowgen keyword says, each with the keyword and a hint
// that shows it written. A word listed here is taken for its meaning
// before its spelling: "wait" is one edit from "await", but a user who
// writes it may mean a sleep as well. Each applies only in a block where
// its keyword may be written.
var otherToolWords = map[string]struct{ keyword, say string }{
	"wait":       {ident.KeywordSleep, "to wait for a time, sleep 336h or sleep until Field; to wait for an event, await topic \"event\" -> Field timeout 72h"},
	"delay":      {ident.KeywordSleep, "did you mean sleep? a durable timer: sleep 336h, or sleep until Field (a time.Time of the state)"},
	"pause":      {ident.KeywordSleep, "did you mean sleep? a durable timer: sleep 336h, or sleep until Field (a time.Time of the state)"},
	"timer":      {ident.KeywordSleep, "did you mean sleep? a durable timer: sleep 336h, or sleep until Field (a time.Time of the state)"},
	"if":         {ident.KeywordChoose, "a decision on the state is a choose block: " + chooseForm},
	"switch":     {ident.KeywordChoose, "a decision on the state is a choose block: " + chooseForm},
	"case":       {ident.KeywordChoose, "a decision on the state is a choose block: " + chooseForm},
	"emit":       {ident.KeywordPublish, "did you mean publish? " + actionForms[ident.KeywordPublish]},
	"send":       {ident.KeywordPublish, "did you mean publish? " + actionForms[ident.KeywordPublish]},
	"signal":     {ident.KeywordPublish, "did you mean publish? " + actionForms[ident.KeywordPublish] + "; a run waits for one with await"},
	"invoke":     {ident.KeywordCall, "a service's endpoint is called by rpc service \"Endpoint\" (Request) -> Response; another flow of the package, as a child run, by call Flow (Input) -> Output"},
	"subflow":    {ident.KeywordCall, "did you mean call? " + actionForms[ident.KeywordCall]},
	"compensate": {"rollback", "did you mean rollback? it names what undoes the step: rollback Method (a Go method), rollback rpc service \"Endpoint\" (Field) or rollback call Flow (Field)"},
	"undo":       {"rollback", "did you mean rollback? it names what undoes the step: rollback Method (a Go method), rollback rpc service \"Endpoint\" (Field) or rollback call Flow (Field)"},
	"match":      {ident.KeywordAwait, "an await takes only the events of its run with correlate: " + actionForms[ident.KeywordAwait]},
	"where":      {ident.KeywordAwait, "an await takes only the events of its run with correlate: " + actionForms[ident.KeywordAwait]},
	"else":       {ident.KeywordOtherwise, "did you mean otherwise? " + chooseForm},
	"default":    {ident.KeywordOtherwise, "did you mean otherwise? " + chooseForm},
}

// closest returns the keyword nearest to word if it is close enough to be
// a misspelling: within one edit per three letters, plus one (so "retries"
// suggests "retry").
func closest(word string, keywords []string) string {
	return diag.Closest(word, keywords, 1+len(word)/3)
}

// openBraces returns the braces still open before toks[i], outermost first.
func openBraces(toks []lexer.Token, i int) []lexer.Token {
	var open []lexer.Token
	for _, t := range toks[:i] {
		switch t.Value {
		case "{":
			open = append(open, t)
		case "}":
			if len(open) > 0 {
				open = open[:len(open)-1]
			}
		}
	}
	return open
}

func stepHint(found lexer.Token, open []lexer.Token, misclosed string) string {
	return statementHint(found, stepKeywords, "step", open, misclosed,
		"a step holds rpc, await, publish, sleep, choose, call, retry, timeout, deadline, rollback, irreversible, outcomes, writes and on statements")
}

// bareField recognises a state field written where a statement should
// start, right after an action line that takes it in parentheses (a
// call's flow name; an rpc's or a publish's endpoint or event) or after
// "->" (an await's event): the field lost its "(" or its "->". A word
// close to a step keyword is taken for a misspelt statement instead.
func bareField(toks []lexer.Token, i int) (want, hint string, ok bool) {
	field := toks[i]
	if field.Type != tokIdent || i < 2 || closest(field.Value, stepKeywords) != "" {
		return "", "", false
	}
	start := i - 2 // the action's keyword
	switch {
	case toks[start].Value == ident.KeywordCall && toks[i-1].Type == tokIdent:
	case i >= 3 && toks[i-1].Type == tokString && (toks[i-2].Type == tokIdent || toks[i-2].Type == tokString):
		start = i - 3
	default:
		return "", "", false
	}
	kw := toks[start].Value
	if start > 0 && toks[start-1].Value == "rollback" {
		start--
	}
	var line []string
	for _, t := range toks[start:i] {
		line = append(line, t.Value)
	}
	written := strings.Join(line, " ")
	inParens := func(what string) (string, string, bool) {
		return `"("`, fmt.Sprintf("%s goes in parentheses: %s (%s)", what, written, field.Value), true
	}
	switch kw {
	case ident.KeywordCall:
		return inParens("the call's input")
	case ident.KeywordRPC:
		return inParens("the rpc's request")
	case ident.KeywordPublish:
		return inParens("the event's payload")
	case ident.KeywordAwait:
		return `"->"`, fmt.Sprintf(`the event's payload goes to the state field after "->": %s -> %s`, written, field.Value), true
	}
	return "", "", false
}

// listComma explains a name at toks[i] that follows the names of a
// `writes` or `outcomes` list with no comma before it (writes Total Tax):
// most often the comma left out, rather than a statement of its own. A
// word that is, or is close to, a keyword starts a statement, and is left
// to blockStatement.
func listComma(toks []lexer.Token, i int) (want, hint string, ok bool) {
	name := toks[i]
	if name.Type != tokIdent || closest(name.Value, stepKeywords) != "" || closest(name.Value, flowKeywords) != "" ||
		slices.Contains([]string{"flow", ident.KeywordWhen, ident.KeywordOtherwise}, name.Value) {
		return "", "", false
	}
	j := i - 1 // the list's last name, then back over ", name" pairs to its first
	for j >= 2 && toks[j].Type == tokIdent && toks[j-1].Value == "," {
		j -= 2
	}
	if j < 1 || toks[j].Type != tokIdent {
		return "", "", false
	}
	kw := toks[j-1].Value
	if kw != ident.KeywordWrites && kw != "outcomes" {
		return "", "", false
	}
	var names []string
	for _, t := range toks[j : i+1] {
		if t.Type == tokIdent {
			names = append(names, t.Value)
		}
	}
	return `step statement or "}"`, fmt.Sprintf("separate the names of %s with commas: %s %s", kw, kw, strings.Join(names, ", ")), true
}

// unclosedParen points at the "(" of a choose's condition still open at
// toks[i], or is "" when toks[i] is in no condition (an rpc's request).
func unclosedParen(toks []lexer.Token, i int) string {
	if !inChoose(toks, i) || lastOf(toks, i, ident.KeywordWhen, "->") != ident.KeywordWhen {
		return ""
	}
	depth := 0
	for j := i - 1; j >= 0 && toks[j].Value != ident.KeywordWhen; j-- {
		switch toks[j].Value {
		case ")":
			depth++
		case "(":
			if depth == 0 {
				return fmt.Sprintf(`the "(" at line %d, column %d is not closed: close its group with ")" before the "->", such as when (Total >= 100 or Vip) and Active -> Review`, toks[j].Pos.Line, toks[j].Pos.Column)
			}
			depth--
		}
	}
	return ""
}

// parallelBlock reports whether the brace open opens a parallel block
// (parallel Name {).
func parallelBlock(toks []lexer.Token, open lexer.Token) bool {
	return before(toks, open, 2) == ident.KeywordParallel
}

// inChoose reports whether toks[i] is inside a choose block: the
// innermost brace open before it follows "choose".
func inChoose(toks []lexer.Token, i int) bool {
	open := openBraces(toks, i)
	return len(open) > 0 && before(toks, open[len(open)-1], 1) == ident.KeywordChoose
}

// before is the value of the token n tokens before brace, or "".
func before(toks []lexer.Token, brace lexer.Token, n int) string {
	for i, t := range toks {
		if t.Pos.Offset == brace.Pos.Offset {
			if i < n {
				return ""
			}
			return toks[i-n].Value
		}
	}
	return ""
}

// lastOf is the last of words among the values of toks[:i], or "".
func lastOf(toks []lexer.Token, i int, words ...string) string {
	for j := i - 1; j >= 0; j-- {
		if slices.Contains(words, toks[j].Value) {
			return toks[j].Value
		}
	}
	return ""
}

// unclosedHint points at the innermost brace still open at the end of
// file; and first, when a "}" closed a block indented more than itself,
// at that block, whose own "}" is the one missing: the open brace is then
// an outer one (the flow's) that looks closed.
func unclosedHint(toks []lexer.Token, i int) string {
	open := openBraces(toks, i)
	if len(open) == 0 {
		return ""
	}
	t := open[len(open)-1]
	hint := fmt.Sprintf(`close the "{" opened at line %d, column %d`, t.Pos.Line, t.Pos.Column)
	if m := misclosedHint(toks, i, t); m != "" {
		hint = m + "; or " + hint
	}
	return hint
}

// misclosedHint names the block whose "}" is likely missing, when a
// block opened after the brace open (the innermost still open at toks[i])
// was closed by a "}" that starts a line indented less than the line of
// the block's "{": that "}" is the enclosing block's, by its indent. The
// parser cannot tell which "}" is missing; the indent, as the author wrote
// it, usually can. "" when no "}" is so placed (the first is named).
func misclosedHint(toks []lexer.Token, i int, open lexer.Token) string {
	var stack []int
	for j := 0; j < i; j++ {
		t := toks[j]
		if t.Pos.Offset <= open.Pos.Offset {
			continue
		}
		switch t.Value {
		case "{":
			stack = append(stack, j)
		case "}":
			if len(stack) == 0 {
				return "" // closes open itself: i is not inside it
			}
			o := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if j > 0 && toks[j-1].Pos.Line < t.Pos.Line && t.Pos.Column < lineIndent(toks, o) {
				block := blockName(toks, o)
				return fmt.Sprintf(`is the "}" of the %s opened at line %d missing? The "}" at line %d, indented less than that %s, closes it`, block, toks[o].Pos.Line, t.Pos.Line, block)
			}
		}
	}
	return ""
}

// lineIndent is the column of the first token of toks[j]'s line.
func lineIndent(toks []lexer.Token, j int) int {
	for j > 0 && toks[j-1].Pos.Line == toks[j].Pos.Line {
		j--
	}
	return toks[j].Pos.Column
}

// blockName names the block that the brace toks[j] opens, for hints.
func blockName(toks []lexer.Token, j int) string {
	switch {
	case j >= 1 && toks[j-1].Value == ident.KeywordChoose:
		return ident.KeywordChoose
	case j >= 2 && toks[j-2].Value == ident.KeywordParallel:
		return parallelBlockName
	case j >= 2 && toks[j-2].Value == "flow":
		return "flow"
	}
	return "step"
}
