package engine

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// A cursor is what a list of the API answers as next_cursor and takes as
// ?cursor=: where its next page starts. Clients treat it as opaque. It is a
// prefix, which names the list it continues and the version of its
// content, then the content's parts, each base64url, separated by '.'
// (which base64url does not use). A list refuses a cursor of another
// list, or of another version, with 400.
type cursorKind struct {
	prefix string
	parts  int
	list   string // the route that answers it, for the 400
}

var (
	// runsCursor: the ID of the last run listed.
	runsCursor = cursorKind{"c1.", 1, "GET /runs"}
	// deadLetterCursor: the topic, event and ID of the last dead letter
	// listed (store.MessageFilter.After).
	deadLetterCursor = cursorKind{"d1.", 3, "GET /deadletters"}
	// childrenCursor: the ID of the last child run listed (children.go).
	childrenCursor = cursorKind{"k1.", 1, "GET /runs/{id}/children"}
)

// encode returns the cursor of parts, as many as k has, none empty.
func (k cursorKind) encode(parts ...string) string {
	enc := make([]string, len(parts))
	for i, p := range parts {
		enc[i] = base64.RawURLEncoding.EncodeToString([]byte(p))
	}
	return k.prefix + strings.Join(enc, ".")
}

// decode returns the parts of a cursor of kind k, or false for any other
// string: only the spelling encode writes, since base64's decoder also
// takes a part with other trailing bits ("YR" for "YQ", "a") or with line
// breaks in it, and one cursor would have many spellings.
func (k cursorKind) decode(c string) ([]string, bool) {
	rest, ok := strings.CutPrefix(c, k.prefix)
	if !ok {
		return nil, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != k.parts {
		return nil, false
	}
	for i, p := range parts {
		b, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil || len(b) == 0 || base64.RawURLEncoding.EncodeToString(b) != p {
			return nil, false
		}
		parts[i] = string(b)
	}
	return parts, true
}

// RunsCursor is the cursor of GET /runs (its next_cursor) that continues
// after run runID: `flowgen runs -limit` prints it, so that a page of the
// command and one of the API continue each other.
func RunsCursor(runID string) string { return runsCursor.encode(runID) }

// RunsCursorAfter is the run ID a cursor of GET /runs (RunsCursor)
// continues after, or an error for a string that no list of runs answered.
func RunsCursorAfter(c string) (string, error) {
	parts, err := runsCursor.parse(c)
	if err != nil {
		return "", err
	}
	return parts[0], nil
}

// MessageCursor is the cursor of GET /deadletters (its next_cursor) that
// continues after the inbox's message k: `flowgen inbox -limit` prints it,
// so that a page of the command and one of the API continue each other.
func MessageCursor(k store.MessageKey) string {
	return deadLetterCursor.encode(k.Topic, k.Event, k.ID)
}

// MessageCursorAfter is the message a cursor of GET /deadletters
// (MessageCursor) continues after (store.MessageFilter.After), or an error
// for a string that GET /deadletters did not answer.
func MessageCursorAfter(c string) (store.MessageKey, error) {
	parts, err := deadLetterCursor.parse(c)
	if err != nil {
		return store.MessageKey{}, err
	}
	return messageAfter(parts), nil
}

// messageAfter is the message the parts of a cursor of GET /deadletters
// name.
func messageAfter(parts []string) store.MessageKey {
	return store.MessageKey{Topic: parts[0], Event: parts[1], ID: parts[2]}
}

// parse is decode, with the error that says which list answers such a
// cursor.
func (k cursorKind) parse(c string) ([]string, error) {
	parts, ok := k.decode(c)
	if !ok {
		return nil, fmt.Errorf("cursor %s is not one that %s answered", quoteParam(c), k.list)
	}
	return parts, nil
}

// cursorParam returns the parts of ?cursor= (nil without one), or answers
// 400 for a cursor that k's list did not answer.
func cursorParam(w http.ResponseWriter, q url.Values, k cursorKind) ([]string, bool) {
	c := q.Get("cursor")
	if c == "" {
		return nil, true
	}
	parts, err := k.parse(c)
	if err != nil {
		writeError(w, http.StatusBadRequest, err, nil)
		return nil, false
	}
	return parts, true
}

// ErrRunsCursorGone is RunsPage's error for a cursor whose run the store no
// longer has (compacted away or removed by retention): the list cannot say
// where that page starts. Callers name the cursor in front of it.
var ErrRunsCursorGone = errors.New("names a run the store no longer has: list again from the start")

// RunsPage reads one page of at most limit runs of f from list (f.After:
// the run a cursor continues after), and the run ID the next page
// continues after, "" when no run follows. GET /runs and `flowgen runs`
// page with it, so that a cursor of one continues the other's pages. An
// error from list comes back with the runs it gave (ErrListTruncated
// holds runs).
func RunsPage(list func(store.Filter) ([]store.RunInfo, error), f store.Filter, limit int) (runs []store.RunInfo, next string, err error) {
	f.Limit = limit + 1 // one more tells whether there is a next page
	runs, err = list(f)
	if errors.Is(err, runtime.ErrUnknownRun) && f.After != "" {
		return nil, "", ErrRunsCursorGone
	}
	if len(runs) > limit {
		runs = runs[:limit]
		next = runs[limit-1].RunID
	}
	return runs, next, err
}
