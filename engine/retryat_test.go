package engine

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// backoffFlows: Busy's step Try fails its first attempt and tries again
// an hour later.
const backoffFlows = `{"version": 1, "flows": [
 {"name": "Busy", "steps": [
  {"name": "Try", "action": {"kind": "go"}, "irreversible": true, "retry": {"attempts": 2, "initial": "1h", "jitter": "none"}}]}
]}`

// GET /runs/{id} of a run waiting out a retry's backoff says when its next
// attempt starts (retry_at, runtime.Status.RetryAt), read from the memory
// store and from the durable one, whose status reads the history without
// the events' states. It said only "retrying": an operator could not tell
// a run about to try again from one an hour away.
func TestRunStatusSaysWhenItRetries(t *testing.T) {
	epoch := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	durable, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { durable.Close() })
	for name, st := range map[string]Store{"memory": store.NewMemory(), "durable": durable} {
		t.Run(name, func(t *testing.T) {
			e, err := New(Options{Store: st, Clock: runtime.NewFakeClock(epoch)})
			if err != nil {
				t.Fatal(err)
			}
			e.Registry().Step("Busy.Try", func(ctx context.Context, _ *State) (runtime.Outcome, error) {
				return "", errors.New("busy")
			})
			if ds, err := e.LoadFlows("busy.json", []byte(backoffFlows)); err != nil {
				t.Fatalf("load: %v\n%v", err, ds)
			}
			if err := e.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer e.Close(context.Background())
			c := apiClient{t, httptest.NewServer(e.Handler())}
			defer c.srv.Close()
			id, err := e.StartRun(context.Background(), "Busy", json.RawMessage(`{}`), "")
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the retry", func() bool {
				info, ok := st.Get(id)
				return ok && info.Events == 2
			})
			status, body := c.do("GET", "/runs/"+id, "")
			if want := epoch.Add(time.Hour).Format(time.RFC3339Nano); status != 200 || body["retrying"] != true || body["retry_at"] != want {
				t.Errorf("GET /runs/%s in the backoff: %d retrying %v retry_at %v; want retrying at %s", id, status, body["retrying"], body["retry_at"], want)
			}
		})
	}
}
