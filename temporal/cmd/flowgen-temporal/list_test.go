package main

import (
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// GET /runs on Temporal lists each run as the engine's store does: its
// state, machine state and step (the step GET /runs/{id} names) while it
// waits, while a step runs and once it is over, and for a child run its
// parent. Shop (jsonflows/testdata/shop.json) calls Billing, which waits
// for a payment; Shop's last step, Ship, is held until the test lets it
// answer.
func TestServeListsStepAndParent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	src, err := os.ReadFile("../../jsonflows/testdata/shop.json")
	if err != nil {
		t.Fatal(err)
	}
	ts := testserver.New(t)
	svc := newGate("Step.Ship")
	hs := httptest.NewServer(svc)
	defer hs.Close()
	released := false
	release := func() {
		if !released {
			released = true
			close(svc.release)
		}
	}
	defer release()
	a := startServe(t, config{temporal: ts.GetFrontendHostPort(), namespace: ts.GetDefaultNamespace(), taskQueue: "list-test",
		flows: writeFlows(t, "shop.json", string(src)), services: map[string]string{"svc": hs.URL + "/a"}})

	if code, out := call(t, "POST", a.url+"/flows/Shop/runs?run_id=s1", `{"In":"a","Invoice":{"Order":"o1"}}`); code != 201 {
		t.Fatalf("start: %d %v", code, out)
	}
	waitState(t, a.url, "s1@Bill", "waiting")
	waitListed(t, a.url, "flow=Shop&status=waiting", "s1", row{state: "waiting", machine: "Bill:waiting", step: "Bill"})
	waitListed(t, a.url, "flow=Billing&status=waiting", "s1@Bill", row{state: "waiting", machine: "Pay:waiting", step: "Pay", parent: "s1"})
	if runs := waitRuns(t, a.url, "status=running"); len(runs) != 0 {
		t.Errorf("status=running lists %v while both runs wait", runs)
	}

	if code, out := call(t, "POST", a.url+"/events/payments/paid", `{"correlation_id":"o1"}`); code != 202 {
		t.Fatalf("event: %d %v", code, out)
	}
	waitState(t, a.url, "s1", "running")
	waitListed(t, a.url, "flow=Shop&status=running", "s1", row{state: "running", machine: "Ship:running", step: "Ship"})
	waitListed(t, a.url, "flow=Billing&status=done", "s1@Bill", row{state: "done", machine: "done", step: "Pay", parent: "s1"})

	release()
	waitState(t, a.url, "s1", "done")
	waitListed(t, a.url, "flow=Shop&status=done", "s1", row{state: "done", machine: "done", step: "Ship"})

	// An aborted run names the step it was aborted in, as its status does,
	// and its child (aborted too) its parent.
	if code, out := call(t, "POST", a.url+"/flows/Shop/runs?run_id=s2", `{"In":"b","Invoice":{"Order":"o2"}}`); code != 201 {
		t.Fatalf("start: %d %v", code, out)
	}
	waitState(t, a.url, "s2@Bill", "waiting")
	if code, out := call(t, "POST", a.url+"/runs/s2/abort", ""); code != 202 {
		t.Fatalf("abort: %d %v", code, out)
	}
	waitState(t, a.url, "s2", "aborted")
	waitListed(t, a.url, "flow=Shop&status=aborted", "s2", row{state: "aborted", machine: "aborted", step: "Bill"})
	waitListed(t, a.url, "flow=Billing&status=aborted", "s2@Bill", row{state: "aborted", machine: "aborted", step: "Pay", parent: "s2"})
}

// row is what GET /runs says of a run.
type row struct{ state, machine, step, parent string }

// waitListed polls GET /runs?query (visibility is eventually consistent)
// until it lists run alone as want, and checks that the step listed is the
// one GET /runs/{id} names.
func waitListed(t *testing.T, base, query, run string, want row) {
	t.Helper()
	var got row
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		runs := waitRuns(t, base, query, run)
		if len(runs) != 1 {
			continue
		}
		r := runs[0]
		got = row{str(r["state"]), str(r["machine"]), str(r["step"]), str(r["parent"])}
		if got == want {
			if _, st := call(t, "GET", base+"/runs/"+run, ""); st["step"] != want.step {
				t.Errorf("run %s: listed with step %q, its status names %v", run, want.step, st["step"])
			}
			return
		}
	}
	t.Errorf("GET /runs?%s: run %s listed as %+v, want %+v", query, run, got, want)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
