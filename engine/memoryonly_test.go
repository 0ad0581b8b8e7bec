package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/runtime/store"
)

// A 200 to PUT /flows means durable; an engine without a flows directory
// registers the flows in memory only, and its answer says so in a warning,
// first. One with a flows directory saves them and has no such warning.
func TestPutFlowsMemoryOnlyWarns(t *testing.T) {
	e, err := New(Options{Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	status, out := apiClient{t, httptestServer(t, e)}.do("PUT", "/flows?name=hello.json", helloFlow)
	ds, _ := out["diagnostics"].([]any)
	if status != 200 || len(ds) != 1 {
		t.Fatalf("PUT /flows without a flows directory: %d %v, want 200 and one warning", status, out)
	}
	d, _ := ds[0].(map[string]any)
	hint, _ := d["hint"].(string)
	msg, _ := d["message"].(string)
	if d["severity"] != "warning" || d["code"] != "memory-only" || !strings.Contains(msg, "in memory only") ||
		!strings.Contains(msg, "no flows directory (Options.FlowsDir)") || !strings.Contains(msg, "a restart forgets them") ||
		strings.Contains(msg+hint, "-flows DIR") || !strings.Contains(hint, "docs/engine.md#without--flows") {
		// Only an embedder's engine has no flows directory (flowgen serve
		// always has one, flowgen-temporal serve requires -flows): the
		// warning names the option it can set, not a flag it has not.
		t.Errorf("warning %v, want memory-only saying the flows are in memory only, the engine has no Options.FlowsDir, and a restart forgets them", d)
	}
	if start, _ := d["range"].(map[string]any)["start"].(map[string]any); start["file"] != "hello.json" {
		t.Errorf("warning at %v, want the document hello.json", d["range"])
	}

	status, out = apiClient{t, httptestServer(t, dirEngine(t, t.TempDir()))}.do("PUT", "/flows", helloFlow)
	if ds, _ := out["diagnostics"].([]any); status != 200 || len(ds) != 0 {
		t.Errorf("PUT /flows with a flows directory: %d %v, want 200 and no diagnostics", status, out)
	}
}
