package conformance

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/server/api/matchingservice/v1"
	"go.temporal.io/server/client"
	"go.temporal.io/server/common"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership"
	"go.temporal.io/server/common/metrics"
	"go.temporal.io/server/common/testing/testhooks"
	"go.temporal.io/server/temporal"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/flowgen/flowgen/runtime"
)

// TestStaleTaskKeepsBackoff makes on demand what a loaded server did at
// random in parallel-cancelled-in-backoff: a second copy of the task of
// Take's first attempt (a push to matching made twice) reaches the task
// queue while Take waits out its 1 h backoff. On newServer's server the
// copy is refused (its stamp is the first attempt's) and the case ends as
// on the runtime; on a server that keeps the stamp across retries, the
// copy started Take's retry at once.
func TestStaleTaskKeepsBackoff(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	copies := &copier{workflow: "run-parallel-cancelled-in-backoff"}
	ts := newServer(t, temporal.WithClientFactoryProvider(copies))
	i := slices.IndexFunc(cases, func(c conformanceCase) bool { return c.name == "parallel-cancelled-in-backoff" })
	c := cases[i]
	c.then = []step{func(t *testing.T, s *side, runID string) {
		if s.name == "temporal" {
			waitForBranch(t, s, runID, "Take", runtime.OutcomeRetry)
			copies.deliver(t)
		}
		releaseAfterRetry("Take")(t, s, runID)
	}}
	o := c.compare(t, ts, "stale-task", []string{splitJSON})
	if !t.Failed() {
		c.check(t, o)
	}
}

// copier keeps a copy of each activity task the server's history pushes
// to matching for workflow, for the test to deliver later (deliver): that
// of Take's first attempt, and those of activities that ended or run, which
// the server drops.
type copier struct {
	workflow string
	mu       sync.Mutex
	kept     []*matchingservice.AddActivityTaskRequest
	client   matchingservice.MatchingServiceClient
}

func (p *copier) NewFactory(rpc common.RPCFactory, m membership.Monitor, h metrics.Handler, dc *dynamicconfig.Collection, hooks testhooks.TestHooks, shards int32, l, tl log.Logger) client.Factory {
	return copyingFactory{client.NewFactoryProvider().NewFactory(rpc, m, h, dc, hooks, shards, l, tl), p}
}

// deliver adds the copies kept to their task queue, as pushes made again.
func (p *copier) deliver(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	kept, c := p.kept, p.client
	p.mu.Unlock()
	if len(kept) == 0 {
		t.Fatalf("no activity task of %s pushed", p.workflow)
	}
	for _, req := range kept {
		if _, err := c.AddActivityTask(context.Background(), req); err != nil {
			t.Fatalf("delivering a copy: %v", err)
		}
	}
}

type copyingFactory struct {
	client.Factory
	p *copier
}

func (f copyingFactory) NewMatchingClientWithTimeout(n client.NamespaceIDToNameFunc, timeout, longPoll time.Duration) (matchingservice.MatchingServiceClient, error) {
	c, err := f.Factory.NewMatchingClientWithTimeout(n, timeout, longPoll)
	return copyingClient{c, f.p}, err
}

type copyingClient struct {
	matchingservice.MatchingServiceClient
	p *copier
}

func (c copyingClient) AddActivityTask(ctx context.Context, req *matchingservice.AddActivityTaskRequest, opts ...grpc.CallOption) (*matchingservice.AddActivityTaskResponse, error) {
	resp, err := c.MatchingServiceClient.AddActivityTask(ctx, req, opts...)
	if err == nil {
		c.p.keep(req, c.MatchingServiceClient)
	}
	return resp, err
}

func (p *copier) keep(req *matchingservice.AddActivityTaskRequest, c matchingservice.MatchingServiceClient) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if req.GetForwardInfo() == nil && req.GetExecution().GetWorkflowId() == p.workflow {
		p.kept, p.client = append(p.kept, proto.Clone(req).(*matchingservice.AddActivityTaskRequest)), c
	}
}
