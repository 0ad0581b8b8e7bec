// Package testserver starts the Temporal server of this module's tests, in
// the process (temporaltest), set as docs/temporal.md asks of a server that
// runs flowgen's workers: every test starts its server here, so that no test
// runs on a server set otherwise than a user's.
package testserver

import (
	"maps"
	"testing"

	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"
)

// settings is the dynamic config of the server. temporaltest's own is
// replaced by any other, not merged, so its one setting is kept here.
// The retry stamp (system.enableActivityRetryStampIncrement, off by
// default in go.temporal.io/server v1.30.4) gives each retry of an
// activity a new stamp, so that a second copy of an earlier attempt's
// task (the server pushes an activity's task to matching at least once)
// cannot start the retry before its backoff ends; conformance's
// TestStaleTaskKeepsBackoff makes such a copy on demand.
func settings() dynamicconfig.StaticClient {
	dc := dynamicconfig.StaticClient{
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): []dynamicconfig.ConstrainedValue{{Value: true}},
	}
	for k, v := range Required() {
		dc[k] = []dynamicconfig.ConstrainedValue{{Value: v}}
	}
	return dc
}

// Required is the dynamic config docs/temporal.md asks of every server
// that runs flowgen's workers (a user's too, unlike temporaltest's own
// setting above), by key: the README's development server sets each
// (TestReadmeDevServerSettings).
func Required() map[dynamicconfig.Key]any {
	return map[dynamicconfig.Key]any{
		dynamicconfig.EnableActivityRetryStampIncrement.Key(): true,
	}
}

// New starts a Temporal server in the process, stopped when tb ends, and
// logging to tb when tb is a *testing.T (temporaltest.WithT takes nothing
// else). opts are temporaltest's options, applied after flowgen's; a
// server option that sets a dynamic config client would replace flowgen's
// settings: give more settings with Dynamic instead.
func New(tb testing.TB, opts ...temporaltest.TestServerOption) *temporaltest.TestServer {
	tb.Helper()
	base := []temporaltest.TestServerOption{Dynamic(nil)}
	t, ok := tb.(*testing.T)
	if ok {
		base = append(base, temporaltest.WithT(t))
	}
	ts := temporaltest.NewServer(append(base, opts...)...)
	if !ok {
		tb.Cleanup(ts.Stop)
	}
	return ts
}

// Dynamic is an option of New that sets more dynamic config on the server:
// more, over flowgen's settings (a key of both takes more's values).
func Dynamic(more dynamicconfig.StaticClient) temporaltest.TestServerOption {
	dc := settings()
	maps.Copy(dc, more)
	return temporaltest.WithBaseServerOptions(temporal.WithDynamicConfigClient(dc))
}
