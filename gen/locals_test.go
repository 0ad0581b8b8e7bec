package gen

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
)

// localWords are the names of the generated code's parameters and local
// variables (see flowGen.local), and undoCall, the variable an rpc
// rollback of step Call used to be built in. A lower-case state type may
// have any of these names.
var localWords = []string{
	"c", "ctx", "err", "f", "h", "history", "opts", "out", "p", "req", "rsp", "runID", "runs", "s",
	"st", "state", "states", "steps", "retry", "svc", "undoCall",
	"branches", "dst", "src",
}

// everyLocalFlow is a flow whose generated code declares every kind of
// local: the flow's retry policy variable, an rpc step with an rpc
// rollback, a correlated await, a publication, and a Go step with declared
// outcomes and a Go rollback, and a parallel block whose branches merge
// what they write. %s are the flow's name and its state type.
const everyLocalFlow = `flow %s {
    state %s
    retry 2 backoff 1ms..2ms
    timeout 1s

    step Call {
        rpc svc "Svc.Call" (In) -> Out
        rollback rpc svc "Svc.Undo" (Out) -> In
        publish svc "called" (Out)
    }
    step Wait {
        await svc "ready" -> Payload correlate Out timeout 1h
        irreversible
    }
    parallel Both {
        step Left {
            writes In
            irreversible
        }
    }
    step Decide {
        outcomes yes, no
        rollback Undecide
        on yes -> done
        on no -> fail
    }
}
`

// localFlowName is the flow whose state type is word: "L" and the word
// with an upper-case first letter.
func localFlowName(word string) string { return "L" + strings.ToUpper(word[:1]) + word[1:] }

// generateLocals generates one file with a flow per state type name.
func generateLocals(t *testing.T, states ...string) []byte {
	t.Helper()
	var src strings.Builder
	for _, w := range states {
		fmt.Fprintf(&src, everyLocalFlow, localFlowName(w), w)
	}
	f, ds := flowfile.Load("locals.flow", []byte(src.String()), dsl.CheckOptions{})
	if ds.HasErrors() {
		t.Fatalf("locals.flow does not check: %v", ds)
	}
	out, err := Generate(f, Options{Package: "main", Source: "locals.flow", Types: syntheticTypes(f)})
	if err != nil {
		t.Fatal(err)
	}
	return out["locals_flow.go"]
}

// declaredLocals returns every name the file declares inside functions:
// receivers, parameters, results, := and var declarations.
func declaredLocals(t *testing.T, src []byte) []string {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), "locals_flow.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	fields := func(fl *ast.FieldList) {
		if fl == nil {
			return
		}
		for _, f := range fl.List {
			for _, n := range f.Names {
				seen[n.Name] = true
			}
		}
	}
	for _, d := range file.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok {
			continue
		}
		fields(fd.Recv)
		ast.Inspect(fd, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncType:
				fields(n.Params)
				fields(n.Results)
			case *ast.AssignStmt:
				if n.Tok == token.DEFINE {
					for _, l := range n.Lhs {
						if id, ok := l.(*ast.Ident); ok {
							seen[id.Name] = true
						}
					}
				}
			case *ast.ValueSpec:
				for _, id := range n.Names {
					seen[id.Name] = true
				}
			}
			return true
		})
	}
	delete(seen, "_")
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// TestLocalsListed: every local the generated code declares is one of
// localWords, so TestStateNamedLikeALocal covers it. A new local that
// fails here belongs in localWords.
func TestLocalsListed(t *testing.T) {
	for _, c := range append(goldenCases(t), goldenCase{name: "locals"}) {
		var src []byte
		if c.name == "locals" {
			src = generateLocals(t, "LocalsState")
		} else {
			src = c.generate(t)
		}
		for _, n := range declaredLocals(t, src) {
			// A callee's parameter is its flow's name, lower-cased, and
			// "Flow" (gen/call.go): no fixed word ends so.
			if !slices.Contains(localWords, n) && !(strings.HasSuffix(n, "Flow") && strings.Contains(string(src), "runtime.MissingCallee(")) {
				t.Errorf("%s: the generated code declares local %q, which is not in localWords", c.name, n)
			}
		}
	}
	// A state type named like a local renames that local and nothing else.
	got := declaredLocals(t, generateLocals(t, "h"))
	if !slices.Contains(got, "h_") || slices.Contains(got, "h") {
		t.Errorf("state type h: locals %v, want h_ instead of h", got)
	}
}

// TestStateNamedLikeALocal generates, for a state type named like each
// local of the generated code, a flow using every construct, then builds
// and runs a program that takes each flow to its end: a local that
// shadowed the state type would not compile.
func TestStateNamedLikeALocal(t *testing.T) {
	m := newGoldenModule(t)
	m.write(t, "locals/locals_flow.go", string(generateLocals(t, localWords...)))

	var prog strings.Builder
	prog.WriteString(`// Command locals runs one flow per state type named like a local of the
// generated code.
package main

import (
	"context"
	"encoding/json"

	"goldens/check"

	"github.com/flowgen/flowgen/runtime"
)

// Payload is the payload of svc/ready.
type Payload struct {
	CorrelationID string ` + "`json:\"correlation_id\"`" + `
}

// xcaller serves the rpc steps, through each flow's port adapters.
var xcaller = func() *runtime.MemoryCaller {
	caller := runtime.NewMemoryCaller()
	caller.Handle("svc", "Svc.Call", func(context.Context, json.RawMessage) (any, error) { return "out", nil })
	caller.Handle("svc", "Svc.Undo", func(context.Context, json.RawMessage) (any, error) { return "in", nil })
	return caller
}()

func services() []runtime.Option {
	bus := runtime.NewMemoryBus()
	// One payload for each of the two runs of a flow.
	for range 2 {
		_ = bus.Publish(context.Background(), "svc", "ready", Payload{CorrelationID: "out"})
	}
	return []runtime.Option{runtime.WithPublisher(bus), runtime.WithSubscriber(bus), runtime.WithSink(runtime.NewMemorySink())}
}

// The program's own locals start with x: none is a state type's name.
func main() {
	xctx := context.Background()
`)
	var decls strings.Builder
	for _, w := range localWords {
		fl := localFlowName(w)
		fmt.Fprintf(&decls, `
type %[1]s struct {
	In, Out string
	Payload Payload
}

type impl%[2]s struct{}

func (impl%[2]s) Decide(_ context.Context, s *%[1]s) (%[2]sDecideOutcome, error) {
	if s.In == "no" {
		return %[2]sDecideOutcomeNo, nil
	}
	return %[2]sDecideOutcomeYes, nil
}

func (impl%[2]s) Undecide(context.Context, *%[1]s) error { return nil }

func (impl%[2]s) Left(context.Context, *%[1]s) error { return nil }
`, w, fl)
		// One run to done, and one that fails in Decide and rolls Call
		// back through its rpc rollback (which writes In).
		fmt.Fprintf(&prog, `	{
		xf, xerr := New%[2]sFlow(impl%[2]s{}, %[2]sServicesFromCaller(xcaller), services()...)
		check.Equal("%[2]s: constructor error", xerr, nil)
		xres, xerr := xf.Execute(xctx, %[1]s{In: "yes"})
		check.Equal("%[2]s: done error", xerr, nil)
		check.Equal("%[2]s: done state", xres.State.Out+"/"+xres.State.Payload.CorrelationID, "out/out")
		xres, _ = xf.Execute(xctx, %[1]s{In: "no"})
		check.Equal("%[2]s: rejected", string(xres.Final), string(runtime.StateCompensated))
		check.Equal("%[2]s: rolled back", xres.State.In, "in")
		xst, xerr := xf.State(xctx, xres.RunID)
		check.Equal("%[2]s: State error", xerr, nil)
		check.Equal("%[2]s: State", xst.In, "in")
		xh, xerr := xf.History(xctx, xres.RunID)
		check.Equal("%[2]s: History error", xerr, nil)
		// pending→Call, Call→Wait:waiting, the wake-up, Wait→Both, Left's
		// start and end, Both→Decide, Decide→failing, two rollbacks out
		// and back, compensated.
		check.Equal("%[2]s: History", len(xh), 13)
	}
`, w, fl)
	}
	prog.WriteString(`	println("ok")
}
`)
	prog.WriteString(decls.String())
	m.write(t, "locals/main.go", prog.String())

	if out, err := m.goCmd("vet", "./locals"); err != nil {
		t.Fatalf("go vet: %v\n%s", err, out)
	}
	bin := filepath.Join(m.dir, "locals.bin")
	if out, err := m.goCmd("build", "-o", bin, "./locals"); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// A guard against a hang (a run waiting for an event that never
	// comes), not a measure of time.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("locals: %v\n%s", err, out)
	}
}
