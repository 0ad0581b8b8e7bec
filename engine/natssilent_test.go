package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/engine/provider/natsprovider"
	"github.com/flowgen/flowgen/internal/natstest"
	"github.com/flowgen/flowgen/runtime"
)

// silentFlow has a Go step with neither a timeout nor a deadline: before
// progress notices, a NATS call lost with its replica kept it waiting for
// ever.
const silentFlow = `{"version": 1, "flows": [{
  "name": "Quiet", "state": "QuietState",
  "triggers": [{"kind": "rpc", "endpoint": "Quiet.Start"}],
  "retry": {"attempts": 3, "initial": "10ms", "max": "20ms"},
  "steps": [{"name": "Charge", "action": {"kind": "go"}}]}]}`

// A NATS replica that takes a call and then loses its connection (its
// process dies, or the network between it and the NATS server) without
// withdrawing, its lease kept alive: its progress notices stop, the
// engine fails the attempt as a transport failure once
// natsprovider.ProgressMissed of its intervals pass, the run's history
// records it, and the retry, under the same idempotency key, goes to the
// other replica, which completes the run.
func TestProviderNATSReplicaSilentMidCall(t *testing.T) {
	url := natstest.URL(t)
	_, e, srv := remoteFixture(t, ProviderOptions{NATS: natsprovider.NewTransport(natstest.Connect(t, url))})
	if _, err := e.LoadFlows("quiet.json", []byte(silentFlow)); err != nil {
		t.Fatal(err)
	}
	type call struct {
		replica, key string
		attempt      int
	}
	calls := make(chan call, 8)
	release := make(chan struct{}) // ends the dead replica's handler, at the test's end
	serve := func(replica string, hold bool, every time.Duration) *nats.Conn {
		p := provider.New(provider.Options{Name: "billing", Engine: srv.URL, Replica: replica, TTL: 3 * time.Minute})
		p.Step("Quiet.Charge", func(ctx context.Context, c *provider.Call) (string, error) {
			calls <- call{replica, c.IdempotencyKey, c.Attempt}
			if hold {
				<-release
			}
			return "", nil
		})
		// The dying replica's notices are short so that the test is
		// quick (the bound is ProgressMissed intervals after the last
		// one), and long enough that a loaded machine does not delay one
		// past it while the replica lives; the live replica's are the
		// default, so that its answer is never late.
		nc := natstest.Connect(t, url)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- natsprovider.ServeWith(ctx, p, "billing", nc, natsprovider.Options{Progress: every})
		}()
		t.Cleanup(func() { cancel(); <-done })
		if hold {
			t.Cleanup(func() { close(release) })
		}
		return nc
	}
	registered := func(replica string) func() bool {
		return func() bool {
			for _, l := range e.Providers() {
				for _, r := range l.Replicas {
					if r == replica {
						return true
					}
				}
			}
			return false
		}
	}

	dying := serve("dying", true, 500*time.Millisecond)
	waitFor(t, "the first replica to register", registered("dying"))
	id, err := e.StartRun(t.Context(), "Quiet", []byte(`{}`), "")
	if err != nil {
		t.Fatal(err)
	}
	first := <-calls
	// The other replica joins the queue group, then the first one's
	// connection goes, the call in flight with it; its lease lives on
	// (it renews every minute).
	serve("live", false, 0)
	waitFor(t, "the second replica to register", registered("live"))
	dying.Close()

	guard := time.Now().Add(30 * time.Second) // the bound is 1.5s: on the old code, for ever
	var st RunStatus
	for {
		st, _ = e.Status(context.Background(), id)
		if st.State.Terminal() {
			break
		}
		if time.Now().After(guard) {
			t.Fatalf("the run is %s 30s after the replica holding its call went silent (attempts failed: %q)", st.State, failedAttempts(t, e, id))
		}
		time.Sleep(time.Millisecond)
	}
	failed := failedAttempts(t, e, id)
	if st.State != runtime.StateDone || len(failed) != 1 || !strings.Contains(failed[0], natsprovider.ErrSilent.Error()) ||
		!strings.Contains(failed[0], `provider "billing", handler "Quiet.Charge"`) {
		t.Fatalf("run %s (%q), failed attempts %q; want done after one attempt failed with the replica's silence", st.State, st.Err, failed)
	}
	second := <-calls
	if first.replica != "dying" || second.replica != "live" || second.key != first.key || first.attempt != 1 || second.attempt != 2 {
		t.Errorf("calls %+v then %+v: want attempt 1 at the dying replica, attempt 2 at the live one, one idempotency key", first, second)
	}
}
