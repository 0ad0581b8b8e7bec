package engine

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// spawnerJSON: Spawner calls Quick at each turn of a loop, until its Go
// step Count says enough: a child run per turn.
const spawnerJSON = `{"version": 1, "flows": [
  {"name": "Spawner", "state": "SpawnerState", "steps": [
    {"name": "Spawn", "action": {"kind": "call", "flow": "Quick", "request": "Q"}, "irreversible": true},
    {"name": "Count", "action": {"kind": "go"}, "outcomes": ["again"], "on": [{"on": "again", "target": "Spawn"}], "irreversible": true}
  ]},
  {"name": "Quick", "state": "QuickState", "steps": [
    {"name": "Note", "action": {"kind": "go"}, "irreversible": true}
  ]}
]}`

// spawned serves spawnerJSON and runs a Spawner whose ID is id until it
// has started turns children, and returns the engine's API and the IDs of
// the children, in the order the run started them.
func spawned(t *testing.T, id string, turns int) (*httptest.Server, []string) {
	t.Helper()
	e, err := New(Options{Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	r := e.Registry()
	r.Step("Spawner.Count", func(ctx context.Context, s *State) (runtime.Outcome, error) {
		var n int
		_ = s.Get("N", &n)
		n++
		if err := s.Set("N", n); err != nil {
			return "", err
		}
		if n < turns {
			return "again", nil
		}
		return "", nil
	})
	r.Step("Quick.Note", func(ctx context.Context, s *State) (runtime.Outcome, error) { return "", nil })
	if ds, err := e.LoadFlows("spawner.json", []byte(spawnerJSON)); err != nil {
		t.Fatalf("load: %v\n%v", err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeEngine(t, e) })
	if _, err := e.StartRun(context.Background(), "Spawner", json.RawMessage(`{"Q": {}}`), id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "run "+id+" to end", func() bool {
		st, err := e.Status(context.Background(), id)
		return err == nil && st.State.Terminal()
	})
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(srv.Close)
	children := []string{id + "@Spawn"}
	for turn := 2; turn <= turns; turn++ {
		children = append(children, id+"@Spawn:"+strconv.Itoa(turn))
	}
	return srv, children
}

// getJSON GETs path of srv and decodes its answer into v, returning the
// status.
func getJSON(t *testing.T, srv *httptest.Server, path string, v any) int {
	t.Helper()
	rsp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer rsp.Body.Close()
	if err := json.NewDecoder(rsp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return rsp.StatusCode
}

type childrenAnswer struct {
	RunID      string           `json:"run_id"`
	Children   []runtime.RunRef `json:"children"`
	Count      int              `json:"count"`
	NextCursor string           `json:"next_cursor"`
	Error      string           `json:"error"`
}

func childIDs(refs []runtime.RunRef) []string {
	ids := make([]string, len(refs))
	for i, r := range refs {
		ids[i] = r.RunID
	}
	return ids
}

// A run's children are a list of the API, bounded and paged as GET /runs
// is: GET /runs/{id} listed every child its calls started (a call in a
// loop: thousands), bounded only by the history. It now lists the first
// DefaultListLimit, with the cursor of the rest, which GET
// /runs/{id}/children pages through, either way.
func TestRunChildrenPaged(t *testing.T) {
	turns := DefaultListLimit + 30
	srv, want := spawned(t, "sp-1", turns)

	var st struct {
		Children           []runtime.RunRef `json:"children"`
		ChildrenNextCursor string           `json:"children_next_cursor"`
	}
	if code := getJSON(t, srv, "/runs/sp-1", &st); code != 200 {
		t.Fatalf("GET /runs/sp-1: %d", code)
	}
	if got := childIDs(st.Children); !slices.Equal(got, want[:DefaultListLimit]) || st.ChildrenNextCursor == "" {
		t.Fatalf("GET /runs/sp-1 lists %d children (next cursor %q), want the first %d of %d and a cursor", len(got), st.ChildrenNextCursor, DefaultListLimit, turns)
	}
	if st.Children[0].Flow != "Quick" {
		t.Errorf("a child's flow: %q", st.Children[0].Flow)
	}

	// The status's cursor continues in GET /runs/{id}/children.
	var page childrenAnswer
	if code := getJSON(t, srv, "/runs/sp-1/children?cursor="+st.ChildrenNextCursor, &page); code != 200 {
		t.Fatalf("the page after the status's: %d %s", code, page.Error)
	}
	if got := childIDs(page.Children); !slices.Equal(got, want[DefaultListLimit:]) || page.NextCursor != "" || page.Count != turns || page.RunID != "sp-1" {
		t.Fatalf("the page after the status's: %q (count %d, next %q), want %q, count %d, no next", got, page.Count, page.NextCursor, want[DefaultListLimit:], turns)
	}

	// Newest first, 50 at a time: every child once, in reverse.
	var got []string
	cursor, pages := "", 0
	for {
		page = childrenAnswer{}
		if code := getJSON(t, srv, "/runs/sp-1/children?order=newest&limit=50&cursor="+cursor, &page); code != 200 {
			t.Fatalf("a page newest first: %d %s", code, page.Error)
		}
		pages++
		got = append(got, childIDs(page.Children)...)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	rev := slices.Clone(want)
	slices.Reverse(rev)
	if !slices.Equal(got, rev) || pages != 3 {
		t.Fatalf("newest first in %d pages: %q, want %q in 3", pages, got, rev)
	}

	// The list's bounds and cursors are GET /runs's.
	for _, c := range []struct{ query, why string }{
		{"limit=0", "limit"},
		{"limit=" + strconv.Itoa(MaxListLimit+1), "limit"},
		{"order=sideways", "order"},
		{"cursor=" + runsCursor.encode("sp-1@Spawn"), "is not one that GET /runs/{id}/children answered"},
		{"cursor=" + childrenCursor.encode("sp-2@Spawn"), "names no child run of run"},
	} {
		page = childrenAnswer{}
		if code := getJSON(t, srv, "/runs/sp-1/children?"+c.query, &page); code != 400 || !strings.Contains(page.Error, c.why) {
			t.Errorf("?%s: %d %q, want 400 saying %q", c.query, code, page.Error, c.why)
		}
	}
	page = childrenAnswer{}
	if code := getJSON(t, srv, "/runs/nope/children", &page); code != 404 {
		t.Errorf("the children of no run: %d %q, want 404", code, page.Error)
	}
}

// A run with no more children than a page lists them all in its status,
// with no cursor, as before; one without any lists none.
func TestRunChildrenOnePage(t *testing.T) {
	srv, want := spawned(t, "sp-1", 3)
	var st map[string]json.RawMessage
	if code := getJSON(t, srv, "/runs/sp-1", &st); code != 200 {
		t.Fatalf("GET /runs/sp-1: %d", code)
	}
	var children []runtime.RunRef
	_ = json.Unmarshal(st["children"], &children)
	if _, ok := st["children_next_cursor"]; ok || !slices.Equal(childIDs(children), want) {
		t.Fatalf("GET /runs/sp-1: children %s, next cursor %s; want %q and none", st["children"], st["children_next_cursor"], want)
	}
	var page childrenAnswer
	if code := getJSON(t, srv, "/runs/sp-1@Spawn/children", &page); code != 200 || page.Children == nil || len(page.Children) != 0 || page.Count != 0 {
		t.Fatalf("the children of a run without any: %d %+v, want an empty list", code, page)
	}
}
