// Package parser reads .flow files into a syntax tree (File) and prints the
// tree back in canonical layout (Format). The grammar is declared with
// participle struct tags in ast.go; EBNF prints it. Package dsl turns the
// tree into the resolved model.
package parser

import (
	"slices"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/internal/ident"
)

// flowParser is built once: building reflects over every grammar struct.
// With no lookahead, participle commits to an alternative as soon as its
// first token matches. The grammar is LL(1) (every statement starts with its
// own keyword), so this loses nothing, and it makes participle report an
// error at the token that is wrong rather than at the start of the
// statement that contains it. (The overlaps, "rollback rpc ..." and
// "rollback call ..." against a Go rollback named rpc or call, resolve to
// the keyword: a Go rollback's name is exported, so never one of them.)
var flowParser = participle.MustBuild[File](
	participle.Lexer(flowLexer{}),
	participle.UseLookahead(0),
)

// EBNF returns the grammar of .flow files as participle prints it. The
// language reference (docs/language.md) quotes it, and a test keeps the two
// in sync.
func EBNF() string { return flowParser.String() }

// Parse reads a .flow source. It never panics. On a syntax error it returns
// an empty (non-nil) File and the error, positioned; otherwise every node of
// the File has its Pos and EndPos, and every comment is attached to a node.
func Parse(filename string, src []byte) (f *File, diags diag.List) {
	f = &File{Name: filename}
	defer func() {
		// A panic here is a bug in flowgen, not in the input; say so with a
		// position rather than crash the user's go generate.
		if r := recover(); r != nil {
			f = &File{Name: filename}
			diags = diag.List{diag.Errorf(diag.Range{Start: diag.Pos{File: filename, Line: 1, Column: 1}},
				"internal", "internal error: parser panicked: %v", r).WithHint("please report this as a flowgen bug, with the input file")}
		}
	}()
	// A leading byte order mark, which editors on Windows write, is not
	// text: reading starts after it, so columns of line 1 count from
	// there, while offsets stay those of the file (diag.TextStart).
	// Anywhere else it is a character no token may hold, and the lexer
	// says so.
	start := diag.TextStart(src)
	if d := validate(filename, src, start); len(d) > 0 {
		return f, d
	}
	s := scan(filename, string(src), start)
	peek, err := lexer.Upgrade(&tokenStream{toks: s.toks})
	if err != nil {
		return f, diag.List{diag.Errorf(rangeAt(s.toks[0].Pos), "syntax", "%v", err)}
	}
	ast, err := flowParser.ParseFromLexer(peek)
	switch {
	case err != nil:
		// Report whichever error comes first in the source: the parser
		// stops at the lexer's invalid token at the latest.
		d := syntaxError(err, s.toks)
		if s.err != nil && d.Range.Start.Offset >= s.errAt {
			d = *s.err
		}
		return f, diag.List{d}
	case s.err != nil: // no rule matches an invalid token; kept for safety
		return f, diag.List{*s.err}
	}
	if d, bad := keywordNameError(ast, s.toks); bad {
		return f, diag.List{d}
	}
	ast.Name = filename
	ast.Comments = s.comments
	p := &post{s: &s}
	p.file(ast)
	if p.err != nil {
		return &File{Name: filename}, diag.List{*p.err}
	}
	return ast, nil
}

// post completes the tree participle built: it moves every EndPos from the
// start of the next token to the end of the node's own last token, and
// attaches comments to nodes. Participle's EndPos is where the next token
// starts, which would put the end of a statement on the next line.
type post struct {
	s   *scanned
	ci  int              // next comment to attach
	err *diag.Diagnostic // the first choose line out of order (chooseOrder)
}

// tokenIndex is the index of the first token of toks (in source order)
// at or after offset, len(toks) if none. Every parse looks up a token for
// each node and each transition and field (keywordNameError): a search,
// as a scan would make parsing quadratic in the size of the file.
func tokenIndex(toks []lexer.Token, offset int) int {
	i, _ := slices.BinarySearchFunc(toks, offset, func(t lexer.Token, off int) int { return t.Pos.Offset - off })
	return i
}

// fixEnd moves *end (participle's EndPos: the position of the token after
// the node) to just after the node's last token.
func (p *post) fixEnd(end *lexer.Position) {
	i := tokenIndex(p.s.toks, end.Offset) - 1
	if i < 0 {
		return
	}
	t := p.s.toks[i]
	*end = t.Pos
	end.Offset += len(t.Value)
	end.Column += len(t.Value)
}

// blankBefore reports whether a blank line separates the token at pos from
// the token or comment before it.
func (p *post) blankBefore(pos lexer.Position) bool {
	i := tokenIndex(p.s.toks, pos.Offset)
	return i < len(p.s.blank) && p.s.blank[i]
}

// nextComment returns the next unattached comment if it starts before
// offset.
func (p *post) nextComment(before int) *Comment {
	if p.ci < len(p.s.comments) && p.s.comments[p.ci].Pos.Offset < before {
		c := p.s.comments[p.ci]
		p.ci++
		return c
	}
	return nil
}

// join appends c to an end-of-line comment slot. Comments written between
// the tokens of one statement end up here: Format prints a statement on one
// line, so they can only follow it.
func join(slot **Comment, c *Comment) {
	if *slot == nil {
		cc := *c
		cc.OwnLine, cc.BlankBefore = false, false
		*slot = &cc
		return
	}
	(*slot).Text += " " + c.Text
}

// item is one child of a block, seen by the comment attacher.
type item struct {
	pos, end lexer.Position
	comments *Comments
	inside   func() // attaches the comments inside the child, if it is a block
}

// block attaches the comments of a brace block whose children are items.
// open is the position of "{" (the zero Position for the file itself) and
// close that of "}" (or EOF). Comments before "{" and the end-of-line
// comment after it go to openSlot; own-line comments after the last child
// go to footer.
func (p *post) block(open, close lexer.Position, items []item, openSlot **Comment, footer *[]*Comment) {
	// Comments between the keyword and "{" join the "{" comment.
	for c := p.nextComment(open.Offset); c != nil; c = p.nextComment(open.Offset) {
		join(openSlot, c)
	}
	prev := openSlot // where an end-of-line comment goes
	for _, it := range items {
		for c := p.nextComment(it.pos.Offset); c != nil; c = p.nextComment(it.pos.Offset) {
			if c.OwnLine {
				it.comments.Leading = append(it.comments.Leading, c)
			} else {
				join(prev, c)
			}
		}
		it.comments.BlankBefore = p.blankBefore(it.pos)
		if it.inside != nil {
			it.inside()
		} else {
			for c := p.nextComment(it.end.Offset); c != nil; c = p.nextComment(it.end.Offset) {
				join(&it.comments.Trailing, c)
			}
		}
		prev = &it.comments.Trailing
	}
	for c := p.nextComment(close.Offset); c != nil; c = p.nextComment(close.Offset) {
		if c.OwnLine {
			*footer = append(*footer, c)
		} else {
			join(prev, c)
		}
	}
}

func (p *post) file(f *File) {
	p.fixEnd(&f.EndPos)
	items := make([]item, len(f.Flows))
	for i, fl := range f.Flows {
		items[i] = item{pos: fl.Pos, end: fl.EndPos, comments: &fl.Comments, inside: func() { p.flow(fl) }}
	}
	var open *Comment // the file has no "{"; nothing can precede the first flow on its line
	eof := p.s.toks[len(p.s.toks)-1].Pos
	eof.Offset++ // comments at the very end are before EOF
	p.block(lexer.Position{}, eof, items, &open, &f.Footer)
}

func (p *post) flow(fl *Flow) {
	rawEnd := fl.EndPos
	p.fixEnd(&fl.EndPos)
	items := make([]item, len(fl.Body))
	for i, st := range fl.Body {
		items[i] = p.flowStmt(st)
	}
	// An end-of-line comment after the closing brace is the flow's
	// Trailing, attached by the enclosing block.
	p.block(p.openBrace(End(fl.Name)), p.lastToken(rawEnd), items, &fl.Open, &fl.Footer)
}

// openBrace is the position of the first "{" after pos.
func (p *post) openBrace(after lexer.Position) lexer.Position {
	for i := tokenIndex(p.s.toks, after.Offset); i < len(p.s.toks); i++ {
		if p.s.toks[i].Value == "{" {
			return p.s.toks[i].Pos
		}
	}
	return after
}

// lastToken is the position of the last token before participle's EndPos.
func (p *post) lastToken(rawEnd lexer.Position) lexer.Position {
	i := tokenIndex(p.s.toks, rawEnd.Offset) - 1
	if i < 0 {
		return rawEnd
	}
	return p.s.toks[i].Pos
}

func (p *post) flowStmt(st *FlowStmt) item {
	p.fixEnd(&st.EndPos)
	it := item{pos: st.Pos, end: st.EndPos, comments: &st.Comments}
	switch {
	case st.Step != nil:
		it.inside = func() { p.step(st.Step) }
	case st.Parallel != nil:
		it.inside = func() { p.parallel(st.Parallel) }
	}
	return it
}

func (p *post) parallel(b *Parallel) {
	rawEnd := b.EndPos
	p.fixEnd(&b.EndPos)
	items := make([]item, len(b.Body))
	for i, st := range b.Body {
		p.fixEnd(&st.EndPos)
		items[i] = item{pos: st.Pos, end: st.EndPos, comments: &st.Comments}
		if st.Step != nil {
			items[i].inside = func() { p.step(st.Step) }
		}
	}
	p.block(p.openBrace(End(b.Name)), p.lastToken(rawEnd), items, &b.Open, &b.Footer)
}

func (p *post) step(s *Step) {
	rawEnd := s.EndPos
	p.fixEnd(&s.EndPos)
	items := make([]item, len(s.Body))
	for i, st := range s.Body {
		p.fixEnd(&st.EndPos)
		items[i] = item{pos: st.Pos, end: st.EndPos, comments: &st.Comments}
		if c := st.Choose; c != nil {
			items[i].inside = func() { p.choose(c) }
		}
	}
	p.block(p.openBrace(End(s.Name)), p.lastToken(rawEnd), items, &s.Open, &s.Footer)
}

// choose attaches the comments of a choose block to its lines; an
// end-of-line comment after its "}" is the choose statement's Trailing.
func (p *post) choose(c *Choose) {
	rawEnd := c.EndPos
	p.fixEnd(&c.EndPos)
	items := make([]item, len(c.Body))
	for i, st := range c.Body {
		p.fixEnd(&st.EndPos)
		items[i] = item{pos: st.Pos, end: st.EndPos, comments: &st.Comments}
	}
	p.block(p.openBrace(c.Pos), p.lastToken(rawEnd), items, &c.Open, &c.Footer)
	if p.err == nil {
		p.err = chooseOrder(c)
	}
}

// chooseOrder is the error of a when line written after the otherwise line
// of choose block c, nil if there is none. The when lines are tried in
// order and otherwise is taken when none holds (docs/language.md), so an
// otherwise above a when would read as taken first, and the lines below it
// as never tried. (A second otherwise is the builder's duplicate error.)
func chooseOrder(c *Choose) *diag.Diagnostic {
	var otherwise *ChooseStmt
	for _, st := range c.Body {
		switch {
		case st.Otherwise != nil && otherwise == nil:
			otherwise = st
		case st.When != nil && otherwise != nil:
			d := diag.Errorf(diag.Range{Start: toPos(st.Pos), End: toPos(advance(st.Pos, ident.KeywordWhen))}, "syntax",
				"when line after the otherwise line of its choose (line %d): the when lines are tried in order, then otherwise", otherwise.Pos.Line).
				WithHint("move `otherwise -> %s` to the end of the choose block", otherwise.Otherwise.Value)
			return &d
		}
	}
	return nil
}

// advance is the position just after text that starts at pos (tokens do not
// span lines).
func advance(pos lexer.Position, text string) lexer.Position {
	pos.Offset += len(text)
	pos.Column += len(text)
	return pos
}
