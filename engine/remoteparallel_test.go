package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowgen/flowgen/engine/provider"
	"github.com/flowgen/flowgen/runtime"
)

// packFlow's parallel block has two Go branches served by providers, each
// with a Go rollback; Ship, after the block, is a Go step too.
const packFlow = `{"version": 1, "flows": [{
  "name": "Pack", "state": "PackState",
  "triggers": [{"kind": "rpc", "endpoint": "Pack.Start"}],
  "retry": {"attempts": 2, "initial": "10ms"},
  "steps": [
    {"name": "Prepare", "parallel": {"branches": [
      {"name": "Reserve", "action": {"kind": "go"}, "rollback": {"name": "Release"}},
      {"name": "Authorize", "action": {"kind": "go"}, "rollback": {"name": "Void"}}
    ]}},
    {"name": "Ship", "action": {"kind": "go"}, "irreversible": true}
  ]}]}`

// A JSON flow whose parallel block has Go branches loads and runs under
// remote providers: a branch has no waiting state, so its attempts wait
// for a provider in memory (loading says so), a provider registered while
// a branch waits serves it, and a failed branch's sibling is compensated
// through its provider. Loading such a flow failed: the branch was given
// the provider's waiting state, which a branch cannot have.
func TestProviderServesParallelBranches(t *testing.T) {
	var e *Engine
	var mu sync.Mutex
	fail := map[string]bool{} // Mode → Authorize fails for good
	tr := stubTransport{reqs: make(chan provider.Request, 64), answer: func(_ string, req provider.Request) []byte {
		var st struct{ Mode string }
		_ = json.Unmarshal(req.State, &st)
		mu.Lock()
		declined := req.Handler == "Authorize" && fail[st.Mode]
		mu.Unlock()
		if declined {
			// After Reserve completed, so that there is something to
			// compensate (else the failure cancels Reserve in flight).
			// (Not waitFor: this is the transport's goroutine.)
			for end := time.Now().Add(5 * time.Second); !branchCompleted(e, req.RunID, "Reserve") && time.Now().Before(end); {
				time.Sleep(time.Millisecond)
			}
			return []byte(`{"error": {"class": "permanent", "message": "card declined"}}`)
		}
		return []byte(`{}`)
	}}
	fx := newFixture(t)
	fx.remote = &ProviderOptions{NATS: tr}
	e = fx.start()
	t.Cleanup(fx.stop)
	ds, err := e.LoadFlows("pack.json", []byte(packFlow))
	if err != nil {
		t.Fatalf("a flow with Go branches under remote providers: %v\n%v", err, ds)
	}
	if !strings.Contains(fmt.Sprint(ds), `no provider serves Go step "Reserve" of flow "Pack" yet: a branch of parallel block "Prepare" has no waiting state`) {
		t.Errorf("loading warnings:\n%v", ds)
	}
	handler := func(name string, rollback bool) string {
		kind := "step"
		if rollback {
			kind = "rollback"
		}
		return fmt.Sprintf(`{"name": %q, "rollback": %v, "subject": "flowgen_provider.pack.%s.%s"}`, name, rollback, kind, name)
	}
	all := []string{handler("Reserve", false), handler("Authorize", false), handler("Ship", false), handler("Release", true), handler("Void", true)}
	register := func(hs ...string) {
		t.Helper()
		if _, err := e.RegisterProvider("pack", mustRegistration(t, `{"handlers": [`+strings.Join(hs, ",")+`]}`)); err != nil {
			t.Fatal(err)
		}
	}

	// Authorize has no provider when the run starts: its first attempt
	// waits, and the registration serves it.
	register(all[0], all[2], all[3], all[4])
	id, err := e.StartRun(context.Background(), "Pack", json.RawMessage(`{"Mode": "ok"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Reserve called while Authorize has no provider", func() bool { return calledHandlers(tr.reqs, id)["Reserve"] })
	register(all...)
	waitFor(t, "the run done", func() bool {
		st, err := e.Status(context.Background(), id)
		return err == nil && st.State == runtime.StateDone
	})
	h, _ := e.History(context.Background(), id)
	for _, ev := range h {
		if ev.Outcome == runtime.OutcomeRetry {
			t.Errorf("an attempt failed although the provider came within the wait: %+v", ev)
		}
	}

	// Authorize fails for good: Reserve, completed, is released through
	// its provider, and the run ends compensated.
	mu.Lock()
	fail["declined"] = true
	mu.Unlock()
	id, err = e.StartRun(context.Background(), "Pack", json.RawMessage(`{"Mode": "declined"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the run compensated", func() bool {
		st, err := e.Status(context.Background(), id)
		return err == nil && st.State.Terminal()
	})
	if st, _ := e.Status(context.Background(), id); st.State != runtime.StateCompensated {
		t.Fatalf("a run whose branch failed for good: %s (%s)", st.State, st.Err)
	}
	if got := calledHandlers(tr.reqs, id); !got["Release"] || got["Void"] || got["Ship"] {
		t.Errorf("handlers called by the compensated run: %v, want Release and neither Void nor Ship", got)
	}
}

// branchCompleted reports whether branch of run id completed.
func branchCompleted(e *Engine, id, branch string) bool {
	h, _ := e.History(context.Background(), id)
	for _, ev := range h {
		if ev.Branch == branch && ev.From == runtime.RunningState(branch) && ev.Error == "" {
			return true
		}
	}
	return false
}

// calledHandlers drains reqs and reports which handlers run id called
// (the requests of other runs are dropped).
func calledHandlers(reqs chan provider.Request, id string) map[string]bool {
	seen := map[string]bool{}
	for {
		select {
		case req := <-reqs:
			if req.RunID == id {
				seen[req.Handler] = true
			}
		default:
			return seen
		}
	}
}

func mustRegistration(t *testing.T, body string) provider.Registration {
	t.Helper()
	var reg provider.Registration
	if err := json.Unmarshal([]byte(body), &reg); err != nil {
		t.Fatal(err)
	}
	return reg
}

// The no-provider warning of a branch names the wait each attempt will
// have: ProviderOptions.Wait, cut to 9/10 of the attempt's timeout or the
// step's deadline when shorter (branchWait), not Wait alone, which said
// 30s of a branch whose attempts gave up after 4.5s.
func TestProviderBranchWarningNamesItsWait(t *testing.T) {
	fx := newFixture(t)
	fx.remote = &ProviderOptions{NATS: stubTransport{reqs: make(chan provider.Request, 1)}}
	e := fx.start()
	t.Cleanup(fx.stop)
	for _, c := range []struct{ policy, want string }{
		{``, `each attempt waits for one up to 30s,`},
		{`"timeout": "5s",`, `each attempt waits for one up to 4.5s,`},
		{`"deadline": "3s",`, `each attempt waits for one up to 2.7s,`},
		{`"timeout": "2m",`, `each attempt waits for one up to 30s,`},
	} {
		flow := strings.Replace(packFlow, `"retry":`, c.policy+` "retry":`, 1)
		ds, err := e.LoadFlows("pack.json", []byte(flow))
		if err != nil {
			t.Fatalf("%s: %v\n%v", c.policy, err, ds)
		}
		if !strings.Contains(fmt.Sprint(ds), `Go step "Reserve" of flow "Pack" yet: a branch of parallel block "Prepare" has no waiting state: `+c.want) {
			t.Errorf("flow policies %s: warnings\n%v\nwant %q", c.policy, ds, c.want)
		}
	}
}
