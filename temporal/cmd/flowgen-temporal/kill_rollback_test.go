package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// SIGKILL of a serve process inside a rollback: the worker that takes over
// must run the rollback in flight again with its idempotency key, and go on
// compensating from there, without repeating the steps or calling a
// rollback twice.

// rollbackJSON is First and Second, each with a rollback, then Third, which
// fails for good (the service answers 422), so every run compensates:
// SecondUndo, which answers only when the test releases it, then FirstUndo.
const rollbackJSON = `{"version": 1, "flows": [{"name": "Undo", "state": "U", "triggers": [{"kind": "rpc", "endpoint": "Undo.Start"}],
  "retry": {"attempts": 5, "initial": "100ms", "max": "200ms"},
  "steps": [
    {"name": "First", "action": {"kind": "rpc", "service": "svc", "endpoint": "Step.First", "request": "In", "response": "A"},
     "rollback": {"action": {"kind": "rpc", "service": "svc", "endpoint": "Step.FirstUndo", "request": "A"}}},
    {"name": "Second", "action": {"kind": "rpc", "service": "svc", "endpoint": "Step.Second", "request": "A", "response": "B"},
     "rollback": {"action": {"kind": "rpc", "service": "svc", "endpoint": "Step.SecondUndo", "request": "B"}}},
    {"name": "Third", "action": {"kind": "rpc", "service": "svc", "endpoint": "Step.Third", "request": "B", "response": "C"}}
  ]}]}`

// Crash inside a rollback: the worker is killed while every run, which
// failed at Third for good, is in Second's rollback; the worker that takes
// over calls SecondUndo again with the same idempotency key, then
// FirstUndo once, calls no step again, and every run ends compensated.
func TestKillWorkerInRollback(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server and builds the command")
	}
	const runs = 4
	svc := newGate("Step.SecondUndo") // the rollback in flight at the kill
	svc.refuse = map[string]int{"Step.Third": http.StatusUnprocessableEntity}
	b := heldKill{queue: "kill-rollback", file: "undo.json", doc: rollbackJSON, flow: "Undo", svc: svc, runs: runs,
		id:   func(i int) string { return fmt.Sprintf("u%d", i) },
		body: func(int) string { return `{"In":"x"}` },
		keys: prefixes("u%d/", runs)}.run(t)
	released := time.Now()
	for i := range runs {
		st := waitState(t, b.url, fmt.Sprintf("u%d", i), "compensated")
		if st["step"] != "Third" {
			t.Errorf("run u%d: failed at step %v, want Third", i, st["step"])
		}
		if e, _ := st["error"].(string); !strings.Contains(e, "422") {
			t.Errorf("run u%d: error %q, want Third's 422", i, e)
		}
	}
	t.Logf("every run compensated %v after SecondUndo was released", time.Since(released).Round(time.Millisecond))
	calls := svc.list()
	for i := range runs {
		run := fmt.Sprintf("u%d", i)
		prefix := run + "/"
		for _, ep := range []string{"Step.First", "Step.Second", "Step.Third"} {
			n := 0
			for _, c := range calls {
				if c.endpoint == ep && strings.HasPrefix(c.key, prefix) {
					n++
					if c.proc != "a" {
						t.Errorf("run %s: %s called by %s, want a", run, ep, c.proc)
					}
				}
			}
			if n != 1 {
				t.Errorf("run %s: %s called %d times, want once", run, ep, n)
			}
		}
		// SecondUndo: by a (the attempt killed), then by b, always with
		// the rollback's one key; FirstUndo once, by b, after them.
		want := prefix + "Second/rollback"
		var undo []string
		byProc := map[string]int{}
		for _, c := range calls {
			if !strings.HasPrefix(c.key, prefix) || !strings.HasSuffix(c.endpoint, "Undo") {
				continue
			}
			undo = append(undo, c.proc+" "+c.endpoint)
			if c.endpoint == "Step.SecondUndo" {
				byProc[c.proc]++
				if c.key != want {
					t.Errorf("run %s: Step.SecondUndo called by %s with key %q, want %q", run, c.proc, c.key, want)
				}
			}
		}
		if byProc["a"] == 0 || byProc["b"] == 0 {
			t.Errorf("run %s: Step.SecondUndo called %d times by a and %d by b, want both", run, byProc["a"], byProc["b"])
		}
		if len(undo) == 0 || undo[len(undo)-1] != "b Step.FirstUndo" || strings.Count(strings.Join(undo, ","), "Step.FirstUndo") != 1 {
			t.Errorf("run %s: rollbacks %q, want Step.SecondUndo (a, then b) then Step.FirstUndo once, by b", run, undo)
		}
	}
}
