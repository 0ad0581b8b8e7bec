package provider

import (
	"context"
	"encoding/json"
	"math/big"
	"testing"

	"github.com/flowgen/flowgen/internal/pointerjsontest"
)

// A handler sets a state field to a value: Set encoded it so, its amount
// as {}, and the engine got that back as the run's state. It is encoded
// through a pointer, as a run's state is (jsonenc.Addressed).
func TestSetKeepsPointerJSONMethods(t *testing.T) {
	p := New(Options{Name: "billing"})
	p.Step("Credit", func(ctx context.Context, c *Call) (string, error) {
		var m pointerjsontest.Money
		if err := c.Get("Balance", &m); err != nil {
			return "", Permanent(err)
		}
		m.Cents.Add(&m.Cents, big.NewInt(5))
		return "", c.Set("Balance", m)
	})
	state := json.RawMessage(`{"Balance": ` + pointerjsontest.JSON(21) + `}`)
	rsp := response(t, p.Handle(context.Background(), request(t, Request{Handler: "Credit", State: state})))
	if want := `{"Balance":` + pointerjsontest.JSON(26) + `}`; rsp.Error != nil || string(rsp.State) != want {
		t.Errorf("answered %+v, state %s; want %s", rsp.Error, rsp.State, want)
	}
}
