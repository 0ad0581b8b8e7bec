package engine

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// A Go step that declares more named outcomes than a registration may
// (MaxProviderOutcomes) can have no provider: its registration is refused
// (400). Loading the flow says so, with the bound, rather than warn that
// no provider serves it "yet" and hint at the registration that would be
// refused, while its runs wait for a provider until their deadline.
func TestLoadWarnsOfAStepNoProviderCanServe(t *testing.T) {
	_, e, srv := remoteFixture(t, ProviderOptions{})
	outs := make([]string, MaxProviderOutcomes+1)
	for i := range outs {
		outs[i] = fmt.Sprintf("o%d", i)
	}
	list, _ := json.Marshal(outs)
	flow := fmt.Sprintf(`{"version": 1, "flows": [{"name": "Wide", "steps": [{"name": "Pick", "action": {"kind": "go"}, "outcomes": %s, "irreversible": true}]}]}`, list)
	ds, err := e.LoadFlows("wide.json", []byte(flow))
	if err != nil {
		t.Fatal(err, ds)
	}
	want := fmt.Sprintf(`no provider can serve Go step "Pick" of flow "Wide": it declares %d named outcomes, and a provider registers at most %d`, len(outs), MaxProviderOutcomes)
	var got []string
	for _, d := range ds {
		got = append(got, d.Code+": "+d.Message+" [hint: "+d.Hint+"]")
	}
	if len(ds) != 1 || ds[0].Code != "no-provider" || !strings.HasPrefix(ds[0].Message, want) || strings.Contains(ds[0].Hint, "PUT /providers") {
		t.Errorf("diagnostics %q, want one no-provider warning saying %q, with no hint to register", got, want)
	}
	reg := fmt.Sprintf(`{"handlers": [{"name": "Wide.Pick", "outcomes": %s, "url": "http://127.0.0.1:9/p"}]}`, list)
	if status, out := putProvider(t, srv, "wide", reg); status != 400 {
		t.Errorf("a registration of the step's outcomes: %d %s, want 400", status, out)
	}
}
