package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/internal/listen"
	"github.com/flowgen/flowgen/internal/logtest"
)

const serveFlow = `{"version": 1, "flows": [{"name": "Greet", "state": "GreetState",
  "triggers": [{"kind": "rpc", "endpoint": "Greet.Start"}],
  "steps": [
    {"name": "Wait", "action": {"kind": "await", "topic": "people", "event": "arrived", "response": "Person", "correlate": "Name", "timeout": "1h"}},
    {"name": "Announce", "action": {"kind": "publish", "topic": "people", "event": "greeted", "request": "Person"}}
  ]}]}`

func startServe(t *testing.T, storeDir, flowsDir string) (string, func()) {
	t.Helper()
	url, _, stop := serveWith(t, serveConfig{store: storeDir, flows: flowsDir, net: listen.Config{Addr: "127.0.0.1:0"}})
	return url, stop
}

// serveWith starts serve with cfg (its id and stderr set here) and returns
// its URL, its log and the function that stops it.
func serveWith(t *testing.T, cfg serveConfig) (string, *logtest.Buffer, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logs := &logtest.Buffer{}
	cfg.id, cfg.stderr = cmp.Or(cfg.id, "t"), logs
	go func() {
		done <- serve(ctx, cfg, func(a string) { ready <- a })
	}()
	scheme := "http://"
	if cfg.net.TLSCert != "" {
		scheme = "https://"
	}
	select {
	case addr := <-ready:
		return scheme + addr, logs, func() {
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("serve: %v\n%s", err, logs.String())
			}
		}
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v\n%s", err, logs.String())
	}
	return "", nil, nil
}

func call(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return res.StatusCode, out
}

// The README's story: define a flow over the API, start a run, stop the
// server while the run waits, start it again (the flow is loaded from the
// flows directory), send the event, and the run finishes. Without -flows
// too: the flows directory is then the store's, and the 200 of PUT /flows
// is as durable (before, the flow was in memory only, and the run waited
// after the restart for a definition that never came).
func TestServeRestartFinishesRun(t *testing.T) {
	t.Run("flows", func(t *testing.T) {
		dir := t.TempDir()
		restartFinishesRun(t, filepath.Join(dir, "store"), filepath.Join(dir, "flows"), filepath.Join(dir, "flows"))
	})
	t.Run("default", func(t *testing.T) {
		storeDir := filepath.Join(t.TempDir(), "store")
		restartFinishesRun(t, storeDir, "", filepath.Join(storeDir, "flows"))
		if fi, err := os.Stat(filepath.Join(storeDir, "flows")); err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("the store's flows directory: %v, %v; want it private (0700) as the store", fi, err)
		}
	})
}

// restartFinishesRun runs the story on storeDir with -flows flowsDir (""
// for none), the flows then expected saved in savedDir.
func restartFinishesRun(t *testing.T, storeDir, flowsDir, savedDir string) {
	url, stop := startServe(t, storeDir, flowsDir)
	code, out := call(t, "PUT", url+"/flows", serveFlow)
	if code != 200 {
		t.Fatalf("PUT /flows: %d %v", code, out)
	}
	if strings.Contains(toJSON(out["diagnostics"]), "memory-only") {
		t.Fatalf("PUT /flows answered 200 with %v, want no memory-only warning: the flow is saved", out["diagnostics"])
	}
	if _, err := os.Stat(filepath.Join(savedDir, "Greet.json")); err != nil {
		t.Fatalf("flow not saved: %v", err)
	}
	code, out = call(t, "POST", url+"/rpc/Greet.Start", `{"Name": "ada"}`)
	if code != 201 {
		t.Fatalf("start: %d %v", code, out)
	}
	id := out["run_id"].(string)
	waitStatus := func(url, want string) map[string]any {
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, st := call(t, "GET", url+"/runs/"+id, "")
			if st["state"] == want && (want != "waiting" || st["wait"] != nil) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %s: %v, want %s", id, st, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitStatus(url, "waiting")
	stop()

	url, stop = startServe(t, storeDir, flowsDir)
	defer stop()
	if _, out := call(t, "GET", url+"/flows", ""); !strings.Contains(toJSON(out), `"Greet"`) {
		t.Fatalf("GET /flows after restart: %v, want Greet defined", out)
	}
	st := waitStatus(url, "waiting")
	if w, _ := st["wait"].(map[string]any); w["correlation"] != "ada" {
		t.Fatalf("after restart: %v", st)
	}
	if code, out := call(t, "POST", url+"/events/people/arrived", `{"correlation_id": "ada", "age": 36}`); code != 202 {
		t.Fatalf("publish: %d %v", code, out)
	}
	st = waitStatus(url, "done")
	if !strings.Contains(toJSON(st["snapshot"]), `"age":36`) {
		t.Fatalf("state: %v", st["snapshot"])
	}
	// The runs verb reads the same store.
	var outb, errb bytes.Buffer
	if code := Main([]string{"runs", "-store", storeDir}, nil, &outb, &errb); code != 0 || !strings.Contains(outb.String(), id) {
		t.Fatalf("flowgen runs: %d %s %s", code, outb.String(), errb.String())
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// A flow serve cannot run (rpc steps, and no -service) stops the start;
// a Go step does not: remote providers serve it (serve_provider_test.go).
func TestServeRejectsBadFlowsDir(t *testing.T) {
	dir := t.TempDir()
	flows := filepath.Join(dir, "flows")
	os.MkdirAll(flows, 0o755)
	os.WriteFile(filepath.Join(flows, "bad.json"), []byte(`{"version": 1, "flows": [{"name": "X", "steps": [{"name": "A", "action": {"kind": "rpc", "service": "s", "endpoint": "E"}, "irreversible": true}]}]}`), 0o644)
	var outb, errb bytes.Buffer
	code := Main([]string{"serve", "-store", filepath.Join(dir, "s"), "-flows", flows, "-addr", "127.0.0.1:0"}, nil, &outb, &errb)
	if code != 1 || !strings.Contains(errb.String(), `bad.json:$.flows[0].name: error: flow "X" calls services (rpc), but the engine has no Caller`) {
		t.Fatalf("exit %d, stderr:\n%s", code, errb.String())
	}
	// The store it made for this start is gone with it, and one made in an
	// empty directory leaves the directory empty: a start that failed left
	// a new store behind, as if the service had data.
	if _, err := os.Stat(filepath.Join(dir, "s")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the refused start left its store behind: %v", err)
	}
	empty := filepath.Join(dir, "empty")
	os.MkdirAll(empty, 0o755)
	if code := Main([]string{"serve", "-store", empty, "-flows", flows, "-addr", "127.0.0.1:0"}, nil, &outb, &errb); code != 1 {
		t.Fatalf("exit %d", code)
	}
	if ents, err := os.ReadDir(empty); err != nil || len(ents) != 0 {
		t.Errorf("the refused start left %v in the empty store directory (%v)", ents, err)
	}
	// A store that holds something is never removed: the same refusal on
	// a store of an earlier start keeps it whole.
	url, stop := startServe(t, filepath.Join(dir, "kept"), "")
	call(t, "POST", url+"/events/t/e", `{}`)
	stop()
	before, _ := os.ReadDir(filepath.Join(dir, "kept"))
	if code := Main([]string{"serve", "-store", filepath.Join(dir, "kept"), "-flows", flows, "-addr", "127.0.0.1:0"}, nil, &outb, &errb); code != 1 {
		t.Fatalf("exit %d", code)
	}
	if after, err := os.ReadDir(filepath.Join(dir, "kept")); err != nil || len(after) != len(before) || len(before) == 0 {
		t.Errorf("a refused start on an existing store changed it: %v before, %v after (%v)", before, after, err)
	}
}

// A bad .flow file in -flows is reported as flowgen check reports it:
// positioned, with its source line, a caret under the column, and a hint.
func TestServeQuotesBadFlowFile(t *testing.T) {
	const bad = "flow Hello {\n    step A { publish t \"e\"  irreversible  on ok -> Nowhere }\n}\n"
	code, stderr, flows := serveBadFlowFile(t, "hello.flow", bad)
	want := filepath.Join(flows, "hello.flow") + ":2:"
	quote := "    step A { publish t \"e\"  irreversible  on ok -> Nowhere }\n"
	if code != 1 || !strings.Contains(stderr, want) || !strings.Contains(stderr, quote) || !strings.Contains(stderr, "^") {
		t.Fatalf("exit %d, stderr:\n%s\nwant %s... with the line quoted and a caret", code, stderr, want)
	}
}

// The line that ends a refused start names the first error printed above
// it: the diagnostics are printed in the order of the file, and the
// summary took the first the checks found, one that a diagnostic earlier
// on its line could hide (one diagnostic a line is printed).
func TestServeSummaryNamesFirstPrintedError(t *testing.T) {
	const bad = "flow A {\n    step X {\n        irreversible\n        on ok -> Y\n    }\n    step Q {\n        await t \"e\" -> F\n    }\n}\n"
	code, stderr, flows := serveBadFlowFile(t, "a.flow", bad)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	first := filepath.Join(flows, "a.flow") + `:4:18: error: transition to undefined step "Y" in step "X"`
	if code != 1 || lines[0] != first || !strings.HasSuffix(lines[len(lines)-1], ": "+first) {
		t.Fatalf("exit %d, stderr:\n%s\nwant the first line and the last one to name %s", code, stderr, first)
	}
}

// serveBadFlowFile runs flowgen serve on a flows directory that holds the
// file name with src, and returns its exit status, its stderr and the
// directory.
func serveBadFlowFile(t *testing.T, name, src string) (code int, stderr, flows string) {
	t.Helper()
	dir := t.TempDir()
	flows = filepath.Join(dir, "flows")
	os.MkdirAll(flows, 0o755)
	os.WriteFile(filepath.Join(flows, name), []byte(src), 0o644)
	var outb, errb bytes.Buffer
	code = Main([]string{"serve", "-store", filepath.Join(dir, "s"), "-flows", flows, "-addr", "127.0.0.1:0"}, nil, &outb, &errb)
	return code, errb.String(), flows
}

// flowgen serve reads .flow sources too (the engine alone reads JSON): in
// the flows directory at start, and through PUT /flows?name=x.flow.
func TestServeLoadsFlowFiles(t *testing.T) {
	dir := t.TempDir()
	storeDir, flowsDir := filepath.Join(dir, "store"), filepath.Join(dir, "flows")
	os.MkdirAll(flowsDir, 0o755)
	const hello = "flow Hello {\n    step A { publish t \"e\"  irreversible }\n}\n"
	if err := os.WriteFile(filepath.Join(flowsDir, "hello.flow"), []byte(hello), 0o644); err != nil {
		t.Fatal(err)
	}
	url, stop := startServe(t, storeDir, flowsDir)
	defer stop()
	if code, out := call(t, "GET", url+"/flows/Hello", ""); code != 200 {
		t.Fatalf("GET /flows/Hello after loading hello.flow: %d %v", code, out)
	}
	if ents, _ := os.ReadDir(flowsDir); len(ents) != 1 {
		t.Fatalf("loading -flows wrote into it: %v", ents) // a Hello.json beside hello.flow would define Hello twice
	}
	bye := strings.ReplaceAll(hello, "Hello", "Bye")
	if code, out := call(t, "PUT", url+"/flows?name=bye.flow", bye); code != 200 || fmt.Sprint(out["flows"]) != "[Bye]" {
		t.Fatalf("PUT /flows?name=bye.flow: %d %v, want 200 naming flow Bye", code, out)
	}
	if code, out := call(t, "GET", url+"/flows/Bye", ""); code != 200 {
		t.Fatalf("GET /flows/Bye: %d %v", code, out)
	}
	// The .flow source without ?name= is read as JSON and refused: the
	// hint says how a .flow source is sent, not only how to make JSON.
	for _, src := range []string{bye, "// Bye says bye.\n" + bye} {
		code, out := call(t, "PUT", url+"/flows", src)
		ds, _ := out["diagnostics"].([]any)
		var hint string
		if len(ds) == 1 {
			hint, _ = ds[0].(map[string]any)["hint"].(string)
		}
		if code != 400 || !strings.Contains(hint, "PUT /flows?name=signup.flow") || !strings.Contains(hint, "flowgen json") {
			t.Errorf("PUT /flows of a .flow source without ?name=: %d %v, want 400 whose hint names ?name= and flowgen json", code, out)
		}
	}
}

// A refused PUT /flows changes nothing, and the server always starts again
// on what -flows holds: before, a 409 (the rpc trigger of another flow)
// still saved the flow, registered the first flow of a two-flow document,
// and the next start failed.
func TestServeRefusedFlowsRestart(t *testing.T) {
	dir := t.TempDir()
	storeDir, flowsDir := filepath.Join(dir, "store"), filepath.Join(dir, "flows")
	url, stop := startServe(t, storeDir, flowsDir)
	if code, out := call(t, "PUT", url+"/flows", serveFlow); code != 200 {
		t.Fatalf("PUT /flows: %d %v", code, out)
	}
	other := func(name, endpoint string) string {
		return `{"name": "` + name + `", "triggers": [{"kind": "rpc", "endpoint": "` + endpoint + `"}],
		  "steps": [{"name": "A", "action": {"kind": "publish", "topic": "t", "event": "e"}, "irreversible": true}]}`
	}
	for _, doc := range []string{
		`{"version": 1, "flows": [` + other("Other", "Greet.Start") + `]}`,
		`{"version": 1, "flows": [` + other("First", "First.Start") + `,` + other("Second", "Greet.Start") + `]}`,
	} {
		if code, out := call(t, "PUT", url+"/flows", doc); code != 409 {
			t.Fatalf("PUT of a flow on Greet.Start: %d %v, want 409", code, out)
		}
	}
	if code, _ := call(t, "GET", url+"/flows/First", ""); code != 404 {
		t.Fatalf("GET /flows/First after the refused document: %d, want 404", code)
	}
	stop()
	ents, _ := os.ReadDir(flowsDir)
	if len(ents) != 1 || ents[0].Name() != "Greet.json" {
		t.Fatalf("-flows holds %v, want Greet.json alone", ents)
	}
	url, stop = startServe(t, storeDir, flowsDir)
	defer stop()
	if code, out := call(t, "GET", url+"/flows/Greet", ""); code != 200 {
		t.Fatalf("GET /flows/Greet after the restart: %d %v", code, out)
	}
}

// A path that is not clean answers the API's JSON 404, through serve's
// own mux (POST /echo beside the engine's API) as through the engine's:
// not a redirect to the clean path, with an HTML body.
func TestServeUncleanPaths(t *testing.T) {
	url, _, stop := serveWith(t, serveConfig{store: t.TempDir(), net: listen.Config{Addr: "127.0.0.1:0"}})
	defer stop()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct{ method, path, clean string }{
		{"GET", "//runs", "/runs"},
		{"GET", "/ui/../runs", "/runs"},
		{"POST", "//echo/x", "/echo/x"},
		{"POST", "/echo/./x", "/echo/x"},
	} {
		req, _ := http.NewRequest(tc.method, url+tc.path, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		res, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var out struct{ Error string }
		if res.StatusCode != http.StatusNotFound || res.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &out) != nil ||
			!strings.Contains(out.Error, "did you mean "+tc.clean+"?") {
			t.Errorf("%s %s: %d %s %q, want the API's JSON 404 naming %s", tc.method, tc.path, res.StatusCode, res.Header.Get("Content-Type"), b, tc.clean)
		}
	}
}
