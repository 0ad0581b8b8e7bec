package engine

import "slices"

// leaseIndex finds the leases that registered a handler name: each
// provider call picks its provider under rm.mu (pickLocked), and looking
// at every handler of every lease cost each call the size of every
// registration held (BenchmarkPickGrowth). It holds the names of every
// replica a lease keeps, live or expired until swept: a lease found by a
// name still filters its handlers by liveness and name (lease.offers).
type leaseIndex struct {
	byName map[string]map[string]bool // handler name -> lease names
	names  map[string][]string        // lease name -> the names it is under
}

// update indexes lease name as l holds it now (nil: gone). Whoever
// changes a lease's replicas, or deletes it, calls it, under rm.mu.
func (x leaseIndex) update(name string, l *lease) {
	for _, n := range x.names[name] {
		if set := x.byName[n]; set != nil {
			delete(set, name)
			if len(set) == 0 {
				delete(x.byName, n)
			}
		}
	}
	var now []string
	if l != nil {
		for _, r := range l.replicas {
			for _, h := range r.handlers {
				now = append(now, h.Name)
			}
		}
	}
	slices.Sort(now)
	now = slices.Compact(now)
	for _, n := range now {
		set := x.byName[n]
		if set == nil {
			set = map[string]bool{}
			x.byName[n] = set
		}
		set[name] = true
	}
	if len(now) == 0 {
		delete(x.names, name)
	} else {
		x.names[name] = now
	}
}

// leasesOfLocked returns the leases that registered a handler of k's
// qualified name ("Flow.Name") or plain one, each once. The caller holds
// rm.mu.
func (rm *remote) leasesOfLocked(k handlerKey) []*lease {
	var out []*lease
	seen := map[string]bool{}
	for _, n := range []string{k.flow + "." + k.name, k.name} {
		for ln := range rm.named.byName[n] {
			if l, ok := rm.leases[ln]; ok && !seen[ln] {
				seen[ln] = true
				out = append(out, l)
			}
		}
	}
	return out
}
