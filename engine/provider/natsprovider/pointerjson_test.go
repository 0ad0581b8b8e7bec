package natsprovider

import (
	"context"
	"testing"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/internal/pointerjsontest"
)

// A handler served over NATS sets a state field to a value: the answer
// the engine's Transport gets carries its amount, not {} (provider.Call's
// Set encodes through a pointer).
func TestAnswerKeepsPointerJSONMethods(t *testing.T) {
	nc := natsServer(t)
	serveBilling(t, nc, func(p *provider.Provider) {
		p.Step("Credit", func(ctx context.Context, c *provider.Call) (string, error) {
			return "", c.Set("Balance", pointerjsontest.New(1234))
		})
	})
	rsp, out := callBilling(t, nc, "Credit", `{}`)
	if want := `{"Balance":` + pointerjsontest.JSON(1234) + `}`; rsp.Error != nil || string(rsp.State) != want {
		t.Fatalf("answer %s; want the state %s", out, want)
	}
}
