package engine

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/runtime/store"
)

// A query string that does not parse, a parameter its route does not
// take, or one given twice answers 400 and changes nothing. net/url drops
// what it cannot parse: before the rule, a start whose ?run_id= was
// mis-escaped started a new run at every retry, an event whose ?id= was
// started a run under a new message ID each time, and a replica's
// registration whose ?replica= was replaced the lease of every replica.
func TestQueryRule(t *testing.T) {
	fx := newFixture(t)
	fx.remote = &ProviderOptions{}
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptestServer(t, e)}
	if _, err := e.RegisterProvider("billing", provider.Registration{Replica: "r1", Handlers: []provider.Handler{{Name: "Signup.Activate", URL: "http://127.0.0.1:9/a"}}}); err != nil {
		t.Fatal(err)
	}
	const registration = `{"handlers": [{"name": "Signup.Activate", "url": "http://127.0.0.1:9/b"}]}`
	bad := []struct {
		method, path, body, says string
	}{
		{"POST", "/flows/Signup/runs?run_id=50%off", `{}`, `invalid URL escape "%of"`},
		{"POST", "/rpc/Signup.Start?run_id=a;b", `{}`, "semicolon"},
		{"POST", "/flows/Signup/runs?runid=ann", `{}`, `unknown parameter "runid": POST /flows/{flow}/runs takes only run_id`},
		{"POST", "/flows/Signup/runs?run_id=ann&run_id=bob", `{}`, `parameter "run_id" given 2 times`},
		{"POST", "/events/accounts/signup.requested?id=m%zz", `{}`, "invalid URL escape"},
		{"POST", "/events/accounts/signup.requested?id=m-1&id=m-2", `{}`, `parameter "id" given 2 times`},
		{"POST", "/events/payments/payment.succeeded?msg=m-1", `{}`, `unknown parameter "msg"`},
		{"PUT", "/providers/billing?replica=r%zz", registration, "invalid URL escape"},
		{"PUT", "/providers/billing?replicas=r2", registration, `unknown parameter "replicas"`},
		{"POST", "/runs/nope/abort?force=1", ``, "takes no query parameter"},
		{"GET", "/runs?stauts=done", ``, `unknown parameter "stauts"`},
		{"GET", "/runs?limit=1&limit=1000", ``, `parameter "limit" given 2 times`},
	}
	for _, tc := range bad {
		status, out := c.do(tc.method, tc.path, tc.body)
		if status != 400 || !strings.Contains(mustString(t, out), tc.says) {
			t.Errorf("%s %s: %d %v, want 400 saying %q", tc.method, tc.path, status, out, tc.says)
		}
	}
	if runs, _ := e.Runs(context.Background(), store.Filter{}); len(runs) != 0 {
		t.Errorf("runs started: %v", runs)
	}
	if ms, _ := fx.st.(*store.Memory).Messages(store.MessageFilter{}); len(ms) != 0 {
		t.Errorf("events recorded: %v", ms)
	}
	if ls := e.Providers(); len(ls) != 1 || !slices.Equal(ls[0].Replicas, []string{"r1"}) {
		t.Errorf("leases: %+v, want billing with its replica r1 alone", ls)
	}
	// What the routes take still works.
	if status, out := c.do("POST", "/flows/Signup/runs?run_id=ann", `{}`); status != 201 {
		t.Errorf("a start with its run ID: %d %v", status, out)
	}
	if status, out := c.do("GET", "/runs?flow=Signup&status=active&order=newest&limit=5", ``); status != 200 {
		t.Errorf("a list with its filters: %d %v", status, out)
	}
	// The web view's page reads nothing: a link with parameters opens it.
	if res, err := c.srv.Client().Get(c.srv.URL + "/ui/?utm_source=mail&x=%zz"); err != nil || res.StatusCode != 200 {
		t.Errorf("the web view with parameters: %v %v", res, err)
	} else {
		res.Body.Close()
	}
}
