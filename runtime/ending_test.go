package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

// WithRunLeaving is called before anything shows the run ended: before its
// sink has the final event and before Done, for a run that ends (done,
// or failed and rolled back) and for one Suspend stops, which records no
// end; and once, before WithRunEnded. An engine frees the run's place
// among its runs in flight there.
func TestRunEndingBeforeTheEndIsSeen(t *testing.T) {
	type ending struct {
		name string
		fail bool // the second step fails: the run rolls back
		stop bool // Suspend stops the run in its second step
		want runtime.RunState
	}
	endings := []ending{
		{"done", false, false, runtime.StateDone},
		{"compensated", true, false, runtime.StateCompensated},
		{"suspended", false, true, ""},
	}
	for _, tc := range endings {
		t.Run(tc.name, func(t *testing.T) {
			sink := runtime.NewMemorySink()
			var run *runtime.Run[state]
			started := make(chan struct{})
			var seen []string // on the run's goroutine, read after WithRunEnded
			ended := make(chan struct{})
			f := runtime.New[state]("F", runtime.WithSink(sink),
				runtime.WithRunLeaving(func(id string) {
					h := sink.History(id)
					last := runtime.RunState(h[len(h)-1].To)
					select {
					case <-run.Done():
						seen = append(seen, "ending after Done")
					default:
						seen = append(seen, "ending in "+string(last))
					}
				}),
				runtime.WithRunEnded(func(string, runtime.RunState, error) {
					seen = append(seen, "ended")
					close(ended)
				}))
			rec := newRecorder()
			mustRegister(t, f, okStep(rec, "A"), runtime.NewStep("B", func(ctx context.Context, s *state) (runtime.Outcome, error) {
				<-started // run is set
				if tc.stop {
					_ = run.Suspend()
				}
				if tc.fail {
					return "", runtime.Permanent(errors.New("no"))
				}
				return runtime.OutcomeOK, nil
			}), okStep(rec, "C"))
			var err error
			run, err = f.Start(context.Background(), state{})
			if err != nil {
				t.Fatal(err)
			}
			close(started)
			<-ended
			res, _ := run.Wait(context.Background())
			if tc.want != "" && res.Final != tc.want {
				t.Fatalf("final %s, want %s", res.Final, tc.want)
			}
			h := sink.History(run.ID())
			before := h[len(h)-1].To // what the sink had when the run was told
			if tc.want != "" {
				before = h[len(h)-2].To
			}
			want := []string{"ending in " + before, "ended"}
			if len(seen) != 2 || seen[0] != want[0] || seen[1] != want[1] {
				t.Fatalf("hooks %q, want %q (the history: %s)", seen, want, transitions(h))
			}
		})
	}
}

// WithRunLeaving is also called before the event that enters a wait the
// run parks on reaches the sink, before WithRunParked, and once more
// after each wake before the run next waits or ends: an await that gets
// its event, a sleep that times out, then the end.
func TestRunLeavingBeforeItsWaitIsSeen(t *testing.T) {
	var h hookLog
	sink := runtime.NewMemorySink()
	sub := newProbeSub()
	clock := runtime.NewFakeClock(epoch)
	f := runtime.New[order]("Orders", runtime.WithSink(sink), runtime.WithSubscriber(sub), runtime.WithClock(clock),
		runtime.WithRunLeaving(func(id string) { h.add(fmt.Sprint("leave ", len(sink.History(id)))) }),
		runtime.WithRunParked(func(_ string, parked bool) {
			if parked {
				h.add("park")
			} else {
				h.add("wake")
			}
		}),
		runtime.WithRunEnded(func(string, runtime.RunState, error) { h.add("end") }))
	if err := f.Register(awaitPaid(time.Hour), runtime.NewSleep[order]("Nap", time.Minute, nil)); err != nil {
		t.Fatal(err)
	}
	run, err := f.Start(context.Background(), order{OrderID: "o-1"}, runtime.WithRunID("r1"))
	if err != nil {
		t.Fatal(err)
	}
	sub.waitFor(t, "r1/Pay")
	payThenNap(t, run, sub, clock, &h, 5, 8)
	// Each leave comes as the sink has every event before the one that
	// parks the run or ends it, and none after.
	var want []string
	hist := sink.History("r1")
	for i := range hist {
		switch {
		case hist[i].Parks() != nil:
			want = append(want, fmt.Sprint("leave ", i), "park", "wake")
		case runtime.RunState(hist[i].To).Terminal():
			want = append(want, fmt.Sprint("leave ", i), "end")
		}
	}
	if got := h.all(); len(want) != 8 || !slices.Equal(got, want) {
		t.Fatalf("hooks %q, want %q (the history: %s)", got, want, transitions(hist))
	}
}
