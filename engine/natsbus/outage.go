package natsbus

import (
	"log/slog"
	"sync"
	"time"
)

// outage is what the pull loops of one durable consumer (its name and
// topic/event: the engine's EventWorkers consumers of one trigger, 32 by
// default) log of their failed pull requests, together: a JetStream
// outage makes every loop fail, and each logging it wrote the same
// warning once per loop. It logs when the first loop starts failing, and
// when the last one that failed works again, with how long that took and
// how many requests failed meanwhile.
type outage struct {
	log  *slog.Logger
	now  func() time.Time
	mu   sync.Mutex
	refs int // pull loops that share it (pullers)

	failing  int       // pull loops whose last request failed
	since    time.Time // of the first failure, while failing > 0
	failures int       // failed requests since then

	// renewing is held by the loop creating the consumer again (pull's
	// renew), so that the others wait and find it; renewErr, guarded by
	// it, is the last failure to create it that was logged.
	renewing sync.Mutex
	renewErr string
}

// fail records a failed request of a loop; first: the loop's last one
// worked.
func (o *outage) fail(err error, first bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failures++
	if !first {
		return
	}
	if o.failing == 0 {
		o.since, o.failures = o.now(), 1
		o.log.Warn("natsbus: pull requests failed; asking again, less often while they fail", "err", err, "every_at_most", pullRetryMax)
	}
	o.failing++
}

// ok records that a loop's request worked after failing ones.
func (o *outage) ok() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failing--
	o.ended()
}

// ended logs the end of the outage once no loop fails. o.mu is held.
func (o *outage) ended() {
	if o.failing == 0 {
		o.log.Info("natsbus: pulling again after failed pull requests", "failed", o.failures, "down_for", o.now().Sub(o.since).Round(time.Millisecond))
	}
}

// outages are the brokers' outage records, one per durable consumer,
// shared by its pull loops.
type outages struct {
	mu sync.Mutex
	m  map[string]*outage
}

// join returns the outage of the durable consumer durable, log its
// logger, and the function that leaves it (failing: the loop's last
// request failed).
func (r *outages) join(durable string, log *slog.Logger) (*outage, func(failing bool)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]*outage{}
	}
	o := r.m[durable]
	if o == nil {
		o = &outage{log: log, now: time.Now}
		r.m[durable] = o
	}
	o.mu.Lock()
	o.refs++
	o.mu.Unlock()
	return o, func(failing bool) {
		r.mu.Lock()
		defer r.mu.Unlock()
		o.mu.Lock()
		defer o.mu.Unlock()
		o.refs--
		if o.refs == 0 {
			delete(r.m, durable) // the consumer stopped: nothing to say
			return
		}
		if failing {
			// A loop stopped while failing: if it was the last, the
			// others work.
			o.failing--
			o.ended()
		}
	}
}

// consumed reports whether a pull loop of the durable consumer durable
// runs (has joined its outage and not left).
func (r *outages) consumed(durable string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[durable] != nil
}
