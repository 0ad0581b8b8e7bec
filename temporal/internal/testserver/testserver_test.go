package testserver

import (
	"sync"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/client"
	"go.temporal.io/server/common"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership"
	"go.temporal.io/server/common/metrics"
	"go.temporal.io/server/common/testing/testhooks"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"
)

// The server's services read the retry stamp as on: the value read back
// from the dynamic config each of them was given.
func TestRetryStampOn(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	seen := &collections{}
	New(t, seen.option())
	for _, dc := range seen.get(t) {
		if !dynamicconfig.EnableActivityRetryStampIncrement.Get(dc)() {
			t.Fatalf("%s is off", dynamicconfig.EnableActivityRetryStampIncrement.Key())
		}
	}
}

// More dynamic config (Dynamic) adds to flowgen's settings: the retry
// stamp stays on.
func TestDynamicKeepsSettings(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	seen := &collections{}
	New(t, Dynamic(dynamicconfig.StaticClient{
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): []dynamicconfig.ConstrainedValue{{Value: 1}},
	}), seen.option())
	for _, dc := range seen.get(t) {
		if !dynamicconfig.EnableActivityRetryStampIncrement.Get(dc)() {
			t.Fatalf("%s is off", dynamicconfig.EnableActivityRetryStampIncrement.Key())
		}
		if n := dynamicconfig.MatchingNumTaskqueueWritePartitions.Get(dc)("ns", "q", enumspb.TASK_QUEUE_TYPE_ACTIVITY); n != 1 {
			t.Fatalf("%s is %d, want 1", dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(), n)
		}
	}
}

// collections keeps the dynamic config each service of a server makes its
// clients with: the server's own reading of its settings.
type collections struct {
	mu   sync.Mutex
	seen []*dynamicconfig.Collection
}

func (c *collections) option() temporaltest.TestServerOption {
	return temporaltest.WithBaseServerOptions(temporal.WithClientFactoryProvider(c))
}

func (c *collections) NewFactory(rpc common.RPCFactory, m membership.Monitor, h metrics.Handler, dc *dynamicconfig.Collection, hooks testhooks.TestHooks, shards int32, l, tl log.Logger) client.Factory {
	c.mu.Lock()
	c.seen = append(c.seen, dc)
	c.mu.Unlock()
	return client.NewFactoryProvider().NewFactory(rpc, m, h, dc, hooks, shards, l, tl)
}

func (c *collections) get(t *testing.T) []*dynamicconfig.Collection {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) == 0 {
		t.Fatal("no service made its clients")
	}
	return c.seen
}
