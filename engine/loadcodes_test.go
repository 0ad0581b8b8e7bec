package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/runtime/store"
)

// listFailingStore fails every List once fail is set.
type listFailingStore struct {
	*store.Memory
	fail atomic.Bool
}

func (s *listFailingStore) List(f store.Filter) ([]store.RunInfo, error) {
	if s.fail.Load() {
		return nil, errors.New("disk on fire")
	}
	return s.Memory.List(f)
}

// Each code of the flow service that docs/checks.md lists ("The flow
// service's codes") is given by the load it describes, at the flow or
// trigger it is about, and a conflict with the engine's state (marked so in
// the table) makes the load's error ErrConflict (409), any other error
// ErrInvalid (400).
func TestLoadServiceCodes(t *testing.T) {
	newEngine := func(t *testing.T, opts Options) *Engine {
		t.Helper()
		opts.Store = store.NewMemory()
		e, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close(context.Background()) })
		return e
	}
	mustLoad := func(t *testing.T, e *Engine, name, src string) {
		t.Helper()
		if ds, err := e.LoadFlows(name, []byte(src)); err != nil {
			t.Fatal(err, ds)
		}
	}
	const goFlow = `{"version": 1, "flows": [{"name": "Audit", "steps": [{"name": "Check", "action": {"kind": "go"}, "irreversible": true}]}]}`
	tests := []struct {
		name string
		load func(t *testing.T) (diag.List, error)
		want []string
		err  error
	}{
		{
			name: "no-caller",
			load: func(t *testing.T) (diag.List, error) {
				e := newEngine(t, Options{})
				return e.LoadFlows("a.json", []byte(flowDoc(`{"name": "A", "steps": [{"name": "Call", "action": {"kind": "rpc", "service": "s", "endpoint": "S.Do"}, "irreversible": true}]}`)))
			},
			want: []string{`a.json:$.flows[0].name: error no-caller: flow "A" calls services (rpc), but the engine has no Caller`},
			err:  ErrInvalid,
		},
		{
			name: "rpc-taken",
			load: func(t *testing.T) (diag.List, error) {
				e := newEngine(t, Options{})
				mustLoad(t, e, "a.json", flowDoc(rpcFlow("A", "A.Start")))
				return e.LoadFlows("b.json", []byte(flowDoc(rpcFlow("B", "A.Start"))))
			},
			want: []string{`b.json:$.flows[0].triggers[0].endpoint: error rpc-taken: flow "B" cannot take rpc endpoint "A.Start": it starts flow "A"`},
			err:  ErrConflict,
		},
		{
			name: "flow-exists",
			load: func(t *testing.T) (diag.List, error) {
				e := newEngine(t, Options{})
				if err := Register(e, newGenHello(t, e)); err != nil {
					t.Fatal(err)
				}
				return e.LoadFlows("hello.json", []byte(flowDoc(rpcFlow("Hello", "Other.Start"))))
			},
			want: []string{`hello.json:$.flows[0].name: error flow-exists: flow "Hello" is a generated flow registered in this engine`},
			err:  ErrConflict,
		},
		{
			name: "flow-file",
			load: func(t *testing.T) (diag.List, error) {
				dir := t.TempDir()
				if err := os.WriteFile(filepath.Join(dir, "mine.json"), []byte(flowDoc(rpcFlow("A", "A.Start"))), 0o644); err != nil {
					t.Fatal(err)
				}
				e := dirEngine(t, dir)
				return e.LoadFlows("put.json", []byte(flowDoc(rpcFlow("A", "A.Other"))))
			},
			want: []string{`put.json:$.flows[0].name: error flow-file: flow "A" is defined in mine.json of the flows directory`},
			err:  ErrConflict,
		},
		{
			name: "flow-defined-twice",
			load: func(t *testing.T) (diag.List, error) {
				dir := t.TempDir()
				for name, endpoint := range map[string]string{"a.json": "A.Start", "b.json": "A.Other"} {
					if err := os.WriteFile(filepath.Join(dir, name), []byte(flowDoc(rpcFlow("A", endpoint))), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return newEngine(t, Options{}).LoadDir(dir)
			},
			want: []string{`b.json:$.flows[0].name: error flow-defined-twice: flow "A" is also defined in a.json, differently`},
			err:  ErrInvalid,
		},
		{
			// A warning: the flow loads, and waits for a provider.
			name: "no-provider and provider-outcomes",
			load: func(t *testing.T) (diag.List, error) {
				_, e, srv := remoteFixture(t, ProviderOptions{})
				if status, out := putProvider(t, srv, "billing", `{"handlers": [{"name": "Check", "outcomes": ["declined"], "url": "http://127.0.0.1:9/c"}]}`); status != 200 {
					t.Fatalf("register: %d %s", status, out)
				}
				return e.LoadFlows("audit.json", []byte(goFlow))
			},
			want: []string{
				`audit.json:$.flows[0].steps[0].name: warning provider-outcomes: provider "billing" serves "Check" with outcomes ["declined"], but Go step "Check" of flow "Audit" declares none (ok only)`,
				`audit.json:$.flows[0].steps[0].name: warning no-provider: no provider serves Go step "Check" of flow "Audit" yet`,
			},
		},
		{
			name: "runs-in-progress",
			load: func(t *testing.T) (diag.List, error) {
				fx := newFixture(t)
				e := fx.start()
				t.Cleanup(fx.stop)
				id, err := e.StartRun(context.Background(), "Signup", nil, "r-1")
				if err != nil {
					t.Fatal(err)
				}
				waitParked(t, e, id)
				renamed := strings.ReplaceAll(string(readTestdata(t, "signup.json")), "AwaitPayment", "WaitForPayment")
				return e.LoadFlows("signup.json", []byte(renamed))
			},
			want: []string{`signup.json:$.flows[0].name: error runs-in-progress: the new definition of flow "Signup" does not fit run "r-1" in progress`},
			err:  ErrConflict,
		},
		{
			// Replacing a flow lists its runs in progress; a store that
			// cannot list them refuses the replacement (400: not a
			// conflict, the store may answer next time).
			name: "store",
			load: func(t *testing.T) (diag.List, error) {
				st := &listFailingStore{Memory: store.NewMemory()}
				e, err := New(Options{Store: st})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = e.Close(context.Background()) })
				mustLoad(t, e, "a.json", flowDoc(rpcFlow("A", "A.Start")))
				st.fail.Store(true)
				return e.LoadFlows("a.json", []byte(flowDoc(rpcFlow("A", "A.Other"))))
			},
			want: []string{`a.json:$.flows[0].name: error store: listing runs of flow "A": disk on fire`},
			err:  ErrInvalid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := tt.load(t)
			if tt.err == nil && err != nil || tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("load: %v, want %v", err, tt.err)
			}
			var got []string
			for _, d := range ds {
				// The message up to its first colon past the code: what
				// follows (a hint's wording, a provider's note) is tested
				// where the check is.
				p := d.Range.Start
				p.File = filepath.Base(p.File) // LoadDir's are paths in a temporary directory
				s := p.String() + ": " + d.Severity.String() + " " + d.Code + ": " + d.Message
				for _, w := range tt.want {
					if strings.HasPrefix(s, w) {
						s = w
					}
				}
				got = append(got, s)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}
