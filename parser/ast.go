package parser

import (
	"strconv"

	"github.com/alecthomas/participle/v2/lexer"
)

// The grammar: one struct per rule, each with Pos (its first token) first.
// The participle tags are the grammar; EBNF() prints them. Build (in package
// dsl) turns this tree into the resolved model, and Format prints it back in
// canonical layout, so the tree keeps everything both need: names and
// literals as written, with their positions, and comments.
//
// Statement keywords are matched by the statement rules (FlowStmt,
// StepStmt), not by the node that follows them: participle tries the
// alternatives of a statement in order, and a failed alternative then costs
// a token comparison instead of building a node. That halves the time to
// parse a large flow. So the RPC node of "rpc svc "E"" starts at svc, and
// the statement (FlowStmt, StepStmt) is what spans the whole line.
//
// Nesting is fixed by the grammar (file, flow, parallel block, step,
// statement), except for the parentheses of a choose condition, which the
// lexer bounds (MaxParens), so no input can make the parser recurse deeper
// than that.

// Token is a name or literal as written, with its position: an identifier,
// a string literal with its quotes and escapes, a duration or a number.
// Tokens never span lines, so a token ends len(Value) bytes after Pos.
type Token = lexer.Token

// File is a whole .flow source.
type File struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Flows []*Flow `parser:"@@*"`

	// Name is the file name given to Parse, used in positions.
	Name string
	// Comments holds every comment in source order. Each one is also
	// attached to the node it belongs to (see Comments), which is what
	// Format and Build read.
	Comments []*Comment
	// Footer holds own-line comments after the last flow.
	Footer []*Comment
}

// Flow is "flow Name { ... }".
type Flow struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Name *Token      `parser:"'flow' @Ident"`
	Body []*FlowStmt `parser:"'{' @@* '}'"`

	Comments
	Block
}

// FlowStmt is one statement in a flow body.
type FlowStmt struct {
	Pos    lexer.Position
	EndPos lexer.Position

	State    *Token    `parser:"  'state' @Ident"`
	Trigger  *Trigger  `parser:"| 'trigger' @@"`
	Retry    *Retry    `parser:"| 'retry' @@"`
	Timeout  *Token    `parser:"| 'timeout' @Duration"`
	Deadline *Token    `parser:"| 'deadline' @Duration"`
	Step     *Step     `parser:"| 'step' @@"`
	Parallel *Parallel `parser:"| 'parallel' @@"`

	Comments
}

// Parallel is what follows "parallel": Name { ... }, a block of steps (its
// branches) that run at the same time, and the block's own on lines.
type Parallel struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Name *Token          `parser:"@Ident"`
	Body []*ParallelStmt `parser:"'{' @@* '}'"`

	Block
}

// ParallelStmt is one statement in a parallel block: a branch or an on line.
type ParallelStmt struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Step *Step `parser:"  'step' @@"`
	On   *On   `parser:"| 'on' @@"`

	Comments
}

// Trigger is what follows "trigger": rpc, event or schedule.
type Trigger struct {
	Pos lexer.Position

	RPC      *Token        `parser:"  'rpc' @String"`
	Event    *EventTrigger `parser:"| 'event' @@"`
	Schedule *Token        `parser:"| 'schedule' @String"`
}

// EventTrigger is the topic and event name of "trigger event".
type EventTrigger struct {
	Pos lexer.Position

	Topic *Token `parser:"@( Ident | String )"`
	Event *Token `parser:"@String"`
}

// Retry is what follows "retry": N [backoff D..D] [multiplier X]
// [jitter none|full].
type Retry struct {
	Pos lexer.Position

	Attempts   *Token   `parser:"@Number"`
	Backoff    *Backoff `parser:"( 'backoff' @@ )?"`
	Multiplier *Token   `parser:"( 'multiplier' @Number )?"`
	Jitter     *Token   `parser:"( 'jitter' @( 'none' | 'full' ) )?"`
}

// Backoff is the range Initial..Max of a retry.
type Backoff struct {
	Pos lexer.Position

	Initial *Token `parser:"@Duration"`
	Max     *Token `parser:"'..' @Duration"`
}

// Step is what follows "step": Name { ... }.
type Step struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Name *Token      `parser:"@Ident"`
	Body []*StepStmt `parser:"'{' @@* '}'"`

	Block
}

// StepStmt is one statement in a step body; they may come in any order.
type StepStmt struct {
	Pos    lexer.Position
	EndPos lexer.Position

	RPC          *RPC       `parser:"  'rpc' @@"`
	Await        *Await     `parser:"| 'await' @@"`
	Publish      *Publish   `parser:"| 'publish' @@"`
	Sleep        *Sleep     `parser:"| 'sleep' @@"`
	Choose       *Choose    `parser:"| 'choose' @@"`
	Call         *Call      `parser:"| 'call' @@"`
	Retry        *Retry     `parser:"| 'retry' @@"`
	Timeout      *Token     `parser:"| 'timeout' @Duration"`
	Deadline     *Token     `parser:"| 'deadline' @Duration"`
	Rollback     *Rollback  `parser:"| 'rollback' @@"`
	Irreversible *Token     `parser:"| @'irreversible'"`
	Outcomes     []*Outcome `parser:"| 'outcomes' @@ ( ',' @@ )*"`
	Writes       []*Field   `parser:"| 'writes' @@ ( ',' @@ )*"`
	On           *On        `parser:"| 'on' @@"`

	Comments
}

// Outcome is one name in an outcomes list. (It is a node rather than a bare
// Token because participle does not collect repeated captures into a slice
// of tokens.)
type Outcome struct {
	Pos lexer.Position

	Name *Token `parser:"@Ident"`
}

// Field is a state field a Go step declares it writes.
type Field struct {
	Pos lexer.Position

	Name *Token `parser:"@Ident"`
}

// RPC is what follows "rpc": service "Endpoint" [(Request)] [-> Response].
type RPC struct {
	Pos lexer.Position

	Service  *Token `parser:"@( Ident | String )"`
	Endpoint *Token `parser:"@String"`
	Request  *Token `parser:"( '(' @Ident ')' )?"`
	Response *Token `parser:"( '->' @Ident )?"`
}

// Await is what follows "await":
// topic "event" [-> Field] [correlate Field [on path]] [timeout D].
type Await struct {
	Pos lexer.Position

	Topic     *Token     `parser:"@( Ident | String )"`
	Event     *Token     `parser:"@String"`
	Into      *Token     `parser:"( '->' @Ident )?"`
	Correlate *Correlate `parser:"( 'correlate' @@ )?"`
	Timeout   *Token     `parser:"( 'timeout' @Duration )?"`
}

// Correlate is what follows "correlate": Field [on path]. The path names
// the payload member compared with the field: an identifier (on order_id)
// or a string of dot-separated members (on "payment.order_id"); Path
// reads either.
//
// Newlines mean nothing, so "correlate ID" followed by the transition
// "on timeout -> Expire" would read "on timeout" as a path: the negative
// lookahead leaves an "on" followed by a name and "->" to the step, where
// it is a transition. Nothing else can follow a path with "->", so this
// takes no valid text from either reading.
type Correlate struct {
	Pos lexer.Position

	Field *Token `parser:"@Ident"`
	On    *Token `parser:"( (?! 'on' Ident '->' ) 'on' @( Ident | String ) )?"`
}

// FieldToken is c.Field; nil when c is nil (an await without correlate).
func (c *Correlate) FieldToken() *Token {
	if c == nil {
		return nil
	}
	return c.Field
}

// Path is the payload path of c as written, unquoted; "" when there is no
// "on".
func (c *Correlate) Path() string {
	if c == nil || c.On == nil {
		return ""
	}
	return Name(c.On)
}

// Publish is what follows "publish": topic "event" [(Payload)].
type Publish struct {
	Pos lexer.Position

	Topic   *Token `parser:"@( Ident | String )"`
	Event   *Token `parser:"@String"`
	Payload *Token `parser:"( '(' @Ident ')' )?"`
}

// Call is what follows "call": Flow [(Request)] [-> Response], a flow of
// the same file run as a child run with the state field Request as its
// state, its final state written to Response.
type Call struct {
	Pos lexer.Position

	Flow     *Token `parser:"@Ident"`
	Request  *Token `parser:"( '(' @Ident ')' )?"`
	Response *Token `parser:"( '->' @Ident )?"`
}

// Sleep is what follows "sleep": a duration (sleep 336h), or until a state
// field that holds the time to wake at (sleep until ReminderAt).
type Sleep struct {
	Pos lexer.Position

	Duration *Token `parser:"  @Duration"`
	Until    *Token `parser:"| 'until' @Ident"`
}

// Choose is what follows "choose": a block of `when <condition> -> Target`
// lines and an `otherwise -> Target` line.
type Choose struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Body []*ChooseStmt `parser:"'{' @@* '}'"`

	Block
}

// ChooseStmt is one line of a choose block.
type ChooseStmt struct {
	Pos    lexer.Position
	EndPos lexer.Position

	When      *When  `parser:"  'when' @@"`
	Otherwise *Token `parser:"| 'otherwise' '->' @Ident"`

	Comments
}

// When is what follows "when": a condition, "->" and the target.
type When struct {
	Pos lexer.Position

	Cond   *Or    `parser:"@@"`
	Target *Token `parser:"'->' @Ident"`
}

// Or is a condition: one or more Ands joined by "or" (the loosest
// operator).
type Or struct {
	Pos lexer.Position

	Terms []*And `parser:"@@ ( 'or' @@ )*"`
}

// Parens is how deep the parentheses of condition o nest, as Format
// writes it: more than MaxParens and the lexer does not read it back.
func (o *Or) Parens() int {
	deepest := 0
	if o == nil {
		return deepest
	}
	for _, a := range o.Terms {
		if a == nil {
			continue
		}
		for _, u := range a.Factors {
			if u != nil && u.Group != nil {
				deepest = max(deepest, 1+u.Group.Parens())
			}
		}
	}
	return deepest
}

// And is one or more Unarys joined by "and".
type And struct {
	Pos lexer.Position

	Factors []*Unary `parser:"@@ ( 'and' @@ )*"`
}

// Unary is a comparison or a parenthesised condition, after any number of
// "not"s (a repetition, not a recursion: only parentheses nest).
type Unary struct {
	Pos lexer.Position

	Not     []string `parser:"@'not'*"`
	Group   *Or      `parser:"( '(' @@ ')'"`
	Compare *Compare `parser:"| @@ )"`
}

// Compare is a state field compared with a literal (Total >= 100), or a
// bool field alone (Express); the field may be followed by the members
// read in it (Customer.Tier == "gold").
type Compare struct {
	Pos lexer.Position

	Field   *Token    `parser:"@Ident"`
	Members []*Member `parser:"@@*"`
	Op      *Token    `parser:"( @( '==' | '!=' | '<=' | '>=' | '<' | '>' )"`
	Value   *Token    `parser:"  @( String | Number | Duration | 'true' | 'false' ) )?"`
}

// Member is ".Name", a member read in a condition's field or in the
// member before it.
type Member struct {
	Pos lexer.Position

	Name *Token `parser:"'.' @Ident"`
}

// Rollback is what follows "rollback": an rpc, a call of a flow, or the
// name of a Go rollback (a handler method).
type Rollback struct {
	Pos lexer.Position

	RPC  *RPC   `parser:"  'rpc' @@"`
	Call *Call  `parser:"| 'call' @@"`
	Name *Token `parser:"| @Ident"`
}

// IsRollbackKeyword reports whether name, written as a Go rollback's
// name, would be read as the keyword of an rpc or a call rollback (the
// grammar of Rollback, beside it): a name the JSON form may hold (where
// Check refuses it) and .flow cannot write.
func IsRollbackKeyword(name string) bool { return name == "rpc" || name == "call" }

// On is what follows "on": outcome -> target.
type On struct {
	Pos lexer.Position

	Outcome *Token `parser:"@Ident"`
	Target  *Token `parser:"'->' @Ident"`
}

// Unquote is the value of a string token. The lexer has checked that it
// unquotes; a token that does not is returned as written.
func Unquote(t *Token) string {
	v, err := strconv.Unquote(t.Value)
	if err != nil {
		return t.Value
	}
	return v
}

// Name is the value of a service or topic name, which is written bare when
// it is an identifier ("billing") and quoted when it is not
// ("billing-events", "orders.v1").
func Name(t *Token) string {
	if t.Type == tokString {
		return Unquote(t)
	}
	return t.Value
}

// IsString reports whether t is a string literal.
func IsString(t *Token) bool { return t.Type == tokString }

// IsDuration reports whether t is a duration literal.
func IsDuration(t *Token) bool { return t.Type == tokDuration }

// End is the position just after t.
func End(t *Token) lexer.Position { return advance(t.Pos, t.Value) }

// Comment is one "//" comment.
type Comment struct {
	Pos lexer.Position
	// Text is the comment as written, starting with "//", without the line
	// ending.
	Text string
	// OwnLine is true when nothing but blanks precede the comment on its line.
	OwnLine bool
	// BlankBefore is true when a blank line separates the comment from
	// whatever comes before it.
	BlankBefore bool
}

// Comments are the comments that belong to a statement, a step or a flow.
type Comments struct {
	// Leading are the own-line comments above the node, in order.
	Leading []*Comment
	// BlankBefore is true when a blank line separates the node (its first
	// token) from whatever is above it: its last leading comment or the
	// previous statement. The doc comment of a flow or step is the last
	// run of leading comments with no blank line in it or below it.
	BlankBefore bool
	// Trailing is the end-of-line comment after the node's last token.
	// Comments written between the node's own tokens are joined into it.
	Trailing *Comment
}

// Block holds the comments between the braces of a flow or step that belong
// to no statement.
type Block struct {
	// Open is the end-of-line comment after "{", joined with any comment
	// written between the keyword and "{".
	Open *Comment
	// Footer are the own-line comments after the last statement, before "}".
	Footer []*Comment
}
