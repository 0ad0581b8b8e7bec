package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/internal/atomicfile"
	"github.com/flowgen/flowgen/runtime/store"
)

// rpcFlow is a one-step JSON flow started by `trigger rpc endpoint`.
func rpcFlow(name, endpoint string) string {
	return `{"name": "` + name + `", "triggers": [{"kind": "rpc", "endpoint": "` + endpoint + `"}],
	  "steps": [{"name": "A", "action": {"kind": "publish", "topic": "t", "event": "e"}, "irreversible": true}]}`
}

func flowDoc(flows ...string) string {
	return `{"version": 1, "flows": [` + strings.Join(flows, ",") + `]}`
}

// dirFiles lists the names of the files in dir.
func dirFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func flowNames(e *Engine) []string {
	var out []string
	for _, f := range e.Flows() {
		out = append(out, f.Name)
	}
	return out
}

// dirEngine starts an engine whose flows directory is dir, loading it.
func dirEngine(t *testing.T, dir string) *Engine {
	t.Helper()
	e, err := New(Options{Store: store.NewMemory(), FlowsDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := e.LoadFlowsDir(); err != nil {
		t.Fatalf("loading %s: %v %v", dir, err, ds)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return e
}

// A flow document is checked whole before anything is written or
// registered: a refused PUT /flows writes no file and registers no flow,
// whatever flow of the document is refused, and an engine started again
// on the flows directory loads exactly what was accepted.
func TestRefusedFlowsChangeNothing(t *testing.T) {
	dir := t.TempDir()
	e := dirEngine(t, dir)
	c := apiClient{t, httptestServer(t, e)}
	if status, out := c.do("PUT", "/flows", flowDoc(rpcFlow("A", "A.Start"))); status != 200 {
		t.Fatalf("PUT A: %d %v", status, out)
	}
	refused := []struct {
		name, doc string
		status    int
		says      string
	}{
		{"rpc trigger of another flow", flowDoc(rpcFlow("B", "A.Start")), 409, `flow "B" cannot take rpc endpoint "A.Start": it starts flow "A"`},
		{"second flow's rpc trigger of another flow", flowDoc(rpcFlow("C", "C.Start"), rpcFlow("D", "A.Start")), 409, `flow "D" cannot take rpc endpoint "A.Start": it starts flow "A"`},
		{"two flows of the document on one endpoint", flowDoc(rpcFlow("E", "E.Start"), rpcFlow("F", "E.Start")), 400, `flow "F" cannot take rpc endpoint "E.Start": flow "E" has it`},
		{"a valid flow beside an invalid one", flowDoc(rpcFlow("G", "G.Start"), `{"name": "H", "steps": [{"name": "A", "action": {"kind": "go"}, "irreversible": true}]}`), 400, "no handler"},
		{"a flow name too long for a file", flowDoc(rpcFlow("L"+strings.Repeat("o", 299), "L.Start")), 400, "longer than 128"},
	}
	for _, tc := range refused {
		status, out := c.do("PUT", "/flows", tc.doc)
		if status != tc.status || !strings.Contains(mustString(t, out), tc.says) {
			t.Errorf("%s: %d %v, want %d saying %q", tc.name, status, out, tc.status, tc.says)
		}
		// A 409 says what the definition conflicts with, not runs in
		// progress when there are none.
		if strings.Contains(mustString(t, out), "runs in progress") {
			t.Errorf("%s: %v speaks of runs in progress", tc.name, out)
		}
		if got := flowNames(e); !slices.Equal(got, []string{"A"}) {
			t.Fatalf("%s: flows registered %v, want [A]", tc.name, got)
		}
		if got := dirFiles(t, dir); !slices.Equal(got, []string{"A.json"}) {
			t.Fatalf("%s: flows directory holds %v, want [A.json]", tc.name, got)
		}
	}
	// Moving the endpoint in the same document that takes it is no conflict.
	if status, out := c.do("PUT", "/flows", flowDoc(rpcFlow("A", "A.Begin"), rpcFlow("B", "A.Start"))); status != 200 {
		t.Fatalf("PUT A and B swapping the endpoint: %d %v", status, out)
	}
	e2 := dirEngine(t, dir)
	if got := flowNames(e2); !slices.Equal(got, []string{"A", "B"}) {
		t.Fatalf("after a restart: flows %v, want [A B]", got)
	}
	if got := dirFiles(t, dir); !slices.Equal(got, []string{"A.json", "B.json"}) {
		t.Fatalf("flows directory holds %v", got)
	}
}

// mustString is an answer's error and diagnostics as text.
func mustString(t *testing.T, v any) string {
	t.Helper()
	return fmt.Sprint(v)
}

// The flows directory is read, not rewritten, at start; a flow that a
// file of another name defines is changed in that file, not through the
// API (two files would then define it, and the next start would not know
// which); a flow two files define differently stops the load, naming both.
func TestFlowsDirOneFilePerFlow(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mine.json"), []byte(flowDoc(rpcFlow("A", "A.Start"), rpcFlow("B", "B.Start"))), 0o644); err != nil {
		t.Fatal(err)
	}
	e := dirEngine(t, dir)
	if got := dirFiles(t, dir); !slices.Equal(got, []string{"mine.json"}) {
		t.Fatalf("the load wrote into the flows directory: %v", got)
	}
	c := apiClient{t, httptestServer(t, e)}
	status, out := c.do("PUT", "/flows", flowDoc(rpcFlow("A", "A.Other")))
	if status != 409 || !strings.Contains(mustString(t, out), "mine.json") {
		t.Fatalf("PUT of a flow mine.json defines: %d %v", status, out)
	}
	// The same definition again changes nothing and is fine.
	if status, out := c.do("PUT", "/flows", flowDoc(rpcFlow("A", "A.Start"))); status != 200 {
		t.Fatalf("PUT of the same definition: %d %v", status, out)
	}
	if got := dirFiles(t, dir); !slices.Equal(got, []string{"mine.json"}) {
		t.Fatalf("flows directory holds %v", got)
	}

	if err := os.WriteFile(filepath.Join(dir, "other.json"), []byte(flowDoc(rpcFlow("A", "A.Other"))), 0o644); err != nil {
		t.Fatal(err)
	}
	e2, err := New(Options{Store: store.NewMemory(), FlowsDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := e2.LoadDir(dir)
	if msg := fmt.Sprint(ds); err == nil || !strings.Contains(msg, `flow "A" is also defined`) || !strings.Contains(msg, "mine.json") {
		t.Fatalf("LoadDir of a flow defined twice: %v\n%v", err, ds)
	}
}

// A service starts on a flows directory that does not exist yet (its first
// start): LoadFlowsDir makes it, and the flows the API then saves are there
// at the next start. Without FlowsDir it loads nothing and writes nothing.
func TestLoadFlowsDirFirstStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "flows")
	e := dirEngine(t, dir)
	// Made private, as the flows saved in it are (0600).
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("flows directory made: %v, %v; want mode 0700", fi, err)
	}
	c := apiClient{t, httptestServer(t, e)}
	if status, out := c.do("PUT", "/flows", flowDoc(rpcFlow("A", "A.Start"))); status != 200 {
		t.Fatalf("PUT /flows: %d %v", status, out)
	}
	// A write a crash cut short before its rename leaves a temporary file:
	// the next start removes it and loads what was accepted.
	stale := filepath.Join(dir, ".B.json.tmp4242")
	if err := os.WriteFile(stale, []byte(`{"version": 1, "flows": [{"na`), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := flowNames(dirEngine(t, dir)); !slices.Equal(got, []string{"A"}) {
		t.Fatalf("restarted on %s with flows %v, want [A]", dir, got)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the crash's temporary file is still there: %v", err)
	}

	bare, err := New(Options{Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := bare.LoadFlowsDir(); err != nil || len(ds) != 0 {
		t.Fatalf("LoadFlowsDir without FlowsDir: %v %v", ds, err)
	}
}

// failingBroker refuses consumers of one topic.
type failingBroker struct {
	Broker
	topic string
}

func (b failingBroker) Consume(ctx context.Context, name, topic, event string, h func(context.Context, Message) error) (func(), error) {
	if topic == b.topic {
		return nil, fmt.Errorf("no consumer for %s", topic)
	}
	return b.Broker.Consume(ctx, name, topic, event, h)
}

func eventFlow(name, topic string) string {
	return `{"name": "` + name + `", "triggers": [{"kind": "event", "topic": "` + topic + `", "event": "e"}],
	  "steps": [{"name": "A", "action": {"kind": "publish", "topic": "t", "event": "e"}, "irreversible": true}]}`
}

// What fails after the checks (saving a file, starting a trigger) undoes
// what was done: the files are as they were, and the flows too.
func TestLoadFailureUndoes(t *testing.T) {
	dir := t.TempDir()
	e, err := New(Options{Store: store.NewMemory(), FlowsDir: dir, Broker: failingBroker{NewMemoryBroker(), "down"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	c := apiClient{t, httptestServer(t, e)}
	if status, out := c.do("PUT", "/flows", flowDoc(rpcFlow("A", "A.Start"))); status != 200 {
		t.Fatalf("PUT A: %d %v", status, out)
	}
	saved, _ := os.ReadFile(filepath.Join(dir, "A.json"))

	// A.json replaced, then B.json cannot be written (a directory is there).
	if err := os.Mkdir(filepath.Join(dir, "B.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	status, out := c.do("PUT", "/flows", flowDoc(rpcFlow("A", "A.Again"), rpcFlow("B", "B.Start")))
	if status != 500 || strings.Contains(mustString(t, out), dir) {
		t.Fatalf("PUT with an unwritable file: %d %v, want 500 without the server's paths", status, out)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "A.json")); string(now) != string(saved) {
		t.Fatalf("A.json not restored:\n%s\nwant:\n%s", now, saved)
	}
	if err := os.Remove(filepath.Join(dir, "B.json")); err != nil {
		t.Fatal(err)
	}

	// The second flow's trigger cannot start: the first is not registered either.
	status, out = c.do("PUT", "/flows", flowDoc(eventFlow("C", "up"), eventFlow("D", "down")))
	if status != 500 {
		t.Fatalf("PUT with a trigger that cannot start: %d %v, want 500", status, out)
	}
	if got, want := out["error"], "the flows could not be loaded; nothing changed (see the server's log)"; got != want {
		t.Errorf("PUT with a trigger that cannot start answers %q, want %q", got, want)
	}
	if got := flowNames(e); !slices.Equal(got, []string{"A"}) {
		t.Fatalf("flows %v, want [A]", got)
	}
	if got := dirFiles(t, dir); !slices.Equal(got, []string{"A.json"}) {
		t.Fatalf("flows directory holds %v, want [A.json]", got)
	}
	if fe, _ := e.lookup("A"); !fe.hasRPC() || e.rpc["A.Start"] != fe {
		t.Fatalf("flow A lost its endpoint")
	}
}

// A document that changes several files leaves the flows directory
// loadable whatever point a crash interrupts it at: before the journal is
// written, with the old flows; after, with the new ones (LoadDir finishes
// the change). Here a new flow A takes flow B's rpc endpoint and B moves
// to another: A.json is written first, and a crash before B.json without
// the journal would leave an endpoint that starts two flows, and a
// directory that does not load.
func TestFlowsDirCrashMidChange(t *testing.T) {
	points := []string{"", "journal", "A.json", "B.json"}
	for k := range len(points) + 1 {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			dir := t.TempDir()
			e, err := New(Options{Store: store.NewMemory(), FlowsDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if ds, err := e.LoadFlows("b.json", []byte(flowDoc(rpcFlow("B", "X.Start")))); err != nil {
				t.Fatal(err, ds)
			}
			hit := ""
			crashPoint = func(p string) {
				if k < len(points) && p == points[k] {
					hit = p
					panic("crash at " + p)
				}
			}
			defer func() { crashPoint = func(string) {} }()
			func() {
				defer func() { _ = recover() }()
				_, _ = e.LoadFlows("ab.json", []byte(flowDoc(rpcFlow("A", "X.Start"), rpcFlow("B", "B.Start"))))
			}()
			crashPoint = func(string) {}
			if k < len(points) && hit != points[k] {
				t.Fatalf("no crash at %q", points[k])
			}
			e2 := dirEngine(t, dir)
			want, owner := []string{"A", "B"}, "A"
			if k == 0 { // before the journal: the change did not happen
				want, owner = []string{"B"}, "B"
			}
			if got := flowNames(e2); !slices.Equal(got, want) {
				t.Fatalf("after a crash at %q: flows %v, want %v", hit, got, want)
			}
			if fe, _ := e2.lookup(owner); e2.rpc["X.Start"] != fe {
				t.Fatalf("X.Start does not start %s", owner)
			}
			if got := dirFiles(t, dir); !slices.Contains(got, "B.json") || slices.Contains(got, FlowsJournal) {
				t.Fatalf("flows directory holds %v", got)
			}
		})
	}
}

// A change that fails at its first file for want of room (a full disk)
// must be undone without room too: the journal holds the change, and
// writing the old files back through a journal of their own fails as the
// change did. Left there, the journal made the next start define the flow
// that PUT /flows refused with a 500, "nothing changed".
func TestFlowsDirFullDiskUndone(t *testing.T) {
	dir := t.TempDir()
	e, err := New(Options{Store: store.NewMemory(), FlowsDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	c := apiClient{t, httptestServer(t, e)}
	if status, out := c.do("PUT", "/flows", flowDoc(rpcFlow("B", "B.Start"))); status != 200 {
		t.Fatalf("PUT B: %d %v", status, out)
	}
	// The disk fills once the journal of the change is written: no file
	// can be written from then on, the journal included.
	full := errors.New("no space left on device (injected)")
	journals := 0
	writeFile = func(path string, data []byte, perm fs.FileMode) error {
		if filepath.Base(path) == FlowsJournal {
			if journals++; journals == 1 {
				return atomicfile.WriteFile(path, data, perm)
			}
		}
		return full
	}
	defer func() { writeFile = atomicfile.WriteFile }()
	status, out := c.do("PUT", "/flows", flowDoc(rpcFlow("A", "A.Start")))
	writeFile = atomicfile.WriteFile
	if status != 500 {
		t.Fatalf("PUT A on a full disk: %d %v, want 500", status, out)
	}
	if got := dirFiles(t, dir); !slices.Equal(got, []string{"B.json"}) {
		t.Fatalf("after the refused PUT the flows directory holds %v, want [B.json]", got)
	}
	if got := flowNames(dirEngine(t, dir)); !slices.Equal(got, []string{"B"}) {
		t.Fatalf("the next start defines %v, want [B]: the refused change came back", got)
	}
	if journals == 0 {
		t.Fatal("the change's journal was never written: the test no longer fills the disk where it should")
	}
}

// A <Flow>.json its owner may not write (chmod 444) is not replaced
// (internal/atomicfile refuses it, as gofmt -w does): a change of it
// answers 500 and changes nothing, the flows written before it in the
// same change are restored, no journal is left, and the next start
// loads the flows as they were. Restoring must not write the read-only
// file again: it still holds what it held.
func TestFlowsDirReadOnlyFileChangesNothing(t *testing.T) {
	dir := t.TempDir()
	c := apiClient{t, httptestServer(t, dirEngine(t, dir))}
	if status, out := c.do("PUT", "/flows", flowDoc(rpcFlow("A", "A.Start"), rpcFlow("B", "B.Start"))); status != 200 {
		t.Fatalf("PUT A, B: %d %v", status, out)
	}
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		return string(b)
	}
	a, b := read("A.json"), read("B.json")
	if err := os.Chmod(filepath.Join(dir, "B.json"), 0o444); err != nil {
		t.Fatal(err)
	}
	// A.json is replaced first (the files go in name order), then B.json
	// is refused.
	if status, out := c.do("PUT", "/flows", flowDoc(rpcFlow("A", "A.Again"), rpcFlow("B", "B.Again"))); status != 500 {
		t.Fatalf("PUT over a read-only B.json: %d %v, want 500", status, out)
	}
	if read("A.json") != a || read("B.json") != b {
		t.Errorf("after the refused PUT: A.json\n%s\nB.json\n%s\nwant them as they were", read("A.json"), read("B.json"))
	}
	if got := dirFiles(t, dir); !slices.Equal(got, []string{"A.json", "B.json"}) {
		t.Fatalf("after the refused PUT the flows directory holds %v, want [A.json B.json] (no journal)", got)
	}
	if got := flowNames(dirEngine(t, dir)); !slices.Equal(got, []string{"A", "B"}) {
		t.Fatalf("the next start defines %v, want [A B]", got)
	}
	// Made writable, it is replaced.
	if err := os.Chmod(filepath.Join(dir, "B.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if status, out := c.do("PUT", "/flows", flowDoc(rpcFlow("A", "A.Again"), rpcFlow("B", "B.Again"))); status != 200 {
		t.Fatalf("PUT over a writable B.json: %d %v, want 200", status, out)
	}
}
