package engine

import (
	"context"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/runtime"
	"github.com/flowgen/flowgen/runtime/store"
)

var update = flag.Bool("update", false, "rewrite the golden diagnostics of testdata/engine/bad")

// Every malformed flow in testdata/engine/bad is rejected with the
// diagnostics in its .golden file (positioned by JSON path), and nothing is
// registered. Review the goldens after -update.
func TestBadFlowsGolden(t *testing.T) {
	files, err := filepath.Glob("../testdata/engine/bad/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			e, err := New(Options{Store: store.NewMemory()})
			if err != nil {
				t.Fatal(err)
			}
			e.Provide(signupHandlers(&ledger{}))
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ds, err := e.LoadFlows(filepath.Base(path), data)
			if err == nil {
				t.Fatalf("loaded without error: %v", ds)
			}
			list, _ := ds.Normalize(-1)
			var b strings.Builder
			for _, d := range list {
				b.WriteString(d.String())
				b.WriteByte('\n')
				if d.Hint != "" {
					b.WriteString("  hint: " + d.Hint + "\n")
				}
			}
			golden := strings.TrimSuffix(path, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if b.String() != string(want) {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", b.String(), want)
			}
			if len(e.Flows()) != 0 {
				t.Errorf("flows registered: %v", e.Flows())
			}
			if err := e.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			_ = e.Close(context.Background())
		})
	}
}

// Replacing a JSON flow: the same definition is a no-op, a definition that
// still fits the runs in progress replaces it, one that does not is
// refused with 409 and changes nothing.
func TestReplaceFlowFitsRunsInProgress(t *testing.T) {
	fx := newFixture(t)
	e := fx.start()
	defer fx.stop()
	c := apiClient{t, httptestServer(t, e)}
	id, err := e.StartRun(context.Background(), "Signup", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	waitParked(t, e, id)
	orig := string(readTestdata(t, "signup.json"))
	if status, out := c.do("PUT", "/flows", orig); status != 200 {
		t.Fatalf("same definition: %d %v", status, out)
	}
	// A new last step keeps every step the run has been on: it fits.
	fits := strings.Replace(orig, `"target": "fail"}]
        }`, `"target": "fail"}]
        },
        {"name": "Audit", "action": {"kind": "publish", "topic": "audit", "event": "signup"}, "irreversible": true}`, 1)
	if fits == orig {
		t.Fatal("test input not changed")
	}
	if status, out := c.do("PUT", "/flows", fits); status != 200 {
		t.Fatalf("fitting definition: %d %v", status, out)
	}
	// Renaming the await the run waits on does not fit.
	renamed := strings.ReplaceAll(orig, "AwaitPayment", "WaitForPayment")
	status, out := c.do("PUT", "/flows", renamed)
	if status != 409 || !strings.Contains(out["error"].(string), id) {
		t.Fatalf("renamed await: %d %v", status, out)
	}
	src, _ := e.FlowJSON("Signup")
	if !strings.Contains(string(src), "Audit") || strings.Contains(string(src), "WaitForPayment") {
		t.Fatalf("definition after the refused replacement:\n%s", src)
	}
	// The parked run continues after the replacement.
	st, _ := e.Status(context.Background(), id)
	publish(t, fx.broker, "pay", "payments", "payment.succeeded", map[string]any{"correlation_id": st.Wait.Correlation})
	waitFor(t, "run done", func() bool { return runState(fx, id) == runtime.StateDone })
}

// The engine reads the JSON form itself; any other source (a .flow file)
// needs Options.FlowFile, which `flowgen serve` sets to the .flow front end
// and an embedding service usually does not, so that it links no parser.
func TestFlowFileSources(t *testing.T) {
	flowJSON := func(name string) string {
		return `{"version": 1, "flows": [{"name": "` + name + `", "steps": [{"name": "A", "action": {"kind": "publish", "topic": "t", "event": "e"}, "irreversible": true}]}]}`
	}
	dir := t.TempDir()
	for name, src := range map[string]string{"a.json": flowJSON("A"), "b.flow": flowJSON("B")} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	names := func(e *Engine) string {
		var out []string
		for _, f := range e.Flows() {
			out = append(out, f.Name)
		}
		return strings.Join(out, ",")
	}

	e, err := New(Options{Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := e.LoadFlows("b.flow", []byte(flowJSON("B")))
	if err == nil || len(ds) != 1 || ds[0].Code != "json" || ds[0].Range.Start.File != "b.flow" {
		t.Fatalf("LoadFlows of a .flow without FlowFile = %v, %v; want one json error", ds, err)
	}
	if ds, err := e.LoadDir(dir); err != nil || names(e) != "A" {
		t.Fatalf("LoadDir without FlowFile: %v %v; flows %q, want the JSON one only", ds, err, names(e))
	}

	var read []string
	e, err = New(Options{Store: store.NewMemory(), FlowFile: func(name string, src []byte, opts dsl.CheckOptions) (*dsl.File, diag.List) {
		if !slices.Contains(read, filepath.Base(name)) { // LoadDir may read a file twice: its plan, and its flows for another file's calls
			read = append(read, filepath.Base(name))
		}
		return dsl.LoadJSON(name, src, opts) // a stand-in for flowfile.Load
	}})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e.LoadDir(dir); err != nil || names(e) != "A,B" {
		t.Fatalf("LoadDir with FlowFile: %v %v; flows %q, want both", ds, err, names(e))
	}
	if strings.Join(read, ",") != "b.flow" {
		t.Errorf("FlowFile read %v, want b.flow only", read)
	}
}

// A flows directory with several bad files names them all at once, so
// that a service's start shows every file to fix, not one per restart;
// nothing after the first bad file is loaded, and the error is its.
func TestLoadDirReportsEveryBadFile(t *testing.T) {
	flowJSON := func(name, kind string) string {
		return `{"version": 1, "flows": [{"name": "` + name + `", "steps": [{"name": "A", "action": {"kind": "` + kind + `", "topic": "t", "event": "e"}, "irreversible": true}]}]}`
	}
	dir := t.TempDir()
	for name, src := range map[string]string{
		"a.json": flowJSON("A", "publish"),
		"b.json": flowJSON("B", "publsh"), // the first bad file
		"c.json": flowJSON("C", "publish"),
		"d.json": flowJSON("C", "publish") + " x", // bad too: trailing data
		"e.json": `{"version": 1, "flows": [{"name": "C", "steps": [{"name": "Z", "action": {"kind": "publish", "topic": "t", "event": "e"}, "irreversible": true}]}]}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e, err := New(Options{Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := e.LoadDir(dir)
	if err == nil || !strings.Contains(err.Error(), "b.json") {
		t.Fatalf("LoadDir = %v; want the error of b.json, the first bad file", err)
	}
	files := map[string]bool{}
	for _, d := range ds.Errors() {
		files[filepath.Base(d.Range.Start.File)] = true
	}
	// e.json defines C differently from c.json, checked though not loaded.
	if !files["b.json"] || !files["d.json"] || !files["e.json"] || files["a.json"] || files["c.json"] {
		t.Errorf("errors in %v, want b.json, d.json and e.json only:\n%v", files, ds)
	}
	if loaded := flowNames(e); strings.Join(loaded, ",") != "A" {
		t.Errorf("flows loaded %v, want A only: nothing after the first bad file", loaded)
	}
}

// PUT /flows of a .flow source without ?name= is JSON that does not parse
// (400); with an Options.FlowFile that reads .flow sources the hint says
// how to send one (?name=x.flow), with JSONOnly it keeps to the JSON form.
func TestPutFlowSourceWithoutName(t *testing.T) {
	const src = "// Hello says hello.\nflow Hello {\n    step A { publish t \"e\"  irreversible }\n}\n"
	reads := func(name string, src []byte, opts dsl.CheckOptions) (*dsl.File, diag.List) {
		return &dsl.File{}, nil // a stand-in for flowfile.Load, which reads it
	}
	for _, c := range []struct {
		what     string
		flowFile func(string, []byte, dsl.CheckOptions) (*dsl.File, diag.List)
		want     string
		not      string
	}{
		{"a FlowFile that reads .flow", reads, "PUT /flows?name=signup.flow", ""},
		{"JSONOnly", JSONOnly, "flowgen json", "?name="},
		{"no FlowFile", nil, "flowgen json", "?name="},
	} {
		e, err := New(Options{Store: store.NewMemory(), FlowFile: c.flowFile})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(e.Handler())
		code, out := apiClient{t, srv}.do("PUT", "/flows", src)
		srv.Close()
		ds, _ := out["diagnostics"].([]any)
		var hint string
		if len(ds) == 1 {
			hint, _ = ds[0].(map[string]any)["hint"].(string)
		}
		if code != 400 || !strings.Contains(hint, c.want) || c.not != "" && strings.Contains(hint, c.not) {
			t.Errorf("%s: %d %v, want 400 with a hint naming %q (and not %q)", c.what, code, out, c.want, c.not)
		}
	}
}

// A flows directory's hidden files are not flows: an editor keeps its
// lock and backup files beside the file it edits (Emacs's lock of
// Slow.json is .#Slow.json, a symbolic link to no file), and a copy from
// a Mac brings ._Slow.json, its resource fork. Either stopped the start,
// a lock with "open flows/.#Slow.json: no such file or directory",
// which an operator editing a .flow of -flows met at the next restart.
// The go command ignores such names for the same reasons.
func TestLoadDirSkipsHiddenFiles(t *testing.T) {
	flowJSON := func(name string) string {
		return `{"version": 1, "flows": [{"name": "` + name + `", "steps": [{"name": "A", "action": {"kind": "publish", "topic": "t", "event": "e"}, "irreversible": true}]}]}`
	}
	dir := t.TempDir()
	for name, src := range map[string]string{"Slow.json": flowJSON("Slow"), "._Slow.json": "\x00\x05\x16\x07 resource fork", ".Old.json": flowJSON("Old")} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("root@host.1234:1700000000", filepath.Join(dir, ".#Slow.json")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	e, err := New(Options{Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e.LoadDir(dir); err != nil {
		t.Fatalf("LoadDir with an editor's lock and a resource fork beside the flow: %v\n%v", err, ds)
	}
	if loaded := flowNames(e); strings.Join(loaded, ",") != "Slow" {
		t.Errorf("flows loaded %v, want Slow alone: a hidden file is no flow", loaded)
	}
}
