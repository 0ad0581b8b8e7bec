package engine

// A run's child runs a page at a time: GET /runs/{id}/children, and the
// first page of them in GET /runs/{id}. A call in a loop starts a child
// at each turn, so a run may have as many children as its history has
// room for events (runtime.DefaultMaxHistory): a status that listed them
// all answered thousands to every read.

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/flowgen/flowgen/runtime"
)

// statusAnswer is GET /runs/{id}'s answer: the run's status with the
// first page of its children, as GET /runs/{id}/children answers it
// without parameters (DefaultListLimit of them, in the order the run's
// calls started them), and the cursor of the page after it, if any.
type statusAnswer struct {
	RunStatus
	ChildrenNextCursor string `json:"children_next_cursor,omitempty"`
}

func (e *Engine) httpStatus(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	st, err := e.Status(r.Context(), id)
	if err != nil {
		e.writeRunErr(w, r, id, err)
		return
	}
	out := statusAnswer{RunStatus: st}
	page, more, _ := childPage(st.Children, false, "", DefaultListLimit)
	out.Children = page
	if more {
		out.ChildrenNextCursor = childrenCursor.encode(page[len(page)-1].RunID)
	}
	writeJSON(w, http.StatusOK, out)
}

// httpChildren serves GET /runs/{id}/children?order=O&limit=N&cursor=C:
// a page of the run's children, in the order its calls started them or
// newest first, with the number of them all; the same limit, order and
// cursor rules as GET /runs.
func (e *Engine) httpChildren(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, newest, c, ok := pageParams(w, q, childrenCursor)
	if !ok {
		return
	}
	var after string
	if c != nil {
		after = c[0]
	}
	id := r.PathValue("id")
	ctx, done := e.readCtx(r.Context())
	defer done()
	st, err := e.replay(ctx, id)
	if err != nil {
		e.writeRunErr(w, r, id, err)
		return
	}
	page, more, err := childPage(st.Children, newest, after, limit)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("cursor %s names no child run of run %s: list again from the start", quoteParam(q.Get("cursor")), quoteParam(id)), nil)
		return
	}
	out := map[string]any{"run_id": id, "children": page, "count": len(st.Children)}
	if more {
		out["next_cursor"] = childrenCursor.encode(page[len(page)-1].RunID)
	}
	writeJSON(w, http.StatusOK, out)
}

// errNoSuchChild: a cursor names a run that is not a child of the run
// listed (a cursor of another run's children, or of a child that its
// call then could not start: ErrChildNotStarted).
var errNoSuchChild = errors.New("no such child run")

// childPage is the page of children (a run's, in the order its calls
// started them; newest first if newest) after the child of ID after ("":
// from the first), at most limit of them, and whether more follow it.
func childPage(children []runtime.RunRef, newest bool, after string, limit int) ([]runtime.RunRef, bool, error) {
	at := func(i int) runtime.RunRef { // the i-th in the order asked
		if newest {
			return children[len(children)-1-i]
		}
		return children[i]
	}
	start := 0
	if after != "" {
		start = -1
		for i := range children {
			if at(i).RunID == after {
				start = i + 1
				break
			}
		}
		if start < 0 {
			return nil, false, errNoSuchChild
		}
	}
	end := min(start+limit, len(children))
	page := make([]runtime.RunRef, 0, end-start)
	for i := start; i < end; i++ {
		page = append(page, at(i))
	}
	return page, end < len(children), nil
}
