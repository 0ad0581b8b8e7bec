package jsonflows

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"

	"go.temporal.io/api/serviceerror"

	"github.com/flowgen/flowgen/engine"
)

// A message whose run an older version started (its run ID hashed the
// flow and the message ID alone, before it took in the topic and event),
// posted again after the upgrade, starts no second run: the answer names
// the older run, existing, as the engine's event path answers from its
// store (engine's TestEventRunIDOfAnOlderEngine). Before, the Temporal
// executor looked only under the new ID and started a second run of the
// message.
func TestOlderEventRunAnswersForItsMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	o := newOnTemporal(t, "older-event-run-test")
	o.must(t, "PUT", "/flows", `{"version": 1, "flows": [{"name": "Orders", "triggers": [{"kind": "event", "topic": "orders", "event": "created"}],
  "steps": [{"name": "Nap", "action": {"kind": "sleep", "duration": "1s"}}]}]}`, 200)
	// The run as an older version started it: its workflow need not run.
	sum := sha256.Sum256([]byte("Orders\x00m-1"))
	older := "e-" + hex.EncodeToString(sum[:12])
	ctx := context.Background()
	if err := o.x.Start(ctx, engine.ExecFlow{Name: "Orders"}, json.RawMessage(`{"n":1}`), older); err != nil {
		t.Fatal(err)
	}

	status, _, answer := request(t, "POST", o.url+"/events/orders/created?id=m-1", `{"n":1}`)
	if status != 202 {
		t.Fatalf("POST of the older run's message: %d %s", status, answer)
	}
	var out engine.Published
	if err := json.Unmarshal([]byte(answer), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Runs) != 1 || out.Runs[0].RunID != older || !out.Runs[0].Existing {
		t.Errorf("POST of the older run's message: %s, want its run %s, existing", answer, older)
	}
	run := engine.EventRunID("Orders", "orders", "created", "m-1")
	_, err := o.c.DescribeWorkflowExecution(ctx, run, "")
	if nf := (*serviceerror.NotFound)(nil); !errors.As(err, &nf) {
		t.Errorf("the message started a second run, %s (describe: %v)", run, err)
	}
	// The same message with another payload is refused, as the older run's.
	o.must(t, "POST", "/events/orders/created?id=m-1", `{"n":2}`, 422)
	// Another message starts its run under the new ID.
	o.must(t, "POST", "/events/orders/created?id=m-2", `{"n":2}`, 202)
	if _, err := o.c.DescribeWorkflowExecution(ctx, engine.EventRunID("Orders", "orders", "created", "m-2"), ""); err != nil {
		t.Errorf("the run of m-2: %v", err)
	}
}
