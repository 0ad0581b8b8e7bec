package ui_test

// A run's page follows the run through a GET /watch stream, one of the
// engine's bounded few (Options.MaxWatchers). A run that is over records
// nothing more, so its page lets its stream go once it has read the run
// whole: tabs left open on finished runs must not hold every stream, and
// leave the pages of running runs "paused".

import (
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flowgen/flowgen/runtime"
)

func TestBrowserEndedRunLetsItsStreamGo(t *testing.T) {
	v := newEnvWith(t, true, 1, nil)
	ctx := browser(t)
	id := v.start("Brittle", `{"Item": "crate"}`)
	v.await(id, runtime.StateCompensationFailed)
	signIn(t, ctx, v.url+"/ui/#/run/"+id, clientToken, false)
	run(t, ctx, "the ended run shown, its badge gone",
		chromedp.WaitReady(chromedp.CSS(`#run-head[data-state="compensation_failed"]`)),
		chromedp.WaitReady(chromedp.CSS(`#timeline tr`)),
		poll(`document.querySelector("#live").hidden`),
	)
	// The engine's only stream is free for another client while the page
	// stays open on the ended run.
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequest("GET", v.url+"/watch?flow=Hold", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /watch beside the page of an ended run: %d, want 200 (the page holds the engine's only stream)", res.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
	shot(t, ctx, "ended-run")
}
