package main

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/engine"
)

// A flow with a Go step is refused with what is true here: this command
// serves no Go handlers (it has no provider API: PUT /providers answers
// 404), and the flow can run on flowgen serve with remote providers, or
// generated for Temporal. Before, the refusal said to register a handler
// in a Provider, which nobody can do on this command.
func TestServeRefusesGoStepsTruthfully(t *testing.T) {
	// The executor is never called: the flow is refused as it loads.
	eng, err := engine.New(engineOptions(config{flows: t.TempDir()}, struct{ engine.Executor }{}, nil, slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	const flow = `{"version": 1, "flows": [{"name": "Billing", "steps": [{"name": "Charge", "action": {"kind": "go"}, "irreversible": true}]}]}`
	ds, err := eng.LoadFlows("billing.json", []byte(flow))
	if !errors.Is(err, engine.ErrInvalid) || len(ds) == 0 {
		t.Fatalf("a flow with a Go step: %v %v; want it refused", ds, err)
	}
	d := ds[0]
	msg := d.Message + " hint: " + d.Hint
	for _, want := range []string{`Go step "Charge" of flow "Billing" cannot run here`, "flowgen serve", "-target temporal"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refusal lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "Provider") || strings.Contains(msg, "Registry.Step") {
		t.Errorf("the refusal points at a provider API this command does not have: %s", msg)
	}
}

// A .flow file in -flows, which flowgen serve loads and this command
// cannot (it links no .flow parser), stops the start with an error at the
// file, saying how to convert it, rather than being left unserved without
// a word; the flows directory is left as it was.
func TestServeRefusesFlowSources(t *testing.T) {
	dir := t.TempDir()
	const hello = "flow Hello {\n    step Pause {\n        sleep 1s\n    }\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "hello.flow"), []byte(hello), 0o644); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engineOptions(config{flows: dir}, struct{ engine.Executor }{}, nil, slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := eng.LoadFlowsDir()
	if err == nil || len(ds) != 1 {
		t.Fatalf("-flows with a .flow file: %v %v; want it refused", ds, err)
	}
	d := ds[0]
	if d.Severity != diag.Error || d.Range.Start.File != filepath.Join(dir, "hello.flow") || d.Range.Start.Line != 1 || !strings.Contains(d.Hint, "flowgen json") {
		t.Errorf("the refusal is %v (hint %q); want an error at hello.flow:1 saying to convert it with flowgen json", d, d.Hint)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("the flows directory holds %d files after the refusal, want hello.flow alone", len(ents))
	}
}
