package engine

import (
	"container/heap"
	"errors"
	"time"

	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// setExpiry (re)schedules m's expiry. in.mu is held.
func (in *inbox) setExpiry(m *inMsg, at time.Time) {
	m.expires = at
	if m.hi >= 0 {
		heap.Fix(&in.expiry, m.hi)
	} else {
		heap.Push(&in.expiry, m)
	}
	if in.expiry[0] == m {
		select {
		case in.rearm <- struct{}{}:
		default:
		}
	}
}

// start starts the goroutine that expires messages.
func (in *inbox) start() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.on || in.stopped {
		return
	}
	in.on = true
	// The loop's first pass reads the expiries as they are now: a rearm
	// signalled before (the messages received or loaded so far) would
	// only make it arm its timer twice, and a clock moved in between
	// the two (a test's FakeClock, once it saw the first timer armed)
	// would find the second armed late.
	select {
	case <-in.rearm:
	default:
	}
	in.bg.Add(1)
	go in.expireLoop()
}

// expireLoop expires messages as their retention ends. Its clock timer is
// armed only while the inbox holds messages.
func (in *inbox) expireLoop() {
	defer in.bg.Done()
	for {
		in.mu.Lock()
		now := in.clock.Now()
		var due []*inMsg
		for len(in.expiry) > 0 && !now.Before(in.expiry[0].expires) {
			due = append(due, in.expiry[0])
			heap.Pop(&in.expiry)
		}
		wait := time.Duration(-1)
		if len(in.expiry) > 0 {
			wait = in.expiry[0].expires.Sub(now)
		}
		in.mu.Unlock()
		for _, m := range due {
			in.expire(m)
		}
		var fire <-chan time.Time
		stop := func() bool { return false }
		if wait >= 0 {
			fire, stop = runtime.ClockTimer(in.clock, wait)
		}
		select {
		case <-fire:
		case <-in.rearm:
			stop()
		case <-in.quit:
			stop()
			return
		}
	}
}

// expire records m's expiry and forgets it. A message that moved on in the
// store meanwhile (another engine claimed it) is read back instead.
func (in *inbox) expire(m *inMsg) {
	in.mu.Lock()
	if in.msgs[m.k] != m || m.hi >= 0 { // forgotten, or rescheduled (claimed) meanwhile
		in.mu.Unlock()
		return
	}
	from := map[msgState]store.MessageState{msgPending: store.MessagePending, msgReserved: store.MessagePending,
		msgClaimed: store.MessageClaimed, msgDead: store.MessageDead}[m.state]
	in.mu.Unlock()
	err := in.st.ExpireMessage(in.ctx, m.k, from, in.now())
	switch {
	case errors.Is(err, store.ErrMessageState):
		in.resync(m)
		return
	case err != nil && !errors.Is(err, store.ErrUnknownMessage):
		in.log.Error("expiring an inbox message", "topic", m.k.Topic, "event", m.k.Event, "id", m.k.ID, "error", err)
		in.mu.Lock()
		if in.msgs[m.k] == m && m.hi < 0 {
			in.setExpiry(m, in.clock.Now().Add(time.Minute)) // try again later
		}
		in.mu.Unlock()
		return
	}
	in.mu.Lock()
	if in.msgs[m.k] == m {
		in.forget(m)
	}
	in.mu.Unlock()
}

// resync takes m, whose expiry found it in another state in the store (an
// engine sharing the inbox claimed or released it), as the store has it,
// with the expiry that state gives it.
func (in *inbox) resync(m *inMsg) {
	sm, ok, err := in.st.GetMessage(m.k)
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.msgs[m.k] != m || m.hi >= 0 { // forgotten, or rescheduled meanwhile
		return
	}
	switch {
	case err != nil:
		in.log.Error("reading an inbox message", "topic", m.k.Topic, "event", m.k.Event, "id", m.k.ID, "error", err)
		in.setExpiry(m, in.clock.Now().Add(time.Minute))
		return
	case !ok:
		in.forget(m)
		return
	}
	in.unindex(m)
	in.place(m, &sm)
}

// msgHeap orders messages by expiry.
type msgHeap []*inMsg

func (h msgHeap) Len() int { return len(h) }

func (h msgHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }

func (h msgHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hi, h[j].hi = i, j
}

func (h *msgHeap) Push(x any) {
	m := x.(*inMsg)
	m.hi = len(*h)
	*h = append(*h, m)
}

func (h *msgHeap) Pop() any {
	old := *h
	m := old[len(old)-1]
	old[len(old)-1] = nil
	m.hi = -1
	*h = old[:len(old)-1]
	return m
}
