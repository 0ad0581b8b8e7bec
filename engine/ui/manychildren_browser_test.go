package ui_test

// A call in a loop starts a child run at each turn: thousands in a long
// run. The run's page lists them a page at a time (CHILD_ROWS, 25), the
// latest first shown, and reads the state of those it shows only: a page
// open costs 25 reads of GET /runs/{child} at most, not one per child.
// It reads the list itself a page at a time too (GET /runs/{id}/children,
// newest first): GET /runs/{id} lists the first 100 children only.

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// Spawner calls Quick 110 times, counting the turns in N: more children
// than GET /runs/{id} lists (engine.DefaultListLimit, 100).
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
            when N >= 110 -> done
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
		// One condition: the page before it has as many children done,
		// whose states were read, where this one's may still be read.
		run(t, ctx, what,
			poll(`document.querySelector("#kids-info").innerText === `+strconv.Quote(info)+
				` && document.querySelectorAll("#run-children li[data-child] .state.state-done").length === `+strconv.Itoa(len(want))))
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
	read("the latest 25 children", 86, 110, "child runs 86–110 of 110")
	shot(t, ctx, "1-latest")
	wantRead("the page open", [2]int{86, 110})

	run(t, ctx, "earlier children", chromedp.Click(chromedp.CSS("#kids-earlier")))
	read("the 25 before", 61, 85, "child runs 61–85 of 110")
	wantRead("a page earlier", [2]int{61, 110})

	for _, from := range []int{36, 11} {
		run(t, ctx, "earlier children", chromedp.Click(chromedp.CSS("#kids-earlier")))
		read("the 25 before", from, from+24, "child runs "+strconv.Itoa(from)+"–"+strconv.Itoa(from+24)+" of 110")
	}
	run(t, ctx, "the first children", chromedp.Click(chromedp.CSS("#kids-earlier")))
	read("the first 10", 1, 10, "child runs 1–10 of 110")
	wantRead("the first page", [2]int{1, 110})
	if !get(t, ctx, "Earlier on the first page", chromedp.Evaluate[bool](`document.querySelector("#kids-earlier").disabled`)) {
		t.Error("Earlier can be pressed on the first page of children")
	}
	shot(t, ctx, "2-first")

	run(t, ctx, "later children", chromedp.Click(chromedp.CSS("#kids-later")))
	read("the 25 after the first 10", 11, 35, "child runs 11–35 of 110")

	run(t, ctx, "the latest again", chromedp.Click(chromedp.CSS("#kids-latest")))
	read("the latest 25 again", 86, 110, "child runs 86–110 of 110")
	if !get(t, ctx, "Later on the latest page", chromedp.Evaluate[bool](`document.querySelector("#kids-later").disabled`)) {
		t.Error("Later can be pressed on the latest page of children")
	}
}
