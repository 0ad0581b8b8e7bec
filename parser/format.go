package parser

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/internal/ident"
)

// Format prints f in canonical layout:
//
//   - four spaces of indentation, one statement per line;
//   - in a flow: state, trigger, retry, timeout, deadline, then the steps
//     and parallel blocks; in a parallel block: its steps, then its on
//     lines;
//   - in a step: the action (rpc, await, sleep, choose, call, or a publish
//     step's first publish), writes, retry, timeout, deadline, rollback,
//     irreversible, publish, outcomes, on; statements of the same kind keep
//     their order; a step's timeout goes before an await line without a
//     timeout of its own (after it, it would be the await's);
//   - exactly one blank line before each step, parallel block and a
//     block's first on line after its steps, and between flows; elsewhere a
//     blank line is kept where one or more were written, never after "{" or
//     before "}";
//   - an empty step on one line: step Name {};
//   - numbers in their shortest spelling (03 is 3) and durations in Go's,
//     without its zero units (1h0m0s is 1h, 90m is 1h30m); parts of a retry that were not written are not
//     added, and parts that were are kept, because a step's retry overrides
//     its flow's part by part;
//   - comments where they were: own-line comments above the statement they
//     precede (they move with it when statements are reordered), end-of-line
//     comments after their statement, aligned when on adjacent lines of
//     the same indentation.
//
// Format of Format's output is the same bytes, and parses to the same model.
// The tree need not be valid beyond its syntax: invalid durations and
// duplicate statements are printed as written.
func Format(f *File) []byte {
	if f == nil {
		return nil
	}
	p := &printer{}
	for i, fl := range f.Flows {
		p.leading(fl.Comments, i == 0, i > 0, 0)
		p.block(0, "flow "+fl.Name.Value, fl.Comments.Trailing, &fl.Block, len(fl.Body), func() {
			stmts := slices.Clone(fl.Body)
			slices.SortStableFunc(stmts, func(a, b *FlowStmt) int { return flowRank(a) - flowRank(b) })
			for j, st := range stmts {
				p.flowStmt(st, j == 0)
			}
		})
	}
	for i, c := range f.Footer {
		if c.BlankBefore && (i > 0 || len(f.Flows) > 0) {
			p.blank()
		}
		p.line(0, "", c)
	}
	return p.bytes()
}

// line is one output line: indentation, code and an end-of-line comment.
// A line with neither is a blank line.
type line struct {
	indent  int
	code    string
	comment string
}

type printer struct {
	lines []line
}

func (p *printer) blank() {
	if n := len(p.lines); n > 0 && p.lines[n-1] != (line{}) {
		p.lines = append(p.lines, line{})
	}
}

// line adds code (which may be empty) with an optional end-of-line comment.
func (p *printer) line(indent int, code string, c *Comment) {
	l := line{indent: indent, code: code}
	if c != nil {
		l.comment = strings.TrimRight(c.Text, " \t")
	}
	p.lines = append(p.lines, l)
}

// leading prints the own-line comments above a node and the blank lines
// around them. first means the node is the first in its block (no blank
// line above it); sep forces one blank line above (steps and flows).
func (p *printer) leading(c Comments, first, sep bool, indent int) {
	for i, cm := range c.Leading {
		if !first && (cm.BlankBefore || (i == 0 && sep)) || first && i > 0 && cm.BlankBefore {
			p.blank()
		}
		p.line(indent, "", cm)
	}
	switch {
	case len(c.Leading) > 0 && c.BlankBefore:
		// Keeps a comment that was apart from the node apart from it:
		// directly above a flow or step it would become its doc comment.
		p.blank()
	case len(c.Leading) == 0 && !first && (sep || c.BlankBefore):
		p.blank()
	}
}

// block prints "header {", the body, the footer comments and "}", or
// "header {}" when there is nothing inside.
func (p *printer) block(indent int, header string, trailing *Comment, b *Block, n int, body func()) {
	if n == 0 && b.Open == nil && len(b.Footer) == 0 {
		p.line(indent, header+" {}", trailing)
		return
	}
	p.line(indent, header+" {", b.Open)
	body()
	for i, c := range b.Footer {
		if c.BlankBefore && (i > 0 || n > 0) {
			p.blank()
		}
		p.line(indent+1, "", c)
	}
	p.line(indent, "}", trailing)
}

func flowRank(st *FlowStmt) int {
	switch {
	case st.State != nil:
		return 0
	case st.Trigger != nil:
		return 1
	case st.Retry != nil:
		return 2
	case st.Timeout != nil:
		return 3
	case st.Deadline != nil:
		return 4
	}
	return 5 // step
}

func (p *printer) flowStmt(st *FlowStmt, first bool) {
	switch {
	case st.Step != nil:
		p.step(st.Step, st.Comments, first, 1)
		return
	case st.Parallel != nil:
		b := st.Parallel
		p.leading(st.Comments, first, true, 1)
		p.block(1, ident.KeywordParallel+" "+b.Name.Value, st.Trailing, &b.Block, len(b.Body), func() {
			stmts := slices.Clone(b.Body)
			slices.SortStableFunc(stmts, func(a, b *ParallelStmt) int { return parallelRank(a) - parallelRank(b) })
			for j, bs := range stmts {
				if bs.Step != nil {
					p.step(bs.Step, bs.Comments, j == 0, 2)
					continue
				}
				afterSteps := j > 0 && stmts[j-1].Step != nil
				p.leading(bs.Comments, j == 0, afterSteps, 2)
				p.line(2, onString(bs.On), bs.Trailing)
			}
		})
		return
	}
	p.leading(st.Comments, first, false, 1)
	var code string
	switch {
	case st.State != nil:
		code = "state " + st.State.Value
	case st.Trigger != nil:
		code = triggerString(st.Trigger)
	case st.Retry != nil:
		code = retryString(st.Retry)
	case st.Timeout != nil:
		code = "timeout " + durationString(st.Timeout)
	case st.Deadline != nil:
		code = "deadline " + durationString(st.Deadline)
	}
	p.line(1, code, st.Trailing)
}

// step prints a step of a flow (indent 1) or of a parallel block (2).
func (p *printer) step(s *Step, c Comments, first bool, indent int) {
	p.leading(c, first, true, indent)
	p.block(indent, "step "+s.Name.Value, c.Trailing, &s.Block, len(s.Body), func() {
		for j, st := range sortStepStmts(s.Body) {
			p.leading(st.Comments, j == 0, false, indent+1)
			if st.Choose != nil {
				p.choose(st.Choose, st.Trailing, indent+1)
				continue
			}
			p.line(indent+1, stepStmtString(st), st.Trailing)
		}
	})
}

func parallelRank(st *ParallelStmt) int {
	if st.Step != nil {
		return 0
	}
	return 1
}

// sortStepStmts returns the statements of a step in canonical order.
func sortStepStmts(body []*StepStmt) []*StepStmt {
	stmts := slices.Clone(body)
	// A step with no rpc, await, sleep, choose or call is a publish step:
	// its first publish is its action and goes first.
	var action *StepStmt
	if !slices.ContainsFunc(stmts, func(st *StepStmt) bool {
		return st.RPC != nil || st.Await != nil || st.Sleep != nil || st.Choose != nil || st.Call != nil
	}) {
		if i := slices.IndexFunc(stmts, func(st *StepStmt) bool { return st.Publish != nil }); i >= 0 {
			action = stmts[i]
		}
	}
	// A step's own timeout stays before an await that has none: after the
	// await line it would read as the await's timeout, which bounds the
	// wait but not the rollback, and formatting must not change meaning.
	awaitWithout := slices.ContainsFunc(stmts, func(st *StepStmt) bool { return st.Await != nil && st.Await.Timeout == nil })
	rank := func(st *StepStmt) int {
		switch {
		case st == action:
			return 0
		case awaitWithout && st.Timeout != nil:
			return -1
		}
		return stepRank(st)
	}
	slices.SortStableFunc(stmts, func(a, b *StepStmt) int { return rank(a) - rank(b) })
	return stmts
}

func stepRank(st *StepStmt) int {
	switch {
	case st.RPC != nil, st.Await != nil, st.Sleep != nil, st.Choose != nil, st.Call != nil:
		return 0
	case len(st.Writes) > 0:
		return 1
	case st.Retry != nil:
		return 2
	case st.Timeout != nil:
		return 3
	case st.Deadline != nil:
		return 4
	case st.Rollback != nil:
		return 5
	case st.Irreversible != nil:
		return 6
	case st.Publish != nil:
		return 7
	case st.Outcomes != nil:
		return 8
	}
	return 9 // on
}

func stepStmtString(st *StepStmt) string {
	switch {
	case st.RPC != nil:
		return rpcString(st.RPC)
	case st.Await != nil:
		a := st.Await
		var b strings.Builder
		b.WriteString(ident.KeywordAwait + " " + ident.Format(Name(a.Topic)) + " " + a.Event.Value)
		if a.Into != nil {
			b.WriteString(" -> " + a.Into.Value)
		}
		if a.Correlate != nil {
			b.WriteString(" correlate " + a.Correlate.Field.Value)
			if a.Correlate.On != nil {
				b.WriteString(" on " + ident.Format(a.Correlate.Path()))
			}
		}
		if a.Timeout != nil {
			b.WriteString(" timeout " + durationString(a.Timeout))
		}
		return b.String()
	case st.Publish != nil:
		s := ident.KeywordPublish + " " + ident.Format(Name(st.Publish.Topic)) + " " + st.Publish.Event.Value
		if st.Publish.Payload != nil {
			s += " (" + st.Publish.Payload.Value + ")"
		}
		return s
	case st.Sleep != nil:
		if st.Sleep.Until != nil {
			return ident.KeywordSleep + " " + ident.KeywordUntil + " " + st.Sleep.Until.Value
		}
		return ident.KeywordSleep + " " + durationString(st.Sleep.Duration)
	case st.Call != nil:
		return callString(st.Call)
	case st.Retry != nil:
		return retryString(st.Retry)
	case st.Timeout != nil:
		return "timeout " + durationString(st.Timeout)
	case st.Deadline != nil:
		return "deadline " + durationString(st.Deadline)
	case st.Rollback != nil:
		if st.Rollback.RPC != nil {
			return "rollback " + rpcString(st.Rollback.RPC)
		}
		if st.Rollback.Call != nil {
			return "rollback " + callString(st.Rollback.Call)
		}
		return "rollback " + st.Rollback.Name.Value
	case st.Irreversible != nil:
		return "irreversible"
	case len(st.Writes) > 0:
		names := make([]string, len(st.Writes))
		for i, n := range st.Writes {
			names[i] = n.Name.Value
		}
		return ident.KeywordWrites + " " + strings.Join(names, ", ")
	case st.Outcomes != nil:
		names := make([]string, len(st.Outcomes))
		for i, n := range st.Outcomes {
			names[i] = n.Name.Value
		}
		return "outcomes " + strings.Join(names, ", ")
	case st.On != nil:
		return onString(st.On)
	}
	return ""
}

func onString(on *On) string { return "on " + on.Outcome.Value + " -> " + on.Target.Value }

// choose prints a choose block's lines as they are: its when lines, then
// otherwise (Parse refuses a when line after it, chooseOrder).
func (p *printer) choose(c *Choose, trailing *Comment, indent int) {
	body := c.Body
	p.block(indent, ident.KeywordChoose, trailing, &c.Block, len(body), func() {
		for j, st := range body {
			p.leading(st.Comments, j == 0, false, indent+1)
			code := ident.KeywordOtherwise + " -> "
			if st.When != nil {
				code = ident.KeywordWhen + " " + condString(st.When.Cond) + " -> " + st.When.Target.Value
			} else {
				code += st.Otherwise.Value
			}
			p.line(indent+1, code, st.Trailing)
		}
	})
}

// condString prints a condition as written, one space between tokens.
func condString(o *Or) string {
	terms := make([]string, len(o.Terms))
	for i, a := range o.Terms {
		factors := make([]string, len(a.Factors))
		for j, u := range a.Factors {
			var b strings.Builder
			for range u.Not {
				b.WriteString(ident.KeywordNot + " ")
			}
			if u.Group != nil {
				b.WriteString("(" + condString(u.Group) + ")")
			} else {
				b.WriteString(compareString(u.Compare))
			}
			factors[j] = b.String()
		}
		terms[i] = strings.Join(factors, " "+ident.KeywordAnd+" ")
	}
	return strings.Join(terms, " "+ident.KeywordOr+" ")
}

func compareString(c *Compare) string {
	field := c.Field.Value
	for _, m := range c.Members {
		field += "." + m.Name.Value
	}
	if c.Op == nil {
		return field
	}
	v := c.Value.Value
	switch c.Value.Type {
	case tokDuration:
		v = durationString(c.Value)
	case tokNumber:
		v = NumberString(v)
	}
	return field + " " + c.Op.Value + " " + v
}

// NumberString is the shortest spelling of a number literal, by its text
// (so that no precision is lost): 007 is 7, 1.50 is 1.5, -0 is 0. fmt
// prints it, and the model keeps it (a JSON number, too).
func NumberString(v string) string {
	neg := strings.HasPrefix(v, "-")
	v = strings.TrimPrefix(v, "-")
	whole, frac, _ := strings.Cut(v, ".")
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	frac = strings.TrimRight(frac, "0")
	out := whole
	if frac != "" {
		out += "." + frac
	}
	if neg && out != "0" {
		out = "-" + out
	}
	return out
}

func rpcString(r *RPC) string {
	s := ident.KeywordRPC + " " + ident.Format(Name(r.Service)) + " " + r.Endpoint.Value
	if r.Request != nil {
		s += " (" + r.Request.Value + ")"
	}
	if r.Response != nil {
		s += " -> " + r.Response.Value
	}
	return s
}

func triggerString(t *Trigger) string {
	switch {
	case t.RPC != nil:
		return "trigger rpc " + t.RPC.Value
	case t.Event != nil:
		return "trigger event " + ident.Format(Name(t.Event.Topic)) + " " + t.Event.Event.Value
	case t.Schedule != nil:
		return "trigger schedule " + t.Schedule.Value
	}
	return "trigger"
}

func retryString(r *Retry) string {
	var b strings.Builder
	b.WriteString("retry ")
	if n, err := strconv.Atoi(r.Attempts.Value); err == nil {
		b.WriteString(strconv.Itoa(n))
	} else {
		b.WriteString(r.Attempts.Value)
	}
	if r.Backoff != nil {
		b.WriteString(" backoff " + durationString(r.Backoff.Initial) + ".." + durationString(r.Backoff.Max))
	}
	if r.Multiplier != nil {
		b.WriteString(" multiplier ")
		if v, err := strconv.ParseFloat(r.Multiplier.Value, 64); err == nil {
			// 'f' rather than 'g': the lexer has no exponent syntax.
			b.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
		} else {
			b.WriteString(r.Multiplier.Value)
		}
	}
	if r.Jitter != nil {
		b.WriteString(" jitter " + r.Jitter.Value)
	}
	return b.String()
}

// durationString is Go's spelling of a valid duration without its zero units
// (ident.Duration), and an invalid one as written (Build reports it).
func durationString(d *Token) string {
	v, err := time.ParseDuration(d.Value)
	if err != nil || v < 0 {
		return d.Value
	}
	return ident.Duration(v)
}

// bytes renders the lines, aligning the end-of-line comments of adjacent
// lines in one column, as gofmt does, counted as a terminal or an editor
// shows the text (diag.Columns), not in bytes nor runes: "é" or "Å" is one
// column (written as one character, or with a combining accent), a CJK
// ideograph or most emoji two.
func (p *printer) bytes() []byte {
	lines := p.lines
	for len(lines) > 0 && lines[len(lines)-1] == (line{}) {
		lines = lines[:len(lines)-1]
	}
	var out bytes.Buffer
	for i := 0; i < len(lines); {
		// A run of adjacent lines that all have code and a comment, at the
		// same indentation: a comment after "{" is not pushed right by
		// the longer lines inside the block.
		j := i
		width := 0
		for j < len(lines) && lines[j].code != "" && lines[j].comment != "" && lines[j].indent == lines[i].indent {
			width = max(width, 4*lines[j].indent+diag.Columns(lines[j].code))
			j++
		}
		if j == i {
			writeLine(&out, lines[i], 0)
			i++
			continue
		}
		for ; i < j; i++ {
			writeLine(&out, lines[i], width)
		}
	}
	return out.Bytes()
}

func writeLine(out *bytes.Buffer, l line, width int) {
	if l == (line{}) {
		out.WriteByte('\n')
		return
	}
	out.WriteString(strings.Repeat("    ", l.indent))
	out.WriteString(l.code)
	if l.comment != "" {
		if l.code != "" {
			out.WriteString(strings.Repeat(" ", 1+max(0, width-4*l.indent-diag.Columns(l.code))))
		}
		out.WriteString(l.comment)
	}
	out.WriteByte('\n')
}

func callString(c *Call) string {
	s := ident.KeywordCall + " " + c.Flow.Value
	if c.Request != nil {
		s += " (" + c.Request.Value + ")"
	}
	if c.Response != nil {
		s += " -> " + c.Response.Value
	}
	return s
}
