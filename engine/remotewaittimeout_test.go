package engine

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// A Go step whose provider never registers fails at its deadline with an
// error that says so: it said `no event "Charge" on topic
// "flowgen/provider"`, which read to an operator as an await of an event.
func TestProviderWaitTimeoutSaysNoProvider(t *testing.T) {
	dir := t.TempDir()
	clock := runtime.NewFakeClock(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	tr := stubTransport{reqs: make(chan provider.Request, 1), answer: func(string, provider.Request) []byte { return []byte(`{}`) }}
	fx, e := settleEngine(t, dir, clock, tr)
	t.Cleanup(func() {
		fx.stop()
		_ = fx.st.(*store.Store).Close()
	})
	id, err := e.StartRun(context.Background(), "Settle", json.RawMessage(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the run waiting for a provider of Charge", func() bool {
		st, _ := e.Status(context.Background(), id)
		return st.Machine == "Charge:waiting" && st.Wait != nil && clock.Pending() >= 1
	})
	clock.Advance(time.Hour)
	waitFor(t, "the run to end", func() bool { st, _ := e.Status(context.Background(), id); return st.State.Terminal() })
	st, _ := e.Status(context.Background(), id)
	const want = `step Charge: runtime: timeout: no provider of handler "Charge" registered by 2026-12-03T10:00:00Z`
	if st.State != runtime.StateFailed || st.Err != want {
		t.Fatalf("run %s, error %q; want failed with %q\n%s", st.State, st.Err, want, transitionsOf(t, e, id))
	}
}
