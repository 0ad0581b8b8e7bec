package parser

import (
	"strconv"

	"github.com/alecthomas/participle/v2/lexer"
)

// The grammar: one struct per rule, each with Pos (its first token) and
// EndPos (just after its last token) first. The participle tags are the
// grammar; EBNF() prints them. Build (in package dsl) turns this tree into
// the resolved model, and Format prints it back in canonical layout, so the
// tree keeps everything both need: raw literals and comments.
//
// Nesting is fixed by the grammar (file, flow, step, statement), so no input
// can make the parser recurse deeper than that: there is no expression or
// block that contains itself.

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

	Name *Ident      `parser:"'flow' @@"`
	Body []*FlowStmt `parser:"'{' @@* '}'"`

	Comments
	Block
}

// FlowStmt is one statement in a flow body.
type FlowStmt struct {
	Pos    lexer.Position
	EndPos lexer.Position

	State    *State    `parser:"  @@"`
	Trigger  *Trigger  `parser:"| @@"`
	Retry    *Retry    `parser:"| @@"`
	Timeout  *Timeout  `parser:"| @@"`
	Deadline *Deadline `parser:"| @@"`
	Step     *Step     `parser:"| @@"`

	Comments
}

// State is "state GoType".
type State struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Type *Ident `parser:"'state' @@"`
}

// Trigger is "trigger rpc|event|schedule ...".
type Trigger struct {
	Pos    lexer.Position
	EndPos lexer.Position

	RPC      *RPCTrigger      `parser:"'trigger' ( @@"`
	Event    *EventTrigger    `parser:"          | @@"`
	Schedule *ScheduleTrigger `parser:"          | @@ )"`
}

// RPCTrigger is `rpc "Service.Method"`.
type RPCTrigger struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Endpoint *String `parser:"'rpc' @@"`
}

// EventTrigger is `event topic "event.name"`.
type EventTrigger struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Topic *Ident  `parser:"'event' @@"`
	Event *String `parser:"@@"`
}

// ScheduleTrigger is `schedule "cron or @every"`.
type ScheduleTrigger struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Spec *String `parser:"'schedule' @@"`
}

// Retry is "retry N [backoff D..D] [multiplier X] [jitter none|full]".
type Retry struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Attempts   *Number  `parser:"'retry' @@"`
	Backoff    *Backoff `parser:"@@?"`
	Multiplier *Number  `parser:"( 'multiplier' @@ )?"`
	Jitter     string   `parser:"( 'jitter' @( 'none' | 'full' ) )?"`
}

// Backoff is "backoff Initial..Max".
type Backoff struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Initial *Duration `parser:"'backoff' @@"`
	Max     *Duration `parser:"'..' @@"`
}

// Timeout is "timeout D".
type Timeout struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Value *Duration `parser:"'timeout' @@"`
}

// Deadline is "deadline D".
type Deadline struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Value *Duration `parser:"'deadline' @@"`
}

// Step is "step Name { ... }".
type Step struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Name *Ident      `parser:"'step' @@"`
	Body []*StepStmt `parser:"'{' @@* '}'"`

	Block
}

// StepStmt is one statement in a step body, in any order.
type StepStmt struct {
	Pos    lexer.Position
	EndPos lexer.Position

	RPC          *RPC          `parser:"  @@"`
	Await        *Await        `parser:"| @@"`
	Publish      *Publish      `parser:"| @@"`
	Retry        *Retry        `parser:"| @@"`
	Timeout      *Timeout      `parser:"| @@"`
	Deadline     *Deadline     `parser:"| @@"`
	Rollback     *Rollback     `parser:"| @@"`
	Irreversible *Irreversible `parser:"| @@"`
	Outcomes     *Outcomes     `parser:"| @@"`
	On           *On           `parser:"| @@"`

	Comments
}

// RPC is `rpc service "Endpoint" [(Request)] [-> Response]`.
type RPC struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Service  *Ident  `parser:"'rpc' @@"`
	Endpoint *String `parser:"@@"`
	Request  *Ident  `parser:"( '(' @@ ')' )?"`
	Response *Ident  `parser:"( '->' @@ )?"`
}

// Await is `await topic "event" [-> Field] [correlate Field] [timeout D]`.
type Await struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Topic     *Ident    `parser:"'await' @@"`
	Event     *String   `parser:"@@"`
	Into      *Ident    `parser:"( '->' @@ )?"`
	Correlate *Ident    `parser:"( 'correlate' @@ )?"`
	Timeout   *Duration `parser:"( 'timeout' @@ )?"`
}

// Publish is `publish topic "event" [(Payload)]`.
type Publish struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Topic   *Ident  `parser:"'publish' @@"`
	Event   *String `parser:"@@"`
	Payload *Ident  `parser:"( '(' @@ ')' )?"`
}

// Rollback is "rollback GoStep" or "rollback rpc ...".
type Rollback struct {
	Pos    lexer.Position
	EndPos lexer.Position

	RPC  *RPC   `parser:"'rollback' ( @@"`
	Name *Ident `parser:"           | @@ )"`
}

// Irreversible marks a step that has no rollback on purpose.
type Irreversible struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Keyword string `parser:"@'irreversible'"`
}

// Outcomes is "outcomes a, b, c": the named outcomes a Go step may return.
type Outcomes struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Names []*Ident `parser:"'outcomes' @@ ( ',' @@ )*"`
}

// On is "on outcome -> target".
type On struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Outcome *Ident `parser:"'on' @@"`
	Target  *Ident `parser:"'->' @@"`
}

// Ident is a name: a flow, step, type, field, topic, service or outcome.
type Ident struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Name string `parser:"@Ident"`
}

// String is a double-quoted Go string literal; Raw keeps the quotes and
// escapes as written, so Format prints it unchanged. The lexer has already
// checked that it unquotes.
type String struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Raw string `parser:"@String"`
}

// Value is the string's unquoted value.
func (s *String) Value() string {
	v, err := strconv.Unquote(s.Raw)
	if err != nil { // the lexer rejects such literals; keep the text rather than lose it
		return s.Raw
	}
	return v
}

// Duration is a duration as written ("250ms", "1h30m"). It is validated by
// Build, so that "10x" is reported with what is wrong with it.
type Duration struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Text string `parser:"@Duration"`
}

// Number is an unsigned decimal number as written ("3", "1.5").
type Number struct {
	Pos    lexer.Position
	EndPos lexer.Position

	Text string `parser:"@Number"`
}

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
