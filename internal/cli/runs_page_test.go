package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// storeOfRuns writes n runs of one event each, r-1 to r-n, in that order,
// and returns the store's directory and the store, open.
func storeOfRuns(t *testing.T, n int) (string, *store.Store) {
	t.Helper()
	dir, st := newStore(t)
	t.Cleanup(func() { st.Close() })
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("r-%d", i)
		if err := st.Emit(context.Background(), runtime.Event{RunID: id, Seq: 1, Time: t0, Flow: "Order", Step: "Reserve", From: "pending", To: "Reserve:running"}); err != nil {
			t.Fatal(err)
		}
	}
	return dir, st
}

// runIDs are the RUN column of a runs table, or the run_id of each line
// of runs -json.
func runIDs(t *testing.T, out string, asJSON bool) []string {
	return listedIDs(t, out, asJSON, 0, "run_id")
}

// listedIDs are the IDs a verb's table has in its column (counted from 0,
// after its header), or those each line of its -json has in the member
// key.
func listedIDs(t *testing.T, out string, asJSON bool, column int, key string) []string {
	t.Helper()
	var ids []string
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		switch {
		case line == "":
		case asJSON:
			var item map[string]any
			if err := json.Unmarshal([]byte(line), &item); err != nil {
				t.Fatalf("line %d: %v: %s", i+1, err, line)
			}
			ids = append(ids, fmt.Sprint(item[key]))
		case i > 0: // the table's header first
			ids = append(ids, strings.Fields(line)[column])
		}
	}
	return ids
}

// verbPage runs `flowgen args...` (a verb that pages: runs, inbox), as a
// table and with -json, and returns what ids reads of its output and the
// next page's cursor, which both must print alike.
func verbPage(t *testing.T, ids func(t *testing.T, out string, asJSON bool) []string, args ...string) ([]string, string) {
	t.Helper()
	var tableIDs []string
	var tableNext string
	for _, asJSON := range []bool{false, true} {
		a := args
		if asJSON {
			a = append(slices.Clip(a), "-json")
		}
		code, out, errOut := runMain(a...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", a, code, errOut)
		}
		got := ids(t, out, asJSON)
		next, _ := strings.CutPrefix(strings.TrimSuffix(errOut, "\n"), "next page: -cursor ")
		if next != "" && strings.Contains(next, " ") || next == "" && errOut != "" {
			t.Fatalf("%v: stderr %q, want the next page's cursor or nothing", a, errOut)
		}
		if !asJSON {
			tableIDs, tableNext = got, next
			continue
		}
		if !slices.Equal(tableIDs, got) || tableNext != next {
			t.Errorf("%v: the table lists %q, next %q; -json %q, next %q", args, tableIDs, tableNext, got, next)
		}
		return got, next
	}
	panic("unreachable")
}

// flowgen runs prints a page at a time, as GET /runs pages the runs:
// -limit N one page, and on stderr the -cursor of the next, the very
// cursor GET /runs answers, so that each continues the other's pages;
// -order newest the latest first. It read and printed the whole index at
// once, with neither.
func TestRunsVerbPages(t *testing.T) {
	dir, st := storeOfRuns(t, 5)
	srv := checkVerbPages(t, st, pagingVerb{
		args: []string{"runs", "-store", dir}, ids: runIDs,
		id:     func(i int) string { return fmt.Sprintf("r-%d", i) },
		cursor: func(i int) string { return engine.RunsCursor(fmt.Sprintf("r-%d", i)) },
		route:  "/runs", items: "runs", idKey: "run_id",
	})
	// A cursor whose run is gone: both say so, from one rule (engine.RunsPage).
	rsp, err := http.Get(srv.URL + "/runs?cursor=" + engine.RunsCursor("r-9"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rsp.Body)
	rsp.Body.Close()
	if rsp.StatusCode != 400 || !strings.Contains(string(body), "names a run the store no longer has: list again from the start") {
		t.Errorf("GET /runs with a gone run's cursor: %d %s", rsp.StatusCode, body)
	}
	verbErrors(t, []string{"runs", "-store", dir}, []verbError{
		{[]string{"-cursor", "r-2"}, 2, "is not one that GET /runs answered"},
		{[]string{"-cursor", engine.RunsCursor("r-9")}, 1, "names a run the store no longer has"},
	})
}

// pagingVerb is a verb that pages as a list of the API does (runs as GET
// /runs, inbox as GET /deadletters), on a store of 5 items listed 1 to 5.
type pagingVerb struct {
	args   []string // the verb and its -store
	ids    func(t *testing.T, out string, asJSON bool) []string
	id     func(i int) string // item i's ID
	cursor func(i int) string // the cursor that continues after item i
	// route is the API's list, items the member of its answer that lists
	// the items, idKey the member of an item with its ID.
	route, items, idKey string
}

// checkVerbPages checks that v prints one page with -limit N and the
// -cursor of the next on stderr, the latest first with -order newest, and
// that a page of the API continues in v and the other way (an engine on
// st answers the API: the server is returned). The usual errors of -limit
// and -order are usage errors.
func checkVerbPages(t *testing.T, st *store.Store, v pagingVerb) *httptest.Server {
	t.Helper()
	page := func(args ...string) ([]string, string) {
		t.Helper()
		return verbPage(t, v.ids, append(slices.Clip(v.args), args...)...)
	}
	want := func(from, to int) []string {
		var ids []string
		for i := from; ; i += cmp.Compare(to, from) {
			if ids = append(ids, v.id(i)); i == to {
				return ids
			}
		}
	}
	check := func(what string, ids []string, next string, want []string, wantNext string) {
		t.Helper()
		if !slices.Equal(ids, want) || next != wantNext {
			t.Errorf("%s: %q, next %q; want %q, next %q", what, ids, next, want, wantNext)
		}
	}

	ids, next := page("-limit", "2")
	check("the first page", ids, next, want(1, 2), v.cursor(2))
	ids, next = page("-limit", "2", "-cursor", next)
	check("the second page", ids, next, want(3, 4), v.cursor(4))
	ids, next = page("-limit", "2", "-cursor", next)
	check("the last page", ids, next, want(5, 5), "")
	ids, next = page("-order", "newest", "-limit", "3")
	check("newest first", ids, next, want(5, 3), v.cursor(3))
	ids, next = page("-order", "newest", "-cursor", next)
	check("newest first, the rest", ids, next, want(2, 1), "")

	// A page of the API continues in the verb, and the other way.
	e, err := engine.New(engine.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(srv.Close)
	get := func(query string) (ids []string, next string) {
		t.Helper()
		rsp, err := http.Get(srv.URL + v.route + "?" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer rsp.Body.Close()
		var b map[string]json.RawMessage
		var items []map[string]any
		if err := json.NewDecoder(rsp.Body).Decode(&b); err != nil || rsp.StatusCode != 200 {
			t.Fatalf("GET %s?%s: %d %v", v.route, query, rsp.StatusCode, err)
		}
		if err := json.Unmarshal(b[v.items], &items); err != nil {
			t.Fatalf("GET %s?%s: %s: %v", v.route, query, v.items, err)
		}
		for _, it := range items {
			ids = append(ids, fmt.Sprint(it[v.idKey]))
		}
		if c, ok := b["next_cursor"]; ok {
			if err := json.Unmarshal(c, &next); err != nil {
				t.Fatal(err)
			}
		}
		return ids, next
	}
	_, apiNext := get("limit=2")
	ids, next = page("-limit", "2", "-cursor", apiNext)
	check("the page after the API's", ids, next, want(3, 4), v.cursor(4))
	ids, next = get("limit=2&cursor=" + url.QueryEscape(next))
	check("the API after the verb's page", ids, next, want(5, 5), "")

	verbErrors(t, v.args, []verbError{
		{[]string{"-limit", "-1"}, 2, "want a number from 1 to 1000"},
		{[]string{"-limit", "1001"}, 2, "want a number from 1 to 1000"},
		{[]string{"-order", "sideways"}, 2, "want newest or oldest\n"},
		{[]string{"-order", "newset"}, 2, `want newest or oldest; did you mean "newest"?` + "\n"},
	})
	return srv
}

// verbError is a verb's arguments and the exit code and message they get.
type verbError struct {
	args []string
	code int
	msg  string
}

// verbErrors runs `flowgen verbArgs... c.args...` for each c of cases.
func verbErrors(t *testing.T, verbArgs []string, cases []verbError) {
	t.Helper()
	for _, c := range cases {
		code, _, errOut := runMain(append(slices.Clip(verbArgs), c.args...)...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("%v: exit %d, %q; want exit %d saying %q", c.args, code, errOut, c.code, c.msg)
		}
	}
}

// Without -limit, flowgen runs prints every run, read a page at a time
// (engine.MaxListLimit runs): the pages join, none twice, none left out.
func TestRunsVerbEveryPage(t *testing.T) {
	n := engine.MaxListLimit + 3
	dir, st := newStore(t)
	defer st.Close()
	// Concurrent emits share the store's syncs (group commit).
	var wg sync.WaitGroup
	ids := make(chan int)
	for range 32 {
		wg.Go(func() {
			for i := range ids {
				ev := runtime.Event{RunID: fmt.Sprintf("r-%d", i), Seq: 1, Time: time.Now(), Flow: "Order", Step: "Reserve", From: "pending", To: "Reserve:running"}
				if err := st.Emit(context.Background(), ev); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for i := 1; i <= n; i++ {
		ids <- i
	}
	close(ids)
	wg.Wait()
	all, err := st.List(store.Filter{})
	if err != nil || len(all) != n {
		t.Fatalf("the store lists %d runs, %v", len(all), err)
	}
	var want []string
	for _, r := range all {
		want = append(want, r.RunID)
	}
	tableAndJSON(t, func(args []string, asJSON bool, out string) {
		if got := runIDs(t, out, asJSON); !slices.Equal(got, want) {
			t.Errorf("%v: %d runs listed, want the store's %d in its order", args, len(got), n)
		}
	}, "runs", "-store", dir)
}

// tableAndJSON runs `flowgen args...`, then with -json, and checks each
// output with check; each must exit 0, saying nothing on stderr.
func tableAndJSON(t *testing.T, check func(args []string, asJSON bool, out string), args ...string) {
	t.Helper()
	for _, asJSON := range []bool{false, true} {
		args := args
		if asJSON {
			args = append(slices.Clip(args), "-json")
		}
		code, out, errOut := runMain(args...)
		if code != 0 || errOut != "" {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		check(args, asJSON, out)
	}
}
