package cli

import (
	"cmp"
	"flag"
	"fmt"
	"strconv"

	"github.com/flowgen/flowgen/engine"
)

// pageFlags are the flags of a verb that prints a list a page at a time as
// a list of the API pages it (runs as GET /runs, inbox as GET
// /deadletters): -limit, -cursor and -order, read one way by both.
type pageFlags struct {
	limit         *int
	cursor, order *string
	item          string // what the list lists, one of them: "run"
}

// addPageFlags defines the flags of verb's pages on fs: item and items
// name what it lists, arrived how the oldest first are ordered ("the
// order they started"), route the API's list whose cursors it takes.
func addPageFlags(fs *flag.FlagSet, verb, item, items, arrived, route string) *pageFlags {
	return &pageFlags{
		limit: fs.Int("limit", 0, "print one page of at most `N` "+items+", 1 to "+strconv.Itoa(engine.MaxListLimit)+
			", and the -cursor of the next on stderr (0: every "+item+")"),
		cursor: fs.String("cursor", "", "list from the page this `CURSOR` names: the next page that flowgen "+verb+
			" -limit printed, or next_cursor of "+route),
		order: fs.String("order", "oldest", "the `ORDER` of the "+items+": oldest ("+arrived+") or newest first"),
		item:  item,
	}
}

// read checks -limit and -order and gives -cursor, if set, to after (the
// list's decoder of its cursors, which sets where the list starts): it
// returns the page size (engine.MaxListLimit without -limit) and whether
// the list is newest first, or, with ok false, the exit code of the usage
// error it said.
func (p *pageFlags) read(e *env, after func(cursor string) error) (page int, newest bool, code int, ok bool) {
	if *p.limit < 0 || *p.limit > engine.MaxListLimit {
		return 0, false, usageError(e, "-limit %d: want a number from 1 to %d, or 0 for every %s", *p.limit, engine.MaxListLimit, p.item), false
	}
	newest, err := engine.ListOrder(*p.order)
	if err == nil && *p.cursor != "" {
		err = after(*p.cursor)
	}
	if err != nil {
		return 0, false, usageError(e, "-%v", err), false
	}
	return cmp.Or(*p.limit, engine.MaxListLimit), newest, 0, true
}

// stop reports whether the verb stops after a page that more follow: with
// -limit, saying on stderr the -cursor of the next page, cursor.
func (p *pageFlags) stop(e *env, cursor string) bool {
	if *p.limit == 0 {
		return false
	}
	fmt.Fprintf(e.stderr, "next page: -cursor %s\n", cursor)
	return true
}
