package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/runtime"
)

// TestCompensationMatrix fails step k of an N-step flow in each way a step
// can fail, and checks that exactly steps 1..k-1 roll back, once each, in
// reverse order, and that the run ends in the right terminal state.
func TestCompensationMatrix(t *testing.T) {
	const n = 5
	ids := stepIDs(n)
	for _, mode := range []string{"error", "panic", "timeout", "abort"} {
		for k := 1; k <= n; k++ {
			t.Run(fmt.Sprintf("%s/step%d", mode, k), func(t *testing.T) {
				rec := newRecorder()
				sink := runtime.NewMemorySink()
				release := make(chan struct{}) // frees a step abandoned by its timeout
				defer close(release)
				started := make(chan struct{})
				clock := runtime.NewFakeClock(epoch)
				f := runtime.New[state]("matrix", runtime.WithSink(sink), runtime.WithClock(clock))
				for i, id := range ids {
					if i+1 != k {
						mustRegister(t, f, okStep(rec, id))
						continue
					}
					var opts []runtime.StepOption[state]
					if mode == "timeout" {
						// The step ignores its context: the run must abandon it
						// when the test moves the clock past the timeout.
						opts = append(opts, runtime.WithTimeout[state](time.Second))
					}
					opts = append(opts, runtime.WithRollback(func(ctx context.Context, s *state) error {
						rec.add("undo "+id, ctx)
						return nil
					}))
					mustRegister(t, f, runtime.NewStep(id, func(ctx context.Context, s *state) (runtime.Outcome, error) {
						rec.add("exec "+id, ctx)
						s.Log = append(s.Log, "changed by the failing step")
						switch mode {
						case "error":
							return "", errBoom
						case "panic":
							panic("kaboom")
						case "timeout":
							close(started)
							<-release
							return runtime.OutcomeOK, nil
						default: // abort
							close(started)
							<-ctx.Done()
							return "", ctx.Err()
						}
					}, opts...))
				}
				run, err := f.Start(context.Background(), state{}, runtime.WithRunID("run"))
				if err != nil {
					t.Fatal(err)
				}
				switch mode {
				case "abort":
					<-started
					if err := run.Abort(); err != nil {
						t.Fatal(err)
					}
				case "timeout":
					<-started
					clock.BlockUntil(1)
					clock.Advance(time.Second)
				}
				res, err := run.Wait(context.Background())
				if err == nil || err != res.Err {
					t.Fatalf("Wait error = %v, want the result's error %v", err, res.Err)
				}

				var want []string
				for i := 1; i <= k; i++ {
					want = append(want, "exec "+ids[i-1])
				}
				for i := k - 1; i >= 1; i-- {
					want = append(want, "undo "+ids[i-1])
				}
				if diff := cmp.Diff(want, rec.all()); diff != "" {
					t.Errorf("effects (-want +got):\n%s", diff)
				}
				wantFinal := runtime.StateCompensated
				switch {
				case mode == "abort":
					wantFinal = runtime.StateAborted
				case k == 1:
					wantFinal = runtime.StateFailed // nothing to undo
				}
				if res.Final != wantFinal {
					t.Errorf("final = %s, want %s", res.Final, wantFinal)
				}
				// The failed attempt's change to the state is discarded.
				if !slices.Equal(res.State.Log, ids[:k-1]) {
					t.Errorf("state log = %q, want %q", res.State.Log, ids[:k-1])
				}

				h := sink.History("run")
				leave := h[k] // event k+1 leaves step k
				if leave.Step != ids[k-1] || leave.From != runtime.RunningState(ids[k-1]) {
					t.Fatalf("event %d = %+v, want step %s leaving", k+1, leave, ids[k-1])
				}
				if leave.Interrupted() != (mode == "abort") {
					t.Errorf("%s: the event leaving the step: Interrupted() = %v", mode, leave.Interrupted())
				}
				switch mode {
				case "abort":
					if !errors.Is(res.Err, runtime.ErrAborted) || leave.To != runtime.MachineAborting {
						t.Errorf("abort: err %v, event to %s", res.Err, leave.To)
					}
				case "panic":
					var pe *runtime.PanicError
					if !errors.As(res.Err, &pe) || !strings.Contains(leave.Error, "kaboom") || !strings.Contains(leave.Error, "goroutine") {
						t.Errorf("panic: err %v, event error %q: want a PanicError with its stack", res.Err, leave.Error)
					}
				case "timeout":
					if !errors.Is(res.Err, runtime.ErrTimeout) || leave.Outcome != runtime.OutcomeTimeout {
						t.Errorf("timeout: err %v, outcome %q", res.Err, leave.Outcome)
					}
				case "error":
					var se *runtime.StepError
					if !errors.As(res.Err, &se) || se.Step != ids[k-1] || !errors.Is(res.Err, errBoom) {
						t.Errorf("error: err %v, want a StepError for %s wrapping boom", res.Err, ids[k-1])
					}
				}
				// The history replays to the final status and fits the flow.
				st, err := runtime.Replay(h)
				if err != nil {
					t.Fatal(err)
				}
				if st.State != wantFinal {
					t.Errorf("replayed state = %s, want %s", st.State, wantFinal)
				}
				if err := f.CheckHistory(h); err != nil {
					t.Errorf("CheckHistory: %v", err)
				}
			})
		}
	}
}
