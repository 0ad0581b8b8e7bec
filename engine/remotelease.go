package engine

import (
	"slices"
	"strings"
	"time"

	"github.com/flowgen/flowgen/engine/provider"
)

// lease is a provider's registration: the registrations of its replicas
// (processes that share the name, such as NATS replicas in one queue
// group), each with its own TTL. It is live while any replica's is, so
// that a replica that leaves takes only its own registration away.
type lease struct {
	name     string
	owner    string                   // Identity.ID of who registered it; "": anyone's
	replicas map[string]*replicaLease // by replica ID; "": registered without one
}

// replicaLease is one replica's registration.
type replicaLease struct {
	handlers []provider.Handler
	ttl      time.Duration
	expires  time.Time
	// token is the call credential of this registration (callToken): the
	// engine sends it with every HTTP call of its handlers, and the
	// answer to the registration is the only place it is shown. A renewal
	// keeps it; a registration again issues another.
	token string
	// seq orders registrations: of replicas sharing a callback URL, the
	// last registered gets the calls' token (target.callToken).
	seq uint64
	// unreachable: a call to it found no server at its URL (its process
	// died, most likely) since it registered or last renewed.
	unreachable bool
	// bytes is what the registration counts against
	// ProviderOptions.MaxBytes (registrationBytes).
	bytes int64
}

// liveReplicas returns the IDs of l's live replicas, sorted.
func (l *lease) liveReplicas(now time.Time) []string {
	var out []string
	for id, r := range l.replicas {
		if r.live(now) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// live says whether any of l's replicas is, without listing them.
func (l *lease) live(now time.Time) bool {
	for _, r := range l.replicas {
		if r.live(now) {
			return true
		}
	}
	return false
}

// live says whether r's registration is: the lease serves its handlers.
func (r *replicaLease) live(now time.Time) bool { return now.Before(r.expires) }

// callable says whether the pick sends r calls: r is live, and no call
// found it unreachable since it registered or last renewed. An
// unreachable replica stays live (the lease and its handlers do not
// change), but serves no call (remote.callableLocked).
func (r *replicaLease) callable(now time.Time) bool { return r.live(now) && !r.unreachable }

// renew extends r's registration by its TTL. A renewal proves that its
// process is there again: the pick no longer passes it over. It reports
// whether a call had found r unreachable.
func (r *replicaLease) renew(now time.Time) (back bool) {
	back = r.unreachable
	r.expires = now.Add(r.ttl)
	r.unreachable = false
	return back
}

// offer is a handler of a lease and the live replicas that registered it.
type offer struct {
	h        provider.Handler
	replicas []*replicaLease
}

// offers returns the handlers of l's live replicas that match (nil: all),
// each once, with the replicas that registered it: replicas of one
// version register the same ones, and a rolling deploy mixes the old
// version's and the new one's until the last old replica leaves. Each
// call picks its provider through here under rm.mu: match leaves out,
// before anything is built for them, the handlers of other names, which a
// lease may hold tens of thousands of (256 replicas of 256 handlers).
func (l *lease) offers(now time.Time, match func(provider.Handler) bool) []offer {
	type key struct {
		name, url, subject, outcomes string
		rollback                     bool
	}
	at := map[key]int{}
	var out []offer
	for _, id := range l.liveReplicas(now) {
		r := l.replicas[id]
		for _, h := range r.handlers {
			if match != nil && !match(h) {
				continue
			}
			k := key{h.Name, h.URL, h.Subject, strings.Join(h.Outcomes, "\x00"), h.Rollback}
			i, ok := at[k]
			if !ok {
				i = len(out)
				at[k] = i
				out = append(out, offer{h: h})
			}
			out[i].replicas = append(out[i].replicas, r)
		}
	}
	return out
}

// handlers returns the handlers of l's live replicas that match (nil:
// all), each once (offers).
func (l *lease) handlers(now time.Time, match func(provider.Handler) bool) []provider.Handler {
	var out []provider.Handler
	for _, o := range l.offers(now, match) {
		out = append(out, o.h)
	}
	return out
}

// info is the lease whole: its live replicas, their handlers, and the
// latest expiry.
func (l *lease) info(now time.Time) provider.Lease {
	out := provider.Lease{Provider: l.name, Handlers: l.handlers(now, nil)}
	for _, id := range l.liveReplicas(now) {
		r := l.replicas[id]
		if !r.expires.Before(out.Expires) {
			out.TTL, out.Expires = r.ttl.String(), r.expires
		}
		if id != "" {
			out.Replicas = append(out.Replicas, id)
		}
		if r.unreachable {
			out.Unreachable = append(out.Unreachable, id)
		}
	}
	return out
}

// info is one replica's registration, as the answer to its registration
// or renewal.
func (r *replicaLease) info(name, replica string) provider.Lease {
	return provider.Lease{Provider: name, Replica: replica, TTL: r.ttl.String(), Expires: r.expires, Handlers: slices.Clone(r.handlers)}
}
