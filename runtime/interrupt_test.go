package runtime

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// An Abort or Suspend that comes while the run enters its wait is not
// lost. The run is held as it starts to park; the call is made then, and
// the run is let go to park completely in the middle of the call, between
// the run's mark (aborted, suspending) and the call's look for its wait:
// the run must see the mark, or the call its wait. Either way it ends;
// otherwise it waits forever for an event that nobody sends.
func TestInterruptWhileParking(t *testing.T) {
	type st struct{ ID string }
	for _, how := range []string{"abort", "suspend"} {
		t.Run(how, func(t *testing.T) {
			inPark, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			var run *Run[st]
			f := New[st]("F", WithSubscriber(NewMemoryBus()), WithRunParked(func(_ string, parked bool) {
				if parked {
					once.Do(func() { close(inPark); <-release })
				}
			}))
			f.opts.interrupting = func() {
				close(release)
				// Until the run has parked for good, or ended.
				for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(time.Millisecond) {
					run.mu.Lock()
					p, over := run.parked, run.over
					run.mu.Unlock()
					if over {
						return
					}
					if p != nil {
						select {
						case <-p.armed:
							return
						default:
						}
					}
				}
			}
			if err := f.Register(NewAwait[st]("payments", "paid", nil, nil, 0)); err != nil {
				t.Fatal(err)
			}
			var err error
			if run, err = f.Start(context.Background(), st{ID: "x"}, WithRunID("r1")); err != nil {
				t.Fatal(err)
			}
			<-inPark
			if how == "abort" {
				err = run.Abort()
			} else {
				err = run.Suspend()
			}
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			res, err := run.Wait(ctx)
			switch {
			case errors.Is(err, context.DeadlineExceeded):
				t.Fatalf("the run still waits (%s) after %s: the %s was lost", run.Status().Machine, how, how)
			case how == "abort" && res.Final != StateAborted:
				t.Errorf("final %s (%v), want aborted", res.Final, err)
			case how == "suspend" && !errors.Is(err, ErrSuspended):
				t.Errorf("final %s (%v), want ErrSuspended", res.Final, err)
			}
		})
	}
}

// An event delivered to a waiting run as it is aborted is taken only if
// the run records it: the Subscriber's contract is that a delivery it
// accepts is the run's. Here the delivery wakes the run, and the abort
// comes as the run leaves its wait (from the parked hook, which the wake
// calls first): the run records the event, then aborts at the next step.
// It used to turn the wake into the abort and drop the event, which the
// bus had handed over for good.
func TestDeliveryTakenAsAbortComes(t *testing.T) {
	type st struct{ Paid, Shipped bool }
	bus, sink := NewMemoryBus(), NewMemorySink()
	parked := make(chan struct{})
	var once sync.Once
	var run *Run[st]
	f := New[st]("F", WithSubscriber(bus), WithSink(sink), WithRunParked(func(_ string, p bool) {
		if p {
			close(parked)
			return
		}
		once.Do(func() {
			if err := run.Abort(); err != nil {
				t.Error(err)
			}
		})
	}))
	if err := f.Register(
		NewAwait[st]("payments", "paid", func(s *st) any { return &s.Paid }, nil, 0),
		NewStep[st]("Ship", func(_ context.Context, s *st) (Outcome, error) { s.Shipped = true; return OutcomeOK, nil }),
	); err != nil {
		t.Fatal(err)
	}
	var err error
	if run, err = f.Start(context.Background(), st{}, WithRunID("r1")); err != nil {
		t.Fatal(err)
	}
	<-parked
	if err := bus.Publish(context.Background(), "payments", "paid", true); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, _ := run.Wait(ctx)
	if res.Final != StateAborted || res.State.Shipped {
		t.Errorf("final %s, shipped %v: want aborted before Ship", res.Final, res.State.Shipped)
	}
	woke := false
	for _, e := range sink.History("r1") {
		woke = woke || string(e.Payload) == "true"
	}
	if !woke {
		t.Errorf("the delivered event is not in the history: %v", fromTo(sink.History("r1")))
	}
}

// fromTo is the events' transitions, for a failure message.
func fromTo(events []Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.From+" -> "+e.To)
	}
	return out
}
