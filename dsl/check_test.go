package dsl

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/diag"
)

// doc wraps flow objects into a JSON document.
func doc(flows ...string) string {
	return `{"version": 1, "flows": [` + strings.Join(flows, ",") + `]}`
}

// flow builds a flow object with the given extra fields and steps.
func flow(name, extra string, steps ...string) string {
	if extra != "" {
		extra += ","
	}
	return fmt.Sprintf(`{"name": %q, %s "steps": [%s]}`, name, extra, strings.Join(steps, ","))
}

// step builds a step object; body holds the fields after the name.
func step(name, body string) string {
	if body == "" {
		body = `"action": {"kind": "go"}, "irreversible": true`
	}
	return fmt.Sprintf(`{"name": %q, %s}`, name, body)
}

// goStep is an irreversible Go step with extra fields.
func goStep(name, extra string) string {
	if extra != "" {
		extra = ", " + extra
	}
	return step(name, `"action": {"kind": "go"}, "irreversible": true`+extra)
}

// format renders a diagnostic as "<path>: <severity> <code>: <message> [hint: <hint>]".
func format(d diag.Diagnostic) string {
	s := fmt.Sprintf("%s: %s %s: %s", d.Range.Start.Path, d.Severity, d.Code, d.Message)
	if d.Hint != "" {
		s += " [hint: " + d.Hint + "]"
	}
	return s
}

func decodeOK(t *testing.T, src string) *File {
	t.Helper()
	f, ds := DecodeJSON("t.json", []byte(src))
	if len(ds) > 0 {
		t.Fatalf("DecodeJSON: %v\n%s", ds.Err(), src)
	}
	return f
}

func checkStrings(t *testing.T, src string, opts CheckOptions) []string {
	t.Helper()
	ds := Check(decodeOK(t, src), opts)
	ds.Sort()
	var out []string
	for _, d := range ds {
		if !d.Range.Start.IsValid() {
			t.Errorf("diagnostic without a position: %v", d)
		}
		if d.Code == "" {
			t.Errorf("diagnostic without a code: %v", d)
		}
		out = append(out, format(d))
	}
	return out
}

func TestCheck(t *testing.T) {
	const rpc = `"action": {"kind": "rpc", "service": "s", "endpoint": "S.Do"}`
	tests := []struct {
		name string
		src  string
		opts CheckOptions
		want []string
	}{
		{
			name: "clean",
			src: doc(flow("Signup", `"state": "SignupState", "triggers": [{"kind": "schedule", "schedule": "0 3 * * *"}, {"kind": "schedule", "schedule": "@every 1h"}, {"kind": "schedule", "schedule": "@daily"}, {"kind": "rpc", "endpoint": "Signup.Start"}]`,
				step("Create", rpc+`, "rollback": {"name": "Undo"}`),
				step("Wait", `"action": {"kind": "await", "topic": "t", "event": "e", "timeout": "1h"}, "on": [{"on": "timeout", "target": "Expire"}]`),
				goStep("Review", `"outcomes": ["approved", "rejected"], "on": [{"on": "approved", "target": "done"}, {"on": "rejected", "target": "fail"}]`),
				goStep("Expire", `"on": [{"on": "ok", "target": "fail"}]`))),
		},
		{
			// Every name is held to the limits of names, whatever else is
			// wrong (the await has no timeout), outcomes and fields too;
			// a name too long to be valid is quoted cut (diag.Quote).
			name: "name limits",
			src: doc(flow("F", `"state": "S"`,
				step("W"+strings.Repeat("x", 300), `"action": {"kind": "await", "topic": "t", "event": "e", "response": "Pay\u200bload"}`),
				goStep("G", `"outcomes": ["`+strings.Repeat("o", 129)+`"], "on": [{"on": "`+strings.Repeat("o", 129)+`", "target": "done"}]`))),
			want: []string{
				`$.flows[0].steps[0].action: error await-no-timeout: await in step "W` + strings.Repeat("x", 199) + `"... has no timeout: a run could wait forever [hint: add ` + "`timeout <duration>`" + ` to the await line, such as ` + "`timeout 72h`" + `, and handle it with ` + "`on timeout -> <Step>`" + `]`,
				`$.flows[0].steps[0].action.response: error name-limit: state field "Pay\u200bload" contains the invisible format character U+200B (a bidirectional override or a zero-width character), which would show the name as another [hint: names are at most 128 bytes of UTF-8 without control or format characters]`,
				`$.flows[0].steps[0].name: error name-limit: step name "W` + strings.Repeat("x", 31) + `"... is 301 bytes long, longer than 128 [hint: names are at most 128 bytes of UTF-8 without control or format characters]`,
				`$.flows[0].steps[1].on[0].on: error name-limit: outcome "` + strings.Repeat("o", 32) + `"... is 129 bytes long, longer than 128 [hint: names are at most 128 bytes of UTF-8 without control or format characters]`,
				`$.flows[0].steps[1].outcomes[0]: error name-limit: outcome "` + strings.Repeat("o", 32) + `"... is 129 bytes long, longer than 128 [hint: names are at most 128 bytes of UTF-8 without control or format characters]`,
			},
		},
		{
			// The engine's topics of provider waits are no flow's: not
			// an await's, a trigger's or a publication's.
			name: "reserved topics",
			src: doc(flow("F", `"state": "S", "triggers": [{"kind": "event", "topic": "flowgen/provider", "event": "e"}]`,
				step("W", `"action": {"kind": "await", "topic": "flowgen/provider-rollback", "event": "Undo", "timeout": "1m"}`),
				goStep("P", `"publish": [{"topic": "flowgen/provider", "event": "P"}]`))),
			want: []string{
				`$.flows[0].steps[0].action: error reserved-topic: topic "flowgen/provider-rollback" is reserved for the engine's waits for a remote provider of a Go rollback [hint: use a topic of your own; the engine ends a wait on this one when a provider registers, not on an event]`,
				`$.flows[0].steps[1].publish[0]: error reserved-topic: topic "flowgen/provider" is reserved for the engine's waits for a remote provider of a Go step [hint: use a topic of your own; the engine ends a wait on this one when a provider registers, not on an event]`,
				`$.flows[0].triggers[0].topic: error reserved-topic: topic "flowgen/provider" is reserved for the engine's waits for a remote provider of a Go step [hint: use a topic of your own; the engine ends a wait on this one when a provider registers, not on an event]`,
			},
		},
		{
			name: "undefined target with suggestion",
			src:  doc(flow("F", "", goStep("Activate", ""), goStep("B", `"on": [{"on": "ok", "target": "Activte"}]`))),
			want: []string{`$.flows[0].steps[1].on[0].target: error undefined-target: transition to undefined step "Activte" in step "B" [hint: did you mean "Activate"?]`},
		},
		{
			name: "undefined target done misspelt",
			src:  doc(flow("F", "", goStep("A", `"on": [{"on": "ok", "target": "dne"}]`))),
			want: []string{`$.flows[0].steps[0].on[0].target: error undefined-target: transition to undefined step "dne" in step "A" [hint: did you mean "done"?]`},
		},
		{
			name: "undefined target without suggestion",
			src:  doc(flow("F", "", goStep("A", `"on": [{"on": "ok", "target": "Zzzzzz"}]`))),
			want: []string{`$.flows[0].steps[0].on[0].target: error undefined-target: transition to undefined step "Zzzzzz" in step "A" [hint: a target is a step of flow "F", done or fail]`},
		},
		{
			name: "undefined outcomes",
			src: doc(flow("F", "",
				goStep("A", `"outcomes": ["approved"], "on": [{"on": "aproved", "target": "done"}, {"on": "timeout", "target": "fail"}, {"on": "other", "target": "done"}]`),
				step("B", rpc+`, "irreversible": true, "on": [{"on": "rejected", "target": "fail"}]`))),
			want: []string{
				`$.flows[0].steps[0].on[0].on: error undefined-outcome: step "A" cannot end with outcome "aproved": its outcomes are ok, error, approved [hint: did you mean "approved"?]`,
				`$.flows[0].steps[0].on[1].on: error undefined-outcome: step "A" has no timeout or deadline, so it cannot end with outcome "timeout" [hint: add ` + "`timeout <duration>` or `deadline <duration>`" + ` to the step (or to the flow), or remove this transition]`,
				`$.flows[0].steps[0].on[2].on: error undefined-outcome: step "A" cannot end with outcome "other": its outcomes are ok, error, approved [hint: declare it with ` + "`outcomes other`" + `]`,
				`$.flows[0].steps[1].on[0].on: error undefined-outcome: step "B" cannot end with outcome "rejected": its outcomes are ok, error [hint: only Go steps can declare outcomes of their own]`,
			},
		},
		{
			// A deadline ends a step that works with the outcome timeout
			// (it cuts an attempt short, or leaves no time for a retry),
			// and so a block whose branch has one: both may route it.
			name: "a deadline routes timeout",
			src: doc(flow("F", `"state": "S"`,
				goStep("A", `"deadline": "1m", "on": [{"on": "timeout", "target": "Late"}]`),
				`{"name": "P", "parallel": {"branches": [`+step("B", rpc+`, "deadline": "1m", "irreversible": true`)+`]}, "on": [{"on": "timeout", "target": "Late"}]}`,
				goStep("Late", `"on": [{"on": "ok", "target": "fail"}]`))),
		},
		{
			// The calling flow is no candidate for a misspelt callee: a
			// flow that calls itself is a call-cycle error.
			name: "misspelt callee near the caller's name",
			src: doc(flow("A", `"state": "S"`,
				step("S", `"action": {"kind": "call", "flow": "B"}, "irreversible": true`))),
			want: []string{`$.flows[0].steps[0].action.flow: error call-flow: step "S" calls flow "B", which this file does not declare [hint: a call runs a flow declared in the same file: declare flow B, or call one of its flows]`},
		},
		{
			name: "rollback call with a response",
			src: doc(flow("F", `"state": "S"`,
				step("A", `"action": {"kind": "call", "flow": "G", "request": "X", "response": "X"}, "rollback": {"action": {"kind": "call", "flow": "G", "request": "X", "response": "Y"}}`)),
				flow("G", `"state": "T"`, goStep("B", ""))),
			want: []string{"$.flows[0].steps[0].rollback.action.response: error call-rollback: rollback of step \"A\" calls flow G with `-> Y`, but a rollback call writes nothing back [hint: a rollback call passes its (Field) to the child and waits for it to end done; remove `-> Y`]"},
		},
		{
			// Each policy a call or a choose cannot have is reported at
			// its member, not at the step's name.
			name: "call and choose policies at their members",
			src: doc(flow("F", `"state": "S"`,
				step("Call", `"action": {"kind": "call", "flow": "G", "request": "X"}, "deadline": "1h", "irreversible": true`),
				step("Choose", `"action": {"kind": "choose", "when": [{"if": {"field": "B"}, "target": "done"}], "otherwise": "fail"}, "timeout": "1s", "irreversible": true`)),
				flow("G", `"state": "T"`, goStep("B", ""))),
			want: []string{
				"$.flows[0].steps[0].deadline: error call-policy: step \"Call\" calls flow G and has `deadline 1h`: a call has no attempt to bound, and a deadline would leave the child running after the step gave up [hint: remove it, and bound the steps of flow G (their timeouts and deadlines) instead]",
				"$.flows[0].steps[1].irreversible: error choose-only: step \"Choose\" chooses, so it cannot have `irreversible` [hint: remove it: a choose changes nothing, so it needs neither a rollback nor `irreversible`]",
				"$.flows[0].steps[1].timeout: error choose-only: step \"Choose\" chooses, so it cannot have a timeout [hint: a choose only decides where the run goes: it does no work to retry, bound, undo or publish, and its `when` and `otherwise` lines are its transitions; move this into a step of its own]",
			},
		},
		{
			// A call's retry retries what runs after the child ended (its
			// publications) and its rollback: with neither it retries
			// nothing, which is worth a warning; with either it is not.
			name: "call retry",
			src: doc(flow("F", `"state": "S"`,
				step("Idle", `"action": {"kind": "call", "flow": "G"}, "retry": {"attempts": 3}, "irreversible": true`),
				step("Publishes", `"action": {"kind": "call", "flow": "G"}, "retry": {"attempts": 3}, "irreversible": true, "publish": [{"topic": "t", "event": "e"}]`),
				step("Undone", `"action": {"kind": "call", "flow": "G"}, "retry": {"attempts": 3}, "rollback": {"name": "Undo"}`)),
				flow("G", `"state": "T"`, goStep("B", ""))),
			want: []string{
				"$.flows[0].steps[0].retry: warning call-policy: step \"Idle\" calls flow G and has retry 3, which never runs the child again: it retries only what runs after the child ended (publications) and the rollback, and the step has neither [hint: retry the steps of flow G instead]",
			},
		},
		{
			// A JSON call (or rollback call) of a flow with an empty name
			// names nothing: it is empty, not a flow to look for.
			name: "call of an empty flow name",
			src: doc(flow("F", `"state": "S"`,
				step("Call", `"action": {"kind": "call", "flow": ""}, "irreversible": true`),
				step("Undone", rpc+`, "rollback": {"action": {"kind": "call", "flow": " "}}`))),
			want: []string{
				`$.flows[0].steps[0].action.flow: error empty: empty flow in step "Call" [hint: name the flow]`,
				`$.flows[0].steps[1].rollback.action.flow: error empty: empty flow in rollback of step "Undone" [hint: name the flow]`,
			},
		},
		{
			// A flow that takes another's endpoint twice is told so once:
			// its second trigger is a duplicate-trigger.
			name: "rpc conflict of a repeated trigger",
			src: doc(flow("A", `"triggers": [{"kind": "rpc", "endpoint": "X.Start"}]`, goStep("S", "")),
				flow("B", `"triggers": [{"kind": "rpc", "endpoint": "X.Start"}, {"kind": "rpc", "endpoint": "X.Start"}]`, goStep("S", ""))),
			want: []string{
				`$.flows[1].triggers[0].endpoint: error rpc-conflict: flow "B" cannot take rpc endpoint "X.Start": flow "A" has it (at $.flows[0].triggers[0].endpoint) [hint: an rpc endpoint starts one flow: give one of them another endpoint]`,
				`$.flows[1].triggers[1]: error duplicate-trigger: duplicate rpc trigger in flow "B" (first at $.flows[1].triggers[0]) [hint: remove the repeated trigger]`,
			},
		},
		{
			name: "timeout outcome from the flow timeout",
			src:  doc(flow("F", `"timeout": "5s"`, goStep("A", `"on": [{"on": "timeout", "target": "done"}]`))),
		},
		{
			name: "duplicates",
			src: doc(
				flow("F", "", goStep("A", `"outcomes": ["x", "x", "ok"], "on": [{"on": "x", "target": "done"}, {"on": "x", "target": "fail"}]`), goStep("A", "")),
				flow("F", "", goStep("B", ""))),
			want: []string{
				`$.flows[0].steps[0].on[1].on: error duplicate-transition: duplicate transition for outcome "x" in step "A" (first at $.flows[0].steps[0].on[0]) [hint: keep one ` + "`on x -> ...`" + `; the first one wins]`,
				`$.flows[0].steps[0].outcomes[1]: error duplicate-outcome: duplicate outcome "x" in step "A" (first declared at $.flows[0].steps[0].outcomes[0]) [hint: remove the repeated outcome]`,
				`$.flows[0].steps[0].outcomes[2]: error duplicate-outcome: outcome "ok" is built in; do not declare it [hint: every step can end with ok and error, and with timeout when it has one]`,
				`$.flows[0].steps[1].name: error duplicate-step: duplicate step "A" (first declared at $.flows[0].steps[0].name) [hint: rename one of the steps; step names are unique within a flow]`,
				`$.flows[1].name: error duplicate-flow: duplicate flow "F" (first declared at $.flows[0].name) [hint: rename one of the flows]`,
			},
		},
		{
			// The runtime records a retried attempt with the outcome
			// retry, and Register refuses a step that routes it: a flow
			// that declared it would check, generate and compile, and its
			// constructor would fail.
			name: "reserved outcome",
			src:  doc(flow("F", "", goStep("A", `"outcomes": ["retry"], "on": [{"on": "retry", "target": "done"}]`))),
			want: []string{
				`$.flows[0].steps[0].outcomes[0]: error duplicate-outcome: outcome "retry" is reserved: the runtime records a retried attempt with it [hint: name the outcome otherwise, for example "again"]`,
			},
		},
		{
			name: "unreachable",
			src:  doc(flow("F", "", goStep("A", `"on": [{"on": "ok", "target": "C"}]`), goStep("B", ""), goStep("C", ""))),
			want: []string{`$.flows[0].steps[1].name: warning unreachable: step "B" is unreachable: no path from the first step "A" leads to it [hint: add a transition to it, such as ` + "`on ok -> B`" + ` in an earlier step, or remove it]`},
		},
		{
			name: "reachable only through error and a loop",
			src:  doc(flow("F", "", goStep("A", `"on": [{"on": "ok", "target": "done"}, {"on": "error", "target": "B"}]`), goStep("B", `"on": [{"on": "ok", "target": "A"}]`))),
			// Not unreachable; but A and B are a loop no wait slows down.
			want: []string{
				`$.flows[0].steps[0].name: warning loop: steps "A", "B" form a cycle with no wait in it: a run can go round it forever, recording events until its history bound fails it [hint: put a wait in the loop (` + "`sleep 30s`" + ` in a step of it, or an await), or give it a way out that its state reaches]`,
			},
		},
		{
			name: "no rollback",
			src: doc(flow("F", "",
				step("R", rpc),
				step("P", `"action": {"kind": "publish", "topic": "t", "event": "e"}`),
				step("G", `"action": {"kind": "go"}`),
				step("W", `"action": {"kind": "await", "topic": "t", "event": "e", "timeout": "1m"}`),
				step("WP", `"action": {"kind": "await", "topic": "t", "event": "e", "timeout": "1m"}, "publish": [{"topic": "t", "event": "x"}]`))),
			want: []string{
				`$.flows[0].steps[0].name: warning no-rollback: step "R" has side effects (an rpc) but neither a rollback nor ` + "`irreversible`" + ` [hint: add ` + "`rollback <Method>` or `rollback rpc ...`" + ` to undo it when a later step fails, or mark it ` + "`irreversible`" + `]`,
				`$.flows[0].steps[1].name: warning no-rollback: step "P" has side effects (a publish) but neither a rollback nor ` + "`irreversible`" + ` [hint: add ` + "`rollback <Method>` or `rollback rpc ...`" + ` to undo it when a later step fails, or mark it ` + "`irreversible`" + `]`,
				`$.flows[0].steps[2].name: warning no-rollback: step "G" has side effects (a Go step) but neither a rollback nor ` + "`irreversible`" + ` [hint: add ` + "`rollback <Method>` or `rollback rpc ...`" + ` to undo it when a later step fails, or mark it ` + "`irreversible`" + `]`,
				`$.flows[0].steps[4].name: warning no-rollback: step "WP" has side effects (a publication) but neither a rollback nor ` + "`irreversible`" + ` [hint: add ` + "`rollback <Method>` or `rollback rpc ...`" + ` to undo it when a later step fails, or mark it ` + "`irreversible`" + `]`,
			},
		},
		{
			name: "no rollback strict",
			src:  doc(flow("F", "", step("R", rpc+`, "on": [{"on": "ok", "target": "done"}]`), step("S", rpc+`, "rollback": {"action": {"kind": "rpc", "service": "s", "endpoint": "S.Undo"}}`))),
			opts: CheckOptions{StrictRollback: true},
			want: []string{
				`$.flows[0].steps[0].name: error no-rollback: step "R" has side effects (an rpc) but neither a rollback nor ` + "`irreversible`" + ` [hint: add ` + "`rollback <Method>` or `rollback rpc ...`" + ` to undo it when a later step fails, or mark it ` + "`irreversible`" + `]`,
				`$.flows[0].steps[1].name: warning unreachable: step "S" is unreachable: no path from the first step "R" leads to it [hint: add a transition to it, such as ` + "`on ok -> S`" + ` in an earlier step, or remove it]`,
			},
		},
		{
			name: "await without timeout and with retry",
			src: doc(flow("F", `"retry": {"attempts": 3}`,
				step("W", `"action": {"kind": "await", "topic": "t", "event": "e"}`),
				step("V", `"action": {"kind": "await", "topic": "t", "event": "e", "timeout": "1h"}, "retry": {"attempts": 2}`),
				step("X", `"action": {"kind": "await", "topic": "t", "event": "e", "timeout": "1h"}, "retry": {"attempts": 1}`),
				// The retry of a step with a rollback is the rollback's
				// policy too: not idle, no warning.
				step("U", `"action": {"kind": "await", "topic": "t", "event": "e", "timeout": "1h"}, "retry": {"attempts": 3}, "rollback": {"name": "Undo"}`),
				// Nor is that of a step that publishes: it retries the
				// publications.
				step("P", `"action": {"kind": "await", "topic": "t", "event": "e", "timeout": "1h"}, "retry": {"attempts": 3}, "publish": [{"topic": "mail", "event": "paid"}], "irreversible": true`))),
			want: []string{
				`$.flows[0].steps[0].action: error await-no-timeout: await in step "W" has no timeout: a run could wait forever [hint: add ` + "`timeout <duration>`" + ` to the await line, such as ` + "`timeout 72h`" + `, and handle it with ` + "`on timeout -> <Step>`" + `]`,
				`$.flows[0].steps[1].retry: warning await-retry: await in step "V" has retry 2, which never retries the wait: it retries only what runs after the event came (publications) and the rollback, and the step has neither [hint: remove the retry; to wait longer, lengthen the await's timeout]`,
			},
		},
		{
			// A sleep has no side effects: no rollback, no irreversible, no
			// warning. It takes none of the flow's policies; its retry
			// retries its publications. Its deadline bounds it, and is
			// the only way it can time out.
			name: "sleep clean",
			src: doc(flow("F", `"state": "S", "retry": {"attempts": 3}, "timeout": "10s", "deadline": "1m"`,
				step("Fixed", `"action": {"kind": "sleep", "duration": "336h"}`),
				step("Until", `"action": {"kind": "sleep", "until": "ReminderAt"}, "deadline": "720h", "on": [{"on": "timeout", "target": "Late"}]`),
				step("Bounded", `"action": {"kind": "sleep", "duration": "1h"}, "deadline": "2h", "on": [{"on": "timeout", "target": "fail"}]`),
				step("UntilFails", `"action": {"kind": "sleep", "until": "ReminderAt"}, "on": [{"on": "error", "target": "Late"}]`),
				step("PublishFails", `"action": {"kind": "sleep", "duration": "1h"}, "publish": [{"topic": "mail", "event": "late", "payload": "Contact"}], "irreversible": true, "on": [{"on": "error", "target": "Late"}]`),
				step("Publishes", `"action": {"kind": "sleep", "duration": "1h"}, "retry": {"attempts": 5, "initial": "1s", "max": "1m"}, "publish": [{"topic": "mail", "event": "reminder", "payload": "Contact"}], "irreversible": true`),
				goStep("Late", ""))),
		},
		{
			name: "sleep mistakes",
			src: doc(flow("F", `"state": "S"`,
				step("Both", `"action": {"kind": "sleep", "duration": "1h", "until": "At"}`),
				step("Neither", `"action": {"kind": "sleep"}`),
				step("Zero", `"action": {"kind": "sleep", "duration": "0s"}`),
				step("Empty", `"action": {"kind": "sleep", "until": ""}`),
				step("Timeout", `"action": {"kind": "sleep", "duration": "1h"}, "timeout": "5m"`),
				step("Short", `"action": {"kind": "sleep", "duration": "1h"}, "deadline": "1h"`),
				step("NoDeadline", `"action": {"kind": "sleep", "duration": "1h"}, "outcomes": ["late"], "on": [{"on": "timeout", "target": "fail"}]`),
				step("Publishes", `"action": {"kind": "sleep", "duration": "1h"}, "publish": [{"topic": "mail", "event": "reminder"}]`),
				// A sleep for a time with nothing to publish cannot fail.
				step("CannotFail", `"action": {"kind": "sleep", "duration": "1h"}, "deadline": "2h", "on": [{"on": "error", "target": "fail"}]`),
				// Its retry has nothing to retry; one with publications
				// retries them.
				step("Retried", `"action": {"kind": "sleep", "duration": "1h"}, "retry": {"attempts": 3}`),
				step("RetriedPublishes", `"action": {"kind": "sleep", "duration": "1h"}, "retry": {"attempts": 3}, "publish": [{"topic": "mail", "event": "reminder"}], "irreversible": true`))),
			want: []string{
				`$.flows[0].steps[0].action: error sleep: sleep in step "Both" has both a duration and an until field [hint: keep one: "duration" to wait a fixed time, "until" to wait until the time in a state field]`,
				`$.flows[0].steps[1].action: error sleep: sleep in step "Neither" waits no time [hint: sleep a duration above zero, such as ` + "`sleep 336h`" + `, or until a time.Time field of the state: ` + "`sleep until ReminderAt`" + `]`,
				`$.flows[0].steps[2].action.duration: error sleep: sleep in step "Zero" waits no time [hint: sleep a duration above zero, such as ` + "`sleep 336h`" + `, or until a time.Time field of the state: ` + "`sleep until ReminderAt`" + `]`,
				`$.flows[0].steps[3].action.until: error sleep: sleep in step "Empty" waits until an empty field name [hint: name the state field, a time.Time, that holds when the run wakes]`,
				`$.flows[0].steps[4].timeout: error sleep-timeout: step "Timeout" sleeps, so its ` + "`timeout 5m`" + ` has no attempt to bound [hint: bound the sleep with ` + "`deadline 5m`" + ` instead: the step ends with the outcome timeout when it passes]`,
				`$.flows[0].steps[5].deadline: warning sleep-deadline: step "Short" sleeps 1h, but its deadline is 1h: it always ends with the outcome timeout [hint: raise the deadline above 1h, or remove it]`,
				`$.flows[0].steps[6].on[0].on: error undefined-outcome: step "NoDeadline" has no deadline, so it cannot end with outcome "timeout" [hint: add ` + "`deadline <duration>`" + ` to the step to bound its sleep (the step ends with the outcome timeout when it passes), or remove this transition]`,
				`$.flows[0].steps[6].outcomes[0]: error outcomes-not-go: sleep step "NoDeadline" declares outcomes, but only a Go step can return them [hint: remove ` + "`outcomes`" + `; a sleep step ends with ok]`,
				`$.flows[0].steps[7].name: warning no-rollback: step "Publishes" has side effects (a publication) but neither a rollback nor ` + "`irreversible`" + ` [hint: add ` + "`rollback <Method>` or `rollback rpc ...`" + ` to undo it when a later step fails, or mark it ` + "`irreversible`" + `]`,
				`$.flows[0].steps[8].on[0].on: error undefined-outcome: step "CannotFail" is a sleep with nothing that can fail, so it cannot end with outcome "error": its outcomes are ok, timeout [hint: remove this transition; an abort or the run's history bound does not take it, but rolls the run back]`,
				`$.flows[0].steps[9].retry: warning sleep-retry: step "Retried" sleeps and publishes nothing, so its retry 3 has nothing to retry: a sleep is never retried [hint: remove the retry; to wait longer, sleep longer]`,
			},
		},
		{
			// The lines of a choose are tried in order: one that repeats
			// an earlier condition (as written, up to parentheses) never
			// decides.
			name: "choose repeats a condition",
			src: doc(flow("F", `"state": "S"`,
				step("Route", `"action": {"kind": "choose", "when": [`+
					`{"if": {"field": "Gold"}, "target": "A"}, `+
					`{"if": {"and": [{"field": "Gold"}, {"field": "Express"}]}, "target": "B"}, `+
					`{"if": {"field": "Gold"}, "target": "B"}, `+
					`{"if": {"and": [{"field": "Gold"}, {"field": "Express"}]}, "target": "A"}], "otherwise": "A"}`),
				step("A", `"action": {"kind": "go"}, "irreversible": true, "on": [{"on": "ok", "target": "done"}]`),
				step("B", `"action": {"kind": "go"}, "irreversible": true`))),
			want: []string{
				"$.flows[0].steps[0].action.when[2]: warning choose-repeat: `when Gold` in step \"Route\" repeats `when` number 1 of its choose, which takes every run that matches it: this line never decides [hint: remove this line, or change its condition]",
				"$.flows[0].steps[0].action.when[3]: warning choose-repeat: `when Gold and Express` in step \"Route\" repeats `when` number 2 of its choose, which takes every run that matches it: this line never decides [hint: remove this line, or change its condition]",
			},
		},
		{
			// A chain of ands (ors) compiles to one && (||): a condition
			// in it twice, or a field compared with == (!=) with two
			// values, is a mistake that go vet rejects in the generated
			// code; nested chains of the same operator are one chain.
			name: "condition repeats or contradicts itself in a chain",
			src: doc(flow("F", `"state": "S"`,
				step("Route", `"action": {"kind": "choose", "when": [`+
					`{"if": {"and": [{"field": "Gold"}, {"and": [{"field": "Express"}, {"field": "Gold"}]}]}, "target": "A"}, `+
					`{"if": {"and": [{"field": "C.Tier", "op": "==", "value": "a"}, {"field": "C.Tier", "op": "==", "value": "b"}]}, "target": "A"}, `+
					`{"if": {"or": [{"field": "N", "op": "!=", "value": 1}, {"not": {"field": "Gold"}}, {"field": "N", "op": "!=", "value": 2}]}, "target": "A"}, `+
					`{"if": {"or": [{"and": [{"field": "Gold"}, {"field": "N", "op": "==", "value": 1}]}, {"and": [{"field": "Gold"}, {"field": "N", "op": "==", "value": 2}]}]}, "target": "A"}, `+
					`{"if": {"and": [{"field": "N", "op": "!=", "value": 1}, {"field": "N", "op": "!=", "value": 2}, {"not": {"and": [{"field": "Gold"}, {"field": "Gold"}]}}]}, "target": "A"}], "otherwise": "A"}`),
				step("A", `"action": {"kind": "go"}, "irreversible": true`))),
			want: []string{
				"$.flows[0].steps[0].action.when[0].if.and[1].and[1]: error condition: `Gold` is written twice in one `and` of the choose in step \"Route\" [hint: remove the repeated condition: it adds nothing (and go vet rejects the Go it compiles to)]",
				"$.flows[0].steps[0].action.when[1].if.and[1]: error condition: `C.Tier == \"a\" and C.Tier == \"b\"` in step \"Route\" never holds: C.Tier has one value at a time [hint: did you mean `C.Tier == \"a\" or C.Tier == \"b\"`?]",
				"$.flows[0].steps[0].action.when[2].if.or[2]: error condition: `N != 1 or N != 2` in step \"Route\" always holds: N has one value at a time [hint: did you mean `N != 1 and N != 2`?]",
				"$.flows[0].steps[0].action.when[4].if.and[2].not.and[1]: error condition: `Gold` is written twice in one `and` of the choose in step \"Route\" [hint: remove the repeated condition: it adds nothing (and go vet rejects the Go it compiles to)]",
			},
		},
		{
			name: "sleep until without a state",
			src:  doc(flow("F", "", step("Wait", `"action": {"kind": "sleep", "until": "ReminderAt"}`))),
			want: []string{
				`$.flows[0].steps[0].action.until: error no-state: flow "F" names state field "ReminderAt" but declares no state type [hint: add ` + "`state FState`" + ` to the flow, naming a struct type of the Go package that has the field]`,
			},
		},
		{
			name: "retry budget",
			src: doc(flow("F", `"timeout": "10s", "deadline": "1m", "retry": {"attempts": 3, "initial": "1s", "max": "4s"}`,
				// 3 × 10s + 1s + 2s = 33s: fits.
				goStep("Fits", ""),
				// 5 × 10s + 1s + 2s + 4s + 4s = 61s: one second too many.
				goStep("Over", `"retry": {"attempts": 5}`),
				// The step's own deadline.
				goStep("Tight", `"timeout": "2s", "deadline": "1s"`))),
			want: []string{
				`$.flows[0].steps[1].retry: error retry-budget: retry schedule of step "Over" takes up to 1m1s (5 attempts × 10s timeout + 11s backoff), more than its deadline 1m [hint: raise the deadline to at least 1m1s, or lower the attempts, the timeout or the backoff]`,
				`$.flows[0].steps[2].name: error retry-budget: retry schedule of step "Tight" takes up to 9s (3 attempts × 2s timeout + 3s backoff), more than its deadline 1s [hint: raise the deadline to at least 9s, or lower the attempts, the timeout or the backoff]`,
			},
		},
		{
			// An await waits once, whatever its retry: the retries are of
			// what runs after the event, which has no timeout.
			name: "await retry budget",
			src: doc(flow("F", "",
				// 1h wait + no backoff fits 2h, though 3 × 1h would not.
				step("Fits", `"action": {"kind": "await", "topic": "t", "event": "e", "timeout": "1h"}, "retry": {"attempts": 3}, "deadline": "2h"`),
				step("Short", `"action": {"kind": "await", "topic": "t", "event": "e", "timeout": "1h"}, "deadline": "30m"`),
				// 1h wait + 1h + 2h of backoff.
				step("Backoff", `"action": {"kind": "await", "topic": "t", "event": "e", "timeout": "1h"}, "retry": {"attempts": 3, "initial": "1h", "max": "2h"}, "deadline": "2h"`))),
			want: []string{
				`$.flows[0].steps[0].retry: warning await-retry: await in step "Fits" has retry 3, which never retries the wait: it retries only what runs after the event came (publications) and the rollback, and the step has neither [hint: remove the retry; to wait longer, lengthen the await's timeout]`,
				`$.flows[0].steps[1].deadline: error retry-budget: await in step "Short" waits up to 1h (its timeout), more than its deadline 30m, which would end the wait first [hint: lower the await's timeout to at most 30m, or raise the deadline to at least 1h]`,
				`$.flows[0].steps[2].deadline: error retry-budget: await in step "Backoff" takes up to 4h (its 1h timeout, waited once, + 3h backoff between the retries of what runs after the event), more than its deadline 2h [hint: raise the deadline to at least 4h, or lower the await's timeout or the backoff]`,
				`$.flows[0].steps[2].retry: warning await-retry: await in step "Backoff" has retry 3, which never retries the wait: it retries only what runs after the event came (publications) and the rollback, and the step has neither [hint: remove the retry; to wait longer, lengthen the await's timeout]`,
			},
		},
		{
			name: "flow retry budget reported once",
			src: doc(flow("F", `"timeout": "10s", "deadline": "20s", "retry": {"attempts": 3}`,
				goStep("A", ""), goStep("B", ""), goStep("C", `"timeout": "1s"`),
				step("W", `"action": {"kind": "await", "topic": "t", "event": "e", "timeout": "1h"}`))),
			want: []string{
				`$.flows[0].retry: error retry-budget: retry schedule of flow "F" takes up to 30s (3 attempts × 10s timeout + 0s backoff), more than its deadline 20s [hint: raise the deadline to at least 30s, or lower the attempts, the timeout or the backoff]`,
			},
		},
		{
			name: "retry policy values",
			src: doc(flow("F", `"retry": {"attempts": 0, "initial": "5s", "max": "1s", "multiplier": 0.5}`,
				goStep("A", `"retry": {"attempts": 2, "max": "1s"}`))),
			want: []string{
				`$.flows[0].retry.attempts: error retry-attempts: retry of flow "F" has 0 attempts; it needs at least 1 [hint: write ` + "`retry 1`" + ` for a single try, or more to retry]`,
				`$.flows[0].retry.initial: error backoff-range: backoff of flow "F" starts at 5s, above its maximum 1s [hint: write the range as ` + "`backoff 1s..5s`" + `]`,
				`$.flows[0].retry.multiplier: error retry-multiplier: retry of flow "F" has multiplier 0.5; backoff must not shrink [hint: use a multiplier of 1 (constant backoff) or more; the default is 2]`,
				`$.flows[0].steps[0].retry.max: warning backoff-range: backoff of step "A" has a maximum 1s but no initial delay, so retries do not wait [hint: write ` + "`backoff <initial>..1s`" + `]`,
			},
		},
		{
			// A backoff, multiplier or jitter of a retry that makes one
			// attempt never applies: reported once, at the line that
			// writes it, not at the steps that inherit it.
			name: "retry once",
			src: doc(
				flow("Once", `"retry": {"attempts": 1, "initial": "100ms", "max": "5s"}`,
					goStep("A", ""), goStep("B", ""), goStep("C", "")),
				// B's own retry takes the flow's backoff and multiplier,
				// not its jitter, which B writes.
				flow("Used", `"retry": {"attempts": 1, "initial": "100ms", "max": "5s", "multiplier": 3, "jitter": "none"}`,
					goStep("A", ""), goStep("B", `"retry": {"attempts": 3, "jitter": "full"}`)),
				flow("Own", "",
					goStep("A", `"retry": {"attempts": 1, "multiplier": 3, "jitter": "full"}`),
					step("W", `"action": {"kind": "await", "topic": "t", "event": "e", "timeout": "1h"}, "retry": {"attempts": 1, "initial": "1s", "max": "2s"}, "irreversible": true`),
					goStep("Fine", `"retry": {"attempts": 2, "initial": "1s", "max": "2s"}`),
					goStep("Plain", `"retry": {"attempts": 1}`))),
			want: []string{
				`$.flows[0].retry: warning retry-once: retry of flow "Once" makes 1 attempt, and no step with a retry of its own takes its backoff, so it never applies [hint: remove the backoff, or make more attempts, such as ` + "`retry 3`" + `; a step's own ` + "`retry N`" + ` takes the flow's backoff when it writes none]`,
				`$.flows[1].retry: warning retry-once: retry of flow "Used" makes 1 attempt, and no step with a retry of its own takes its jitter, so it never applies [hint: remove the jitter, or make more attempts, such as ` + "`retry 3`" + `; a step's own ` + "`retry N`" + ` takes the flow's jitter when it writes none]`,
				`$.flows[2].steps[0].retry: warning retry-once: retry of step "A" makes 1 attempt, so its multiplier and jitter never apply: nothing is retried [hint: remove the multiplier and jitter, or make more attempts, such as ` + "`retry 3`" + `]`,
				`$.flows[2].steps[1].retry: warning retry-once: retry of step "W" makes 1 attempt, so its backoff never applies: nothing is retried [hint: remove the backoff, or make more attempts, such as ` + "`retry 3`" + `]`,
			},
		},
		{
			name: "schedules",
			src: doc(flow("F", `"triggers": [
				{"kind": "schedule", "schedule": "0 3 * *"},
				{"kind": "schedule", "schedule": "@every 0s"},
				{"kind": "schedule", "schedule": "@every soon"},
				{"kind": "schedule", "schedule": "TZ=UTC"},
				{"kind": "schedule", "schedule": "@fortnightly"},
				{"kind": "schedule", "schedule": "61 * * * *"},
				{"kind": "schedule", "schedule": "CRON_TZ=UTC 0 3 * * *"},
				{"kind": "rpc", "endpoint": "F.Start"},
				{"kind": "rpc", "endpoint": "F.Start"}]`, goStep("A", ""))),
			want: []string{
				`$.flows[0].triggers[0].schedule: error cron: invalid schedule "0 3 * *": expected exactly 5 fields, found 4 [hint: use a 5-field cron expression such as "0 3 * * *" (minute hour day-of-month month day-of-week), a descriptor such as "@daily", or "@every 1h"]`,
				`$.flows[0].triggers[1].schedule: error cron: invalid schedule "@every 0s": @every needs at least 1s, found 0s [hint: use a 5-field cron expression such as "0 3 * * *" (minute hour day-of-month month day-of-week), a descriptor such as "@daily", or "@every 1h"]`,
				`$.flows[0].triggers[2].schedule: error cron: invalid schedule "@every soon": invalid duration "soon": want Go syntax such as 90s or 1h30m [hint: use a 5-field cron expression such as "0 3 * * *" (minute hour day-of-month month day-of-week), a descriptor such as "@daily", or "@every 1h"]`,
				`$.flows[0].triggers[3].schedule: error cron: invalid schedule "TZ=UTC": no schedule after the time zone [hint: use a 5-field cron expression such as "0 3 * * *" (minute hour day-of-month month day-of-week), a descriptor such as "@daily", or "@every 1h"]`,
				`$.flows[0].triggers[4].schedule: error cron: invalid schedule "@fortnightly": unknown descriptor: want @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every [hint: use a 5-field cron expression such as "0 3 * * *" (minute hour day-of-month month day-of-week), a descriptor such as "@daily", or "@every 1h"]`,
				`$.flows[0].triggers[5].schedule: error cron: invalid schedule "61 * * * *": minute "61": end of range (61) above maximum (59) [hint: use a 5-field cron expression such as "0 3 * * *" (minute hour day-of-month month day-of-week), a descriptor such as "@daily", or "@every 1h"]`,
				`$.flows[0].triggers[8]: error duplicate-trigger: duplicate rpc trigger in flow "F" (first at $.flows[0].triggers[7]) [hint: remove the repeated trigger]`,
			},
		},
		{
			// It checked clean, and gen wrote a Go file with nothing in it.
			name: "no flow",
			src:  `{"version": 1, "flows": []}`,
			want: []string{`$: error no-flow: no flow declared in t.json [hint: add one to "flows", such as {"name": "Name", "steps": [...]}]`},
		},
		{
			name: "empty flow",
			src:  doc(flow("F", "")),
			want: []string{`$.flows[0].name: error empty-flow: flow "F" has no steps [hint: add a step, such as ` + "`step DoSomething { rpc service \"Service.Method\" }`" + `]`},
		},
		{
			name: "fields without state",
			src:  doc(flow("F", "", step("A", `"action": {"kind": "rpc", "service": "s", "endpoint": "S.Do", "request": "Req"}, "irreversible": true`))),
			want: []string{`$.flows[0].steps[0].action.request: error no-state: flow "F" names state field "Req" but declares no state type [hint: add ` + "`state FState`" + ` to the flow, naming a struct type of the Go package that has the field]`},
		},
		{
			name: "rollback contradictions and names",
			src: doc(flow("F", "",
				step("A", `"action": {"kind": "go"}, "irreversible": true, "rollback": {"name": "UndoA"}`),
				step("B", `"action": {"kind": "go"}, "rollback": {"name": "A"}`),
				step("C", `"action": {"kind": "go"}, "rollback": {"name": "UndoA"}`))),
			want: []string{
				`$.flows[0].steps[0].rollback: error irreversible-rollback: step "A" is marked irreversible but has a rollback [hint: remove ` + "`irreversible`" + ` if the rollback undoes the step, or remove the rollback]`,
				`$.flows[0].steps[1].rollback.name: error rollback-name: rollback "A" has the same name as step "A" ($.flows[0].steps[0].name) [hint: a Go rollback is a handler method of its own; rename it, for example to "UndoB"]`,
			},
		},
		{
			name: "outcomes on an rpc step",
			src:  doc(flow("F", "", step("A", rpc+`, "irreversible": true, "outcomes": ["maybe"]`))),
			want: []string{`$.flows[0].steps[0].outcomes[0]: error outcomes-not-go: rpc step "A" declares outcomes, but only a Go step can return them [hint: remove ` + "`outcomes`" + `; an rpc step ends with ok or error]`},
		},
		{
			// A Go step given a publish line is a publish step: the hint
			// says so, rather than only to drop the outcomes.
			name: "outcomes on a publish step",
			src:  doc(flow("F", "", step("A", `"action": {"kind": "publish", "topic": "t", "event": "e"}, "irreversible": true, "outcomes": ["approved"]`))),
			want: []string{`$.flows[0].steps[0].outcomes[0]: error outcomes-not-go: publish step "A" declares outcomes, but only a Go step can return them [hint: a step whose only action is ` + "`publish`" + ` publishes and does nothing else, so a Go step cannot publish: keep the Go step with its outcomes and publish in a step after it, or remove ` + "`outcomes`" + `]`},
		},
		{
			name: "empty strings",
			src: doc(flow("F", `"triggers": [{"kind": "event", "topic": "", "event": "e"}]`,
				step("A", `"action": {"kind": "rpc", "service": " ", "endpoint": "S.Do"}, "irreversible": true, "publish": [{"topic": "t", "event": ""}]`))),
			want: []string{
				`$.flows[0].steps[0].action: error empty: empty service in step "A" [hint: name the service]`,
				`$.flows[0].steps[0].publish[0]: error empty: empty event in publication of step "A" [hint: name the event]`,
				`$.flows[0].triggers[0].topic: error empty: empty topic in event trigger [hint: name the topic]`,
			},
		},
		{
			name: "names",
			src: doc(
				flow("signup", `"state": "string"`, goStep("create", ""), goStep("Go-Ahead", `"outcomes": ["ok-ish"]`), step("B", `"action": {"kind": "go"}, "rollback": {"name": "undo"}`)),
				flow("Type", `"state": "runtime"`, goStep("A", "")),
				flow("Fx", `"state": "FxStepA"`, goStep("A", ""), goStep("Handlers", "")),
				flow("FxStep", `"state": "Fx"`, goStep("B", "")),
				flow("", "", goStep("A", ""))),
			want: []string{
				`$.flows[0].name: error name: flow name "signup" must start with an upper-case letter: it names exported Go types [hint: rename it to "Signup"]`,
				`$.flows[0].state: error name: state type "string" is a predeclared Go identifier, not a struct type of the package [hint: declare a struct type, such as signupState, and name it here]`,
				`$.flows[0].steps[0].name: error name: step name "create" must start with an upper-case letter: it names a Go constant and, for a Go step, a handler method [hint: rename it to "Create"]`,
				`$.flows[0].steps[1].name: error name: step name "Go-Ahead" is not a valid Go identifier [hint: use letters, digits and underscores, starting with an upper-case letter]`,
				`$.flows[0].steps[1].outcomes[0]: error name: outcome name "ok-ish" is not an identifier [hint: use letters, digits and underscores, not starting with a digit]`,
				`$.flows[0].steps[2].rollback.name: error name: rollback name "undo" must start with an upper-case letter: it names a handler method [hint: rename it to "Undo"]`,
				`$.flows[2].state: error name-collision: state type "FxStepA" collides with the generated step constant of step "A" in flow "Fx" ($.flows[2].steps[0].name) [hint: rename the state type or the flow/step]`,
				`$.flows[3].name: error name-collision: generated Go name "FxStepHandlers" for the handler interface of flow "FxStep" collides with the step constant of step "Handlers" in flow "Fx" ($.flows[2].steps[1].name) [hint: rename one of them so that the generated names differ]`,
				`$.flows[4].name: error name: flow has no name [hint: give the flow a name starting with an upper-case letter]`,
			},
		},
		{
			name: "correlation paths",
			src: doc(flow("F", `"state": "S"`,
				step("Good", `"action": {"kind": "await", "topic": "t", "event": "e", "correlate": "ID", "correlate_on": "payment.order_id", "timeout": "1h"}`),
				step("Empty", `"action": {"kind": "await", "topic": "t", "event": "e", "correlate": "ID", "correlate_on": "", "timeout": "1h"}`),
				step("Dots", `"action": {"kind": "await", "topic": "t", "event": "e", "correlate": "ID", "correlate_on": "payment..order_id", "timeout": "1h"}`),
				step("Trailing", `"action": {"kind": "await", "topic": "t", "event": "e", "correlate": "ID", "correlate_on": "order_id.", "timeout": "1h"}`),
				step("Space", `"action": {"kind": "await", "topic": "t", "event": "e", "correlate": "ID", "correlate_on": "order id", "timeout": "1h"}`),
				step("Control", `"action": {"kind": "await", "topic": "t", "event": "e", "correlate": "ID", "correlate_on": "order\u0001id", "timeout": "1h"}`),
				step("Alone", `"action": {"kind": "await", "topic": "t", "event": "e", "correlate_on": "order_id", "timeout": "1h"}`))),
			want: []string{
				`$.flows[0].steps[1].action.correlate_on: error correlate-path: await in step "Empty" correlates on "", which is not a payload path: it is empty [hint: write the JSON object members from the top of the payload down, separated by dots, such as ` + "`on order_id` or `on \"payment.order_id\"`" + `]`,
				`$.flows[0].steps[2].action.correlate_on: error correlate-path: await in step "Dots" correlates on "payment..order_id", which is not a payload path: it has an empty member (a dot at either end, or two in a row) [hint: write the JSON object members from the top of the payload down, separated by dots, such as ` + "`on order_id` or `on \"payment.order_id\"`" + `]`,
				`$.flows[0].steps[3].action.correlate_on: error correlate-path: await in step "Trailing" correlates on "order_id.", which is not a payload path: it has an empty member (a dot at either end, or two in a row) [hint: write the JSON object members from the top of the payload down, separated by dots, such as ` + "`on order_id` or `on \"payment.order_id\"`" + `]`,
				`$.flows[0].steps[4].action.correlate_on: error correlate-path: await in step "Space" correlates on "order id", which is not a payload path: it contains white space [hint: write the JSON object members from the top of the payload down, separated by dots, such as ` + "`on order_id` or `on \"payment.order_id\"`" + `]`,
				`$.flows[0].steps[5].action.correlate_on: error correlate-path: await in step "Control" correlates on "order\x01id", which is not a payload path: it contains a control character [hint: write the JSON object members from the top of the payload down, separated by dots, such as ` + "`on order_id` or `on \"payment.order_id\"`" + `]`,
				`$.flows[0].steps[6].action.correlate_on: error correlate-path: await in step "Alone" has a correlation path "order_id" but no correlate field [hint: name the state field the path is compared with ("correlate" in JSON, ` + "`correlate Field on path`" + ` in .flow), or remove the path]`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkStrings(t, tt.src, tt.opts)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDidYouMean(t *testing.T) {
	cands := []string{"Activate", "CreateCustomer", "done", "fail", "Ab"}
	for name, want := range map[string]string{
		"Activte":         "Activate", // deletion
		"Actviate":        "Activate", // transposition
		"activate":        "Activate", // case only
		"CreateCustmoer":  "CreateCustomer",
		"CreatCustomr":    "CreateCustomer",
		"dne":             "done",
		"Zzz":             "",
		"bA":              "Ab",
		"CompletelyOther": "",
	} {
		if got := diag.DidYouMean(name, cands); got != want {
			t.Errorf("diag.DidYouMean(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestCheckNilBranch: a model built by hand may hold a nil branch, as it
// may hold a nil step; Check skips it (it read the branch's name first, and
// panicked).
func TestCheckNilBranch(t *testing.T) {
	f := &Flow{Name: "F", Steps: []*Step{{Name: "P", Parallel: &Parallel{Branches: []*Step{nil, {Name: "B", Irreversible: true}}}}}}
	for _, d := range Check(&File{Flows: []*Flow{f}}, CheckOptions{}) {
		t.Errorf("unexpected %v", d)
	}
}

// TestCheckManyStepsClean: the benchmarks' large flow (generatedFile)
// checks clean, so that their growth ratio (benchmarkGrowth) measures
// Check's own work and not did-you-mean's, which TestCheckSuggestionBudget
// bounds without timing anything.
func TestCheckManyStepsClean(t *testing.T) {
	f := generatedFile(2000)
	if ds := Check(f, CheckOptions{}); len(ds) != 0 {
		t.Fatalf("generated flow has diagnostics: %v", ds[0])
	}
}

// TestCheckSuggestionBudget shows that did-you-mean work is bounded: with
// thousands of misspelt targets, suggestions stop once the budget of
// comparisons is spent instead of growing as steps × names.
func TestCheckSuggestionBudget(t *testing.T) {
	const n = 5000
	f := &Flow{Name: "F"}
	for i := range n {
		f.Steps = append(f.Steps, &Step{Name: fmt.Sprintf("S%d", i), Action: &Action{Kind: ActionGo}, Irreversible: true,
			Transitions: []*Transition{{On: &Ident{Name: "ok"}, Target: &Ident{Name: fmt.Sprintf("S%dx", i)}}}})
	}
	ds := Check(&File{Flows: []*Flow{f}}, CheckOptions{})
	undefined, hinted := 0, 0
	for _, d := range ds {
		if d.Code == "undefined-target" {
			undefined++
			if strings.HasPrefix(d.Hint, "did you mean") {
				hinted++
			}
		}
	}
	if undefined != n {
		t.Errorf("%d undefined-target diagnostics, want %d", undefined, n)
	}
	// Each suggestion compares against all n steps plus done and fail.
	if want := maxSuggestComparisons / (n + 2); hinted != want {
		t.Errorf("%d suggestions, want the budget's %d", hinted, want)
	}
}

// TestChecksDocumented keeps docs/checks.md in sync with the code both
// ways: every diagnostic code that the compiler (the parser, package dsl,
// its .flow front end dsl/flowfile and its Go package checks dsl/gocheck),
// the generator (gen), the command's input and target checks
// (internal/cli) and the flow
// service (engine) emit has a row in its tables, and every row's code is
// one of them, so that a code renamed or removed in the code does not
// stay documented.
func TestChecksDocumented(t *testing.T) {
	table, err := os.ReadFile("../docs/checks.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, line := range strings.Split(string(table), "\n") {
		if code, ok := strings.CutPrefix(line, "| `"); ok {
			if code, _, ok := strings.Cut(code, "` |"); ok {
				documented[code] = true
			}
		}
	}
	if len(documented) < 20 {
		t.Fatalf("found only %d documented codes; is the table's scan broken?", len(documented))
	}
	emitted := map[string]bool{}
	for _, dir := range []string{".", "flowfile", "gocheck", "../parser", "../gen", "../internal/cli", "../engine"} {
		codes := diagnosticCodes(t, dir)
		if len(codes) == 0 {
			t.Fatalf("found no codes in %s; is the scan broken?", dir)
		}
		for code := range codes {
			emitted[code] = true
			if !documented[code] {
				t.Errorf("code %q of %s is not documented in docs/checks.md", code, dir)
			}
		}
	}
	for code := range documented {
		if !emitted[code] {
			t.Errorf("docs/checks.md documents code %q, which no diagnostic has", code)
		}
	}
}

// diagnosticCodes returns the codes that the non-test files of the
// package in dir pass to diag.Errorf and diag.Warnf, or to a function of
// the package that passes its parameter named code on to them (dsl's
// checker.duplicate), as string literals or as string constants of the
// package.
func diagnosticCodes(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	fset := token.NewFileSet()
	var parsed []*ast.File
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, af)
	}
	consts := map[string]string{}
	codeArg := map[string]int{} // a function's name: the index of its code parameter
	for _, af := range parsed {
		ast.Inspect(af, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				for i, id := range n.Names {
					if i < len(n.Values) {
						if lit, ok := n.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							consts[id.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			case *ast.FuncDecl:
				if n.Body == nil || !passesCode(n.Body) {
					break
				}
				i := 0
				for _, field := range n.Type.Params.List {
					for _, id := range field.Names {
						if id.Name == "code" {
							codeArg[n.Name.Name] = i
						}
						i++
					}
				}
			}
			return true
		})
	}
	var args []ast.Expr
	for _, af := range parsed {
		ast.Inspect(af, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			var name string
			switch fun := call.Fun.(type) {
			case *ast.Ident:
				name = fun.Name
			case *ast.SelectorExpr:
				if x, ok := fun.X.(*ast.Ident); ok && x.Name == "diag" {
					if (fun.Sel.Name == "Errorf" || fun.Sel.Name == "Warnf") && len(call.Args) >= 2 {
						args = append(args, call.Args[1])
					}
					return true
				}
				name = fun.Sel.Name
			}
			if i, ok := codeArg[name]; ok && i < len(call.Args) {
				args = append(args, call.Args[i])
			}
			return true
		})
	}
	codes := map[string]bool{}
	for _, a := range args {
		switch a := a.(type) {
		case *ast.BasicLit:
			code, _ := strconv.Unquote(a.Value)
			codes[code] = true
		case *ast.Ident:
			if code, ok := consts[a.Name]; ok {
				codes[code] = true
			} else if a.Name != "code" { // passed on by a function of codeArg
				t.Errorf("%s: diagnostic code %s is not a string constant of the package", fset.Position(a.Pos()), a.Name)
			}
		}
	}
	return codes
}

// TestCheckModelBuiltInGo: the shapes the JSON decoder refuses (json
// errors) but a model built in Go can have are reported by Check with
// their own codes, as docs/checks.md says (condition, retry-jitter).
func TestCheckModelBuiltInGo(t *testing.T) {
	f := decodeOK(t, doc(flow("F", `"state": "S", "retry": {"attempts": 2}`,
		step("Route", `"action": {"kind": "choose", "when": [{"if": {"field": "A"}, "target": "done"}, {"if": {"field": "B"}, "target": "done"}, {"if": {"field": "C"}, "target": "done"}, {"if": {"field": "D"}, "target": "done"}], "otherwise": "fail"}`))))
	f.Flows[0].Retry.Jitter = "half"
	field := func(name string) *Cond { return &Cond{Op: CondField, Field: &Ident{Name: name}} }
	when := f.Flows[0].Steps[0].Action.When
	when[0].When = &Cond{Op: CondAnd, Args: []*Cond{field("A")}}
	when[1].When = &Cond{Op: CondNot}
	when[2].When = &Cond{Op: CondEq, Field: &Ident{Name: "C"}}
	when[3].When = &Cond{Op: "~", Field: &Ident{Name: "D"}}
	ds := Check(f, CheckOptions{})
	ds.Sort()
	var got []string
	for _, d := range ds {
		if !d.Range.Start.IsValid() {
			t.Errorf("diagnostic without a position: %v", d)
		}
		got = append(got, d.Code+": "+d.Message)
	}
	want := []string{
		`retry-jitter: retry of flow "F" has unknown jitter "half"`,
		`condition: "and" in step "Route" needs two conditions or more`,
		`condition: not in step "Route" takes one condition`,
		`condition: comparison of "C" in step "Route" has no value`,
		`condition: unknown condition operator "~" in step "Route"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Check (-want +got):\n%s", diff)
	}
}

// passesCode reports whether body passes an identifier named code to
// diag.Errorf or diag.Warnf as the code.
func passesCode(body *ast.BlockStmt) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) < 2 {
			return !found
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || (sel.Sel.Name != "Errorf" && sel.Sel.Name != "Warnf") {
			return !found
		}
		x, _ := sel.X.(*ast.Ident)
		arg, _ := call.Args[1].(*ast.Ident)
		found = found || (x != nil && x.Name == "diag" && arg != nil && arg.Name == "code")
		return !found
	})
	return found
}
