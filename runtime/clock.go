package runtime

import (
	"sort"
	"sync"
	"time"
)

// Clock is the runtime's source of time: event times, backoff sleeps and
// timeouts. Tests pass a FakeClock so that retries and timeouts take no real
// time.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// stoppableClock is implemented by clocks whose timers can be released early,
// so a finished step does not leave a pending timer behind.
type stoppableClock interface {
	Timer(d time.Duration) (c <-chan time.Time, stop func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (realClock) Timer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

func (realClock) AfterFunc(d time.Duration, fn func()) func() bool {
	return time.AfterFunc(d, fn).Stop
}

// RealClock returns the wall clock (the default).
func RealClock() Clock { return realClock{} }

// afterFuncClock is implemented by clocks that can call a function at a
// time without a goroutine waiting for it (the real clock and FakeClock):
// waiting runs use it, so a waiting run holds a timer, not a goroutine.
type afterFuncClock interface {
	AfterFunc(d time.Duration, fn func()) (stop func() bool)
}

// afterFuncAt calls fn on its own goroutine once c's time reaches at (at
// once if it has). A clock that arms a timer at a time under its own lock
// (FakeClock) is asked so; for others the duration is taken from c.Now
// here, which with the wall clock is late by the time between the two
// calls only.
func afterFuncAt(c Clock, at time.Time, fn func()) (stop func() bool) {
	if f, ok := c.(*FakeClock); ok { // not a wrapper of one: its AfterFunc is its own
		return f.afterFuncAt(at, fn)
	}
	return afterFunc(c, at.Sub(c.Now()), fn)
}

// afterFunc calls fn on its own goroutine after d on c's time. A Clock
// without AfterFunc costs a goroutine per pending call.
func afterFunc(c Clock, d time.Duration, fn func()) (stop func() bool) {
	if a, ok := c.(afterFuncClock); ok {
		return a.AfterFunc(d, fn)
	}
	ch, stopTimer := ClockTimer(c, d)
	quit := make(chan struct{})
	var once sync.Once
	go func() {
		select {
		case <-ch:
			fn()
		case <-quit:
		}
	}()
	return func() bool {
		stopped := false
		once.Do(func() { stopped = stopTimer(); close(quit) })
		return stopped
	}
}

// ClockTimer returns a channel that receives c's time after d, and a
// function that stops the timer (false if it fired or cannot be stopped:
// a Clock without Timer cannot).
func ClockTimer(c Clock, d time.Duration) (<-chan time.Time, func() bool) {
	if s, ok := c.(stoppableClock); ok {
		return s.Timer(d)
	}
	return c.After(d), func() bool { return false }
}

// attemptTimer is ClockTimer for the timer that cuts a running attempt
// (its timeout, or its step's deadline). An AutoClock arms it as a manual
// FakeClock does, to fire only when the test advances past it: fired at
// once it would race the attempt's own work. A Clock that wraps a
// FakeClock is not asked so: its Timer is its own.
func attemptTimer(c Clock, d time.Duration) (<-chan time.Time, func() bool) {
	if f, ok := c.(*FakeClock); ok {
		return f.timer(d, false)
	}
	return ClockTimer(c, d)
}

// FakeClock is a Clock that moves only when told to. Timers fire when
// Advance moves the time past them.
//
// In auto mode (NewAutoClock) a timer the run waits on alone fires at once
// and moves the time forward by its duration: a backoff, a sleep, an
// await's or a rollback wait's deadline. The run never waits and the clock
// records how long it would have. The timer that cuts a running attempt
// (a step's timeout, its deadline, a rollback's timeout) is the exception:
// it stays pending, as on a manual clock, and fires only when Advance moves
// the time past it, so an attempt is never cut while its own work runs, and
// a flow whose steps have timeouts runs the same way every time. Time moved
// by auto mode does not fire it either (a backoff in one branch does not
// cut another branch's attempt). So an await with a timeout takes only an
// event published before the run reaches it: once the run waits, its
// deadline has fired (docs/runtime.md, "Testing flows").
type FakeClock struct {
	mu     sync.Mutex
	cond   sync.Cond
	now    time.Time
	auto   bool
	timers []*fakeTimer
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
	fn func() // AfterFunc: run on its own goroutine instead of sending on c
}

// NewFakeClock returns a manual fake clock set to start.
func NewFakeClock(start time.Time) *FakeClock {
	c := &FakeClock{now: start}
	c.cond.L = &c.mu
	return c
}

// NewAutoClock returns a fake clock in auto mode set to start: timers the
// run waits on alone fire at once, attempt timeouts only on Advance (see
// FakeClock).
func NewAutoClock(start time.Time) *FakeClock {
	c := NewFakeClock(start)
	c.auto = true
	return c
}

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the fake time once it reaches now+d.
func (c *FakeClock) After(d time.Duration) <-chan time.Time {
	ch, _ := c.Timer(d)
	return ch
}

// Timer is After with a stop function that removes the pending timer.
func (c *FakeClock) Timer(d time.Duration) (<-chan time.Time, func() bool) {
	return c.timer(d, c.auto)
}

// timer is Timer, fired at once if auto.
func (c *FakeClock) timer(d time.Duration, auto bool) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: make(chan time.Time, 1)}
	if auto {
		if d > 0 {
			c.now = c.now.Add(d)
		}
		t.c <- c.now
		return t.c, func() bool { return false }
	}
	t.at = c.now.Add(d)
	if d <= 0 {
		t.c <- c.now
		return t.c, func() bool { return false }
	}
	c.timers = append(c.timers, t)
	c.cond.Broadcast()
	return t.c, func() bool { return c.stop(t) }
}

func (c *FakeClock) stop(t *fakeTimer) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range c.timers {
		if p == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			c.cond.Broadcast()
			return true
		}
	}
	return false
}

// AfterFunc calls fn on its own goroutine once the fake time reaches
// now+d; stop cancels it. It counts as a pending timer (Pending, BlockUntil).
func (c *FakeClock) AfterFunc(d time.Duration, fn func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.afterFuncLocked(d, fn)
}

// afterFuncAt calls fn once the fake time reaches at, the duration taken
// under the clock's lock: one computed from an earlier Now would arm the
// timer late by however far a test moved the time meanwhile (a run that
// parks as the test advances the clock past its deadline, seeing the wait
// recorded, would then never time out).
func (c *FakeClock) afterFuncAt(at time.Time, fn func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.afterFuncLocked(at.Sub(c.now), fn)
}

func (c *FakeClock) afterFuncLocked(d time.Duration, fn func()) (stop func() bool) {
	t := &fakeTimer{fn: fn}
	if c.auto {
		if d > 0 {
			c.now = c.now.Add(d)
		}
		go fn()
		return func() bool { return false }
	}
	t.at = c.now.Add(d)
	if d <= 0 {
		go fn()
		return func() bool { return false }
	}
	c.timers = append(c.timers, t)
	c.cond.Broadcast()
	return func() bool { return c.stop(t) }
}

// Advance moves the time forward by d and fires every timer due by then, in
// time order: a channel timer's time is sent before Advance returns; an
// AfterFunc's function starts on its own goroutine, as time.AfterFunc's
// does, so two of them due in one Advance may run in either order.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
	n := 0
	for _, t := range c.timers {
		if t.at.After(c.now) {
			break
		}
		if t.fn != nil {
			go t.fn()
		} else {
			t.c <- t.at
		}
		n++
	}
	c.timers = append(c.timers[:0], c.timers[n:]...)
	c.cond.Broadcast()
}

// Pending returns the number of timers waiting to fire.
func (c *FakeClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// BlockUntil waits until at least n timers are pending: a test calls it to
// know the run is now sleeping or waiting on a timeout before it advances.
func (c *FakeClock) BlockUntil(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.timers) < n {
		c.cond.Wait()
	}
}
