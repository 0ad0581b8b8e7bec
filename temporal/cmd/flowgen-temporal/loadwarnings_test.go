package main

import (
	"strings"
	"testing"

	"github.com/flowgen/flowgen/temporal/internal/testserver"
)

// A flow that loads with a warning is said in serve's structured log, one
// line, as flowgen serve says it (diag.LogWarnings), where an operator's
// log collector reads it: before, it was printed as flowgen check prints
// it, over three lines of which the caret's and the hint's were not log
// lines at all. A load that fails is printed so still (TestServeRefusesFlowSources).
func TestServeLogsLoadWarnings(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	const flow = `{"version": 1, "flows": [{"name": "W", "steps": [
  {"name": "A", "action": {"kind": "publish", "topic": "t", "event": "e"}, "irreversible": true, "on": [{"on": "ok", "target": "done"}]},
  {"name": "B", "action": {"kind": "publish", "topic": "t", "event": "e"}, "irreversible": true}]}]}`
	ts := testserver.New(t)
	a := startServe(t, config{temporal: ts.GetFrontendHostPort(), namespace: ts.GetDefaultNamespace(), taskQueue: "warn-test",
		flows: writeFlows(t, "w.json", flow)})
	a.stop()
	var line string
	for l := range strings.Lines(a.logs.String()) {
		if strings.Contains(l, "unreachable") {
			if line != "" {
				t.Fatalf("the warning takes more than one line:\n%s", a.logs.String())
			}
			line = l
		}
	}
	if !strings.Contains(line, "level=WARN") || !strings.Contains(line, `step \"B\" is unreachable`) || !strings.Contains(line, "hint=") {
		t.Errorf("the load's warning is not one WARN line of the log with its hint: %q\n%s", line, a.logs.String())
	}
	if strings.Contains(a.logs.String(), "^") {
		t.Errorf("the log holds a caret, as flowgen check draws under a source line:\n%s", a.logs.String())
	}
}
