package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/runtime"
)

// The lease index finds, for each handler name, every lease with a
// replica that registered it (as a scan of every lease does), through
// registrations of replicas and of leases whole with other handlers,
// withdrawals of either, and expiries swept by later registrations.
func TestLeaseIndexAgreesWithAScan(t *testing.T) {
	fx := newFixture(t)
	clock := runtime.NewFakeClock(time.Now())
	fx.clock = clock
	fx.remote = &ProviderOptions{}
	_, e, _ := startRemote(t, fx)
	rm := e.remote
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"A", "B", "F.A", "F.B", "C"}
	granted, withdrawn := 0, 0
	for step := range 2000 {
		lease, replica := fmt.Sprintf("p%d", rng.IntN(4)), fmt.Sprintf("r%d", rng.IntN(3))
		if rng.IntN(4) == 0 {
			replica = "" // the lease whole
		}
		switch rng.IntN(5) {
		case 0, 1, 2:
			var hs []provider.Handler
			for _, n := range names {
				if rng.IntN(2) == 0 {
					hs = append(hs, provider.Handler{Name: n, URL: "http://127.0.0.1:9/" + n})
				}
			}
			if len(hs) == 0 {
				continue
			}
			if _, err := e.RegisterProvider(lease, provider.Registration{TTL: fmt.Sprintf("%ds", 1+rng.IntN(3)), Handlers: hs, Replica: replica}); err == nil {
				granted++
			}
		case 3:
			if e.WithdrawProvider(lease, replica) == nil {
				withdrawn++
			}
		case 4:
			clock.Advance(1500 * time.Millisecond) // some registrations expire
		}
		rm.mu.Lock()
		for _, n := range []string{"A", "B", "C"} {
			var want, got []string
			for ln, l := range rm.leases {
				if slices.ContainsFunc(mapValues(l.replicas), func(r *replicaLease) bool {
					return slices.ContainsFunc(r.handlers, func(h provider.Handler) bool { return h.Name == n || h.Name == "F."+n })
				}) {
					want = append(want, ln)
				}
			}
			for _, l := range rm.leasesOfLocked(handlerKey{flow: "F", name: n}) {
				got = append(got, l.name)
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(want, got) {
				rm.mu.Unlock()
				t.Fatalf("step %d: leases of %q: %v, want %v", step, n, got, want)
			}
		}
		rm.mu.Unlock()
	}
	if granted < 500 || withdrawn < 50 {
		t.Errorf("%d registrations granted and %d withdrawals: the walk exercised too little", granted, withdrawn)
	}
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
