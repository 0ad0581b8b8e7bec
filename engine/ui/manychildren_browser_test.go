package ui_test

// A call in a loop starts a child run at each turn: thousands in a long
// run. The run's page lists them a page at a time (CHILD_ROWS, 25), the
// latest first shown, and reads the state of those it shows only: a page
// open costs 25 reads of GET /runs/{child} at most, not one per child.

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// Spawner calls Quick 60 times, counting the turns in N.
const spawnerFlows = `
flow Spawner {
    state SpawnerState
    trigger rpc "Spawner.Start"

    step Spawn {
        call Quick (Q)
        irreversible
    }
    step Count {
        rpc count "Count.Next" (N) -> N
        irreversible
    }
    step Enough {
        choose {
            when N >= 60 -> done
            otherwise -> Spawn
        }
    }
}

// Quick ends at once.
flow Quick {
    state QuickState

    step Note {
        publish log "note" (K)
        irreversible
    }
}
`

func TestBrowserManyChildRunsPaged(t *testing.T) {
	// The API counts the reads of each child run (GET /runs/{id@step}).
	var mu sync.Mutex
	reads := map[string]int{}
	v := newEnvWith(t, true, 0, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if rest, ok := strings.CutPrefix(r.URL.Path, "/runs/"); ok && r.Method == "GET" && strings.Contains(rest, "@") && !strings.Contains(rest, "/") {
				mu.Lock()
				reads[rest]++
				mu.Unlock()
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := browser(t)
	v.putFlows("spawner.flow", spawnerFlows)
	id := v.start("Spawner", `{"Q": {"K": "k"}}`)
	v.await(id, "done")
	child := func(turn int) string {
		if turn == 1 {
			return id + "@Spawn"
		}
		return id + "@Spawn:" + strconv.Itoa(turn)
	}
	// read waits until the page lists the children of turns from to to,
	// each as done, its pager saying info.
	read := func(what string, from, to int, info string) {
		t.Helper()
		var want []string
		for turn := from; turn <= to; turn++ {
			want = append(want, child(turn))
		}
		run(t, ctx, what,
			poll(`document.querySelectorAll("#run-children li[data-child] .state.state-done").length === `+strconv.Itoa(len(want))),
			poll(`document.querySelector("#kids-info").innerText === `+strconv.Quote(info)))
		shown := get(t, ctx, what+": the list", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#run-children li[data-child]"), (li) => li.dataset.child)`))
		if !slices.Equal(shown, want) {
			t.Errorf("%s: the list shows %q, want %q", what, shown, want)
		}
	}
	readSoFar := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var ids []string
		for c := range reads {
			ids = append(ids, c)
		}
		slices.Sort(ids)
		return ids
	}
	wantRead := func(what string, turns ...[2]int) {
		t.Helper()
		var want []string
		for _, r := range turns {
			for turn := r[0]; turn <= r[1]; turn++ {
				want = append(want, child(turn))
			}
		}
		slices.Sort(want)
		if got := readSoFar(); !slices.Equal(got, want) {
			t.Errorf("%s: the page read %d children, want the %d it showed:\n got %q\nwant %q", what, len(got), len(want), got, want)
		}
	}

	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, false)
	read("the latest 25 children", 36, 60, "child runs 36–60 of 60")
	shot(t, ctx, "1-latest")
	wantRead("the page open", [2]int{36, 60})

	run(t, ctx, "earlier children", chromedp.Click(chromedp.CSS("#kids-earlier")))
	read("the 25 before", 11, 35, "child runs 11–35 of 60")
	wantRead("a page earlier", [2]int{11, 60})

	run(t, ctx, "the first children", chromedp.Click(chromedp.CSS("#kids-earlier")))
	read("the first 25", 1, 25, "child runs 1–25 of 60")
	wantRead("the first page", [2]int{1, 60})
	if !get(t, ctx, "Earlier on the first page", chromedp.Evaluate[bool](`document.querySelector("#kids-earlier").disabled`)) {
		t.Error("Earlier can be pressed on the first page of children")
	}
	shot(t, ctx, "2-first")

	run(t, ctx, "the latest again", chromedp.Click(chromedp.CSS("#kids-latest")))
	read("the latest 25 again", 36, 60, "child runs 36–60 of 60")
	if !get(t, ctx, "Later on the latest page", chromedp.Evaluate[bool](`document.querySelector("#kids-later").disabled`)) {
		t.Error("Later can be pressed on the latest page of children")
	}
}
