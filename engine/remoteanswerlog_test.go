package engine

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/runtime"
)

// An answer the engine does not take (not a provider's response, a state
// it does not take in, an outcome that is not a name, an error class it
// does not know, more than MaxProviderResponse bytes) fails the attempt
// for good, and the server's log says so, as it says a failure of the
// NATS transport, with the provider, the handler, the run and where the
// call went (docs/engine.md#the-protocol: "provider
// call failed"), as for a call that got no answer: the run's history
// names the provider and the handler, not which of its replicas answered.
// Before, nothing was logged of them.
func TestProviderRefusedAnswerLogged(t *testing.T) {
	answers := map[string]string{
		"page":    `<html>bad gateway</html>`,
		"member":  `{"State": {}}`,
		"unfit":   `{"state": {"n": 1e400}}`,
		"outcome": `{"outcome": "` + strings.Repeat("o", 200) + `"}`,
		// A class the provider makes as long as an answer may be: its
		// start alone is quoted, in the history as in the log.
		"class": `{"error": {"message": "x", "class": "fatal` + strings.Repeat("l", 1<<20) + `"}}`,
	}
	tr := stubTransport{reqs: make(chan provider.Request, 64), answer: func(subject string, req provider.Request) []byte {
		var st struct{ Ans string }
		_ = json.Unmarshal(req.State, &st)
		return []byte(answers[st.Ans])
	}, fail: func(req provider.Request) error {
		// A failure of the transport (natsprovider.ErrSilent, a request
		// beyond max_payload) is logged too.
		if strings.Contains(string(req.State), "transport") {
			return provider.Permanent(errors.New("the request is larger than the NATS server's max_payload"))
		}
		return nil
	}}
	answers["transport"] = ""
	e, logs := remotePayFixture(t, tr)
	for ans := range answers {
		id, err := e.StartRun(context.Background(), "Remote", json.RawMessage(`{"Ans": "`+ans+`"}`), "")
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the run to end", func() bool { st, _ := e.Status(context.Background(), id); return st.State.Terminal() })
		h, _ := e.History(context.Background(), id)
		failed := false
		for _, ev := range h {
			failed = failed || (ev.Step == "Pay" && ev.Error != "" && strings.Contains(ev.Error, `provider "pay", handler "Remote.Pay"`))
		}
		if !failed {
			t.Errorf("%s: no failed attempt of Pay in the history", ans)
		}
		want := `msg="provider call failed" provider=pay handler=Remote.Pay run_id=` + id + ` `
		logged := false
		for line := range strings.Lines(logs.String()) {
			logged = logged || strings.Contains(line, want) && strings.Contains(line, " subject="+remotePaySubject+" ")
			if len(line) > 4096 {
				t.Errorf("%s: a log line of %d bytes: %.200s...", ans, len(line), line)
			}
		}
		if !logged {
			t.Errorf("%s: log:\n%.4000s\nwant a line with %s and the subject", ans, logs.String(), want)
		}
		for _, ev := range h {
			if len(ev.Error) > 1024 {
				t.Errorf("%s: an error of %d bytes in the history: %.200s...", ans, len(ev.Error), ev.Error)
			}
		}
	}

	// Over HTTP, an answer beyond MaxProviderResponse.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat(" ", MaxProviderResponse+1)))
	}))
	defer srv.Close()
	to := target{provider: "pay", h: provider.Handler{Name: "Remote.Pay", URL: srv.URL + "/big"}}
	if _, err := e.remote.post(t.Context(), to, "k", []byte(`{}`)); err == nil || !runtime.IsPermanent(err) {
		t.Errorf("an answer too large: %v, want a permanent error", err)
	}
	if got, want := logs.String(), `msg="provider call failed" provider=pay handler=Remote.Pay run_id="" url=`+srv.URL+`/big error="the answer is larger than`; !strings.Contains(got, want) {
		t.Errorf("log:\n%s\nwant a line with %s", got, want)
	}
}
