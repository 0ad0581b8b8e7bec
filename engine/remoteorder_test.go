package engine

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/engine/provider"
)

// A flow loaded while a provider registers meets it one way or the other:
// the registration, whose outcomes do not fit the flow's Go step, is
// refused (409) if the flow is loaded first, or the load warns that the
// provider's outcomes differ (provider-outcomes) if the registration is
// granted first. The seams load the flow between the registration's check
// against the flows and its grant, the interleaving in which, when the
// check ran outside the order of the two, the flow escaped both.
func TestProviderRegistrationOrderedWithLoads(t *testing.T) {
	_, e, _ := remoteFixture(t, ProviderOptions{})
	const audit = `{"version": 1, "flows": [{"name": "Audit", "triggers": [{"kind": "rpc", "endpoint": "Audit.Start"}],
	  "steps": [{"name": "Check", "action": {"kind": "go"}, "irreversible": true}]}]}`
	type loaded struct {
		ds  diag.List
		err error
	}
	done := make(chan loaded, 1)
	published := make(chan struct{})
	e.flowsPublished = func() { close(published) }
	e.remote.flowsChecked = func() {
		go func() {
			ds, err := e.LoadFlows("audit.json", []byte(audit))
			done <- loaded{ds, err}
		}()
		<-published // the flow is registered: the grant comes after it
	}
	_, regErr := e.RegisterProvider("billing", provider.Registration{Handlers: []provider.Handler{
		{Name: "Check", Outcomes: []string{"declined"}, URL: "http://127.0.0.1:9/c"}}})
	l := <-done
	if l.err != nil {
		t.Fatalf("load: %v\n%v", l.err, l.ds)
	}
	warned := strings.Contains(fmt.Sprint(l.ds), `provider "billing" serves "Check" with outcomes ["declined"], but Go step "Check" of flow "Audit" declares none (ok only)`)
	refused := errors.Is(regErr, ErrProviderConflict)
	if regErr != nil && !refused {
		t.Fatalf("register: %v", regErr)
	}
	if warned == refused {
		t.Errorf("registration refused: %v, load warned: %v (want exactly one)\nregistration: %v\nload: %v", refused, warned, regErr, l.ds)
	}
}
