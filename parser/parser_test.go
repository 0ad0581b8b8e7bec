package parser

import (
	"fmt"
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2/lexer"
	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/diag"
)

// errString renders a diagnostic as the tests compare it: position,
// message and hint.
func errString(d diag.Diagnostic) string {
	s := fmt.Sprintf("%d:%d: %s", d.Range.Start.Line, d.Range.Start.Column, d.Message)
	if d.Hint != "" {
		s += " (hint: " + d.Hint + ")"
	}
	return s
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"missing step name", "flow A { step }", `1:15: expected step name, found "}" (hint: a step is written step Name { ... }, its name an exported Go name such as CreateCustomer)`},
		{"missing flow name", "flow { }", `1:6: expected flow name, found "{" (hint: a flow is written flow Name { ... }, its name an exported Go name such as Signup)`},
		{"top level", "step A {}", `1:1: expected "flow", found "step" (hint: a .flow file holds flow declarations: flow Name { ... })`},
		{"after a flow", "flow A {}\n}", `2:1: expected "flow", found "}" (hint: a .flow file holds flow declarations: flow Name { ... })`},
		{"state without type", "flow A {\n    state\n}", `3:1: expected state type name, found "}" (hint: name the Go struct type that holds the run's data)`},
		{"trigger kind", `flow A { trigger http "x" }`, `1:18: expected "rpc", "event" or "schedule", found "http" (hint: a trigger is trigger rpc "Endpoint", trigger event topic "event" or trigger schedule "spec")`},
		{"trigger rpc endpoint", `flow A { trigger rpc Start }`, `1:22: expected endpoint string, found "Start" (hint: write the endpoint in quotes, such as "Customer.Create")`},
		{"trigger event name", `flow A { trigger event accounts signup }`, `1:33: expected event name string, found "signup" (hint: write the event name in quotes, such as "payment.succeeded")`},
		{"schedule", `flow A { trigger schedule 5m }`, `1:27: expected schedule string, found duration 5m (hint: write a cron expression or @every in quotes, such as "0 3 * * *" or "@every 1h")`},
		{"unknown flow statement", "flow A {\n    steps B {}\n}", `2:5: expected flow statement or "}", found "steps" (hint: did you mean "step"?)`},
		{"unknown flow statement, nothing close", "flow A {\n    input S\n}", `2:5: expected flow statement or "}", found "input" (hint: a flow holds state, trigger, retry, timeout, deadline, step and parallel statements)`},
		{"misspelt step statement", "flow A { step B { retries 3 } }", `1:19: expected step statement or "}", found "retries" (hint: did you mean "retry"?)`},
		{"flow inside a flow", "flow A {\n    step B {}\nflow C {}", `3:1: expected flow statement or "}", found "flow" (hint: flows do not nest: is the "}" of the flow opened at line 1 missing?)`},
		{"unknown step statement", "flow A {\n    step B {\n        perform x \"y\"\n    }\n}", `3:9: expected step statement or "}", found "perform" (hint: a step holds rpc, await, publish, sleep, choose, call, retry, timeout, deadline, rollback, irreversible, outcomes, writes and on statements)`},
		// Words of other workflow tools get the flowgen statement that says it.
		{"wait, for a time or an event", `flow A { step B { wait 1h } }`, `1:19: expected step statement or "}", found "wait" (hint: to wait for a time, sleep 336h or sleep until Field; to wait for an event, await topic "event" -> Field timeout 72h)`},
		{"delay", `flow A { step B { delay 1h } }`, `1:19: expected step statement or "}", found "delay" (hint: did you mean sleep? a durable timer: sleep 336h, or sleep until Field (a time.Time of the state))`},
		{"if", `flow A { step B { if X -> C } }`, `1:19: expected step statement or "}", found "if" (hint: a decision on the state is a choose block: choose { when <condition> -> Target ... otherwise -> Target })`},
		{"emit", `flow A { step B { emit mail "x" (A) } }`, `1:19: expected step statement or "}", found "emit" (hint: did you mean publish? a publication has a payload and no response: publish topic "event" (Field))`},
		{"invoke", `flow A { step B { invoke Sub (A) -> B } }`, `1:19: expected step statement or "}", found "invoke" (hint: a service's endpoint is called by rpc service "Endpoint" (Request) -> Response; another flow of the package, as a child run, by call Flow (Input) -> Output)`},
		{"undo", `flow A { step B { undo X } }`, `1:19: expected step statement or "}", found "undo" (hint: did you mean rollback? it names what undoes the step: rollback Method (a Go method), rollback rpc service "Endpoint" (Field) or rollback call Flow (Field))`},
		{"match after an await", `flow A { step B { await t "e" -> A match Z timeout 1h } }`, `1:36: expected step statement or "}", found "match" (hint: an await takes only the events of its run with correlate: the parts of an await come in this order, each at most once: await topic "event" -> Payload correlate Field on path timeout D, as in await payments "payment.succeeded" -> Payment correlate OrderID timeout 72h)`},
		{"else in a choose", `flow A { step B { choose { when X -> C else -> C } } }`, `1:40: expected when, otherwise or "}", found "else" (hint: did you mean otherwise? choose { when <condition> -> Target ... otherwise -> Target })`},
		{"sleep in two words", `flow A { step B { sleep 2h 30m } }`, `1:28: expected step statement or "}", found duration 30m (hint: a duration is one word, its units written together: sleep 2h30m)`},
		{"step timeout in two words", `flow A { step B { timeout 1m 30s } }`, `1:30: expected step statement or "}", found duration 30s (hint: a duration is one word, its units written together: timeout 1m30s)`},
		{"flow deadline in two words", `flow A { deadline 1h 5m step B { } }`, `1:22: expected flow statement or "}", found duration 5m (hint: a duration is one word, its units written together: deadline 1h5m)`},
		{"await timeout in two words", `flow A { step B { await t "e" timeout 1h 30m } }`, `1:42: expected step statement or "}", found duration 30m (hint: a duration is one word, its units written together: timeout 1h30m)`},
		{"condition duration in two words", `flow A { step B { choose { when Wait > 1h 30m -> C otherwise -> C } } }`, `1:43: expected "->", found duration 30m (hint: a duration is one word, its units written together: Wait > 1h30m)`},
		{"sleep with a response", `flow A { step B { sleep 2s -> X } }`, `1:28: expected step statement or "}", found "->" (hint: a sleep waits a duration or until a time, and has nothing else on its line: sleep 336h, or sleep until ReminderAt (a time.Time field of the state))`},
		{"sleep with both", `flow A { step B { sleep 2s until At } }`, `1:28: expected step statement or "}", found "until" (hint: a sleep waits a duration or until a time, and has nothing else on its line: sleep 336h, or sleep until ReminderAt (a time.Time field of the state))`},
		{"sleep until with a request", `flow A { step B { sleep until At (X) } }`, `1:34: expected step statement or "}", found "(" (hint: a sleep waits a duration or until a time, and has nothing else on its line: sleep 336h, or sleep until ReminderAt (a time.Time field of the state))`},
		{"colon for arrow in a when", `flow A { step B { choose { when X == 1: C otherwise -> C } } }`, `1:39: unexpected character ':' (hint: a when line leads to its target with ->: when Tier == "gold" -> Concierge)`},
		{"colon for arrow in an on", `flow A { step B { on ok: C } }`, `1:24: unexpected character ':' (hint: a transition is written on outcome -> Target: on ok -> Done)`},
		{"colon after a keyword", `flow A { retry: 3 }`, `1:15: unexpected character ':' (hint: a .flow file has no ":": a statement is its keyword and what follows it, such as retry 3, state OrderState or step Name { ... })`},
		{"in a set", `flow A { step B { choose { when X in ("a", "b") -> C otherwise -> C } } }`, `1:35: expected "->", found "in" (hint: a condition compares a field with one value; join several with or: when Tier == "gold" or Tier == "silver" -> Target)`},
		{"hash comment", "flow A {\n    # reserve first\n}", `2:5: unexpected character '#' (hint: a comment starts with //, not #)`},
		{"single slash", `flow A { / note }`, `1:10: unexpected character '/' (hint: a comment starts with //)`},
		{"setting with =", `flow A { retry = 3 }`, `1:16: unexpected character '=' (hint: a statement takes its value without =: retry 3, timeout 5s)`},
		{"stray character", `flow A { step B { irreversible ? } }`, `1:32: unexpected character '?' (hint: this character belongs only in strings (in double quotes) and comments (after //))`},
		{"bracketed list", `flow A { step B { outcomes [a, b] } }`, `1:28: unexpected character '[' (hint: a list is written without brackets: outcomes approved, rejected; writes A, B)`},
		{"ordered against a field", `flow A { step B { choose { when Total > Limit -> C otherwise -> C } } }`, `1:41: expected value to compare with, found "Limit" (hint: a state field is compared with a literal (Total > 100), not with another field: set the comparison into a bool field in an earlier Go step, and test that field (when OverLimit -> ...))`},
		{"if in a choose", `flow A { step B { choose { if X -> C otherwise -> C } } }`, `1:28: expected when, otherwise or "}", found "if" (hint: did you mean when? choose { when <condition> -> Target ... otherwise -> Target })`},
		{"case in a choose", `flow A { step B { choose { when X -> C case Y -> C } } }`, `1:40: expected when, otherwise or "}", found "case" (hint: did you mean when? choose { when <condition> -> Target ... otherwise -> Target })`},
		{"else outside a choose", `flow A { step B { else -> C } }`, `1:19: expected step statement or "}", found "else" (hint: a step holds rpc, await, publish, sleep, choose, call, retry, timeout, deadline, rollback, irreversible, outcomes, writes and on statements)`},
		{"correlate after another statement", "flow A { step B { timeout 1h correlate Z } }", `1:30: expected step statement or "}", found "correlate" (hint: correlate is a part of an await line, after its event and payload field: the parts of an await come in this order, each at most once: await topic "event" -> Payload correlate Field on path timeout D, as in await payments "payment.succeeded" -> Payment correlate OrderID timeout 72h)`},
		{"wait in a parallel block", `flow A { parallel P { wait 1h } }`, `1:23: expected step, on or "}", found "wait" (hint: a parallel block holds its branches (step statements) and its own on lines)`},
		{"parallel block statement", "flow A {\n    parallel P {\n        stp B {}\n    }\n}", `3:9: expected step, on or "}", found "stp" (hint: did you mean "step"?)`},
		{"retry in a parallel block", "flow A { parallel P { retry 3 } }", `1:23: expected step, on or "}", found "retry" (hint: a block has no retry of its own: its branches do the work, each with the flow's retry, timeout and deadline unless it writes its own)`},
		{"parallel block name", "flow A { parallel { step B {} } }", `1:19: expected parallel block name, found "{" (hint: name the block: parallel Prepare { step A { ... } step B { ... } })`},
		{"parallel block in a step", "flow A {\n    step P {\n        parallel Q { step B {} }\n    }\n}", `3:9: expected step statement or "}", found "parallel" (hint: a parallel block is written in the flow, in place of a step, not inside one: parallel Prepare { step A { ... } step B { ... } }; or is the "}" of the step opened at line 2 missing?)`},
		{"nested parallel block", "flow A {\n    parallel P {\n        parallel Q { step B {} }\n    }\n}", `3:9: expected step, on or "}", found "parallel" (hint: parallel blocks do not nest: write the inner block's steps as branches of this one, or put the inner block after this one)`},
		{"branch statement", "flow A { parallel P { step B { writes } } }", `1:39: expected state field name, found "}" (hint: name the fields the step writes, such as writes Reservation, Total)`},
		{"rpc service", `flow A { step B { rpc 5 } }`, `1:23: expected service name, found number 5 (hint: write the service, then the endpoint in quotes, such as rpc customers "Customer.Create")`},
		{"rpc quoted service, no endpoint", `flow A { step B { rpc "X.Y" } }`, `1:29: expected endpoint string, found "}" (hint: write the endpoint in quotes, such as "Customer.Create")`},
		{"rpc endpoint", `flow A { step B { rpc svc } }`, `1:27: expected endpoint string, found "}" (hint: write the endpoint in quotes, such as "Customer.Create")`},
		{"rpc request", `flow A { step B { rpc svc "X.Y" () } }`, `1:34: expected state field name, found ")" (hint: name the state field to send in the parentheses, or drop them to send none)`},
		{"rpc request close", `flow A { step B { rpc svc "X.Y" (A B) } }`, `1:36: expected ")", found "B"`},
		{"rpc response", `flow A { step B { rpc svc "X.Y" -> } }`, `1:36: expected state field name, found "}" (hint: name the state field that takes the response, such as rpc customers "Customer.Create" (Customer) -> CustomerID, or drop the "->")`},
		{"await topic", `flow A { step B { await -> x } }`, `1:25: expected topic name, found "->" (hint: write the topic, then the event name in quotes, such as await billing "invoice.paid")`},
		{"await timeout", `flow A { step B { await t "e" timeout 5 } }`, `1:39: expected duration, found number 5 (hint: add a unit: 5s, 5ms or 5m)`},
		{"correlate field", `flow A { step B { await t "e" correlate "x" } }`, `1:41: expected state field name, found string "x" (hint: name the state field whose value the event must carry, such as correlate OrderID)`},
		{"correlate path", `flow A { step B { await t "e" correlate X on } }`, `1:46: expected payload path, found "}" (hint: name the payload member to compare, such as on order_id, or write a dotted path as a string: on "payment.order_id")`},
		{"correlate path number", `flow A { step B { await t "e" correlate X on 3 timeout 1h } }`, `1:46: expected payload path, found number 3 (hint: name the payload member to compare, such as on order_id, or write a dotted path as a string: on "payment.order_id")`},
		{"correlate without field", `flow A { step B { await t "e" correlate on order_id } }`, `1:44: expected step statement or "}", found "order_id" (hint: correlate names the state field first: correlate Field on path)`},
		{"correlate path after timeout", `flow A { step B { await t "e" correlate X timeout 1h on order_id } }`, `1:66: expected "->", found "}" (hint: a transition is written on outcome -> Target)`},
		{"publish event", `flow A { step B { publish t e } }`, `1:29: expected event name string, found "e" (hint: write the event name in quotes, such as "payment.succeeded")`},
		{"sleep nothing", `flow A { step B { sleep } }`, `1:25: expected duration or "until", found "}" (hint: a sleep is written sleep 336h, or sleep until Field, a time.Time field of the state)`},
		{"sleep number", `flow A { step B { sleep 14 } }`, `1:25: expected duration or "until", found number 14 (hint: add a unit: 14h, 14m or 14s)`},
		{"sleep string", `flow A { step B { sleep "1h" } }`, `1:25: expected duration or "until", found string "1h" (hint: a sleep is written sleep 336h, or sleep until Field, a time.Time field of the state)`},
		{"sleep misspelt until", `flow A { step B { sleep untill At } }`, `1:25: expected duration or "until", found "untill" (hint: did you mean "until"?)`},
		{"sleep until nothing", `flow A { step B { sleep until } }`, `1:31: expected state field name, found "}" (hint: name the time.Time field of the state that holds when to wake, such as sleep until ReminderAt)`},
		{"sleep until a duration", `flow A { step B { sleep until 5h } }`, `1:31: expected state field name, found duration 5h (hint: name the time.Time field of the state that holds when to wake, such as sleep until ReminderAt)`},
		// An action that cannot undo a step, written as a rollback: the
		// keyword is read as a Go rollback's name, and the error is at
		// what follows it.
		{"rollback sleep", `flow A { step B { rpc s "S.Do" rollback sleep 1h } }`, `1:47: expected step statement or "}", found duration 1h (hint: a rollback is a Go method (rollback CancelSubscription), an rpc (rollback rpc customers "Customer.Delete" (CustomerID)) or a call of a flow (rollback call Refund (Receipt)); "rollback sleep" names a Go method sleep: a sleep changes nothing, so it undoes nothing, and an undo that must wait is a flow with a sleep step, run with rollback call)`},
		{"rollback sleep until", `flow A { step B { rpc s "S.Do" rollback sleep until At } }`, `1:47: expected step statement or "}", found "until" (hint: a rollback is a Go method (rollback CancelSubscription), an rpc (rollback rpc customers "Customer.Delete" (CustomerID)) or a call of a flow (rollback call Refund (Receipt)); "rollback sleep" names a Go method sleep: a sleep changes nothing, so it undoes nothing, and an undo that must wait is a flow with a sleep step, run with rollback call)`},
		{"rollback publish", `flow A { step B { rpc s "S.Do" rollback publish t "e" } }`, `1:49: expected step statement or "}", found "t" (hint: a rollback is a Go method (rollback CancelSubscription), an rpc (rollback rpc customers "Customer.Delete" (CustomerID)) or a call of a flow (rollback call Refund (Receipt)); "rollback publish" names a Go method publish: to publish or wait while undoing, run a flow that does, with rollback call Flow (Field))`},
		{"rollback await", `flow A { step B { rpc s "S.Do" rollback await t "e" } }`, `1:47: expected step statement or "}", found "t" (hint: a rollback is a Go method (rollback CancelSubscription), an rpc (rollback rpc customers "Customer.Delete" (CustomerID)) or a call of a flow (rollback call Refund (Receipt)); "rollback await" names a Go method await: to publish or wait while undoing, run a flow that does, with rollback call Flow (Field))`},
		{"rollback choose", `flow A { step B { rpc s "S.Do" rollback choose { otherwise -> done } } }`, `1:48: expected step statement or "}", found "{" (hint: a rollback is a Go method (rollback CancelSubscription), an rpc (rollback rpc customers "Customer.Delete" (CustomerID)) or a call of a flow (rollback call Refund (Receipt)); "rollback choose" names a Go method choose: a choose routes the run, it undoes nothing)`},
		{"misspelt sleep", `flow A { step B { slep 1h } }`, `1:19: expected step statement or "}", found "slep" (hint: did you mean "sleep"?)`},
		{"on arrow", `flow A { step B { on ok done } }`, `1:25: expected "->", found "done" (hint: a transition is written on outcome -> Target)`},
		{"on target", `flow A { step B { on ok -> } }`, `1:28: expected target step name, done or fail, found "}" (hint: a transition is written on outcome -> Target: a step of the flow (its name starts with an upper-case letter), done or fail)`},
		// Newlines mean nothing: a target on the next line is the target
		// (TestTargetOnNextLine), and a "->" with none takes what comes
		// next. A keyword cannot be a step name (step names are
		// exported), so the error is at the "->".
		{"on target at the end of the step", "flow A {\n    step B {\n        on ok ->\n    }\n}", `4:5: expected target step name, done or fail, found "}" (hint: the "->" at line 3 has no target; a transition is written on outcome -> Target: a step of the flow (its name starts with an upper-case letter), done or fail)`},
		{"on target, then a statement", "flow A {\n    step B {\n        on ok ->\n        irreversible\n    }\n}", `3:15: "->" has no target: "irreversible" on line 4 is a keyword, not a step name (hint: a transition is written on outcome -> Target: a step of the flow (its name starts with an upper-case letter), done or fail)`},
		{"on target, then a statement with arguments", "flow A {\n    step B {\n        on ok ->\n        rollback Undo\n    }\n}", `3:15: "->" has no target: "rollback" on line 4 is a keyword, not a step name (hint: a transition is written on outcome -> Target: a step of the flow (its name starts with an upper-case letter), done or fail)`},
		{"on target of a keyword", `flow A { step B { irreversible on ok -> on } }`, `1:38: "->" has no target: "on" is a keyword, not a step name (hint: a transition is written on outcome -> Target: a step of the flow (its name starts with an upper-case letter), done or fail)`},
		{"parallel on target, then a branch", "flow A {\n    parallel P {\n        on ok ->\n        step B { irreversible }\n    }\n}", `3:15: "->" has no target: "step" on line 4 is a keyword, not a step name (hint: a transition is written on outcome -> Target: a step of the flow (its name starts with an upper-case letter), done or fail)`},
		// A condition that lost its operand after "and", "or", "not" or
		// "when" takes the next line's otherwise (or when) for a field:
		// `when Express and` then `otherwise -> A` parsed as the condition
		// "Express and otherwise" with no otherwise line, reported as a
		// choose without otherwise; `or` then `when Ok -> A` stopped at Ok.
		{"and, then otherwise", "flow A {\n    step B {\n        choose {\n            when Express and\n            otherwise -> C\n        }\n    }\n}", `4:26: "and" has no condition after it: "otherwise" on line 5 is a keyword, not a field name (hint: a when line is written when <condition> -> Target, and each and, or and not is followed by a condition: when Express and not Oversize -> Ship)`},
		{"not, then otherwise", "flow A {\n    step B {\n        choose {\n            when not\n            otherwise -> C\n        }\n    }\n}", `4:18: "not" has no condition after it: "otherwise" on line 5 is a keyword, not a field name (hint: a when line is written when <condition> -> Target, and each and, or and not is followed by a condition: when Express and not Oversize -> Ship)`},
		{"when, then otherwise", "flow A {\n    step B {\n        choose {\n            when\n            otherwise -> C\n        }\n    }\n}", `4:13: "when" has no condition after it: "otherwise" on line 5 is a keyword, not a field name (hint: a when line is written when <condition> -> Target, and each and, or and not is followed by a condition: when Express and not Oversize -> Ship)`},
		{"or, then a when line", "flow A {\n    step B {\n        choose {\n            when Express or\n            when Ok -> C\n            otherwise -> C\n        }\n    }\n}", `4:26: "or" has no condition after it: "when" on line 5 is a keyword, not a field name (hint: a when line is written when <condition> -> Target, and each and, or and not is followed by a condition: when Express and not Oversize -> Ship)`},
		{"correlated await's on target, then a statement", "flow A {\n    step B {\n        await t \"e\" correlate X on timeout ->\n        retry 3\n    }\n}", `3:44: "->" has no target: "retry" on line 4 is a keyword, not a step name (hint: a transition is written on outcome -> Target: a step of the flow (its name starts with an upper-case letter), done or fail)`},
		{"on outcome", `flow A { step B { on -> C } }`, `1:22: expected outcome, found "->" (hint: outcomes are ok, error, timeout or one declared with outcomes)`},
		// An on that lost its outcome, with a statement on the next line:
		// the keyword was read as the outcome, and the parser stopped a
		// line late, at what follows it.
		{"on, then a statement", "flow A {\n    step B {\n        on\n        irreversible\n    }\n}", `3:9: "on" has no outcome after it: "irreversible" on line 4 is a keyword, not an outcome (hint: a transition is written on outcome -> Target: outcomes are ok, error, timeout or one declared with outcomes)`},
		{"on, then a statement with arguments", "flow A {\n    step B {\n        on\n        rollback Undo\n    }\n}", `3:9: "on" has no outcome after it: "rollback" on line 4 is a keyword, not an outcome (hint: a transition is written on outcome -> Target: outcomes are ok, error, timeout or one declared with outcomes)`},
		{"on, then an on line", "flow A {\n    step B {\n        on\n        on ok -> done\n    }\n}", `3:9: "on" has no outcome after it: "on" on line 4 is a keyword, not an outcome (hint: a transition is written on outcome -> Target: outcomes are ok, error, timeout or one declared with outcomes)`},
		{"block's on, then a branch", "flow A {\n    parallel P {\n        on\n        step X { irreversible }\n    }\n}", `3:9: "on" has no outcome after it: "step" on line 4 is a keyword, not an outcome (hint: a transition is written on outcome -> Target: outcomes are ok, error, timeout or one declared with outcomes)`},
		// timeout is an outcome too: on, then timeout 5s, is the parser's.
		{"on, then timeout", "flow A {\n    step B {\n        on\n        timeout 5s\n    }\n}", `4:17: expected "->", found duration 5s (hint: a transition is written on outcome -> Target)`},
		{"outcomes trailing comma", `flow A { step B { outcomes a, } }`, `1:31: expected outcome name, found "}" (hint: name the outcomes the Go step may end with besides ok and error, such as outcomes approved, rejected)`},
		{"retry attempts", `flow A { retry x }`, `1:16: expected number of attempts, found "x" (hint: write the total number of attempts, such as retry 3)`},
		{"retry range", `flow A { retry 3 backoff 1s }`, `1:29: expected "..", found "}" (hint: a backoff range is written backoff 100ms..5s)`},
		{"retry range max", `flow A { retry 3 backoff 1s.. }`, `1:31: expected duration, found "}" (hint: durations use Go syntax, such as 250ms, 10s or 1h30m)`},
		{"jitter", `flow A { retry 3 jitter some }`, `1:25: expected "none" or "full", found "some" (hint: jitter full (the default) waits a random time up to each backoff delay; jitter none waits the delay exactly)`},
		// A part out of order (or written twice) ends the retry at the part
		// before it, so the parser finds it where a statement should start.
		{"retry parts out of order", `flow A { retry 3 jitter full multiplier 2 }`, `1:30: expected flow statement or "}", found "multiplier" (hint: the parts of a retry come in this order, each at most once: backoff, multiplier, jitter, as in retry 3 backoff 100ms..5s multiplier 1.5 jitter none)`},
		{"retry parts out of order in a step", "flow A {\n    step B {\n        retry 3 multiplier 2\n            backoff 1s..5s\n    }\n}", `4:13: expected step statement or "}", found "backoff" (hint: the parts of a retry come in this order, each at most once: backoff, multiplier, jitter, as in retry 3 backoff 100ms..5s multiplier 1.5 jitter none)`},
		{"retry part twice", `flow A { retry 3 backoff 1s..5s jitter none jitter full }`, `1:45: expected flow statement or "}", found "jitter" (hint: the parts of a retry come in this order, each at most once: backoff, multiplier, jitter, as in retry 3 backoff 100ms..5s multiplier 1.5 jitter none)`},
		{"retry parts out of order in a branch", `flow A { parallel P { step B { retry 2 jitter none backoff 1s..5s } } }`, `1:52: expected step statement or "}", found "backoff" (hint: the parts of a retry come in this order, each at most once: backoff, multiplier, jitter, as in retry 3 backoff 100ms..5s multiplier 1.5 jitter none)`},
		{"rpc response before its request", `flow A { step B { rpc s "S.Do" -> Y (X) } }`, `1:37: expected step statement or "}", found "(" (hint: the parts of an rpc come in this order: rpc service "Endpoint" (Request) -> Response, as in rpc customers "Customer.Create" (Customer) -> CustomerID)`},
		{"rollback rpc request twice", `flow A { step B { rollback rpc s "S.Undo" (X) (Y) } }`, `1:47: expected step statement or "}", found "(" (hint: the parts of an rpc come in this order: rpc service "Endpoint" (Request) -> Response, as in rpc customers "Customer.Create" (Customer) -> CustomerID)`},
		{"await payload after correlate", `flow A { step B { await t "e" correlate ID -> P timeout 1h } }`, `1:44: expected step statement or "}", found "->" (hint: the parts of an await come in this order, each at most once: await topic "event" -> Payload correlate Field on path timeout D, as in await payments "payment.succeeded" -> Payment correlate OrderID timeout 72h)`},
		{"await correlate after timeout", `flow A { step B { await t "e" -> P timeout 1h correlate ID } }`, `1:47: expected step statement or "}", found "correlate" (hint: the parts of an await come in this order, each at most once: await topic "event" -> Payload correlate Field on path timeout D, as in await payments "payment.succeeded" -> Payment correlate OrderID timeout 72h)`},
		{"call output before its input", `flow A { step B { call F -> Y (X) } }`, `1:31: expected step statement or "}", found "(" (hint: the parts of a call come in this order: call Flow (Input) -> Output, as in call Billing (Invoice) -> Receipt)`},
		{"publish with a response", `flow A { step B { publish t "e" (X) -> Y } }`, `1:37: expected step statement or "}", found "->" (hint: a publication has a payload and no response: publish topic "event" (Field))`},
		{"parenthesis after another statement", `flow A { step B { irreversible (X) } }`, `1:32: expected step statement or "}", found "(" (hint: a step holds rpc, await, publish, sleep, choose, call, retry, timeout, deadline, rollback, irreversible, outcomes, writes and on statements)`},
		{"rpc request of two fields", `flow A { step B { rpc s "S.Do" (X, Y) } }`, `1:34: expected ")", found "," (hint: the parentheses hold one state field, sent as the whole request, payload or input: make it a struct field of the state that holds the others)`},
		{"call input of two fields", `flow A { step B { call F (X, Y) -> Z } }`, `1:28: expected ")", found "," (hint: the parentheses hold one state field, sent as the whole request, payload or input: make it a struct field of the state that holds the others)`},
		{"retry part misspelt", `flow A { step B { retry 3 backof 1s..5s } }`, `1:27: expected step statement or "}", found "backof" (hint: did you mean "backoff"? the parts of a retry come in this order, each at most once: backoff, multiplier, jitter, as in retry 3 backoff 100ms..5s multiplier 1.5 jitter none)`},
		{"retry part misspelt after another", `flow A { retry 3 backoff 1s..5s multipler 2 }`, `1:33: expected flow statement or "}", found "multipler" (hint: did you mean "multiplier"? the parts of a retry come in this order, each at most once: backoff, multiplier, jitter, as in retry 3 backoff 100ms..5s multiplier 1.5 jitter none)`},
		{"retry count after its parts", `flow A { retry jitter full 3 }`, `1:16: expected number of attempts, found "jitter" (hint: write the number of attempts first; the parts of a retry come in this order, each at most once: backoff, multiplier, jitter, as in retry 3 backoff 100ms..5s multiplier 1.5 jitter none)`},
		{"retry part after another statement", `flow A { retry 3 timeout 5s multiplier 2 }`, `1:29: expected flow statement or "}", found "multiplier" (hint: a flow holds state, trigger, retry, timeout, deadline, step and parallel statements)`},
		{"multiplier", `flow A { retry 3 multiplier x }`, `1:29: expected number, found "x" (hint: write the factor each backoff delay grows by, such as multiplier 1.5 (2 when none is written))`},
		{"timeout number", `flow A { timeout 10 }`, `1:18: expected duration, found number 10 (hint: add a unit: 10s, 10ms or 10m)`},
		{"deadline", `flow A { deadline }`, `1:19: expected duration, found "}" (hint: durations use Go syntax, such as 250ms, 10s or 1h30m)`},
		{"rollback", `flow A { step B { rollback } }`, `1:28: expected Go rollback name, "rpc" or "call", found "}" (hint: a rollback is a Go method (rollback CancelSubscription), an rpc (rollback rpc customers "Customer.Delete" (CustomerID)) or a call of a flow (rollback call Refund (Receipt)))`},
		{"rollback rpc", `flow A { step B { rollback rpc } }`, `1:32: expected service name, found "}" (hint: write the service, then the endpoint in quotes, such as rollback rpc customers "Customer.Delete" (CustomerID))`},
		{"trigger event topic", `flow A { trigger event }`, `1:24: expected topic name, found "}" (hint: write the topic, then the event name in quotes, such as trigger event billing "invoice.paid")`},
		{"flow name of two words", `flow A B { }`, `1:8: expected "{", found "B" (hint: a flow's name is one word, followed by its body in braces: flow A { ... })`},
		{"unclosed step", "flow A {\n    step B {\n        irreversible\n", `4:1: expected "}", found end of file (hint: close the "{" opened at line 2, column 12)`},
		{"unclosed flow", "flow A {\n    step B {}\n", `3:1: expected "}", found end of file (hint: close the "{" opened at line 1, column 8)`},
		// A block's "}" left out: the next "}", the flow's by its indent,
		// closes that block, and the flow is what stays open. The hint
		// names the block, not the flow's "{", which looks closed.
		{"unclosed last step", "flow A {\n    step B {\n        irreversible\n    }\n    step C {\n        irreversible\n}\n", `8:1: expected "}", found end of file (hint: is the "}" of the step opened at line 5 missing? The "}" at line 7, indented less than that step, closes it; or close the "{" opened at line 1, column 8)`},
		{"unclosed parallel", "flow A {\n    parallel P {\n        step B { irreversible }\n        on error -> fail\n\n    step C { irreversible }\n}\n", `8:1: expected "}", found end of file (hint: is the "}" of the parallel block opened at line 2 missing? The "}" at line 7, indented less than that parallel block, closes it; or close the "{" opened at line 1, column 8)`},
		{"unclosed choose", "flow A {\n    step B {\n        choose {\n            when X -> C\n            otherwise -> done\n    }\n    step C { irreversible }\n}\n", `7:5: expected step statement or "}", found "step" (hint: steps do not nest: is the "}" of the choose opened at line 3 missing? The "}" at line 6, indented less than that choose, closes it)`},
		{"unclosed flow before another", "flow A {\n    step B {\n        irreversible\n    }\n\nflow C {\n    step D { irreversible }\n}\n", `6:1: expected flow statement or "}", found "flow" (hint: flows do not nest: is the "}" of the flow opened at line 1 missing?)`},
		{"unclosed step before another flow", "flow A {\n    step B {\n        irreversible\n}\n\nflow C {\n    step D { irreversible }\n}\n", `6:1: expected flow statement or "}", found "flow" (hint: flows do not nest: is the "}" of the step opened at line 2 missing? The "}" at line 4, indented less than that step, closes it)`},
		{"unclosed flow, steps indented", "flow A {\n    step B {\n        irreversible\n    }\n", `5:1: expected "}", found end of file (hint: close the "{" opened at line 1, column 8)`},
		{"step brace", `flow A { step B irreversible }`, `1:17: expected "{", found "irreversible" (hint: a step's name is one word, followed by its body in braces: step B { ... })`},
		{"nested step", "flow A {\n    step B {\n        step C {} } }", `3:9: expected step statement or "}", found "step" (hint: steps do not nest: is the "}" of the step opened at line 2 missing?)`},
		{"nested braces", `flow A { step B {{ }}}`, `1:18: expected step statement or "}", found "{" (hint: a step holds rpc, await, publish, sleep, choose, call, retry, timeout, deadline, rollback, irreversible, outcomes, writes and on statements)`},

		// choose blocks and their when and otherwise lines.
		{"when without condition", `flow A { step B { choose { when -> C otherwise -> D } } }`, `1:33: expected condition, found "->" (hint: a when line is written when <condition> -> Target, such as when Total >= 100 -> Review)`},
		{"condition after and", `flow A { step B { choose { when X and -> C otherwise -> D } } }`, `1:39: expected condition, found "->" (hint: "and" is followed by a condition: a state field compared with a literal (Total >= 100) or a bool field alone (Express))`},
		{"condition after not", `flow A { step B { choose { when not } } }`, `1:37: expected condition, found "}" (hint: "not" is followed by a condition: a state field compared with a literal (Total >= 100) or a bool field alone (Express))`},
		{"condition after a parenthesis", `flow A { step B { choose { when X or ( -> C } } }`, `1:40: expected condition, found "->" (hint: "(" is followed by a condition: a state field compared with a literal (Total >= 100) or a bool field alone (Express))`},
		// A "(" of a condition that is not closed: the hint says which.
		{"unclosed parenthesis", `flow A { step B { choose { when (X and Y -> C otherwise -> D } } }`, `1:42: expected ")", found "->" (hint: the "(" at line 1, column 33 is not closed: close its group with ")" before the "->", such as when (Total >= 100 or Vip) and Active -> Review)`},
		{"unclosed outer parenthesis", `flow A { step B { choose { when not (X and (Y or Z) -> C otherwise -> D } } }`, `1:53: expected ")", found "->" (hint: the "(" at line 1, column 37 is not closed: close its group with ")" before the "->", such as when (Total >= 100 or Vip) and Active -> Review)`},
		{"unclosed parenthesis, then a line", "flow A {\n    step B {\n        choose {\n            when (X == 1\n            otherwise -> D\n        }\n    }\n}", `5:13: expected ")", found "otherwise" (hint: the "(" at line 4, column 18 is not closed: close its group with ")" before the "->", such as when (Total >= 100 or Vip) and Active -> Review)`},
		{"condition starting with a literal", `flow A { step B { choose { when 100 <= Total -> C } } }`, `1:33: expected condition, found number 100 (hint: a condition starts with the state field: Total >= 100, Tier == "gold")`},
		{"condition of a string", `flow A { step B { choose { when "gold" -> C } } }`, `1:33: expected condition, found string "gold" (hint: a condition starts with the state field: Total >= 100, Tier == "gold")`},
		{"writes without a comma", "flow A { parallel P { step B {\n    writes X, Y Z\n} } }", `2:17: expected step statement or "}", found "Z" (hint: separate the names of writes with commas: writes X, Y, Z)`},
		{"outcomes without a comma", "flow A { step B { outcomes approved rejected } }", `1:37: expected step statement or "}", found "rejected" (hint: separate the names of outcomes with commas: outcomes approved, rejected)`},
		{"keyword after writes", "flow A { parallel P { step B { writes X irreversibel } } }", `1:41: expected step statement or "}", found "irreversibel" (hint: did you mean "irreversible"?)`},
		{"boolean in capitals", `flow A { step B { choose { when X == True -> C } } }`, `1:38: expected value to compare with, found "True" (hint: booleans are written in lower case: X == true)`},
		{"compared with a field", `flow A { step B { choose { when X == Y -> C } } }`, `1:38: expected value to compare with, found "Y" (hint: a state field is compared with a literal: a string, number, duration, true or false, not with another field or a Go constant; text is quoted: X == "Y")`},
		{"comparison without value", `flow A { step B { choose { when X >= -> C } } }`, `1:38: expected value to compare with, found "->" (hint: write the literal after the operator, such as Total >= 100 or Tier == "gold")`},
		{"when arrow", `flow A { step B { choose { when X C } } }`, `1:35: expected "->", found "C" (hint: a when line is written when <condition> -> Target)`},
		{"two comparisons", `flow A { step B { choose { when X == 1 == 2 -> C } } }`, `1:40: expected "->", found "==" (hint: a when line is written when <condition> -> Target)`},
		{"otherwise arrow", `flow A { step B { choose { when X -> C otherwise D } } }`, `1:50: expected "->", found "D" (hint: an otherwise line is written otherwise -> Target)`},
		{"otherwise alone", `flow A { step B { choose { otherwise } } }`, `1:38: expected "->", found "}" (hint: an otherwise line is written otherwise -> Target)`},
		{"when target", `flow A { step B { choose { when X -> "C" } } }`, `1:38: expected target step name, done or fail, found string "C" (hint: a when line is written when <condition> -> Target: a step of the flow (its name starts with an upper-case letter), done or fail)`},
		{"otherwise target", `flow A { step B { choose { when X -> C otherwise -> } } }`, `1:53: expected target step name, done or fail, found "}" (hint: an otherwise line is written otherwise -> Target: a step of the flow (its name starts with an upper-case letter), done or fail)`},
		// A when or otherwise line that lost its target takes the next
		// line's keyword for it, as an on line does (keywordname.go): the
		// error is at the "->".
		{"when target missing", "flow A {\n    step B {\n        choose {\n            when X ->\n            otherwise -> C\n        }\n    }\n}", `4:20: "->" has no target: "otherwise" on line 5 is a keyword, not a step name (hint: a when line is written when <condition> -> Target: a step of the flow (its name starts with an upper-case letter), done or fail)`},
		{"when target missing, when next", "flow A {\n    step B {\n        choose {\n            when X ->\n            when Y -> C\n        }\n    }\n}", `4:20: "->" has no target: "when" on line 5 is a keyword, not a step name (hint: a when line is written when <condition> -> Target: a step of the flow (its name starts with an upper-case letter), done or fail)`},
		{"otherwise target missing, when next", "flow A {\n    step B {\n        choose {\n            otherwise ->\n            when Y -> C\n        }\n    }\n}", `4:23: "->" has no target: "when" on line 5 is a keyword, not a step name (hint: an otherwise line is written otherwise -> Target: a step of the flow (its name starts with an upper-case letter), done or fail)`},
		{"otherwise target at the end of the choose", "flow A {\n    step B {\n        choose {\n            when X -> C\n            otherwise ->\n        }\n    }\n}", `6:9: expected target step name, done or fail, found "}" (hint: the "->" at line 5 has no target; an otherwise line is written otherwise -> Target: a step of the flow (its name starts with an upper-case letter), done or fail)`},
		{"when target of a keyword", `flow A { step B { choose { when X -> irreversible otherwise -> C } } }`, `1:35: "->" has no target: "irreversible" is a keyword, not a step name (hint: a when line is written when <condition> -> Target: a step of the flow (its name starts with an upper-case letter), done or fail)`},
		{"otherwise target of a keyword", `flow A { step B { choose { when X -> C otherwise -> choose } } }`, `1:50: "->" has no target: "choose" is a keyword, not a step name (hint: an otherwise line is written otherwise -> Target: a step of the flow (its name starts with an upper-case letter), done or fail)`},
		{"when target of a keyword with arguments", `flow A { step B { choose { when X -> on ok -> C } } }`, `1:35: "->" has no target: "on" is a keyword, not a step name (hint: a when line is written when <condition> -> Target: a step of the flow (its name starts with an upper-case letter), done or fail)`},
		{"branch's when target missing", "flow A {\n    parallel P {\n        step B {\n            choose { when X -> }\n            retry 3\n        }\n    }\n}", `4:32: expected target step name, done or fail, found "}" (hint: a when line is written when <condition> -> Target: a step of the flow (its name starts with an upper-case letter), done or fail)`},
		{"branch's when target of a keyword", `flow A { parallel P { step B { choose { when X -> retry } } } }`, `1:48: "->" has no target: "retry" is a keyword, not a step name (hint: a when line is written when <condition> -> Target: a step of the flow (its name starts with an upper-case letter), done or fail)`},
		// otherwise is the last line: a when line after it would read as
		// never tried.
		{"when after otherwise", "flow A {\n    step B {\n        choose {\n            when X -> C\n            otherwise -> D\n            when Y -> E\n        }\n    }\n}", `6:13: when line after the otherwise line of its choose (line 5): the when lines are tried in order, then otherwise (hint: move ` + "`otherwise -> D`" + ` to the end of the choose block)`},
		{"when after otherwise in a branch", `flow A { parallel P { step B { choose { otherwise -> D when Y -> E } } } }`, `1:56: when line after the otherwise line of its choose (line 1): the when lines are tried in order, then otherwise (hint: move ` + "`otherwise -> D`" + ` to the end of the choose block)`},
		{"two targets", `flow A { step B { choose { when X -> C D } } }`, `1:40: expected when, otherwise or "}", found "D" (hint: a choose block holds when <condition> -> Target lines and an otherwise -> Target line)`},
		{"on in a choose", `flow A { step B { choose { on ok -> C } } }`, `1:28: expected when, otherwise or "}", found "on" (hint: a choose block holds when <condition> -> Target lines and an otherwise -> Target line)`},
		{"misspelt when", `flow A { step B { choose { whn X -> C } } }`, `1:28: expected when, otherwise or "}", found "whn" (hint: did you mean "when"?)`},
		{"step in a choose", "flow A {\n    step B {\n        choose {\n            step C {}\n        }\n    }\n}", `4:13: expected when, otherwise or "}", found "step" (hint: steps do not nest: is the "}" of the choose opened at line 3 missing?)`},
		{"choose without braces", `flow A { step B { choose when X -> C } }`, `1:26: expected "{", found "when" (hint: a choose holds its lines in braces: choose { when <condition> -> Target ... otherwise -> Target })`},
		{"when outside a choose", `flow A { step B { when X -> C } }`, `1:19: expected step statement or "}", found "when" (hint: when and otherwise lines belong in a choose block: choose { when <condition> -> Target ... otherwise -> Target })`},
		// A step's statement written in the flow, after the step's or
		// block's "}": the hint says where it goes, not what a flow holds.
		{"on after a step's brace", "flow A {\n    step B { irreversible }\n    on ok -> done\n}", `3:5: expected flow statement or "}", found "on" (hint: an on line routes the outcome of the step or parallel block it is written in: move it inside that step's or block's braces, before its "}")`},
		{"on after a block's brace", `flow A { parallel P { step B {} } on error -> fail }`, `1:35: expected flow statement or "}", found "on" (hint: an on line routes the outcome of the step or parallel block it is written in: move it inside that step's or block's braces, before its "}")`},
		{"action in a flow", `flow A { rpc s "E" }`, `1:10: expected flow statement or "}", found "rpc" (hint: rpc is a step statement: write it in a step, such as step Name { rpc ... })`},
		{"choose in a flow", `flow A { choose { otherwise -> done } }`, `1:10: expected flow statement or "}", found "choose" (hint: choose is a step statement: write it in a step, such as step Name { choose ... })`},
		{"otherwise in a flow", `flow A { otherwise -> C }`, `1:10: expected flow statement or "}", found "otherwise" (hint: when and otherwise lines belong in a choose block: choose { when <condition> -> Target ... otherwise -> Target })`},
		{"choose in a parallel block's branch", `flow A { parallel P { step B { choose { on ok -> C } } } }`, `1:41: expected when, otherwise or "}", found "on" (hint: a choose block holds when <condition> -> Target lines and an otherwise -> Target line)`},

		// call steps and rollbacks.
		{"call without flow", `flow A { step B { call (Req) -> Resp } }`, `1:24: expected flow name, found "(" (hint: name a flow of this file or of its Go package, such as call Billing (Invoice) -> Receipt)`},
		{"call of a string", `flow A { step B { call "Billing" } }`, `1:24: expected flow name, found string "Billing" (hint: name a flow of this file or of its Go package, such as call Billing (Invoice) -> Receipt)`},
		{"call of nothing", `flow A { step B { call } }`, `1:24: expected flow name, found "}" (hint: name a flow of this file or of its Go package, such as call Billing (Invoice) -> Receipt)`},
		{"rollback call without flow", `flow A { step B { rollback call (X) } }`, `1:33: expected flow name, found "(" (hint: name the flow that undoes the step, such as rollback call Refund (Receipt))`},
		{"call request", `flow A { step B { call Billing () } }`, `1:33: expected state field name, found ")" (hint: name the state field to send in the parentheses, or drop them to send none)`},
		// A request field without its parentheses (an await's payload
		// field without its "->"): the error is at the field.
		{"call field without parentheses", `flow A { step B { call Billing Invoice } }`, `1:32: expected "(", found "Invoice" (hint: the call's input goes in parentheses: call Billing (Invoice))`},
		{"call field without parentheses, then a response", "flow A {\n    step B {\n        call Disburse Payout -> Receipt\n    }\n}", `3:23: expected "(", found "Payout" (hint: the call's input goes in parentheses: call Disburse (Payout))`},
		{"rollback call field without parentheses", `flow A { step B { rollback call Refund Receipt } }`, `1:40: expected "(", found "Receipt" (hint: the call's input goes in parentheses: rollback call Refund (Receipt))`},
		{"branch's call field without parentheses", `flow A { parallel P { step B { call Billing Invoice } } }`, `1:45: expected "(", found "Invoice" (hint: the call's input goes in parentheses: call Billing (Invoice))`},
		{"rpc field without parentheses", `flow A { step B { rpc svc "X.Y" Req -> Resp } }`, `1:33: expected "(", found "Req" (hint: the rpc's request goes in parentheses: rpc svc "X.Y" (Req))`},
		{"rollback rpc field without parentheses", `flow A { step B { rollback rpc "svc" "X.Y" Req } }`, `1:44: expected "(", found "Req" (hint: the rpc's request goes in parentheses: rollback rpc "svc" "X.Y" (Req))`},
		{"publish field without parentheses", `flow A { step B { publish t "e" Customer } }`, `1:33: expected "(", found "Customer" (hint: the event's payload goes in parentheses: publish t "e" (Customer))`},
		{"await field without arrow", `flow A { step B { await t "e" Payment timeout 1h } }`, `1:31: expected "->", found "Payment" (hint: the event's payload goes to the state field after "->": await t "e" -> Payment)`},
		{"misspelt statement after a call", `flow A { step B { call Billing retyr 3 } }`, `1:32: expected step statement or "}", found "retyr" (hint: did you mean "retry"?)`},
		{"call response", `flow A { step B { call Billing -> "x" } }`, `1:35: expected state field name, found string "x" (hint: name the state field that takes the called flow's final state, such as call Billing (Invoice) -> Receipt, or drop the "->")`},
		// A call that lost its flow name or response field, followed by a
		// statement: keywords are names to the lexer, so the keyword was
		// read as the name; the error is at the call.
		{"call, then a statement", "flow A {\n    step B {\n        call\n        irreversible\n    }\n}", `3:9: call has no flow name: "irreversible" on line 4 is a keyword, not a flow name (hint: name a flow of this file or of its Go package, such as call Billing (Invoice) -> Receipt)`},
		{"call, then a statement with arguments", "flow A {\n    step B {\n        call\n        on ok -> done\n    }\n}", `3:9: call has no flow name: "on" on line 4 is a keyword, not a flow name (hint: name a flow of this file or of its Go package, such as call Billing (Invoice) -> Receipt)`},
		{"call of a keyword", `flow A { parallel P { step B { call irreversible } } }`, `1:32: call has no flow name: "irreversible" is a keyword, not a flow name (hint: name a flow of this file or of its Go package, such as call Billing (Invoice) -> Receipt)`},
		{"rollback call, then a statement", "flow A {\n    step B {\n        rollback call\n        retry 3\n    }\n}", `3:18: call has no flow name: "retry" on line 4 is a keyword, not a flow name (hint: name the flow that undoes the step, such as rollback call Refund (Receipt))`},
		{"call arrow, then a statement", "flow A {\n    step B {\n        call Billing ->\n        irreversible\n    }\n}", `3:22: "->" has no state field after it: "irreversible" on line 4 is a keyword, not a field name (hint: name the state field that takes the called flow's final state, such as call Billing (Invoice) -> Receipt, or drop the "->")`},
		{"call arrow, then a statement with arguments", "flow A {\n    parallel P {\n        step B {\n            call Billing (X) ->\n            on ok -> done\n        }\n    }\n}", `4:30: "->" has no state field after it: "on" on line 5 is a keyword, not a field name (hint: name the state field that takes the called flow's final state, such as call Billing (Invoice) -> Receipt, or drop the "->")`},
		// The same for the other state fields that follow a token of their
		// own: the keyword on the next line was taken for the field.
		{"rpc arrow, then a rollback", "flow A {\n    step B {\n        rpc s \"S.Do\" (X) ->\n        rollback rpc s \"S.Undo\" (X)\n    }\n}", `3:26: "->" has no state field after it: "rollback" on line 4 is a keyword, not a field name (hint: name the state field that takes the response, such as rpc customers "Customer.Create" (Customer) -> CustomerID, or drop the "->")`},
		// The same on one line: a field named like the keyword would
		// leave the parser stuck at the keyword's argument, or make the
		// rollback's rpc or call a second action.
		{"rpc arrow, then a Go rollback on its line", `flow A { step B { rpc s "S.Do" (X) -> rollback Undo } }`, `1:36: "->" has no state field after it: "rollback" is a keyword, not a field name (hint: name the state field that takes the response, such as rpc customers "Customer.Create" (Customer) -> CustomerID, or drop the "->")`},
		{"rpc arrow, then a rollback rpc on its line", `flow A { step B { rpc s "S.Do" (X) -> rollback rpc s "S.Undo" (X) } }`, `1:36: "->" has no state field after it: "rollback" is a keyword, not a field name (hint: name the state field that takes the response, such as rpc customers "Customer.Create" (Customer) -> CustomerID, or drop the "->")`},
		{"call arrow, then a rollback call on its line", `flow A { parallel P { step B { call Billing (X) -> rollback call Refund (X) } } }`, `1:49: "->" has no state field after it: "rollback" is a keyword, not a field name (hint: name the state field that takes the called flow's final state, such as call Billing (Invoice) -> Receipt, or drop the "->")`},
		{"await arrow, then a timeout on its line", `flow A { step B { await t "e" -> timeout 1h } }`, `1:31: "->" has no state field after it: "timeout" is a keyword, not a field name (hint: name the state field that takes the event's payload, such as await payments "payment.succeeded" -> Payment, or drop the "->")`},
		{"sleep until, then a deadline on its line", `flow A { step B { sleep until deadline 1h } }`, `1:25: "until" has no state field after it: "deadline" is a keyword, not a field name (hint: name the time.Time field of the state that holds when to wake, such as sleep until ReminderAt)`},
		{"writes comma, then a rollback on its line", `flow A { parallel P { step B { writes X, rollback Undo } } }`, `1:40: "," has no state field after it: "rollback" is a keyword, not a field name (hint: name the fields the step writes, such as writes Reservation, Total)`},
		{"rollback rpc arrow, then a statement", "flow A {\n    step B {\n        rollback rpc s \"S.Undo\" ->\n        irreversible\n    }\n}", `3:33: "->" has no state field after it: "irreversible" on line 4 is a keyword, not a field name (hint: name the state field that takes the response, such as rpc customers "Customer.Create" (Customer) -> CustomerID, or drop the "->")`},
		{"await arrow, then on timeout", "flow A {\n    step B {\n        await t \"e\" ->\n        on timeout -> C\n    }\n}", `3:21: "->" has no state field after it: "on" on line 4 is a keyword, not a field name (hint: name the state field that takes the event's payload, such as await payments "payment.succeeded" -> Payment, or drop the "->")`},
		{"sleep until, then on timeout", "flow A {\n    step B {\n        sleep until\n        on timeout -> C\n    }\n}", `3:15: "until" has no state field after it: "on" on line 4 is a keyword, not a field name (hint: name the time.Time field of the state that holds when to wake, such as sleep until ReminderAt)`},
		{"sleep until, then a statement", "flow A {\n    step B {\n        sleep until\n        deadline 1h\n    }\n}", `3:15: "until" has no state field after it: "deadline" on line 4 is a keyword, not a field name (hint: name the time.Time field of the state that holds when to wake, such as sleep until ReminderAt)`},
		{"correlate, then a statement", "flow A {\n    step B {\n        await t \"e\" correlate\n        timeout 1h\n    }\n}", `3:21: "correlate" has no state field after it: "timeout" on line 4 is a keyword, not a field name (hint: name the state field whose value the event must carry, such as correlate OrderID)`},
		{"writes, then a statement", "flow A {\n    parallel P {\n        step B {\n            writes\n            rollback Undo\n        }\n    }\n}", `4:13: "writes" has no state field after it: "rollback" on line 5 is a keyword, not a field name (hint: name the fields the step writes, such as writes Reservation, Total)`},
		{"writes comma, then a statement", "flow A {\n    parallel P {\n        step B {\n            writes X,\n            irreversible\n        }\n    }\n}", `4:21: "," has no state field after it: "irreversible" on line 5 is a keyword, not a field name (hint: name the fields the step writes, such as writes Reservation, Total)`},
		// A Go rollback that lost its method name takes the next line's
		// statement keyword for it: `rollback` then `irreversible` was a
		// rollback method "irreversible" (check: "must start with an
		// upper-case letter", hint rename it "Irreversible"), and then
		// `on ok -> done` stopped at ok with the hint `did you mean "on"?`.
		{"rollback, then irreversible", "flow A {\n    step B {\n        rpc s \"S.Do\"\n        rollback\n        irreversible\n    }\n}", `4:9: rollback has no method name: "irreversible" on line 5 is a keyword, not a method name (hint: name the Go method that undoes the step, such as rollback CancelSubscription, or write rollback rpc ... or rollback call ...)`},
		{"rollback, then on", "flow A {\n    step B {\n        rpc s \"S.Do\"\n        rollback\n        on ok -> done\n    }\n}", `4:9: rollback has no method name: "on" on line 5 is a keyword, not a method name (hint: name the Go method that undoes the step, such as rollback CancelSubscription, or write rollback rpc ... or rollback call ...)`},
		// A request field left out after "(", the ")" with it: the next
		// line's keyword was taken for the field, and the error was at
		// what followed it ("}", or the keyword's argument), with no hint.
		{"rpc request, then a statement", "flow A {\n    step B {\n        rpc s \"S.Do\" (\n        irreversible\n    }\n}", `3:22: "(" has no state field after it: "irreversible" on line 4 is a keyword, not a field name (hint: name the state field sent, and close the parentheses: rpc customers "Customer.Create" (Customer))`},
		{"rpc request, then a rollback", "flow A {\n    step B {\n        rpc s \"S.Do\" (\n        rollback Undo\n    }\n}", `3:22: "(" has no state field after it: "rollback" on line 4 is a keyword, not a field name (hint: name the state field sent, and close the parentheses: rpc customers "Customer.Create" (Customer))`},
		{"call input, then on", "flow A {\n    step B {\n        call Billing (\n        on ok -> done\n    }\n}", `3:22: "(" has no state field after it: "on" on line 4 is a keyword, not a field name (hint: name the state field passed as the child's initial state, and close the parentheses: call Billing (Invoice))`},
		{"publish payload, then a statement", "flow A {\n    step B {\n        publish t \"e\" (\n        irreversible\n    }\n}", `3:23: "(" has no state field after it: "irreversible" on line 4 is a keyword, not a field name (hint: name the state field published, and close the parentheses: publish mail "welcome" (Customer))`},
		// An outcomes list the same: a trailing comma took the next
		// statement's keyword for an outcome, which parsed (irreversible
		// became an outcome, and check warned that the step had no
		// irreversible) or stopped at the keyword's argument with a hint
		// to separate "approved, on, approved" with commas.
		{"outcomes comma, then a statement", "flow A {\n    step B {\n        outcomes approved, rejected,\n        irreversible\n    }\n}", `3:36: "," has no outcome after it: "irreversible" on line 4 is a keyword, not an outcome name (hint: name the outcomes the Go step returns, such as outcomes approved, rejected, or drop the ",")`},
		{"outcomes comma, then on", "flow A {\n    step B {\n        outcomes approved,\n        on approved -> C\n    }\n}", `3:26: "," has no outcome after it: "on" on line 4 is a keyword, not an outcome name (hint: name the outcomes the Go step returns, such as outcomes approved, rejected, or drop the ",")`},
		{"outcomes comma, then a rollback", "flow A {\n    step B {\n        outcomes approved,\n        rollback Undo\n    }\n}", `3:26: "," has no outcome after it: "rollback" on line 4 is a keyword, not an outcome name (hint: name the outcomes the Go step returns, such as outcomes approved, rejected, or drop the ",")`},
		{"outcomes, then a statement", "flow A {\n    step B {\n        outcomes\n        irreversible\n    }\n}", `3:9: "outcomes" has no outcome after it: "irreversible" on line 4 is a keyword, not an outcome name (hint: name the outcomes the Go step returns, such as outcomes approved, rejected)`},

		// Lexical errors.
		{"unterminated string", "flow A { trigger rpc \"Start\n}", `1:22: unterminated string (hint: close the string with " on the same line)`},
		{"bad escape", `flow A { trigger rpc "a\qb" }`, `1:24: invalid escape sequence in string (hint: strings use Go escapes: \" \\ \n \t \x41 \u00e9)`},
		{"byte escape not UTF-8", `flow A { trigger rpc "a\xffb" }`, `1:24: byte escapes in this string do not make UTF-8 text (hint: write the characters themselves, or \u escapes such as \u00e9)`},
		{"NUL escape", `flow A { trigger rpc "a\x00b" }`, `1:24: a NUL character in a string (hint: remove it: names, topics and values are text)`},
		{"single quotes", `flow A { trigger rpc 'x' }`, `1:22: unexpected character "'" (hint: strings are written in double quotes: "text")`},
		{"=> for >=", `flow A { step B { choose { when X => 5 -> C } } }`, `1:35: unexpected character '=' (hint: greater than or equal is written >=)`},
		{"=> for >= before a string", `flow A { step B { choose { when X => "a" -> C } } }`, `1:35: unexpected character '=' (hint: greater than or equal is written >=)`},
		{"=> for -> in a transition", `flow A { step B { on ok => C } }`, `1:25: unexpected character '=' (hint: the arrow is written ->)`},
		{"=> for -> after an rpc request", `flow A { step B { rpc s "S.Do" (X) => Y } }`, `1:36: unexpected character '=' (hint: the arrow is written ->)`},
		{"=> for -> after a condition", `flow A { step B { choose { when X > 5 => C } } }`, `1:39: unexpected character '=' (hint: the arrow is written ->)`},
		{"=> for -> after a bool field", `flow A { step B { choose { when Express => C } } }`, `1:41: unexpected character '=' (hint: the arrow is written ->)`},
		{"AND for and", `flow A { step B { choose { when X AND Y -> C } } }`, `1:35: expected "->", found "AND" (hint: conditions combine with and, or and not, in lower case: and)`},
		{"Or for or", `flow A { step B { choose { when X > 1 Or Y -> C } } }`, `1:39: expected "->", found "Or" (hint: conditions combine with and, or and not, in lower case: or)`},
		{"=< for <=", `flow A { step B { choose { when X =< 5 -> C } } }`, `1:35: unexpected character '=' (hint: less than or equal is written <=)`},
		{"sleep until a field plus a duration", `flow A { step B { sleep until At + 24h } }`, `1:34: unexpected character '+' (hint: sleep until takes a time.Time field as it is: keep the time to wake at in a field of its own, set by an earlier step, or sleep a duration (sleep 24h))`},
		{"sleep until a field minus a duration", `flow A { step B { sleep until At - 1h } }`, `1:34: unexpected character '-' (hint: sleep until takes a time.Time field as it is: keep the time to wake at in a field of its own, set by an earlier step, or sleep a duration (sleep 24h))`},
		{"pointer state type", `flow A { state *S }`, `1:16: unexpected character '*' (hint: a type or field is named without *: state SignupState, (Customer), -> CustomerID; the state is a struct the runtime copies into each event, and a field may itself be a pointer)`},
		{"pointer request", `flow A { step B { rpc s "S.Do" (*X) -> Y } }`, `1:33: unexpected character '*' (hint: a type or field is named without *: state SignupState, (Customer), -> CustomerID; the state is a struct the runtime copies into each event, and a field may itself be a pointer)`},
		{"pointer response", `flow A { step B { rpc s "S.Do" (X) -> *Y } }`, `1:39: unexpected character '*' (hint: a type or field is named without *: state SignupState, (Customer), -> CustomerID; the state is a struct the runtime copies into each event, and a field may itself be a pointer)`},
		{"multiplication in a condition", `flow A { step B { choose { when Total * 2 > 5 -> C } } }`, `1:39: unexpected character '*' (hint: a .flow file has no arithmetic: compute the value into a state field in a Go step, and name that field)`},
		{"arithmetic in a condition", `flow A { step B { choose { when Total + Tax > 5 -> C } } }`, `1:39: unexpected character '+' (hint: a .flow file has no arithmetic: compute the value into a state field in a Go step, and name that field)`},
		{"= for ==", `flow A { step B { choose { when X = 5 -> C } } }`, `1:35: unexpected character '=' (hint: equality is written ==)`},
		{"C-style and", `flow A { step B { choose { when X && Y -> C } } }`, `1:35: unexpected character '&' (hint: conditions combine with and, or and not: when Express and not Oversize -> Ship)`},
		{"C-style or", `flow A { step B { choose { when X || Y -> C } } }`, `1:35: unexpected character '|' (hint: conditions combine with and, or and not: when Express and not Oversize -> Ship)`},
		{"negative", `flow A { timeout -5s }`, `1:18: unexpected character '-' (hint: a duration or a count is never negative (only a condition's number may be): write 5s)`},
		{"negative sleep", `flow A { step B { sleep -1h30m } }`, `1:25: unexpected character '-' (hint: a duration or a count is never negative (only a condition's number may be): write 1h30m)`},
		{"negative retry", `flow A { retry -2 }`, `1:16: unexpected character '-' (hint: a duration or a count is never negative (only a condition's number may be): write 2)`},
		// An exponent's minus is not a negative number's: the hint said
		// numbers cannot be negative, where a condition's can.
		{"negative exponent", `flow A { step B { choose { when X > 1e-3 -> C } } }`, `1:39: unexpected character '-' (hint: a number is written in decimal, without an exponent: 0.001, not 1e-3)`},
		{"map entry in a condition", `flow A { step B { choose { when Tags["vip"] == "yes" -> C } } }`, `1:37: unexpected character '[' (hint: a condition reads a field, or a member of a struct field (Customer.Tier), never an entry of a map or a slice: set what to test into a field of its own in an earlier Go step, and compare that field)`},
		{"slice entry in a condition", `flow A { step B { choose { when Lines [0].Count > 1 -> C } } }`, `1:39: unexpected character '[' (hint: a condition reads a field, or a member of a struct field (Customer.Tier), never an entry of a map or a slice: set what to test into a field of its own in an earlier Go step, and compare that field)`},
		{"negative exponent, upper case", `flow A { step B { choose { when X > 2.5E-10 -> C } } }`, `1:41: unexpected character '-' (hint: a number is written in decimal, without an exponent: 0.001, not 1e-3)`},
		{"dashed topic", `flow A { step B { publish order-mail-v2 "sent" } }`, `1:32: unexpected character '-' (hint: a service or topic name that is not an identifier is written as a string: "order-mail-v2")`},
		{"dashed service", `flow A { step B { rpc ship-ping "S.Do" } }`, `1:27: unexpected character '-' (hint: a service or topic name that is not an identifier is written as a string: "ship-ping")`},
		{"dashed trigger topic", `flow A { trigger event order-events "x" step B { } }`, `1:29: unexpected character '-' (hint: a service or topic name that is not an identifier is written as a string: "order-events")`},
		{"dashed step name", `flow A { step Create-Customer { } }`, `1:21: unexpected character '-' (hint: names are letters, digits and _, without "-": CreateCustomer)`},
		{"dashed target", `flow A { step B { on ok -> Create-Customer } }`, `1:34: unexpected character '-' (hint: names are letters, digits and _, without "-": CreateCustomer)`},
		{"lone dash", `flow A { step B { on ok - C } }`, `1:25: unexpected character '-' (hint: transitions are written "on outcome -> Target")`},
		{"minus before a string", `flow A { step B { choose { when X == -"a" -> C } } }`, `1:38: unexpected character '-' (hint: only a number can be negative, with its minus sign right before it: Balance < -2.5)`},
		{"minus apart from its number", `flow A { step B { choose { when X < - 5 -> C } } }`, `1:37: unexpected character '-' (hint: only a number can be negative, with its minus sign right before it: Balance < -2.5)`},
		{"block comment", "/* no */ flow A {}", `1:1: unexpected character '/' (hint: block comments are not supported; start each comment line with //)`},
		{"semicolon", `flow A { state S; }`, `1:17: unexpected character ';' (hint: statements need no separator; put one per line)`},
		{"non-ascii name", `flow Café {}`, `1:9: unexpected character 'é' (hint: names are ASCII letters, digits and _; other text belongs in strings or comments)`},
		{"dotted name", `flow A { step B { rpc svc Customer.Create } }`, `1:27: expected endpoint string, found "Customer" (hint: write the endpoint in quotes, such as "Customer.Create")`},
		{"dotted name, lexer first", `flow A { trigger event topic.x "e" }`, `1:29: unexpected character '.' (hint: names cannot contain "."; endpoints and event names are strings: "Customer.Create")`},
		{"dot without a member in a condition", `flow A { step B { choose { when Score. >= 700 -> C otherwise -> C } } }`, `1:38: unexpected character '.' (hint: name a member after the dot, with no space: Customer.Tier)`},
		{"space before a member in a condition", `flow A { step B { choose { when Score .Value >= 700 -> C otherwise -> C } } }`, `1:39: unexpected character '.' (hint: a condition reads a member of a field with a dot right after the field's name: Customer.Tier)`},
		{"dot after a member in a condition", `flow A { step B { choose { when A.B.-> C otherwise -> C } } }`, `1:36: unexpected character '.' (hint: name a member after the dot, with no space: Customer.Tier)`},
		{"member of a field in a request", `flow A { step B { rpc svc "E.F" (Contract.Amount) } }`, `1:42: unexpected character '.' (hint: a state field is named alone, without a member: Contract, not Contract.Amount; to use a member, give the state a field of its own for it)`},
		{"member of a field after not", `flow A { step B { choose { when not (Flags. ) -> C otherwise -> C } } }`, `1:43: unexpected character '.' (hint: name a member after the dot, with no space: Customer.Tier)`},
		{"call of another package's flow", `flow A { step B { call billing.Invoice } }`, `1:31: unexpected character '.' (hint: a call names a flow of this Go package (declared in this file or a .flow file beside it), with no package: call Billing)`},
		{"rollback call of another package's flow", `flow A { step B { rollback call billing.Refund } }`, `1:40: unexpected character '.' (hint: a call names a flow of this Go package (declared in this file or a .flow file beside it), with no package: call Billing)`},
		{"dotted correlation path", `flow A { step B { await t "e" correlate X on payment.order_id } }`, `1:53: unexpected character '.' (hint: a dotted payload path is a string: on "payment.order_id")`},
		{"parse error before a lexical one", "flow A { step }\n;", `1:15: expected step name, found "}" (hint: a step is written step Name { ... }, its name an exported Go name such as CreateCustomer)`},
		{"dash for a backoff range", `flow A { retry 3 backoff 50ms-1s }`, `1:30: unexpected character '-' (hint: a backoff range is written "backoff 100ms..5s")`},
		{"spaced dash for a backoff range", `flow A { retry 3 backoff 50ms - 1s }`, `1:31: unexpected character '-' (hint: a backoff range is written "backoff 100ms..5s")`},
		{"fraction without its leading digit", `flow A { step B { choose { when X > .5 -> C otherwise -> C } } }`, `1:37: unexpected character '.' (hint: a number starts with a digit: 0.5)`},
		{"fraction without its digits", `flow A { step B { choose { when X > -1. -> C otherwise -> C } } }`, `1:39: unexpected character '.' (hint: a fraction has digits after its point: 1.5)`},
		{"timeout on a block", `flow A { parallel P { timeout 5s step B {} } }`, `1:23: expected step, on or "}", found "timeout" (hint: a block has no timeout of its own: its branches do the work, each with the flow's retry, timeout and deadline unless it writes its own)`},
		{"rollback on a block", `flow A { parallel P { step B {} rollback Undo } }`, `1:33: expected step, on or "}", found "rollback" (hint: a block has no rollback of its own: write it in the branch it is about)`},
		{"single dot", `flow A { retry 3 backoff 1s. 5s }`, `1:28: unexpected character '.' (hint: a backoff range is written "backoff 100ms..5s")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, diags := Parse("test.flow", []byte(tt.src))
			if f == nil {
				t.Fatal("Parse returned a nil File")
			}
			if len(diags) != 1 {
				t.Fatalf("got %d diagnostics, want 1: %v", len(diags), diags)
			}
			d := diags[0]
			if got := errString(d); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if d.Severity != diag.Error || d.Range.Start.File != "test.flow" || d.Code != "syntax" {
				t.Errorf("diagnostic %+v: want a syntax error in test.flow", d)
			}
			checkPos(t, []byte(tt.src), d.Range.Start)
		})
	}
}

// checkPos fails unless p is a valid position in src whose line and column
// agree with its offset: the offset counts every byte of src, a leading
// byte order mark included, and columns of line 1 count from after the
// mark (diag.TextStart).
func checkPos(t testing.TB, src []byte, p diag.Pos) {
	t.Helper()
	start := diag.TextStart(src)
	if p.Line < 1 || p.Column < 1 || p.Offset < start || p.Offset > len(src) {
		t.Fatalf("invalid position %+v in a source of %d bytes", p, len(src))
	}
	line := 1 + strings.Count(string(src[:p.Offset]), "\n")
	col := p.Offset - max(strings.LastIndexByte(string(src[:p.Offset]), '\n'), start-1)
	if line != p.Line || col != p.Column {
		t.Fatalf("position %+v: offset %d is at %d:%d", p, p.Offset, line, col)
	}
}

func TestRejectsUnreviewableInput(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"invalid utf-8", "flow A {\n    // caf\xe9\n}", []string{`2:11: invalid UTF-8 encoding (hint: save the file as UTF-8)`}},
		{"nul", "flow A {\x00}", []string{`1:9: unexpected NUL byte (hint: .flow files are UTF-8 text; is this a binary file?)`}},
		{"bidi in comment", "flow A {\n    // \u202e}\n}", []string{`2:8: bidirectional control character U+202E (hint: remove it: it makes the text display in a different order than it is read)`}},
		{"bidi in string", "flow A { trigger rpc \"a\u2066b\" }", []string{`1:24: bidirectional control character U+2066 (hint: remove it: it makes the text display in a different order than it is read)`}},
		{"control", "flow A {\x07}", []string{`1:9: unexpected control character U+0007 (hint: remove it; only tabs and newlines may appear as control characters)`}},
		{"lone cr", "flow A {}\r// x\r\n", []string{`1:10: carriage return not followed by a newline (hint: end lines with \n or \r\n)`}},
		{"one of each", "\x00\x00\xff\xff\u202e\u202e", []string{
			`1:1: unexpected NUL byte (hint: .flow files are UTF-8 text; is this a binary file?)`,
			`1:3: invalid UTF-8 encoding (hint: save the file as UTF-8)`,
			`1:5: bidirectional control character U+202E (hint: remove it: it makes the text display in a different order than it is read)`,
		}},
	}
	// Every bidirectional control character docs/language.md lists
	// ("Encoding").
	for _, r := range []rune{0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x200E, 0x200F, 0x061C} {
		tests = append(tests, struct {
			name string
			src  string
			want []string
		}{fmt.Sprintf("U+%04X", r), "flow A { trigger rpc \"a" + string(r) + "\" }",
			[]string{fmt.Sprintf(`1:24: bidirectional control character U+%04X (hint: remove it: it makes the text display in a different order than it is read)`, r)}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Parse("test.flow", []byte(tt.src))
			var got []string
			for _, d := range diags {
				got = append(got, errString(d))
				checkPos(t, []byte(tt.src), d.Range.Start)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCRLF(t *testing.T) {
	src := "// Doc.\r\nflow A {\r\n    step B { irreversible } // end\r\n}\r\n"
	f, diags := Parse("crlf.flow", []byte(src))
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if got := f.Flows[0].Leading[0].Text; got != "// Doc." {
		t.Errorf("comment text %q: the \\r must not be part of it", got)
	}
	want := "// Doc.\nflow A {\n    step B {\n        irreversible\n    } // end\n}\n"
	if got := string(Format(f)); got != want {
		t.Errorf("Format:\n%s\nwant:\n%s", got, want)
	}
}

// A byte order mark at the start of the file, which editors on Windows
// write, is skipped: columns count from after it, as the editor shows the
// text, offsets are those of the file on disk, and Format drops it.
// Anywhere else it stays an error.
func TestLeadingBOM(t *testing.T) {
	src := "\uFEFF// Doc.\nflow A {\n    step B {\n        irreversible\n    }\n}\n"
	f, diags := Parse("bom.flow", []byte(src))
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if got := f.Flows[0].Leading[0].Text; got != "// Doc." {
		t.Errorf("comment text %q", got)
	}
	if p := f.Comments[0].Pos; p.Line != 1 || p.Column != 1 || p.Offset != len("\uFEFF") {
		t.Errorf("the comment after the mark is at %d:%d (offset %d), want 1:1 (offset 3)", p.Line, p.Column, p.Offset)
	}
	// A diagnostic on line 1, one after it, and one from the check of the
	// bytes before lexing: all at the offset of the file, those on line 1
	// at the column after the mark.
	for _, src := range []string{"\uFEFFflow A { on }\n", "\uFEFFflow A {\n    step B { on ok -> }\n}\n", "\uFEFFflow A {\x00}\n"} {
		_, diags := Parse("bom.flow", []byte(src))
		if len(diags) != 1 {
			t.Fatalf("Parse(%q) = %v, want one error", src, diags)
		}
		checkPos(t, []byte(src), diags[0].Range.Start)
	}
	if want, got := src[len("\uFEFF"):], string(Format(f)); got != want {
		t.Errorf("Format:\n%q\nwant:\n%q", got, want)
	}
	for _, tt := range []struct{ src, want string }{
		{"flow A {\n    \uFEFFstep B { irreversible }\n}\n", `2:5: unexpected character '\ufeff'`},
		{"\uFEFF\uFEFFflow A {}\n", `1:1: unexpected character '\ufeff'`}, // only one mark is skipped
	} {
		_, diags := Parse("bom.flow", []byte(tt.src))
		if len(diags) != 1 || !strings.HasPrefix(errString(diags[0]), tt.want) {
			t.Errorf("Parse(%q) = %v, want %s", tt.src, diags, tt.want)
		}
	}
}

// Newlines mean nothing (docs/language.md, "Layout"), so a transition's
// target may be on the line after its "->", and fmt joins the two.
func TestTargetOnNextLine(t *testing.T) {
	src := "flow A {\n    step B {\n        irreversible\n        on ok ->\n            C\n    }\n    step C { irreversible }\n}\n"
	f, diags := Parse("next.flow", []byte(src))
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if on := f.Flows[0].Body[0].Step.Body[1].On; on == nil || on.Target.Value != "C" || on.Target.Pos.Line != 5 {
		t.Fatalf("the transition is %+v, want a target C on line 5", on)
	}
	if got, want := string(Format(f)), "flow A {\n    step B {\n        irreversible\n        on ok -> C\n    }\n\n    step C {\n        irreversible\n    }\n}\n"; got != want {
		t.Errorf("Format:\n%s\nwant:\n%s", got, want)
	}
}

func TestTooLarge(t *testing.T) {
	src := make([]byte, MaxFileSize+1)
	for i := range src {
		src[i] = ' '
	}
	_, diags := Parse("big.flow", src)
	if len(diags) != 1 {
		t.Fatalf("got %v, want one diagnostic", diags)
	}
	want := `1:1: file too large: 8388609 bytes, the limit is 8 MiB (hint: split the flows into several files)`
	if got := errString(diags[0]); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// The limit itself is accepted.
	if _, diags := Parse("big.flow", src[:MaxFileSize]); len(diags) > 0 {
		t.Errorf("a file of exactly MaxFileSize bytes: %v", diags)
	}
}

func TestTooManyTokens(t *testing.T) {
	defer func(n int) { maxTokens = n }(maxTokens)
	maxTokens = 1000
	// The parser stops at the first step, before the lexer's error.
	src := strings.Repeat("step A{}", 300) // four tokens each
	_, diags := Parse("many.flow", []byte(src))
	want := `1:1: expected "flow", found "step" (hint: a .flow file holds flow declarations: flow Name { ... })`
	if len(diags) != 1 || errString(diags[0]) != want {
		t.Fatalf("got %v\nwant %s", diags, want)
	}
	// Token 1001 is the "A" of step 249 (from 0): 3 tokens, then 4 per step.
	src = "flow A {" + strings.Repeat("step A{}", 300) + "}"
	_, diags = Parse("many.flow", []byte(src))
	want = fmt.Sprintf(`1:%d: file too large: more than 1000 tokens (hint: split the flows into several files)`, len("flow A {")+8*249+6)
	if len(diags) != 1 || errString(diags[0]) != want {
		t.Fatalf("got %v\nwant %s", diags, want)
	}
	src = "flow A {" + strings.Repeat("step A{}", 249) + "}"
	if _, diags := Parse("many.flow", []byte(src)); len(diags) > 0 {
		t.Fatalf("1000 tokens: %v", diags)
	}
}

// TestDeepNesting: the grammar nests only file > flow > step > statement, so
// a pathological input cannot make the parser recurse; it stops at the
// first brace that cannot be there.
func TestDeepNesting(t *testing.T) {
	src := "flow A { step B " + strings.Repeat("{ ", 200_000)
	_, diags := Parse("deep.flow", []byte(src))
	want := `1:19: expected step statement or "}", found "{" (hint: a step holds rpc, await, publish, sleep, choose, call, retry, timeout, deadline, rollback, irreversible, outcomes, writes and on statements)`
	if len(diags) != 1 || errString(diags[0]) != want {
		t.Errorf("got %v\nwant %s", diags, want)
	}
	src = strings.Repeat("flow A {", 200_000)
	_, diags = Parse("deep.flow", []byte(src))
	want = `1:9: expected flow statement or "}", found "flow" (hint: flows do not nest: is the "}" of the flow opened at line 1 missing?)`
	if len(diags) != 1 || errString(diags[0]) != want {
		t.Errorf("got %v\nwant %s", diags, want)
	}
}

func TestEmptyInput(t *testing.T) {
	for _, src := range []string{"", "\n\n", "   ", "// only a comment\n"} {
		f, diags := Parse("empty.flow", []byte(src))
		if len(diags) > 0 || f == nil || len(f.Flows) != 0 {
			t.Errorf("Parse(%q) = %v, %v: want an empty File", src, f, diags)
		}
	}
}

// TestPositions checks Pos and EndPos: EndPos is just after the node's
// last token, not where the next one starts; statements span their keyword.
func TestPositions(t *testing.T) {
	src := "flow Pay {\n" +
		"    retry 3 backoff 1s..2s\n" +
		"    step Charge {\n" +
		"        rpc pay \"P.Charge\" (Amount) -> ID // c\n" +
		"        on ok -> done\n" +
		"    }\n" +
		"}\n"
	f, diags := Parse("pos.flow", []byte(src))
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	span := func(start, end lexer.Position) string {
		return fmt.Sprintf("%d:%d-%d:%d", start.Line, start.Column, end.Line, end.Column)
	}
	tok := func(t *Token) string { return span(t.Pos, End(t)) }
	fl := f.Flows[0]
	retry := fl.Body[0]
	step := fl.Body[1]
	rpc := step.Step.Body[0]
	on := step.Step.Body[1]
	got := map[string]string{
		"file":         span(f.Pos, f.EndPos),
		"flow":         span(fl.Pos, fl.EndPos),
		"flow name":    tok(fl.Name),
		"retry stmt":   span(retry.Pos, retry.EndPos),
		"retry":        span(retry.Retry.Pos, retry.EndPos),
		"backoff max":  tok(retry.Retry.Backoff.Max),
		"step stmt":    span(step.Pos, step.EndPos),
		"step":         span(step.Step.Pos, step.Step.EndPos),
		"rpc stmt":     span(rpc.Pos, rpc.EndPos),
		"rpc":          span(rpc.RPC.Pos, rpc.EndPos),
		"rpc endpoint": tok(rpc.RPC.Endpoint),
		"rpc response": tok(rpc.RPC.Response),
		"on stmt":      span(on.Pos, on.EndPos),
		"on target":    tok(on.On.Target),
	}
	want := map[string]string{
		"file":         "1:1-7:2",
		"flow":         "1:1-7:2",
		"flow name":    "1:6-1:9",
		"retry stmt":   "2:5-2:27",
		"retry":        "2:11-2:27",
		"backoff max":  "2:25-2:27",
		"step stmt":    "3:5-6:6",
		"step":         "3:10-6:6",
		"rpc stmt":     "4:9-4:42",
		"rpc":          "4:13-4:42",
		"rpc endpoint": "4:17-4:27",
		"rpc response": "4:40-4:42",
		"on stmt":      "5:9-5:22",
		"on target":    "5:18-5:22",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("positions (-want +got):\n%s", diff)
	}
	if fl.Name.Pos.Filename != "pos.flow" || fl.Name.Pos.Offset != 5 {
		t.Errorf("flow name position %+v: want file pos.flow, offset 5", fl.Name.Pos)
	}
}

// TestComments checks where each comment is attached.
func TestComments(t *testing.T) {
	src := `// header

// Doc of A.
flow A { // open A
    // lead state
    state S // trail state
    step B { // open B
        // lead retry
        retry 3 // a
            backoff 1s..2s // b
        // footer B
    } // trail B

    // lead C

    step C {}
    // footer A
} // trail A
// file footer
`
	f, diags := Parse("c.flow", []byte(src))
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	texts := func(cs []*Comment) []string {
		var out []string
		for _, c := range cs {
			out = append(out, fmt.Sprintf("%s blank=%v", c.Text, c.BlankBefore))
		}
		return out
	}
	text := func(c *Comment) string {
		if c == nil {
			return ""
		}
		return c.Text
	}
	a := f.Flows[0]
	state, b, c := a.Body[0], a.Body[1], a.Body[2]
	retry := b.Step.Body[0]
	got := map[string]any{
		"A leading":       texts(a.Leading),
		"A blank":         a.BlankBefore,
		"A open":          text(a.Open),
		"A footer":        texts(a.Footer),
		"A trailing":      text(a.Trailing),
		"state leading":   texts(state.Leading),
		"state trailing":  text(state.Trailing),
		"B open":          text(b.Step.Open),
		"B footer":        texts(b.Step.Footer),
		"B trailing":      text(b.Trailing),
		"retry leading":   texts(retry.Leading),
		"retry trailing":  text(retry.Trailing),
		"C leading":       texts(c.Leading),
		"C blank":         c.BlankBefore,
		"file footer":     texts(f.Footer),
		"comments in all": len(f.Comments),
	}
	want := map[string]any{
		"A leading":       []string{"// header blank=false", "// Doc of A. blank=true"},
		"A blank":         false,
		"A open":          "// open A",
		"A footer":        []string{"// footer A blank=false"},
		"A trailing":      "// trail A",
		"state leading":   []string{"// lead state blank=false"},
		"state trailing":  "// trail state",
		"B open":          "// open B",
		"B footer":        []string{"// footer B blank=false"},
		"B trailing":      "// trail B",
		"retry leading":   []string{"// lead retry blank=false"},
		"retry trailing":  "// a // b",
		"C leading":       []string{"// lead C blank=true"},
		"C blank":         true,
		"file footer":     []string{"// file footer blank=false"},
		"comments in all": 15,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("attached comments (-want +got):\n%s", diff)
	}
}

// tokenAt finds the token at an offset (the first at or after it, else the
// last) by a search, as every parse calls it per transition and field.
func TestTokenAt(t *testing.T) {
	toks := []lexer.Token{{Pos: lexer.Position{Offset: 0}}, {Pos: lexer.Position{Offset: 5}}, {Pos: lexer.Position{Offset: 9}}, {Pos: lexer.Position{Offset: 9}}}
	for _, c := range []struct{ offset, want int }{{0, 0}, {1, 1}, {5, 1}, {6, 2}, {9, 2}, {10, 3}, {100, 3}} {
		if got := tokenAt(toks, c.offset); got != c.want {
			t.Errorf("tokenAt(%d) = %d, want %d", c.offset, got, c.want)
		}
	}
}
