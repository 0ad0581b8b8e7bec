package flowfile

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/internal/ident"
	"github.com/flowgen/flowgen/internal/snippet"
	"github.com/flowgen/flowgen/parser"
)

// Syntax is the inverse of Build: the syntax tree of model f, which
// parser.Format prints as .flow text and Build turns back into the same
// model (the JSON form of both is the same bytes). It is how a flow
// defined in the JSON form (a flow service's) becomes a .flow file that
// `go generate` compiles. Doc comments become comments; positions are
// zero.
//
// Some models have no .flow form, because the language cannot say them:
// a Go step that publishes (in .flow, a step whose action is a publish
// line is a publish step), or a name that is not an identifier where .flow
// writes one bare. Syntax reports the first
// such part of f, naming it, rather than print text that would mean
// something else.
func Syntax(f *dsl.File) (*parser.File, error) {
	if f == nil {
		return nil, fmt.Errorf("no file")
	}
	out := &parser.File{Name: f.Name}
	for i, fl := range f.Flows {
		if fl == nil {
			return nil, fmt.Errorf("flow %d is nil", i)
		}
		pf, err := flowSyntax(fl)
		if err != nil {
			return nil, at(fl.Range, fmt.Errorf("flow %q: %w", fl.Name, err))
		}
		out.Flows = append(out.Flows, pf)
	}
	return out, nil
}

// Format is the .flow text of model f: Syntax printed by parser.Format,
// read back (Parse) and compared with f by their JSON forms, so that what
// it returns means f exactly. Otherwise it returns an error (code
// flow-form) at the part of f the language cannot say.
func Format(f *dsl.File) ([]byte, diag.List) {
	tree, err := Syntax(f)
	if err != nil {
		var r diag.Range
		if f != nil {
			r = f.Range
		}
		var pe *positionedError
		if errors.As(err, &pe) {
			r = pe.at
		}
		return nil, diag.List{flowFormError(r, "%v", err)}
	}
	src := parser.Format(tree)
	back, ds := Parse(f.Name, src)
	if ds.HasErrors() {
		return nil, diag.List{flowFormError(f.Range, "its .flow form does not read back: %s", ds[0].Message)}
	}
	want, err := dsl.EncodeJSON(docsAsRead(f))
	if err != nil {
		return nil, diag.List{flowFormError(f.Range, "%v", err)}
	}
	got, err := dsl.EncodeJSON(back)
	if err != nil {
		return nil, diag.List{flowFormError(f.Range, "%v", err)}
	}
	if !bytes.Equal(want, got) {
		return nil, diag.List{flowFormError(f.Range, "its .flow form would mean something else: %s", firstDifference(want, got))}
	}
	return src, nil
}

// docsAsRead is f with its doc comments as Build reads them back (docLine):
// a doc line's trailing blanks, which a JSON form may carry, are not its
// meaning. The flows and steps whose docs change are copies; f is left as
// it is.
func docsAsRead(f *dsl.File) *dsl.File {
	doc := func(d string) string {
		lines := strings.Split(d, "\n")
		for i, l := range lines {
			lines[i] = docLine(l)
		}
		return strings.Join(lines, "\n")
	}
	step := func(s *dsl.Step) *dsl.Step {
		if s == nil {
			return nil
		}
		c := *s
		c.Doc = doc(s.Doc)
		c.Action = chooseAsRead(s.Action)
		if s.Parallel != nil {
			p := *s.Parallel
			p.Branches = make([]*dsl.Step, len(s.Parallel.Branches))
			for i, b := range s.Parallel.Branches {
				if b != nil {
					bc := *b
					bc.Doc = doc(b.Doc)
					bc.Action = chooseAsRead(b.Action)
					p.Branches[i] = &bc
				}
			}
			c.Parallel = &p
		}
		return &c
	}
	out := *f
	out.Flows = make([]*dsl.Flow, len(f.Flows))
	for i, fl := range f.Flows {
		if fl == nil {
			continue
		}
		c := *fl
		c.Doc = doc(fl.Doc)
		c.Steps = make([]*dsl.Step, len(fl.Steps))
		for j, s := range fl.Steps {
			c.Steps[j] = step(s)
		}
		out.Flows[i] = &c
	}
	return &out
}

// chooseAsRead is a, when it is a choose, with the numbers of its
// conditions as Build reads back their .flow form (numberAsRead): a copy,
// a is left as it is. Any other action is a itself.
func chooseAsRead(a *dsl.Action) *dsl.Action {
	if a == nil || a.Kind != dsl.ActionChoose {
		return a
	}
	var cond func(c *dsl.Cond) *dsl.Cond
	cond = func(c *dsl.Cond) *dsl.Cond {
		if c == nil {
			return nil
		}
		out := *c
		if c.Value != nil && c.Value.Kind == dsl.LitNumber {
			v := *c.Value
			v.Text = numberAsRead(v.Text)
			out.Value = &v
		}
		out.Args = nil
		for _, arg := range c.Args {
			out.Args = append(out.Args, cond(arg))
		}
		return &out
	}
	out := *a
	out.When = make([]*dsl.Branch, len(a.When))
	for i, b := range a.When {
		if b != nil {
			bc := *b
			bc.When = cond(b.When)
			out.When[i] = &bc
		}
	}
	return &out
}

// maxExponent bounds the exponent of a JSON number that numberAsRead
// writes out in decimal digits (1e1000 is 1001 of them): a larger one
// overflows every numeric type anyway.
const maxExponent = 1000

// numberAsRead is the .flow spelling of a condition's number in the JSON
// form, which is any JSON number (1.50, 1e2, -0): its digits in decimal
// notation, the .flow language having no exponents, as fmt writes them
// (parser.NumberString): 1.5, 100, 0. The value is the same, exactly. A
// number whose exponent is beyond maxExponent is left as it is (it has
// no .flow form, and Format reports that it does not read back).
func numberAsRead(text string) string {
	mant, exp, ok := strings.Cut(strings.ToLower(text), "e")
	if ok {
		e, err := strconv.Atoi(exp)
		if err != nil || e > maxExponent || e < -maxExponent {
			return text
		}
		neg := strings.HasPrefix(mant, "-")
		whole, frac, _ := strings.Cut(strings.TrimPrefix(mant, "-"), ".")
		digits, point := whole+frac, len(whole)+e // the point goes before digits[point]
		switch {
		case point <= 0:
			digits, point = strings.Repeat("0", 1-point)+digits, 1
		case point > len(digits):
			digits += strings.Repeat("0", point-len(digits))
		}
		mant = digits[:point]
		if point < len(digits) {
			mant += "." + digits[point:]
		}
		if neg {
			mant = "-" + mant
		}
	}
	return parser.NumberString(mant)
}

func flowFormError(r diag.Range, format string, args ...any) diag.Diagnostic {
	return diag.Errorf(r, "flow-form", format, args...).
		WithHint("the .flow language cannot say this part of the JSON form: change it to what .flow can say, or keep the flow in JSON")
}

// positionedError is an error of Syntax with the range of the flow or step
// it is about.
type positionedError struct {
	at  diag.Range
	err error
}

func (e *positionedError) Error() string { return e.err.Error() }
func (e *positionedError) Unwrap() error { return e.err }

// at gives err the range r, unless it has a narrower one already.
func at(r diag.Range, err error) error {
	var pe *positionedError
	if errors.As(err, &pe) {
		// The narrower range, with the wider context's words (err wraps
		// pe: its text is read before pe changes).
		return &positionedError{at: pe.at, err: errors.New(err.Error())}
	}
	return &positionedError{at: r, err: err}
}

// firstDifference is the line of JSON form want where got first differs.
func firstDifference(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := range w {
		if i >= len(g) || w[i] != g[i] {
			return "the JSON form's " + strings.TrimSpace(w[i])
		}
	}
	return "the JSON form differs"
}

func flowSyntax(fl *dsl.Flow) (*parser.Flow, error) {
	name, err := identToken("flow name", fl.Name, fl.NameRange)
	if err != nil {
		return nil, err
	}
	if err := docProblem(fl.Doc); err != nil {
		return nil, at(fl.Range, err) // Syntax names the flow
	}
	out := &parser.Flow{Name: name, Comments: docComments(fl.Doc)}
	if fl.State != nil {
		t, err := identToken("state type", fl.State.Name, fl.State.Range)
		if err != nil {
			return nil, err
		}
		out.Body = append(out.Body, &parser.FlowStmt{State: t})
	}
	for i, tr := range fl.Triggers {
		if tr == nil {
			return nil, at(fl.Range, fmt.Errorf("flow %q: trigger %d is nil", fl.Name, i))
		}
		t := &parser.Trigger{}
		switch tr.Kind {
		case dsl.TriggerRPC:
			t.RPC = parser.StringToken(tr.Endpoint)
		case dsl.TriggerEvent:
			t.Event = &parser.EventTrigger{Topic: parser.NameToken(tr.Topic), Event: parser.StringToken(tr.Event)}
		case dsl.TriggerSchedule:
			t.Schedule = parser.StringToken(tr.Schedule)
		default:
			return nil, fmt.Errorf("a trigger of kind %q has no .flow form", tr.Kind)
		}
		out.Body = append(out.Body, &parser.FlowStmt{Trigger: t})
	}
	if fl.Retry != nil {
		r, err := retrySyntax(fl.Retry)
		if err != nil {
			return nil, at(fl.Range, fmt.Errorf("flow %q: %w", fl.Name, err))
		}
		out.Body = append(out.Body, &parser.FlowStmt{Retry: r})
	}
	if fl.Timeout != 0 {
		out.Body = append(out.Body, &parser.FlowStmt{Timeout: durationToken(fl.Timeout)})
	}
	if fl.Deadline != 0 {
		out.Body = append(out.Body, &parser.FlowStmt{Deadline: durationToken(fl.Deadline)})
	}
	for i, s := range fl.Steps {
		if s == nil {
			return nil, at(fl.Range, fmt.Errorf("flow %q: step %d is nil", fl.Name, i))
		}
		if s.Parallel == nil {
			ps, err := stepSyntax(s)
			if err != nil {
				return nil, err
			}
			out.Body = append(out.Body, &parser.FlowStmt{Step: ps, Comments: docComments(s.Doc)})
			continue
		}
		p, err := parallelSyntax(s)
		if err != nil {
			return nil, err
		}
		out.Body = append(out.Body, &parser.FlowStmt{Parallel: p, Comments: docComments(s.Doc)})
	}
	return out, nil
}

func parallelSyntax(s *dsl.Step) (*parser.Parallel, error) {
	name, err := identToken("parallel block name", s.Name, s.NameRange)
	if err != nil {
		return nil, err
	}
	if err := bareNames(s); err != nil {
		return nil, err
	}
	if err := docProblem(s.Doc); err != nil {
		return nil, at(s.Range, fmt.Errorf("parallel block %q: %w", s.Name, err))
	}
	out := &parser.Parallel{Name: name}
	for i, b := range s.Parallel.Branches {
		if b == nil {
			return nil, at(s.Range, fmt.Errorf("parallel block %q: branch %d is nil", s.Name, i))
		}
		ps, err := stepSyntax(b)
		if err != nil {
			return nil, err
		}
		out.Body = append(out.Body, &parser.ParallelStmt{Step: ps, Comments: docComments(b.Doc)})
	}
	for _, t := range s.Transitions {
		on, err := onSyntax(t)
		if err != nil {
			return nil, at(s.Range, fmt.Errorf("parallel block %q: %w", s.Name, err))
		}
		out.Body = append(out.Body, &parser.ParallelStmt{On: on})
	}
	return out, nil
}

func stepSyntax(s *dsl.Step) (*parser.Step, error) {
	name, err := identToken("step name", s.Name, s.NameRange)
	if err != nil {
		return nil, err
	}
	if err := bareNames(s); err != nil {
		return nil, err
	}
	if err := docProblem(s.Doc); err != nil {
		return nil, at(s.Range, fmt.Errorf("step %q: %w", s.Name, err))
	}
	out := &parser.Step{Name: name}
	add := func(st *parser.StepStmt) { out.Body = append(out.Body, st) }
	fail := func(err error) (*parser.Step, error) { return nil, at(s.Range, fmt.Errorf("step %q: %w", s.Name, err)) }
	a := s.Action
	if a == nil {
		return fail(fmt.Errorf("no action"))
	}
	switch a.Kind {
	case dsl.ActionGo, "":
		if len(s.Publish) > 0 {
			// Build reads a step whose only action lines are publish
			// lines as a publish step.
			return fail(fmt.Errorf("a Go step that publishes has no .flow form: make the publication a step of its own"))
		}
	case dsl.ActionRPC:
		add(&parser.StepStmt{RPC: rpcSyntax(a)})
	case dsl.ActionAwait:
		aw := &parser.Await{Topic: parser.NameToken(a.Topic), Event: parser.StringToken(a.Event), Into: fieldToken(a.Response)}
		if a.Correlate == nil && a.CorrelateOn != nil {
			// .flow writes a path after the field it is compared with.
			return fail(at(a.CorrelateOn.Range, fmt.Errorf("a correlate_on path without a correlate field has no .flow form: .flow writes correlate Field on path")))
		}
		if a.Correlate != nil {
			aw.Correlate = &parser.Correlate{Field: parser.IdentToken(a.Correlate.Name)}
			if a.CorrelateOn != nil {
				aw.Correlate.On = parser.NameToken(a.CorrelateOn.Name)
			}
		}
		if a.Timeout != 0 {
			aw.Timeout = durationToken(a.Timeout)
		}
		add(&parser.StepStmt{Await: aw})
	case dsl.ActionPublish:
		add(&parser.StepStmt{Publish: &parser.Publish{Topic: parser.NameToken(a.Topic), Event: parser.StringToken(a.Event), Payload: fieldToken(a.Request)}})
	case dsl.ActionSleep:
		if a.Until != nil && a.Duration != 0 {
			// A sleep line waits one or the other: printing one would
			// drop the other.
			return fail(at(a.Range, fmt.Errorf("a sleep with both a duration and an until field has no .flow form: a sleep line waits a duration or until a time")))
		}
		sl := &parser.Sleep{Until: fieldToken(a.Until)}
		if a.Until == nil {
			sl.Duration = durationToken(a.Duration)
		}
		add(&parser.StepStmt{Sleep: sl})
	case dsl.ActionChoose:
		c := &parser.Choose{}
		for _, w := range a.When {
			if w == nil || w.When == nil || w.Target == nil || !condShape(w.When) {
				return fail(fmt.Errorf("a when line without its condition or target, or with a condition the JSON form cannot have"))
			}
			cond := orSyntax(w.When)
			if cond.Parens() > parser.MaxParens {
				// The JSON form nests without bound; .flow's
				// lexer reads parentheses MaxParens deep.
				return fail(at(w.When.Range, fmt.Errorf("a condition whose parentheses would nest %d deep has no .flow form: .flow reads them at most %d deep", cond.Parens(), parser.MaxParens)))
			}
			c.Body = append(c.Body, &parser.ChooseStmt{When: &parser.When{Cond: cond, Target: parser.IdentToken(w.Target.Name)}})
		}
		if a.Otherwise != nil {
			c.Body = append(c.Body, &parser.ChooseStmt{Otherwise: parser.IdentToken(a.Otherwise.Name)})
		}
		add(&parser.StepStmt{Choose: c})
	case dsl.ActionCall:
		if a.Flow == nil {
			return fail(fmt.Errorf("a call without its flow"))
		}
		add(&parser.StepStmt{Call: callSyntax(a)})
	default:
		return fail(fmt.Errorf("an action of kind %q has no .flow form", a.Kind))
	}
	if slices.Contains(s.Writes, nil) || slices.Contains(s.Outcomes, nil) {
		return fail(fmt.Errorf("an empty name in its writes or outcomes"))
	}
	if len(s.Writes) > 0 {
		st := &parser.StepStmt{}
		for _, w := range s.Writes {
			st.Writes = append(st.Writes, &parser.Field{Name: parser.IdentToken(w.Name)})
		}
		add(st)
	}
	if s.Retry != nil {
		r, err := retrySyntax(s.Retry)
		if err != nil {
			return fail(err)
		}
		add(&parser.StepStmt{Retry: r})
	}
	if s.Timeout != 0 {
		add(&parser.StepStmt{Timeout: durationToken(s.Timeout)})
	}
	if s.Deadline != 0 {
		add(&parser.StepStmt{Deadline: durationToken(s.Deadline)})
	}
	if rb := s.Rollback; rb != nil {
		r := &parser.Rollback{}
		switch {
		case rb.Action != nil && rb.Action.Kind == dsl.ActionRPC:
			r.RPC = rpcSyntax(rb.Action)
		case rb.Action != nil && rb.Action.Kind == dsl.ActionCall && rb.Action.Flow != nil:
			r.Call = callSyntax(rb.Action)
		case rb.Action != nil:
			return fail(fmt.Errorf("a rollback of kind %q has no .flow form", rb.Action.Kind))
		case rb.Name != nil:
			r.Name = parser.IdentToken(rb.Name.Name)
		default:
			return fail(fmt.Errorf("a rollback with neither a name nor an action"))
		}
		add(&parser.StepStmt{Rollback: r})
	}
	if s.Irreversible {
		add(&parser.StepStmt{Irreversible: parser.IdentToken("irreversible")})
	}
	for _, p := range s.Publish {
		if p == nil {
			return fail(fmt.Errorf("a nil publication"))
		}
		add(&parser.StepStmt{Publish: &parser.Publish{Topic: parser.NameToken(p.Topic), Event: parser.StringToken(p.Event), Payload: fieldToken(p.Payload)}})
	}
	if len(s.Outcomes) > 0 {
		st := &parser.StepStmt{}
		for _, o := range s.Outcomes {
			st.Outcomes = append(st.Outcomes, &parser.Outcome{Name: parser.IdentToken(o.Name)})
		}
		add(st)
	}
	for _, t := range s.Transitions {
		on, err := onSyntax(t)
		if err != nil {
			return fail(err)
		}
		add(&parser.StepStmt{On: on})
	}
	return out, nil
}

func rpcSyntax(a *dsl.Action) *parser.RPC {
	return &parser.RPC{Service: parser.NameToken(a.Service), Endpoint: parser.StringToken(a.Endpoint),
		Request: fieldToken(a.Request), Response: fieldToken(a.Response)}
}

func callSyntax(a *dsl.Action) *parser.Call {
	return &parser.Call{Flow: fieldToken(a.Flow), Request: fieldToken(a.Request), Response: fieldToken(a.Response)}
}

func onSyntax(t *dsl.Transition) (*parser.On, error) {
	if t == nil || t.On == nil || t.Target == nil {
		return nil, fmt.Errorf("an on line without its outcome or target")
	}
	return &parser.On{Outcome: parser.IdentToken(t.On.Name), Target: parser.IdentToken(t.Target.Name)}, nil
}

// retrySyntax writes the parts of r that are set: a step's retry
// overrides its flow's part by part, so a part not set must stay unwritten.
// Attempts or a multiplier below the bounds .flow reads (dsl.ValidAttempts,
// dsl.ValidMultiplier) have no .flow form: an error at the retry policy.
func retrySyntax(r *dsl.Retry) (*parser.Retry, error) {
	switch {
	case !dsl.ValidAttempts(r.Attempts):
		return nil, at(r.Range, fmt.Errorf("retry attempts %d have no .flow form: .flow reads at least %d", r.Attempts, dsl.MinAttempts))
	case r.Multiplier != 0 && !dsl.ValidMultiplier(r.Multiplier):
		return nil, at(r.Range, fmt.Errorf("retry multiplier %g has no .flow form: .flow reads at least %g", r.Multiplier, dsl.MinMultiplier))
	}
	out := &parser.Retry{Attempts: parser.NumberToken(strconv.Itoa(r.Attempts))}
	if r.Initial != 0 || r.Max != 0 { // a zero bound reads back as not set
		out.Backoff = &parser.Backoff{Initial: durationToken(r.Initial), Max: durationToken(r.Max)}
	}
	if r.Multiplier != 0 {
		out.Multiplier = parser.NumberToken(strconv.FormatFloat(r.Multiplier, 'f', -1, 64))
	}
	if r.Jitter != "" {
		out.Jitter = parser.IdentToken(string(r.Jitter))
	}
	return out, nil
}

// orSyntax is condition c as a choose line's grammar has it: Build's
// inverse, so that an and inside an or, or a not of a comparison, is
// written without parentheses, and anything else nested gets them.
func orSyntax(c *dsl.Cond) *parser.Or {
	if c.Op != dsl.CondOr {
		return &parser.Or{Terms: []*parser.And{andSyntax(c)}}
	}
	out := &parser.Or{}
	for _, a := range c.Args {
		out.Terms = append(out.Terms, andSyntax(a))
	}
	return out
}

func andSyntax(c *dsl.Cond) *parser.And {
	if c.Op != dsl.CondAnd {
		return &parser.And{Factors: []*parser.Unary{unarySyntax(c)}}
	}
	out := &parser.And{}
	for _, a := range c.Args {
		out.Factors = append(out.Factors, unarySyntax(a))
	}
	return out
}

func unarySyntax(c *dsl.Cond) *parser.Unary {
	switch c.Op {
	case dsl.CondNot:
		if c.Args[0].Op == dsl.CondNot {
			// Build reads "not not X" as X: a not of a not is
			// bracketed, "not (not X)", as it is written to mean one.
			return &parser.Unary{Not: []string{"not"}, Group: orSyntax(c.Args[0])}
		}
		u := unarySyntax(c.Args[0])
		u.Not = append(u.Not, "not")
		return u
	case dsl.CondAnd, dsl.CondOr:
		return &parser.Unary{Group: orSyntax(c)}
	}
	cmp := &parser.Compare{Field: fieldToken(c.Field)}
	for _, m := range c.Members {
		cmp.Members = append(cmp.Members, &parser.Member{Name: fieldToken(m)})
	}
	if c.Op != dsl.CondField {
		cmp.Op = &parser.Token{Value: string(c.Op)}
		switch v := c.Value; v.Kind {
		case dsl.LitString:
			cmp.Value = parser.StringToken(v.Text)
		case dsl.LitDuration:
			cmp.Value = parser.DurationToken(v.Text)
		case dsl.LitBool:
			cmp.Value = parser.IdentToken(v.Text)
		default:
			cmp.Value = parser.NumberToken(numberAsRead(v.Text))
		}
	}
	return &parser.Unary{Compare: cmp}
}

// bareNames checks the names of step s that .flow writes bare (state
// fields, a condition's members, outcomes, targets, a Go rollback, a
// called flow): a JSON form may have any text there, which printed bare
// would not read back. The first that is not an identifier is an error at
// its place; so is a target or a Go rollback's name that .flow reads as a
// keyword (parser.IsTargetKeyword, IsRollbackKeyword), a condition's field
// named "not", which .flow reads as the negation, and a condition's number
// .flow cannot write (flowNumber), found in the same walk of the
// conditions.
func bareNames(s *dsl.Step) error {
	type named struct {
		what string
		id   *dsl.Ident
	}
	var names []named
	var not *dsl.Ident   // the first condition field named "not"
	var num *dsl.Literal // the first condition number without a .flow form
	add := func(what string, ids ...*dsl.Ident) {
		for _, id := range ids {
			if id != nil {
				names = append(names, named{what, id})
			}
		}
	}
	action := func(a *dsl.Action) {
		if a == nil {
			return
		}
		add("state field", a.Request, a.Response, a.Correlate, a.Until)
		add("flow name", a.Flow)
		for _, b := range a.When {
			if b == nil {
				continue
			}
			add("target", b.Target)
			b.When.Fields(func(c *dsl.Cond) {
				add("state field", c.Field)
				add("member", c.Members...)
				if not == nil && c.Field != nil && c.Field.Name == ident.KeywordNot {
					not = c.Field
				}
				if v := c.Value; num == nil && v != nil && v.Kind == dsl.LitNumber && !flowNumber(v.Text) {
					num = v
				}
			})
		}
		add("target", a.Otherwise)
	}
	action(s.Action)
	if s.Rollback != nil {
		add("rollback name", s.Rollback.Name)
		action(s.Rollback.Action)
	}
	for _, p := range s.Publish {
		if p != nil {
			add("state field", p.Payload)
		}
	}
	add("state field", s.Writes...)
	add("outcome", s.Outcomes...)
	for _, t := range s.Transitions {
		if t != nil {
			add("outcome", t.On)
			add("target", t.Target)
		}
	}
	for _, n := range names {
		if !ident.Is(n.id.Name) {
			return at(n.id.Range, fmt.Errorf("step %q: %s %q is not an identifier, which .flow needs", s.Name, n.what, n.id.Name))
		}
		if n.what == "target" && parser.IsTargetKeyword(n.id.Name) {
			return at(n.id.Range, fmt.Errorf("step %q: target %q has no .flow form: .flow reads it as a keyword, and the \"->\" before it as without its target", s.Name, n.id.Name))
		}
		if n.what == "rollback name" && parser.IsRollbackKeyword(n.id.Name) {
			return at(n.id.Range, fmt.Errorf("step %q: rollback name %q has no .flow form: .flow reads it as the keyword of a rollback's action", s.Name, n.id.Name))
		}
	}
	if not != nil {
		return at(not.Range, fmt.Errorf("step %q: a condition's state field %q has no .flow form: .flow reads it as the negation", s.Name, not.Name))
	}
	if num != nil {
		return at(num.Range, fmt.Errorf("step %q: a condition's number %s has no .flow form: .flow writes a number in decimal, within the range of float64", s.Name, snippet.Cut(num.Text, 32)))
	}
	return nil
}

// flowNumber reports whether .flow can write the JSON form's number text:
// its decimal spelling (numberAsRead, which leaves an exponent beyond
// maxExponent as it is) within float64's range (dsl.ValidNumber, Build's rule).
func flowNumber(text string) bool {
	d := numberAsRead(text)
	return !strings.ContainsAny(d, "eE") && dsl.ValidNumber(d)
}

// condShape reports whether condition c has the shape DecodeJSON gives
// one (what orSyntax assumes): a not of one condition, an and or an or of
// some, a field alone or compared with a literal.
func condShape(c *dsl.Cond) bool {
	if c == nil {
		return false
	}
	switch c.Op {
	case dsl.CondNot:
		return len(c.Args) == 1 && condShape(c.Args[0])
	case dsl.CondAnd, dsl.CondOr:
		for _, a := range c.Args {
			if !condShape(a) {
				return false
			}
		}
		return len(c.Args) > 0
	case dsl.CondField:
		return c.Field != nil
	}
	return c.Field != nil && c.Value != nil && c.Op.IsCompare()
}

// docProblem reports a doc that its comments could not hold as it is,
// which a JSON form's doc may: a character a .flow file may not have
// (parser.TextProblem), or a carriage return, which a comment's line does
// not keep (a file's CRLF line ends are its own).
func docProblem(doc string) error {
	p := parser.TextProblem(doc)
	if p == "" && strings.Contains(doc, "\r") {
		p = "a carriage return, which a .flow comment does not keep"
	}
	if p != "" {
		return fmt.Errorf("its doc has no .flow form: %s", p)
	}
	return nil
}

// docComments are the own-line comments that Build reads back as doc.
func docComments(doc string) parser.Comments {
	var c parser.Comments
	if doc == "" {
		return c
	}
	for _, l := range strings.Split(doc, "\n") {
		text := "//"
		if l != "" {
			text += " " + l
		}
		c.Leading = append(c.Leading, &parser.Comment{Text: text, OwnLine: true})
	}
	return c
}

func fieldToken(id *dsl.Ident) *parser.Token {
	if id == nil {
		return nil
	}
	return parser.IdentToken(id.Name)
}

func durationToken(d dsl.Duration) *parser.Token { return parser.DurationToken(d.String()) }

// identToken is name as an identifier token; what names it (a flow, a
// step) if it cannot be one, in an error at r, where the name is written
// (or, when the model has no range for it, at what the caller says).
func identToken(what, name string, r diag.Range) (*parser.Token, error) {
	if !ident.Is(name) {
		err := fmt.Errorf("%s %q is not an identifier, which .flow needs", what, name)
		if r.Start.IsValid() {
			err = at(r, err)
		}
		return nil, err
	}
	return parser.IdentToken(name), nil
}
