package engine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime"
)

// A JSON flow's call whose child cannot start (the state field it passes
// is not a JSON object) fails its step saying so, and neither the status
// nor GET /runs/{id} lists a child: GET of the child would answer 404.
func TestCallJSONChildNotStarted(t *testing.T) {
	fx := newFixture(t)
	c := newCallEngine(t, fx)
	defer closeEngine(t, c.e)
	id, err := c.e.StartRun(context.Background(), "Order", json.RawMessage(`{"Invoice": 5}`), "p-1")
	if err != nil {
		t.Fatal(err)
	}
	st := c.end(t, id)
	if st.State != runtime.StateFailed || !strings.Contains(st.Err, runtime.ErrChildNotStarted.Error()) || !strings.Contains(st.Err, "JSON object") {
		t.Fatalf("parent %s, %q: want failed, its child not started because its state is no object", st.State, st.Err)
	}
	if len(st.Children) != 0 {
		t.Fatalf("children %v of a call whose child never started", st.Children)
	}
	if _, err := c.e.Status(context.Background(), "p-1@Bill"); !errors.Is(err, runtime.ErrUnknownRun) {
		t.Fatalf("the child: %v, want it unknown", err)
	}
	srv := httptest.NewServer(c.e.Handler())
	defer srv.Close()
	rsp, err := http.Get(srv.URL + "/runs/p-1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rsp.Body)
	rsp.Body.Close()
	if rsp.StatusCode != 200 || strings.Contains(string(b), `"children"`) {
		t.Fatalf("GET /runs/p-1: %d %s, want no children", rsp.StatusCode, b)
	}
}
