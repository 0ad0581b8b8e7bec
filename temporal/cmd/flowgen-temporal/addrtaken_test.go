package main

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/flowgen/flowgen/internal/listen"
	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// A serve whose address is taken fails before its worker and its engine
// start, and so writes nothing to the cluster (docs/temporal.md: a serve
// process whose start fails makes no schedule). Before, the engine
// started first and made its flows' schedules, which then ticked, their
// runs started, though the start had failed.
func TestServeAddressTakenWritesNothingToTheCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	logs := &logtest.Buffer{}
	err = serve(context.Background(), config{temporal: ts.GetFrontendHostPort(), namespace: ts.GetDefaultNamespace(), taskQueue: "taken-test",
		flows: writeFlows(t, "nightly.json", nightlyJSON), services: map[string]string{"svc": "http://127.0.0.1:1"}, maxBody: 1 << 20, stderr: logs,
		net: listen.Config{Addr: taken.Addr().String()}}, nil)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("serve on a taken address: %v; want it refused\n%s", err, logs.String())
	}
	// The cluster lists schedules as its visibility store has them, some
	// time after each is made: one made now, listed, says that one the
	// failed start made before it would be listed too.
	ctx := context.Background()
	sc := ts.GetDefaultClient().ScheduleClient()
	const mark = "taken-test-mark"
	if _, err := sc.Create(ctx, client.ScheduleOptions{ID: mark, Spec: client.ScheduleSpec{CronExpressions: []string{"0 0 1 1 *"}},
		Action: &client.ScheduleWorkflowAction{Workflow: "Nothing", TaskQueue: "taken-test-mark"}}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		var ids []string
		it, err := sc.List(ctx, client.ScheduleListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, e.ID)
		}
		for _, id := range ids {
			if strings.HasPrefix(id, "flowgen-schedule-") {
				t.Fatalf("serve on a taken address made schedule %s: its engine started", id)
			}
		}
		if len(ids) > 0 { // the mark, listed
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the cluster never listed the schedule the test made")
		}
	}
}

// A namespace the cluster does not have is said so before anything is
// written: the flows directory is not made, nothing listens. Before, the
// worker's start said it ("Namespace ... is not found."), after -flows had
// been created and the address bound.
func TestServeUnknownNamespaceWritesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ts := testserver.New(t)
	flows := filepath.Join(t.TempDir(), "flows")
	logs := &logtest.Buffer{}
	err := serve(context.Background(), config{temporal: ts.GetFrontendHostPort(), namespace: "no-such-namespace", taskQueue: "ns-test",
		flows: flows, maxBody: 1 << 20, stderr: logs, net: listen.Config{Addr: "127.0.0.1:0"}}, func(string) { t.Error("serve listened") })
	want := `the Temporal cluster at ` + ts.GetFrontendHostPort() + ` has no namespace "no-such-namespace" (-namespace)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("serve -namespace no-such-namespace: %v; want %q", err, want)
	}
	if _, err := os.Stat(flows); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the flows directory: %v; want it not made", err)
	}
}
