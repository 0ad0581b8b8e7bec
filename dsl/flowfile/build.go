package flowfile

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/parser"
)

// Build turns the syntax tree of a .flow file into the model, keeping the
// source range of every flow, step, statement and name. It reports what the
// grammar alone cannot: invalid durations, attempts and multipliers, and
// statements written twice where one is allowed (two actions, two retry
// lines). It does not check names, targets or reachability; Check does.
//
// The model is complete even when Build reports errors: a bad value is left
// zero and the first of two duplicate statements wins, so that Check can
// still report everything else in the same run.
func Build(f *parser.File) (*dsl.File, diag.List) {
	b := &builder{}
	out := &dsl.File{Version: dsl.FormatVersion, Flows: []*dsl.Flow{}}
	if f == nil {
		return out, nil
	}
	out.Name = f.Name
	out.Range = rng(f.Pos, f.EndPos)
	for _, fl := range f.Flows {
		out.Flows = append(out.Flows, b.flow(fl))
	}
	return out, b.diags
}

type builder struct {
	diags diag.List
}

// errorf reports an error at r with a hint saying what to do.
func (b *builder) errorf(r diag.Range, hint string, format string, args ...any) {
	d := diag.Errorf(r, "syntax", format, args...)
	d.Hint = hint
	b.diags = append(b.diags, d)
}

// duplicate reports a statement that may appear once per flow or step.
func (b *builder) duplicate(what, where, name string, first lexer.Position, again diag.Range, hint string) {
	if hint == "" {
		hint = "keep one"
	}
	b.errorf(again, fmt.Sprintf("%s: the first is at line %d", hint, first.Line), "duplicate %s in %s %q", what, where, name)
}

func (b *builder) flow(fl *parser.Flow) *dsl.Flow {
	out := &dsl.Flow{
		Name:      fl.Name.Value,
		Doc:       docComment(fl.Comments),
		Steps:     []*dsl.Step{},
		NameRange: tokenRange(fl.Name),
		Range:     rng(fl.Pos, fl.EndPos),
	}
	var seenState, seenRetry, seenTimeout, seenDeadline *lexer.Position
	once := func(seen **lexer.Position, what string, st *parser.FlowStmt) bool {
		if *seen != nil {
			b.duplicate(what, "flow", out.Name, **seen, rng(st.Pos, st.EndPos), "")
			return false
		}
		*seen = &st.Pos
		return true
	}
	for _, st := range fl.Body {
		switch {
		case st.State != nil:
			if once(&seenState, "state", st) {
				out.State = tokenIdent(st.State)
			}
		case st.Trigger != nil:
			out.Triggers = append(out.Triggers, b.trigger(st.Trigger, rng(st.Pos, st.EndPos)))
		case st.Retry != nil:
			r := b.retry(st.Retry, rng(st.Pos, st.EndPos))
			if once(&seenRetry, "retry", st) {
				out.Retry = r
			}
		case st.Timeout != nil:
			d := b.duration(st.Timeout)
			if once(&seenTimeout, "timeout", st) {
				out.Timeout = d
			}
		case st.Deadline != nil:
			d := b.duration(st.Deadline)
			if once(&seenDeadline, "deadline", st) {
				out.Deadline = d
			}
		case st.Step != nil:
			out.Steps = append(out.Steps, b.step(flowStmt{st}))
		case st.Parallel != nil:
			out.Steps = append(out.Steps, b.parallel(st))
		}
	}
	return out
}

// trigger builds a trigger; r is the range of the whole statement.
func (b *builder) trigger(t *parser.Trigger, r diag.Range) *dsl.Trigger {
	out := &dsl.Trigger{Range: r}
	switch {
	case t.RPC != nil:
		out.Kind = dsl.TriggerRPC
		out.Endpoint, out.ValueRange = parser.Unquote(t.RPC), tokenRange(t.RPC)
	case t.Event != nil:
		out.Kind = dsl.TriggerEvent
		out.Topic, out.ValueRange = parser.Name(t.Event.Topic), tokenRange(t.Event.Topic)
		out.Event, out.EventRange = parser.Unquote(t.Event.Event), tokenRange(t.Event.Event)
	case t.Schedule != nil:
		out.Kind = dsl.TriggerSchedule
		out.Schedule, out.ValueRange = parser.Unquote(t.Schedule), tokenRange(t.Schedule)
	}
	return out
}

// retry builds a retry policy; stmt is the range of the whole statement.
func (b *builder) retry(r *parser.Retry, stmt diag.Range) *dsl.Retry {
	out := &dsl.Retry{Range: stmt, AttemptsRange: tokenRange(r.Attempts)}
	out.Attempts = b.attempts(r.Attempts)
	if r.Backoff != nil {
		out.Initial = b.duration(r.Backoff.Initial)
		out.Max = b.duration(r.Backoff.Max)
		out.BackoffRange = rng(r.Backoff.Initial.Pos, parser.End(r.Backoff.Max))
	}
	if r.Multiplier != nil {
		out.Multiplier = b.multiplier(r.Multiplier)
		out.MultiplierRange = tokenRange(r.Multiplier)
	}
	if r.Jitter != nil {
		// "full" is kept rather than left "" (the default): a step's retry
		// that says jitter full overrides its flow's jitter none.
		out.Jitter = dsl.Jitter(r.Jitter.Value)
		out.JitterRange = tokenRange(r.Jitter)
	}
	return out
}

func (b *builder) attempts(n *parser.Token) int {
	r := tokenRange(n)
	v, err := strconv.Atoi(n.Value)
	switch {
	case err != nil && strings.Contains(n.Value, "."):
		b.errorf(r, "attempts count tries in all, such as retry 3", "invalid retry attempts %q: want a whole number", n.Value)
	case err != nil:
		b.errorf(r, "attempts count tries in all, such as retry 3", "invalid retry attempts %q: too large", n.Value)
	case !dsl.ValidAttempts(v):
		b.errorf(r, "attempts count tries in all: retry 1 tries once and never retries", "invalid retry attempts %q: want at least %d", n.Value, dsl.MinAttempts)
	default:
		return v
	}
	return 0
}

func (b *builder) multiplier(n *parser.Token) float64 {
	r := tokenRange(n)
	v, err := strconv.ParseFloat(n.Value, 64)
	switch {
	case err != nil:
		b.errorf(r, "the backoff is multiplied by it after each attempt, such as multiplier 1.5", "invalid multiplier %q: too large", n.Value)
	case !dsl.ValidMultiplier(v):
		b.errorf(r, "the backoff is multiplied by it after each attempt; 1 keeps it constant", "invalid multiplier %q: want at least %g", n.Value, dsl.MinMultiplier)
	default:
		return v
	}
	return 0
}

// duration parses a duration token. The lexer has made sure it starts with
// a digit and is not negative; what remains is Go's syntax.
func (b *builder) duration(d *parser.Token) dsl.Duration {
	v, err := time.ParseDuration(d.Value)
	if err != nil {
		// time's message is `time: unknown unit "x" in duration "10x"`;
		// keep only the reason, the duration is already quoted.
		reason := strings.TrimPrefix(err.Error(), "time: ")
		if i := strings.Index(reason, " in duration "); i >= 0 {
			reason = reason[:i]
		}
		if reason == "invalid duration "+strconv.Quote(d.Value) {
			reason = "out of range"
		}
		hint, _ := dsl.DurationHint(d.Value)
		b.errorf(tokenRange(d), hint, "invalid duration %q: %s", d.Value, reason)
		return 0
	}
	return dsl.Duration(v)
}

// step builds the step of a flow statement or a block's; fs is the
// statement, for its comments and range.
func (b *builder) step(fs stepStmt) *dsl.Step {
	s := fs.step()
	out := &dsl.Step{
		Name:      s.Name.Value,
		Doc:       docComment(fs.comments()),
		NameRange: tokenRange(s.Name),
		Range:     fs.rng(),
	}
	var (
		action                                          *parser.StepStmt
		publishes                                       []*parser.StepStmt
		seenRetry, seenTimeout, seenDeadline, seenRollb *lexer.Position
		seenIrrev, seenOutcomes, seenWrites             *lexer.Position
	)
	once := func(seen **lexer.Position, what string, st *parser.StepStmt) bool {
		hint := ""
		switch what {
		case "outcomes":
			hint = "list every outcome on one line, outcomes a, b"
		case "writes":
			hint = "list every field on one line, writes A, B"
		}
		if *seen != nil {
			b.duplicate(what, "step", out.Name, **seen, rng(st.Pos, st.EndPos), hint)
			return false
		}
		*seen = &st.Pos
		return true
	}
	for _, st := range s.Body {
		switch {
		case st.RPC != nil, st.Await != nil, st.Sleep != nil, st.Choose != nil, st.Call != nil:
			if action != nil {
				b.errorf(rng(st.Pos, st.EndPos),
					fmt.Sprintf("a step does one thing (its action is at line %d): move this one into a step of its own", action.Pos.Line),
					"step %q has a second action", out.Name)
				continue
			}
			action = st
		case st.Publish != nil:
			publishes = append(publishes, st)
		case st.Retry != nil:
			r := b.retry(st.Retry, rng(st.Pos, st.EndPos))
			if once(&seenRetry, "retry", st) {
				out.Retry = r
			}
		case st.Timeout != nil:
			d := b.duration(st.Timeout)
			if once(&seenTimeout, "timeout", st) {
				out.Timeout, out.TimeoutRange = d, tokenRange(st.Timeout)
			}
		case st.Deadline != nil:
			d := b.duration(st.Deadline)
			if once(&seenDeadline, "deadline", st) {
				out.Deadline, out.DeadlineRange = d, tokenRange(st.Deadline)
			}
		case st.Rollback != nil:
			r := b.rollback(st.Rollback, rng(st.Pos, st.EndPos))
			if once(&seenRollb, "rollback", st) {
				out.Rollback = r
			}
		case st.Irreversible != nil:
			if once(&seenIrrev, "irreversible", st) {
				out.Irreversible, out.IrreversibleRange = true, rng(st.Pos, st.EndPos)
			}
		case len(st.Writes) > 0:
			if once(&seenWrites, "writes", st) {
				for _, w := range st.Writes {
					out.Writes = append(out.Writes, tokenIdent(w.Name))
				}
			}
		case st.Outcomes != nil:
			if once(&seenOutcomes, "outcomes", st) {
				for _, n := range st.Outcomes {
					out.Outcomes = append(out.Outcomes, tokenIdent(n.Name))
				}
			}
		case st.On != nil:
			out.Transitions = append(out.Transitions, transition(st.On, rng(st.Pos, st.EndPos)))
		}
	}
	// The publish-step rule: a step whose only action lines are publish
	// lines is a publish step; its first publish is the action and the rest
	// are published after it succeeds.
	switch {
	case action != nil && action.RPC != nil:
		out.Action = b.rpc(action.RPC, rng(action.Pos, action.EndPos))
	case action != nil && action.Call != nil:
		out.Action = b.call(action.Call, rng(action.Pos, action.EndPos))
	case action != nil && action.Choose != nil:
		out.Action = b.choose(out.Name, action.Choose, rng(action.Pos, action.EndPos))
	case action != nil && action.Sleep != nil:
		sl := action.Sleep
		out.Action = &dsl.Action{Kind: dsl.ActionSleep, Until: tokenIdent(sl.Until), Range: rng(action.Pos, action.EndPos)}
		if sl.Duration != nil {
			out.Action.Duration, out.Action.DurationRange = b.duration(sl.Duration), tokenRange(sl.Duration)
		}
	case action != nil:
		a := action.Await
		out.Action = &dsl.Action{
			Kind:      dsl.ActionAwait,
			Topic:     parser.Name(a.Topic),
			Event:     parser.Unquote(a.Event),
			Response:  tokenIdent(a.Into),
			Correlate: tokenIdent(a.Correlate.FieldToken()),
			Range:     rng(action.Pos, action.EndPos),
		}
		if c := a.Correlate; c != nil && c.On != nil {
			out.Action.CorrelateOn = &dsl.Ident{Name: c.Path(), Range: tokenRange(c.On)}
		}
		if a.Timeout != nil {
			out.Action.Timeout = b.duration(a.Timeout)
		}
	case len(publishes) > 0:
		st := publishes[0]
		publishes = publishes[1:]
		out.Action = &dsl.Action{
			Kind:    dsl.ActionPublish,
			Topic:   parser.Name(st.Publish.Topic),
			Event:   parser.Unquote(st.Publish.Event),
			Request: tokenIdent(st.Publish.Payload),
			Range:   rng(st.Pos, st.EndPos),
		}
	default:
		out.Action = &dsl.Action{Kind: dsl.ActionGo, Range: out.NameRange}
	}
	for _, st := range publishes {
		out.Publish = append(out.Publish, &dsl.Publication{
			Topic:   parser.Name(st.Publish.Topic),
			Event:   parser.Unquote(st.Publish.Event),
			Payload: tokenIdent(st.Publish.Payload),
			Range:   rng(st.Pos, st.EndPos),
		})
	}
	return out
}

// rpc builds an rpc action; stmt is the range from the rpc keyword on.
func (b *builder) rpc(r *parser.RPC, stmt diag.Range) *dsl.Action {
	return &dsl.Action{
		Kind:     dsl.ActionRPC,
		Service:  parser.Name(r.Service),
		Endpoint: parser.Unquote(r.Endpoint),
		Request:  tokenIdent(r.Request),
		Response: tokenIdent(r.Response),
		Range:    stmt,
	}
}

// rollback builds a rollback; stmt is the range of the whole statement.
func (b *builder) rollback(r *parser.Rollback, stmt diag.Range) *dsl.Rollback {
	out := &dsl.Rollback{Range: stmt}
	if r.RPC != nil {
		// The Rollback node starts at "rpc".
		out.Action = b.rpc(r.RPC, diag.Range{Start: parser.ToPos(r.Pos), End: stmt.End})
	} else if r.Call != nil {
		out.Action = b.call(r.Call, diag.Range{Start: parser.ToPos(r.Pos), End: stmt.End})
	} else {
		out.Name = tokenIdent(r.Name)
	}
	return out
}

// call builds a call action; stmt is the range from the call keyword on.
func (b *builder) call(c *parser.Call, stmt diag.Range) *dsl.Action {
	return &dsl.Action{
		Kind:     dsl.ActionCall,
		Flow:     tokenIdent(c.Flow),
		Request:  tokenIdent(c.Request),
		Response: tokenIdent(c.Response),
		Range:    stmt,
	}
}

// docComment is the doc comment of a flow or step: the last run of own-line
// comments directly above it, with no blank line inside the run or between
// it and the node, without the "//" and one following space.
func docComment(c parser.Comments) string {
	if c.BlankBefore || len(c.Leading) == 0 {
		return ""
	}
	start := len(c.Leading) - 1
	// A blank line above Leading[start] starts the run; it stays in.
	for start > 0 && !c.Leading[start].BlankBefore {
		start--
	}
	lines := make([]string, 0, len(c.Leading)-start)
	for _, cm := range c.Leading[start:] {
		text := strings.TrimPrefix(cm.Text, "//")
		text = strings.TrimPrefix(text, " ")
		lines = append(lines, docLine(text))
	}
	return strings.Join(lines, "\n")
}

// docLine is a line of a doc comment as the model keeps it: without
// trailing blanks.
func docLine(text string) string { return strings.TrimRight(text, " \t") }

// transition is the model of an "on Outcome -> Target" line, r the line.
func transition(on *parser.On, r diag.Range) *dsl.Transition {
	return &dsl.Transition{On: tokenIdent(on.Outcome), Target: tokenIdent(on.Target), Range: r}
}

func tokenIdent(t *parser.Token) *dsl.Ident {
	if t == nil {
		return nil
	}
	return &dsl.Ident{Name: t.Value, Range: tokenRange(t)}
}

func tokenRange(t *parser.Token) diag.Range { return rng(t.Pos, parser.End(t)) }

func rng(start, end lexer.Position) diag.Range {
	return diag.Range{Start: parser.ToPos(start), End: parser.ToPos(end)}
}
