package cli

// Where serve keeps the flows PUT /flows defines when -flows is not given.

import "path/filepath"

// defaultFlowsDir is serve's flows directory without -flows: a
// subdirectory of the store, so that a PUT /flows answered 200 is kept as
// the runs it starts are, and a restart on the same -store serves it again
// (a 200 means durable). The store reads only its own files there.
func defaultFlowsDir(store string) string {
	return filepath.Join(store, "flows")
}
