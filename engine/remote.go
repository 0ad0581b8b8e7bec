package engine

// Remote providers (docs/engine.md#remote-providers): services that serve
// the Go steps and Go rollbacks of JSON flows from another process, over
// HTTP or NATS, registered through the API with a lease. This file
// registers them and decides which provider serves a handler;
// remotelease.go keeps the leases, remotewait.go parks a step until a
// provider of its handler is live, remotecall.go makes the calls,
// remotehttp.go is the API, remoteallow.go the callback URLs' allow-list.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/runtime"
)

// ProviderOptions turn remote providers on (Options.Providers).
type ProviderOptions struct {
	// Allow lists where HTTP providers' callback URLs may point: URL
	// prefixes ("https://billing.internal/flowgen/") or hosts, with or
	// without a port ("billing.internal", "10.0.0.7:9000"). Empty: loopback
	// only (localhost, 127.0.0.0/8, ::1). Registering cannot make the engine
	// call anything else: it checks the address a callback's host resolved
	// to again when it connects (localhost must lead to loopback).
	Allow []string
	// NATS carries the calls of NATS providers (natsprovider.Transport);
	// nil: registrations with a subject are refused.
	NATS ProviderTransport
	// DefaultTTL is a lease's length when a registration gives none
	// (default DefaultProviderTTL, or MaxTTL if that is shorter); MaxTTL
	// the longest allowed (default MaxProviderTTL). Both are at least
	// MinProviderTTL.
	DefaultTTL, MaxTTL time.Duration
	// MaxProviders bounds the providers registered at once (default
	// DefaultMaxProviders).
	MaxProviders int
	// MaxBytes bounds the registrations held at once, of every provider
	// and replica, by their size (registrationBytes: names, URLs,
	// subjects, outcomes); default DefaultProviderBytes. The counts alone
	// (MaxProviders, MaxProviderReplicas, MaxProviderHandlers) would let
	// registrations of a request body each take a quarter of a million
	// times that.
	MaxBytes int64
	// Wait is how long an attempt of a Go step that is a branch of a
	// parallel block waits for a live provider, in memory and within 9/10
	// of its own timeout, before it fails with ErrNoProvider, a retryable
	// error (default DefaultProviderWait): a branch has no waiting state.
	// Every other attempt of a Go step waits in the step's recorded
	// waiting state, and of a Go rollback in its rollback state, before it
	// begins and whenever it finds no live provider to call (after a
	// restart of the engine, say), without this bound and without a
	// goroutine (docs/engine.md#remote-providers).
	Wait time.Duration
}

// Bounds and defaults of remote providers.
const (
	DefaultProviderTTL   = 30 * time.Second
	MinProviderTTL       = time.Second
	MaxProviderTTL       = 10 * time.Minute
	DefaultMaxProviders  = 1024
	DefaultProviderBytes = 64 << 20 // bytes of the registrations held, in all
	MaxProviderHandlers  = 256
	MaxProviderOutcomes  = 256 // named outcomes of one handler
	MaxProviderReplicas  = 256 // live replicas of one provider
	DefaultProviderWait  = 30 * time.Second
	MaxProviderResponse  = 16 << 20 // bytes of a provider's answer
	providerHTTPConns    = 64       // connections to one provider host
	providerWakeProvider = "provider"
)

// MaxProviderSubject bounds a handler's NATS subject: room for the one
// natsprovider.Serve makes of names at their limit (128 bytes each, of any
// UTF-8, a byte escaped as 3: 795 bytes; 255, as it was, refused valid
// non-ASCII names), within a NATS server's control line (4096 bytes by
// default), which carries the subject and the reply's.
const MaxProviderSubject = 1024

// ProviderHandlerOverhead is what each handler of a registration counts
// against ProviderOptions.MaxBytes beside its strings: its record.
const ProviderHandlerOverhead = 128

// ProviderTopic is the topic of the wait of a Go step that has no live
// provider: the run's status shows {"topic": "flowgen/provider", "event":
// STEP} while it waits. It is no broker topic: the engine wakes the run
// when a provider of the step registers. Its home is the runtime's, which
// names such a wait (runtime.Wait.Awaited) and its timeout.
const ProviderTopic = runtime.ProviderTopic

// ProviderRollbackTopic is the topic of the wait before an attempt of a Go
// rollback that has no live provider: the run's status shows {"topic":
// "flowgen/provider-rollback", "event": ROLLBACK} while it waits, in the
// step's rollback state, for as long as it takes.
const ProviderRollbackTopic = runtime.ProviderRollbackTopic

// ProviderTransport carries a provider call on a transport other than
// HTTP: it sends the request to subject and returns the reply. An error
// marked by provider.Permanent (a request the transport can never carry)
// fails the step's attempt for good; any other is retried. One marked by
// provider.Unreachable (no one serves subject) also makes the engine pass
// over the replicas that registered the handler there until they renew.
// A transport on which a call can be lost with its provider without an
// error bounds the wait itself, and fails the call with a retryable error
// (natsprovider.Transport: progress notices, natsprovider.ErrSilent).
type ProviderTransport interface {
	CallProvider(ctx context.Context, subject string, req []byte) ([]byte, error)
}

// Errors of remote providers.
var (
	// ErrNoProvider: no live provider serves the handler (retryable).
	ErrNoProvider = errors.New("engine: no live provider")
	// ErrRegistration: a registration that is not valid (400).
	ErrRegistration = errors.New("engine: invalid provider registration")
	// ErrProviderConflict: a registration that disagrees with the
	// registered flows, or that alone takes more than the bytes the
	// engine keeps (409): as it is, it is never taken.
	ErrProviderConflict = errors.New("engine: provider registration refused")
	// ErrProvidersFull: a registration beyond the providers, the replicas
	// of one, or the bytes the engine holds now (429, with Retry-After):
	// it is taken once leases expire or are withdrawn, so a provider
	// tries again (engine/provider does) rather than stop.
	ErrProvidersFull = errors.New("engine: provider registration refused for now")
	// ErrNoLease: a renewal of a provider that has no live lease (404):
	// register again.
	ErrNoLease = errors.New("engine: no live lease for this provider")
	// ErrLeaseHeld: a registration, renewal or withdrawal of a live lease
	// by a credential other than the one that registered it, not an
	// admin's (403, an ErrForbidden).
	ErrLeaseHeld = fmt.Errorf("%w: the provider's live lease is another credential's", ErrForbidden)
)

// remote is the engine's registry of remote providers.
type remote struct {
	e      *Engine
	opts   ProviderOptions
	allow  allowList
	client *http.Client

	mu     sync.Mutex
	leases map[string]*lease
	// named indexes the leases by the names of their replicas'
	// handlers: a pick, which every provider call makes under mu, looks
	// at the leases that registered its handler's names, not at every
	// handler of every lease (leaseIndex).
	named   leaseIndex
	regs    uint64                         // registrations granted: replicaLease.seq
	turns   map[handlerKey]uint64          // calls of each handler called so far: whose turn it is
	waits   map[handlerKey][]*providerWait // runs waiting for a provider
	changed chan struct{}                  // closed and replaced when a lease is granted

	// flowsChecked, if set, runs when a registration has passed its check
	// against the loaded flows and is not yet granted: a test seam, to
	// load a flow just then (TestProviderRegistrationOrderedWithLoads).
	flowsChecked func()
}

// mayChangeLocked refuses who a change (what: "replace", "renew",
// "withdraw") of lease l, if it is live: a lease belongs to the credential
// that registered it, so that another provider cannot take its calls or
// end them; an admin, the operator, may. A lease registered with no
// identity (an open API) is anyone's, as an expired one is. The caller
// holds rm.mu.
func (rm *remote) mayChangeLocked(l *lease, who Identity, what string, now time.Time) error {
	if !l.live(now) || l.owner == "" || l.owner == who.ID || who.Role == RoleAdmin {
		return nil
	}
	rm.e.refusals.leaseHeld(l.name, what)
	return fmt.Errorf("%w: cannot %s provider %q until its lease expires or an admin withdraws it", ErrLeaseHeld, what, l.name)
}

// handlerKey names a Go step (or rollback) of a flow.
type handlerKey struct {
	flow, name string
	rollback   bool
}

// names says whether h is registered for k: a step or a rollback as k
// is, under k's qualified name ("Flow.Name") or its plain one. It builds
// no string: a pick asks it of every handler registered.
func (k handlerKey) names(h provider.Handler) bool {
	n := h.Name
	return h.Rollback == k.rollback && (n == k.name ||
		len(n) == len(k.flow)+1+len(k.name) && n[len(k.flow)] == '.' && strings.HasPrefix(n, k.flow) && strings.HasSuffix(n, k.name))
}

func newRemote(e *Engine, opts ProviderOptions) (*remote, error) {
	if opts.MaxTTL <= 0 {
		opts.MaxTTL = MaxProviderTTL
	}
	if opts.DefaultTTL <= 0 { // the default within a smaller MaxTTL
		opts.DefaultTTL = min(DefaultProviderTTL, opts.MaxTTL)
	}
	if opts.MaxTTL < MinProviderTTL || opts.DefaultTTL < MinProviderTTL || opts.DefaultTTL > opts.MaxTTL {
		return nil, fmt.Errorf("engine: provider leases: DefaultTTL %v and MaxTTL %v must be at least %v, DefaultTTL at most MaxTTL", opts.DefaultTTL, opts.MaxTTL, MinProviderTTL)
	}
	if opts.MaxProviders <= 0 {
		opts.MaxProviders = DefaultMaxProviders
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultProviderBytes
	}
	if opts.Wait <= 0 {
		opts.Wait = DefaultProviderWait
	}
	al, err := parseAllowList(opts.Allow)
	if err != nil {
		return nil, err
	}
	return &remote{
		e: e, opts: opts, allow: al, client: providerClient(al),
		leases:  map[string]*lease{},
		named:   leaseIndex{byName: map[string]map[string]bool{}, names: map[string][]string{}},
		waits:   map[handlerKey][]*providerWait{},
		turns:   map[handlerKey]uint64{},
		changed: make(chan struct{}),
	}, nil
}

// newCallToken is a registration's call credential: 32 random bytes,
// base64url. crypto/rand.Read does not fail (it ends the program if the
// system's source does).
func newCallToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// target is a handler of a live provider.
type target struct {
	provider string
	h        provider.Handler
	replicas []*replicaLease // the live replicas that registered h
	token    string          // the call credential the pick chose (callToken)
}

// callToken is the call credential of a call to t: that of its replica
// registered last, among the callable ones if any. Replicas register
// their own URLs, so there is one; several that share a URL (a process
// that came back under another replica ID before the old registration
// expired) are one server, which holds the latest token. The caller holds
// rm.mu.
func (t target) callToken(now time.Time) string {
	var best *replicaLease
	for _, r := range t.replicas {
		if best == nil || r.callable(now) && !best.callable(now) || r.callable(now) == best.callable(now) && r.seq > best.seq {
			best = r
		}
	}
	if best == nil {
		return ""
	}
	return best.token
}

// callable says whether any replica behind t is (replicaLease.callable).
func (t target) callable(now time.Time) bool {
	return slices.ContainsFunc(t.replicas, func(r *replicaLease) bool { return r.callable(now) })
}

// targetsLocked returns the live providers' handlers of k (qualified
// registrations, else plain ones), whose outcomes are outcomes for a
// step, in a stable order. The caller holds rm.mu.
func (rm *remote) targetsLocked(k handlerKey, outcomes []string, now time.Time) []target {
	var qualified, plain []target
	for _, l := range rm.leasesOfLocked(k) {
		for _, o := range l.offers(now, k.names) {
			h := o.h
			if !k.rollback && !sameOutcomes(h.Outcomes, outcomes) {
				continue
			}
			switch h.Name {
			case k.flow + "." + k.name:
				qualified = append(qualified, target{provider: l.name, h: h, replicas: o.replicas})
			case k.name:
				plain = append(plain, target{provider: l.name, h: h, replicas: o.replicas})
			}
		}
	}
	list := qualified
	if len(list) == 0 {
		list = plain
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].provider != list[j].provider {
			return list[i].provider < list[j].provider
		}
		return list[i].h.URL+list[i].h.Subject < list[j].h.URL+list[j].h.Subject
	})
	return list
}

// callableLocked returns the targets of k (targetsLocked) that a call may
// go to: those with a replica that no call found unreachable since it
// registered or last renewed. A replica found so is most likely dead (a
// process killed, or stopped while its registration was on its way), and
// its lease lives on until its TTL: were it still called when it is the
// only one left, every attempt of every run would fail against its
// address, and the runs with them, within seconds of a lease that has
// minutes left. Passed over, it is no provider: the attempts wait for one
// (as when none is registered) until it renews, which proves it back,
// or another registers. The caller holds rm.mu.
func (rm *remote) callableLocked(k handlerKey, outcomes []string, now time.Time) []target {
	return slices.DeleteFunc(rm.targetsLocked(k, outcomes, now), func(t target) bool { return !t.callable(now) })
}

// pickLocked returns the target of the next call of k: its callable
// targets (callableLocked) in turn, a turn of k's own (with one turn for
// all handlers, a run calling two in alternation would send every call of
// one to the same provider). Only a call takes a turn; asking whether k
// is served (liveLocked) does not, or two askings per call would send
// every call to the same one of two providers. The caller holds rm.mu.
func (rm *remote) pickLocked(k handlerKey, outcomes []string, now time.Time) (target, bool) {
	list := rm.callableLocked(k, outcomes, now)
	if len(list) == 0 {
		return target{}, false
	}
	n := rm.turns[k]
	rm.turns[k] = n + 1
	t := list[n%uint64(len(list))]
	t.token = t.callToken(now)
	return t, true
}

// passOver marks the replicas behind t unreachable: a call to t found no
// server there (HTTP), or no subscriber (NATS). The pick passes them over
// until they renew or register again, or expire.
func (rm *remote) passOver(t target) {
	rm.mu.Lock()
	for _, r := range t.replicas {
		r.unreachable = true
	}
	rm.mu.Unlock()
	key, where := t.where()
	rm.e.log.Warn("provider replica unreachable: passed over, for another replica of the handler or for its renewal", "provider", t.provider, "handler", t.h.Name, key, where)
}

// sameOutcomes compares two sets of named outcomes ("ok" and "" are not
// named).
func sameOutcomes(a, b []string) bool {
	norm := func(l []string) []string {
		out := make([]string, 0, len(l))
		for _, o := range l {
			if o != "" && o != dsl.OutcomeOK {
				out = append(out, o)
			}
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(norm(a), norm(b))
}

// declaredOutcomes are the named outcomes step s declares.
func declaredOutcomes(s *dsl.Step) []string {
	var out []string
	for _, o := range s.Outcomes {
		if o != nil {
			out = append(out, o.Name)
		}
	}
	return out
}

// register grants (or renews, with the same handlers) the registration
// of replica reg.Replica (see lease) of provider name to who, after
// checking it; it wakes the runs that were waiting for one of its
// handlers. Replica "" registers the lease whole: it replaces every
// replica's registration.
func (rm *remote) register(name string, reg provider.Registration, who Identity) (provider.Lease, error) {
	replica := reg.Replica
	ttl, err := rm.check(name, reg)
	if err != nil {
		return provider.Lease{}, err
	}
	token := newCallToken()
	// The check against the registered flows and the grant are one step
	// under rm.mu: a load registers its flows, then looks for the
	// providers of their steps under rm.mu (Engine.providerWarnings), so
	// that of a registration and a flow loaded beside it, one sees the
	// other. The check takes e.mu only to list the flows (rm.mu, then
	// e.mu: nothing takes rm.mu under e.mu) and does no I/O.
	rm.mu.Lock()
	if err := rm.checkFlows(reg.Handlers); err != nil {
		rm.mu.Unlock()
		return provider.Lease{}, err
	}
	if rm.flowsChecked != nil {
		rm.flowsChecked()
	}
	now := rm.e.clock.Now()
	for n, l := range rm.leases { // expired leases go when another comes
		if !l.live(now) {
			delete(rm.leases, n)
			rm.named.update(n, nil)
		}
	}
	l, ok := rm.leases[name]
	if ok {
		if err := rm.mayChangeLocked(l, who, "replace", now); err != nil {
			rm.mu.Unlock()
			return provider.Lease{}, err
		}
		for id, r := range l.replicas {
			if !r.live(now) {
				delete(l.replicas, id)
			}
		}
		rm.named.update(name, l)
		if _, had := l.replicas[replica]; replica != "" && !had && len(l.replicas) >= MaxProviderReplicas {
			rm.mu.Unlock()
			return provider.Lease{}, fmt.Errorf("%w: provider %q has %d live replicas, the most a provider has", ErrProvidersFull, name, MaxProviderReplicas)
		}
	} else if len(rm.leases) >= rm.opts.MaxProviders {
		rm.mu.Unlock()
		return provider.Lease{}, fmt.Errorf("%w: %d providers are registered, the most this engine keeps", ErrProvidersFull, rm.opts.MaxProviders)
	}
	size := registrationBytes(reg.Handlers)
	if size > rm.opts.MaxBytes {
		rm.mu.Unlock()
		return provider.Lease{}, fmt.Errorf("%w: the registration takes %d bytes, more than the %d this engine keeps (register fewer handlers)", ErrProviderConflict, size, rm.opts.MaxBytes)
	}
	if held := rm.heldBytesLocked(now, name, replica); held+size > rm.opts.MaxBytes {
		rm.mu.Unlock()
		return provider.Lease{}, fmt.Errorf("%w: the registrations held take %d bytes; with this one's %d, more than the %d this engine keeps (withdraw providers that are gone, or register fewer handlers)", ErrProvidersFull, held, size, rm.opts.MaxBytes)
	}
	// A new lease, or one registered whole, is who's; a replica joins the
	// live lease of its owner's replicas (an admin's does too).
	if !ok || replica == "" {
		l = &lease{name: name, owner: who.ID, replicas: map[string]*replicaLease{}}
		rm.leases[name] = l
	}
	rm.regs++
	r := &replicaLease{handlers: slices.Clone(reg.Handlers), ttl: ttl, expires: now.Add(ttl), token: token, seq: rm.regs, bytes: size}
	l.replicas[replica] = r
	rm.named.update(name, l)
	woken := rm.changedLocked(now)
	rm.mu.Unlock()
	rm.deliver(woken, name)
	rm.e.log.Info("provider registered", "provider", name, "replica", replica, "handlers", len(r.handlers), "ttl", ttl)
	info := r.info(name, replica)
	info.CallToken = r.token // the registration's answer alone carries it
	return info, nil
}

// changedLocked says that a handler may be callable now that was not (a
// registration, or a renewal of a replica a call had found unreachable):
// it wakes the attempts waiting in memory (await) and returns the
// recorded waits that a handler serves now, for deliver. The caller holds
// rm.mu.
func (rm *remote) changedLocked(now time.Time) []*providerWait {
	woken := rm.wakeLocked(now)
	close(rm.changed)
	rm.changed = make(chan struct{})
	return woken
}

// registrationBytes is what a registration of handlers hs counts against
// ProviderOptions.MaxBytes: its strings and ProviderHandlerOverhead per
// handler.
func registrationBytes(hs []provider.Handler) int64 {
	var n int64
	for _, h := range hs {
		n += int64(ProviderHandlerOverhead + len(h.Name) + len(h.URL) + len(h.Subject))
		for _, o := range h.Outcomes {
			n += int64(16 + len(o)) // a string header and its bytes
		}
	}
	return n
}

// heldBytesLocked returns the bytes of the registrations held but those a
// registration of replica of provider name replaces (replica "": the
// lease whole). The expired registrations of every lease go first: they
// serve nothing, and would count until their lease's next registration.
// The caller holds rm.mu and swept the expired leases.
func (rm *remote) heldBytesLocked(now time.Time, name, replica string) int64 {
	var n int64
	for ln, l := range rm.leases {
		swept := false
		for id, r := range l.replicas {
			switch {
			case !r.live(now):
				delete(l.replicas, id)
				swept = true
			case ln == name && (replica == "" || id == replica):
			default:
				n += r.bytes
			}
		}
		if swept {
			rm.named.update(ln, l)
		}
	}
	return n
}

// renew extends, for who, the registration of replica of provider name if
// it is live, or with replica "" those of all its live replicas.
// A renewal of a replica that a call had found unreachable makes it
// callable again: the runs waiting for a provider of its handlers are
// woken.
func (rm *remote) renew(name, replica string, who Identity) (provider.Lease, error) {
	rm.mu.Lock()
	l, back, err := rm.renewLocked(name, replica, who)
	var woken []*providerWait
	if back {
		woken = rm.changedLocked(rm.e.clock.Now())
	}
	rm.mu.Unlock()
	rm.deliver(woken, name)
	return l, err
}

// renewLocked is renew; back says whether a replica renewed had been
// found unreachable. The caller holds rm.mu.
func (rm *remote) renewLocked(name, replica string, who Identity) (_ provider.Lease, back bool, _ error) {
	now := rm.e.clock.Now()
	l, ok := rm.leases[name]
	if !ok || !l.live(now) {
		return provider.Lease{}, false, fmt.Errorf("%w: %q (register it again: PUT /providers/%s)", ErrNoLease, name, name)
	}
	if err := rm.mayChangeLocked(l, who, "renew", now); err != nil {
		return provider.Lease{}, false, err
	}
	if replica == "" {
		for _, id := range l.liveReplicas(now) {
			back = l.replicas[id].renew(now) || back
		}
		return l.info(now), back, nil
	}
	r, ok := l.replicas[replica]
	if !ok || !r.live(now) {
		return provider.Lease{}, false, fmt.Errorf("%w: replica %q of provider %q (register it again: PUT /providers/%s?replica=...)", ErrNoLease, replica, name, name)
	}
	back = r.renew(now)
	return r.info(name, replica), back, nil
}

// leave ends, for who, the registration of replica of provider name, and
// the lease with its last live replica; replica "" ends the lease whole.
// ErrNoLease if there was none, ErrLeaseHeld if it is not who's to end.
func (rm *remote) leave(name, replica string, who Identity) error {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	now := rm.e.clock.Now()
	// An expired registration is no lease, as for renew: it stays in the
	// map only until the next registration sweeps it.
	l, ok := rm.leases[name]
	if !ok || !l.live(now) {
		return fmt.Errorf("%w: %q", ErrNoLease, name)
	}
	if err := rm.mayChangeLocked(l, who, "withdraw", now); err != nil {
		return err
	}
	if replica != "" {
		if r, ok := l.replicas[replica]; !ok || !r.live(now) {
			return fmt.Errorf("%w: replica %q of provider %q", ErrNoLease, replica, name)
		}
		delete(l.replicas, replica)
		rm.named.update(name, l)
		if left := l.liveReplicas(now); len(left) > 0 {
			rm.e.log.Info("provider replica withdrawn", "provider", name, "replica", replica, "replicas_left", len(left))
			return nil
		}
	}
	delete(rm.leases, name)
	rm.named.update(name, nil)
	rm.e.log.Info("provider withdrawn", "provider", name, "replica", replica)
	return nil
}

// list returns the live leases by name.
func (rm *remote) list() []provider.Lease {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	now := rm.e.clock.Now()
	out := []provider.Lease{}
	for _, l := range rm.leases {
		if l.live(now) {
			out = append(out, l.info(now))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Provider < out[j].Provider })
	return out
}

// check validates a registration on its own and returns its lease's TTL.
func (rm *remote) check(name string, reg provider.Registration) (time.Duration, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrRegistration, fmt.Sprintf(format, args...))
	}
	if err := checkName("provider name", name); err != nil {
		return 0, bad("%v", err)
	}
	if reg.Replica != "" {
		if err := checkName("replica", reg.Replica); err != nil {
			return 0, bad("%v", err)
		}
	}
	ttl := rm.opts.DefaultTTL
	if reg.TTL != "" {
		d, err := time.ParseDuration(reg.TTL)
		if err != nil {
			return 0, bad("ttl %s is not a Go duration such as \"30s\"", quoteParam(reg.TTL))
		}
		ttl = d
	}
	if ttl < MinProviderTTL || ttl > rm.opts.MaxTTL {
		return 0, bad("ttl %v is outside [%v, %v]", ttl, MinProviderTTL, rm.opts.MaxTTL)
	}
	if len(reg.Handlers) == 0 || len(reg.Handlers) > MaxProviderHandlers {
		return 0, bad("a registration has 1 to %d handlers, found %d", MaxProviderHandlers, len(reg.Handlers))
	}
	seen := map[handlerKey]bool{}
	for i, h := range reg.Handlers {
		at := fmt.Sprintf("handlers[%d]", i)
		if err := checkName("handler name", h.Name); err != nil {
			return 0, bad("%s: %v", at, err)
		}
		k := handlerKey{name: h.Name, rollback: h.Rollback}
		if seen[k] {
			return 0, bad("%s: handler %q is registered twice", at, h.Name)
		}
		seen[k] = true
		if h.Rollback && len(h.Outcomes) > 0 {
			return 0, bad("%s: rollback %q declares outcomes: a rollback has none", at, h.Name)
		}
		// Each call compares a handler's outcomes with its step's (each
		// held registration of the step's name, under rm.mu): only the
		// body's size bounded them, a quarter of a million in 1 MiB.
		if len(h.Outcomes) > MaxProviderOutcomes {
			return 0, bad("%s: handler %q declares %d outcomes, more than the %d a handler may", at, h.Name, len(h.Outcomes), MaxProviderOutcomes)
		}
		for _, o := range h.Outcomes {
			if err := checkName("outcome", o); err != nil {
				return 0, bad("%s: %v", at, err)
			}
			if o == dsl.OutcomeError || o == dsl.OutcomeTimeout || o == runtime.OutcomeRetry {
				return 0, bad("%s: outcome %q is the engine's, a handler cannot declare it", at, o)
			}
			// As a flow's step cannot declare it (dsl.Check): every step
			// may end ok, so declaring it says nothing, and a handler
			// that did would be taken to have a flow's named outcome.
			if o == dsl.OutcomeOK {
				return 0, bad("%s: outcome %q is implicit, a handler cannot declare it: it declares only the step's named outcomes", at, o)
			}
		}
		switch {
		case (h.URL == "") == (h.Subject == ""):
			return 0, bad("%s: handler %q needs a url (HTTP) or a subject (NATS), exactly one", at, h.Name)
		case h.URL != "":
			if err := rm.allow.check(h.URL); err != nil {
				return 0, bad("%s: handler %q: %v", at, h.Name, err)
			}
		default:
			if rm.opts.NATS == nil {
				return 0, bad("%s: handler %q has a NATS subject, but this engine has no NATS connection (flowgen serve -nats URL)", at, h.Name)
			}
			if len(h.Subject) > MaxProviderSubject || strings.ContainsAny(h.Subject, " \t\r\n*>") || strings.HasPrefix(h.Subject, ".") || strings.HasSuffix(h.Subject, ".") || strings.Contains(h.Subject, "..") {
				return 0, bad("%s: handler %q: %s is not a NATS subject without wildcards (at most %d bytes)", at, h.Name, quoteParam(h.Subject), MaxProviderSubject)
			}
			if !strings.HasPrefix(h.Subject, provider.SubjectPrefix+".") {
				return 0, bad("%s: handler %q: subject %s is not under %q, where the providers' subjects are (docs/engine.md#remote-providers)", at, h.Name, quoteParam(h.Subject), provider.SubjectPrefix+".")
			}
		}
	}
	return ttl, nil
}

// checkFlows refuses handlers whose outcomes differ from what a
// registered flow declares for the Go step of that name: the engine would
// route an outcome the flow does not know, or the provider could never
// return one the flow waits for. The caller holds rm.mu (register), so
// the handlers are found by name, not each compared with each step: that
// was steps × handlers under the lock every provider call takes
// (BenchmarkRegisterGrowth).
func (rm *remote) checkFlows(hs []provider.Handler) error {
	byName := make(map[string]int, len(hs)) // a step handler's index in hs
	for i, h := range hs {
		if !h.Rollback {
			byName[h.Name] = i // check refused a name registered twice
		}
	}
	var errs []string
	for _, fl := range rm.e.jsonFlows() {
		for _, s := range fl.AllSteps() { // the branches of parallel blocks too
			if s == nil || !s.IsGo() {
				continue
			}
			var found []int // in the order of hs
			for _, name := range []string{fl.Name + "." + s.Name, s.Name} {
				if i, ok := byName[name]; ok {
					found = append(found, i)
				}
			}
			slices.Sort(found)
			for _, i := range found {
				h := hs[i]
				if want := declaredOutcomes(s); !sameOutcomes(h.Outcomes, want) {
					errs = append(errs, fmt.Sprintf("handler %q declares outcomes %s, but Go step %q of flow %q declares %s",
						h.Name, outcomeList(h.Outcomes), s.Name, fl.Name, outcomeList(want)))
				}
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrProviderConflict, strings.Join(errs, "; "))
	}
	return nil
}

func outcomeList(l []string) string {
	if len(l) == 0 {
		return "none (ok only)"
	}
	b, _ := json.Marshal(l)
	return string(b)
}

// jsonFlows returns the definitions of the registered JSON flows.
func (e *Engine) jsonFlows() []*dsl.Flow {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*dsl.Flow, 0, len(e.flows))
	for _, fe := range e.flows {
		if fe.def != nil {
			out = append(out, fe.def)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// missing is the warning of a loaded flow's Go step or rollback m that
// nobody serves yet: a step will wait for a provider (within its
// deadline), a rollback will wait for one in its rollback state, however
// long. A live provider whose outcomes differ from the step's is named.
// blocks is fl.BranchBlocks().
func (rm *remote) missing(fl *dsl.Flow, blocks map[string]*dsl.Step, m dsl.GoMethod, kind string) diag.List {
	k := handlerKey{flow: fl.Name, name: m.Name, rollback: m.Rollback}
	var outcomes []string
	if !m.Rollback {
		outcomes = declaredOutcomes(m.Steps[0])
	}
	var ds diag.List
	for _, p := range rm.providersOf(k, outcomes) {
		if p.Mismatch != nil {
			ds = append(ds, diag.Warnf(m.Range, "provider-outcomes", "provider %q serves %q with outcomes %s, but %s %q of flow %q declares %s: it does not serve this flow until it registers with the flow's outcomes",
				p.Provider, p.Handler, outcomeList(p.Mismatch), kind, m.Name, fl.Name, outcomeList(outcomes)))
		}
	}
	rm.mu.Lock()
	live := len(rm.targetsLocked(k, outcomes, rm.e.clock.Now())) > 0
	rm.mu.Unlock()
	if live {
		return ds
	}
	if len(outcomes) > MaxProviderOutcomes {
		// check refuses such a registration: no provider will come.
		return append(ds, diag.Warnf(m.Range, "no-provider", "no provider can serve %s %q of flow %q: it declares %d named outcomes, and a provider registers at most %d (engine.MaxProviderOutcomes); its runs wait for an in-process handler within the step's deadline",
			kind, m.Name, fl.Name, len(outcomes), MaxProviderOutcomes).
			WithHint("declare at most %d outcomes, or serve the step in process (Registry.Step)", MaxProviderOutcomes))
	}
	what := "its runs wait for one in the step's waiting state, within the step's deadline"
	if blk := blocks[m.Name]; blk != nil && !m.Rollback {
		// The attempt's context ends at its timeout or the step's
		// deadline, and the wait within it: say the bound it will have.
		wait := rm.opts.Wait
		for _, left := range []time.Duration{fl.AttemptTimeoutFor(m.Steps[0]), fl.DeadlineFor(m.Steps[0])} {
			if left > 0 {
				wait = branchWait(wait, left)
			}
		}
		what = fmt.Sprintf("a branch of parallel block %q has no waiting state: each attempt waits for one up to %v, then fails and is retried", blk.Name, wait.Round(time.Millisecond))
	}
	if m.Rollback {
		what = "a rollback waits for one in the step's rollback state"
	}
	return append(ds, diag.Warnf(m.Range, "no-provider", "no provider serves %s %q of flow %q yet: %s", kind, m.Name, fl.Name, what).
		WithHint("register one: PUT /providers/{name} with handler %q or %q (docs/engine.md#remote-providers)", fl.Name+"."+m.Name, m.Name))
}
