package runtime_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/flowgen/flowgen/internal/pointerjsontest"
	"github.com/flowgen/flowgen/runtime"
)

// The memory caller and bus encode what a step hands them as values (a
// generated port's request, a handler's response, a publication's
// payload) through a pointer, as a state is (runtime.EncodeState): they
// wrote the amount {}.
func TestMemoryCallerAndBusKeepPointerJSONMethods(t *testing.T) {
	m := pointerjsontest.New(1234)
	c := runtime.NewMemoryCaller()
	var got string
	c.Handle("billing", "Charge", func(_ context.Context, raw json.RawMessage) (any, error) {
		got = string(raw)
		return m, nil
	})
	var rsp pointerjsontest.Money
	if err := c.Call(context.Background(), "billing", "Charge", m, &rsp); err != nil {
		t.Fatal(err)
	}
	if got != pointerjsontest.JSON(1234) {
		t.Errorf("the request encoded as %s, want the amount", got)
	}
	if rsp.Cents.Int64() != 1234 {
		t.Errorf("the response decoded as %s, want 1234", rsp.Cents.String())
	}
	b := runtime.NewMemoryBus()
	if err := b.Publish(context.Background(), "billing", "charged", m); err != nil {
		t.Fatal(err)
	}
	if p := b.Published(); len(p) != 1 || string(p[0].Payload) != pointerjsontest.JSON(1234) {
		t.Errorf("published %+v, want the amount", p)
	}
}
