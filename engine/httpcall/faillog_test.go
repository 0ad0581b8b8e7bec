package httpcall

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/internal/conntest"
)

// The log of calls that got no answer is bounded: while a service is
// down, every attempt of every run in flight fails so, and clients
// starting runs make more at will (with -max-running 1000 and three
// attempts each, thousands of lines a minute, each with the address).
// A burst a minute is logged; the step's error, in its run's history,
// still says each one.
func TestFailedCallLogBounded(t *testing.T) {
	var logs bytes.Buffer
	c := New(Static{"customers": "http://" + conntest.ClosedPort(t)}, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	const calls = FailLogBurst + 5
	for range calls {
		if err := c.Call(context.Background(), "customers", "Create", map[string]string{}, nil); err == nil {
			t.Fatal("a call to a closed port succeeded")
		}
	}
	if n := strings.Count(logs.String(), `msg="rpc call failed"`); n != FailLogBurst {
		t.Errorf("%d failed calls logged %d lines, want the burst of %d:\n%s", calls, n, FailLogBurst, logs.String())
	}
}
