package flowfile

import (
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/internal/ident"
	"github.com/flowgen/flowgen/parser"
)

// choose builds a choose action: its when lines in order and its
// otherwise (one; Check reports a missing one).
func (b *builder) choose(step string, c *parser.Choose, stmt diag.Range) *dsl.Action {
	a := &dsl.Action{Kind: dsl.ActionChoose, Range: stmt}
	var otherwise *parser.ChooseStmt
	for _, st := range c.Body {
		if st.When != nil {
			a.When = append(a.When, &dsl.Branch{
				When:   b.cond(st.When.Cond),
				Target: tokenIdent(st.When.Target),
				Range:  rng(st.Pos, st.EndPos),
			})
			continue
		}
		if otherwise != nil {
			b.duplicate(ident.KeywordOtherwise, "the choose of step", step, otherwise.Pos, rng(st.Pos, st.EndPos), "keep one `otherwise -> Step`: it is where the run goes when no condition holds")
			continue
		}
		otherwise = st
		a.Otherwise = tokenIdent(st.Otherwise)
	}
	return a
}

// cond builds the condition of an Or node. A list of one is its element,
// and "not not X" is X, so the model nests only where the text has
// parentheses or mixes operators.
func (b *builder) cond(o *parser.Or) *dsl.Cond {
	terms := make([]*dsl.Cond, 0, len(o.Terms))
	for _, a := range o.Terms {
		factors := make([]*dsl.Cond, 0, len(a.Factors))
		for _, u := range a.Factors {
			factors = append(factors, b.unary(u))
		}
		terms = append(terms, join(dsl.CondAnd, factors, rng(a.Pos, a.Pos)))
	}
	return join(dsl.CondOr, terms, rng(o.Pos, o.Pos))
}

func join(op dsl.CondOp, args []*dsl.Cond, r diag.Range) *dsl.Cond {
	if len(args) == 1 {
		return args[0]
	}
	return &dsl.Cond{Op: op, Args: args, Range: pickRange(args[0].Range, r)}
}

func pickRange(a, b diag.Range) diag.Range {
	if a.Start.IsValid() {
		return a
	}
	return b
}

func (b *builder) unary(u *parser.Unary) *dsl.Cond {
	var c *dsl.Cond
	if u.Group != nil {
		c = b.cond(u.Group)
	} else {
		c = b.compare(u.Compare)
	}
	if len(u.Not)%2 == 1 {
		c = &dsl.Cond{Op: dsl.CondNot, Args: []*dsl.Cond{c}, Range: rng(u.Pos, u.Pos)}
	}
	return c
}

func (b *builder) compare(c *parser.Compare) *dsl.Cond {
	out := &dsl.Cond{Op: dsl.CondField, Field: tokenIdent(c.Field), Range: tokenRange(c.Field)}
	for _, m := range c.Members {
		out.Members = append(out.Members, tokenIdent(m.Name))
	}
	if c.Op == nil {
		return out
	}
	out.Op = dsl.CondOp(c.Op.Value)
	v := c.Value
	lit := &dsl.Literal{Text: v.Value, Range: tokenRange(v)}
	switch {
	case v.Value == "true" || v.Value == "false":
		lit.Kind = dsl.LitBool
	case parser.IsString(v):
		lit.Kind, lit.Text = dsl.LitString, parser.Unquote(v)
	case parser.IsDuration(v) && strings.HasPrefix(v.Value, "-"):
		lit.Kind = dsl.LitDuration
		b.errorf(lit.Range, "compare with a duration of zero or more", "invalid duration %s: durations are not negative", v.Value)
	case parser.IsDuration(v) && numberNotation(v.Value):
		// 1e6, 0x10, 1_000: a number in a notation the language does not
		// read, which the lexer took for a duration with a unit it lacks;
		// "unknown unit" would mislead. 14d or 2w is a duration in a unit
		// Go lacks, which b.duration reports with the hours it is.
		lit.Kind = dsl.LitNumber
		b.errorf(lit.Range, "write a decimal number, such as 1000 or 2.5 (no exponent, hex or _)", "invalid number %s", v.Value)
	case parser.IsDuration(v):
		lit.Kind, lit.Text = dsl.LitDuration, b.duration(v).String()
	default:
		lit.Kind, lit.Text = dsl.LitNumber, parser.NumberString(v.Value)
		if !dsl.ValidNumber(lit.Text) {
			b.errorf(lit.Range, "write a decimal number such as 100 or 2.5", "invalid number %s", v.Value)
		}
	}
	out.Value = lit
	return out
}

// numberNotation reports whether v, a number followed by letters, is a
// number in a notation Go reads and the language does not: an exponent
// (1e6, 2.5E-3), a base prefix (0x10, 0b1, 0o7) or digit separators
// (1_000), rather than a duration with a unit Go lacks (14d, 2w).
func numberNotation(v string) bool {
	if strings.ContainsRune(v, '_') {
		return true
	}
	if len(v) > 2 && v[0] == '0' && strings.ContainsRune("xXbBoO", rune(v[1])) {
		return true
	}
	i := strings.IndexAny(v, "eE")
	if i <= 0 {
		return false
	}
	exp := strings.TrimLeft(v[i+1:], "+-")
	return exp != "" && strings.Trim(exp, "0123456789") == "" && strings.Trim(v[:i], "0123456789.") == ""
}
