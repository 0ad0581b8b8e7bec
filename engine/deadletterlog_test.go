package engine

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/internal/logtest"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

// Each event an event trigger dead-letters is logged ("event
// dead-lettered"), but whoever publishes to the topic makes one at will:
// at most DeadLetterLogBurst lines an interval, then the count of the
// others with the first line of a later interval. Before, every bad
// message wrote a line, so a flood of them filled the log and its disk.
func TestDeadLetteredEventsLoggedBounded(t *testing.T) {
	var buf logtest.Buffer
	broker := NewMemoryBroker()
	st := store.NewMemory()
	clock := runtime.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	e := startJSONEngine(t, Options{Store: st, Broker: broker, Clock: clock,
		Logger: slog.New(slog.NewTextHandler(&buf, nil))}, `{"version": 1, "flows": [{"name": "A",
  "triggers": [{"kind": "event", "topic": "orders", "event": "placed"}],
  "steps": [{"name": "Wait", "action": {"kind": "await", "topic": "payments", "event": "paid", "timeout": "1h"}}]}]}`)
	defer closeEngine(t, e)
	logged := func(msg string) []string {
		var ls []string
		for l := range strings.Lines(buf.String()) {
			if strings.Contains(l, `msg="`+msg+`"`) {
				ls = append(ls, l)
			}
		}
		return ls
	}
	dead := func(n int) {
		waitFor(t, fmt.Sprintf("%d dead letters", n), func() bool {
			ms, _ := st.Messages(store.MessageFilter{State: store.MessageDead})
			return len(ms) == n
		})
	}
	const flood = 2*DeadLetterLogBurst + 5
	for i := range flood {
		publishRaw(t, broker, fmt.Sprintf("bad-%d", i), "orders", "placed", `not json`)
	}
	dead(flood)
	if n := len(logged("event dead-lettered")); n != DeadLetterLogBurst {
		t.Fatalf("%d dead letters logged %d lines, want %d", flood, n, DeadLetterLogBurst)
	}
	clock.Advance(DeadLetterLogInterval)
	publishRaw(t, broker, "bad-last", "orders", "placed", `not json`)
	dead(flood + 1)
	counts := logged("events dead-lettered, not logged")
	if len(counts) != 1 || !strings.Contains(counts[0], fmt.Sprintf("suppressed=%d", flood-DeadLetterLogBurst)) {
		t.Fatalf("after the interval, the count lines %q, want one of %d suppressed", counts, flood-DeadLetterLogBurst)
	}
	if ls := logged("event dead-lettered"); len(ls) != DeadLetterLogBurst+1 || !strings.Contains(ls[len(ls)-1], "id=bad-last") {
		t.Fatalf("after the interval, %d lines, the last %q: want the new dead letter logged", len(ls), ls[len(ls)-1])
	}
}
