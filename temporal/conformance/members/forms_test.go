package members

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/temporal/flowtemporal"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
	"github.com/flowgen/flowgen/temporal/internal/twoforms"
)

// world is the services of one run: each call is journaled with its
// idempotency key; refused names the endpoint that refuses for good.
type world struct {
	refused string
	twoforms.Journal
}

func (w *world) Call(ctx context.Context, service, endpoint string, req, rsp any) error {
	w.Add(ctx, fmt.Sprintf("%s #%d %v", endpoint, runtime.Attempt(ctx), req))
	if endpoint == w.refused {
		return runtime.Permanent(fmt.Errorf("%s: refused", endpoint))
	}
	if out, ok := rsp.(*string); ok {
		// Markup in the state: the same JSON value on both forms (the
		// runtime records it as it is, runtime.EncodeState; Temporal's
		// JSON converter writes \u003c for < in what it carries).
		*out = "<" + endpoint + "&" + runtime.RunID(ctx) + ">"
	}
	return nil
}

func local(t *testing.T, ctx context.Context, w *world, id string, start MembersState) twoforms.Observed[MembersState] {
	bus := runtime.NewMemoryBus()
	f, err := NewMembersFlow(nil, MembersServicesFromCaller(w), runtime.WithSink(runtime.NewMemorySink()), runtime.WithSubscriber(bus))
	if err != nil {
		t.Fatal(err)
	}
	run, err := f.Start(ctx, start, runtime.WithRunID(id))
	if err != nil {
		t.Fatal(err)
	}
	return twoforms.Observe(t, ctx, twoforms.Local(run, bus), w.Lines, func() []runtime.Message { return nil })
}

// onTemporal runs the case on a worker of ts of its own queue, through c,
// ts's default client.
func onTemporal(t *testing.T, ctx context.Context, ts *temporaltest.TestServer, c client.Client, w *world, id string, start MembersState) twoforms.Observed[MembersState] {
	f, err := NewMembersTemporal(nil, MembersServicesFromCaller(w))
	if err != nil {
		t.Fatal(err)
	}
	twoforms.NewWorker(ts, id, f.Register) // a queue of its own, served by this world
	run, err := StartMembers(ctx, c, start, client.StartWorkflowOptions{ID: id, TaskQueue: id})
	if err != nil {
		t.Fatal(err)
	}
	return twoforms.Observe(t, ctx, run, w.Lines, func() []runtime.Message { return nil })
}

// TestMembersFormsAgree runs members.flow's generated code in its two
// forms, each case on both at once, Temporal on a real server, and
// requires the step each case's choose goes to on the runtime form, and
// the same journal, history, final state, terminal state and status on
// the Temporal form: a member behind a nil pointer reads as its zero value
// on both.
func TestMembersFormsAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t, temporaltest.WithBaseWorkerOptions(flowtemporal.WorkerOptions(worker.Options{})))
	// Made before the cases, which run in parallel: the server makes its
	// default client on first use without a lock.
	tc := ts.GetDefaultClient()
	for _, c := range Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			id := "members-" + strings.ReplaceAll(c.Name, " ", "-")
			start := c.State
			start.OrderID = id
			var refused string
			final := runtime.StateDone
			if c.Refused {
				refused, final = Endpoints[c.To], runtime.StateCompensated
			}
			var want, got twoforms.Observed[MembersState]
			var wg sync.WaitGroup
			wg.Go(func() { want = local(t, ctx, &world{refused: refused}, id, start) })
			wg.Go(func() { got = onTemporal(t, ctx, ts, tc, &world{refused: refused}, id, start) })
			wg.Wait()
			if t.Failed() {
				return
			}
			route := runtime.RunningState(MembersStepRoute) + ">" + runtime.RunningState(c.To)
			if want.Final != final || !slices.ContainsFunc(want.Transitions, func(tr string) bool { return strings.HasPrefix(tr, route+" ") }) {
				t.Errorf("the runtime form ended %s by %v; want %s by %s (%s)", want.Final, want.Transitions, final, route, want.Err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("the Temporal form differs from the runtime form (-runtime +temporal):\n%s", d)
			}
		})
	}
}
