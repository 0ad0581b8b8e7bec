package httpcall

import "sync"

// maxTargets bounds the URLs a Caller remembers: a resolver that returns
// ever new base URLs (instances coming and going) fills it, and then
// further targets are checked on each call, as before the cache.
const maxTargets = 4096

// targetCache remembers the checked URL of each base URL and endpoint:
// checking one parses two URLs and cleans two paths, on every call of
// every rpc step otherwise (about 4% of the CPU of a run of rpc steps,
// docs/benchmarks.md). Errors are not remembered.
type targetCache struct {
	mu sync.RWMutex
	m  map[[2]string]string
}

func (tc *targetCache) get(base, endpoint string, check func(base, endpoint string) (string, error)) (string, error) {
	k := [2]string{base, endpoint}
	tc.mu.RLock()
	u, ok := tc.m[k]
	tc.mu.RUnlock()
	if ok {
		return u, nil
	}
	u, err := check(base, endpoint)
	if err != nil {
		return "", err
	}
	tc.mu.Lock()
	if tc.m == nil {
		tc.m = map[[2]string]string{}
	}
	if len(tc.m) < maxTargets {
		tc.m[k] = u
	}
	tc.mu.Unlock()
	return u, nil
}
