package gen

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"go/types"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/dsl/flowfile"
)

// TestImports: the generated code imports the packages of targetImports,
// each under its package's name; in case imports, whose package declares
// context, runtime and time, under those names with a number appended.
func TestImports(t *testing.T) {
	renamed := map[string]map[string]string{
		"imports": {contextPkg: "context1", runtimePkg: "runtime1", timePkg: "time1"},
	}
	imports := targetImports(TargetRuntime)
	for _, c := range goldenCases(t) {
		f, err := parser.ParseFile(token.NewFileSet(), "want.go", c.generate(t), parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range f.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			if !slices.ContainsFunc(imports, func(i goImport) bool { return i.path == path }) {
				t.Errorf("%s imports %s, not one of targetImports", c.name, im.Path.Value)
			}
			want, got := renamed[c.name][path], ""
			if im.Name != nil {
				got = im.Name.Name
			}
			if got != want {
				t.Errorf("%s imports %s as %q, want %q", c.name, im.Path.Value, got, want)
			}
		}
	}
}

// TestImportNames: an import whose name something of the package has, or
// that another import took first, gets the first free name with a number
// appended. Without the loaded package, the state type is still known.
func TestImportNames(t *testing.T) {
	taken := func(name string) bool { return name == "time" || name == "time1" || name == "runtime" }
	got := importNames([]goImport{{contextPkg, "context"}, {runtimePkg, "runtime"}, {timePkg, "time"}, {"example.com/a/time", "time"}}, taken)
	want := map[string]string{contextPkg: "context", runtimePkg: "runtime1", timePkg: "time2", "example.com/a/time": "time3"}
	if !maps.Equal(got, want) {
		t.Errorf("importNames = %v, want %v", got, want)
	}

	f, ds := flowfile.Load("x.flow", []byte("flow F {\n    state runtime\n    step A { irreversible }\n}\n"), dsl.CheckOptions{})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	out, err := Generate(f, Options{Package: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if src := string(out["x_flow.go"]); !strings.Contains(src, "\truntime1 \"github.com/flowgen/flowgen/runtime\"\n") || !strings.Contains(src, "*runtime1.Flow[runtime]") {
		t.Errorf("state type runtime: the runtime package is not imported as runtime1:\n%s", src)
	}
}

// TestHeader: the generated-code line first (Go's convention, and what
// dsl's package loader looks for), then the source's base name only.
func TestHeader(t *testing.T) {
	src := []byte("flow F {\n    state S\n    step A { irreversible }\n}\n")
	f, ds := flowfile.Load("F.flow", src, dsl.CheckOptions{})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	out, err := Generate(f, Options{Package: "p", Source: filepath.Join("some", "dir", "orders.flow")})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := out["orders_flow.go"]
	if !ok {
		t.Fatalf("files %v, want orders_flow.go", keys(out))
	}
	want := dsl.GeneratedHeader + "\n// Source: orders.flow\n\npackage p\n"
	if !strings.HasPrefix(string(got), want) {
		t.Errorf("file starts\n%s\nwant\n%s", string(got)[:min(len(got), len(want)+20)], want)
	}
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{
		"signup.flow": "signup_flow.go", "a/b/signup.flow": "signup_flow.go",
		"flows.json": "flows_flow.go", "noext": "noext_flow.go", "x.y.flow": "x.y_flow.go",
	} {
		if got := FileName(in); got != want {
			t.Errorf("FileName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestGenerateRefuses: models Generate cannot turn into code that compiles
// give an error, never a panic or broken code.
func TestGenerateRefuses(t *testing.T) {
	load := func(src string) *dsl.File {
		t.Helper()
		f, _ := flowfile.Load("x.flow", []byte(src), dsl.CheckOptions{})
		if f == nil {
			t.Fatalf("no model for %q", src)
		}
		return f
	}
	ok := "flow F {\n    state S\n    step A { irreversible }\n}\n"
	for _, tc := range []struct {
		name string
		f    *dsl.File
		opts Options
		want string
	}{
		{"nil file", nil, Options{Package: "p"}, "no file"},
		{"no package", load(ok), Options{}, "package name"},
		{"bad package", load(ok), Options{Package: "a-b"}, "package name"},
		{"no source", &dsl.File{Flows: load(ok).Flows}, Options{Package: "p"}, "no source"},
		{"bad state", &dsl.File{Name: "x.flow", Flows: []*dsl.Flow{{Name: "F", State: &dsl.Ident{Name: "a-b"}, Steps: load(ok).Flows[0].Steps}}}, Options{Package: "p"}, `state type "a-b"`},
		{"no steps", load("flow F {\n    state S\n}\n"), Options{Package: "p"}, "no steps"},
		{"predeclared state", &dsl.File{Name: "x.flow", Flows: []*dsl.Flow{{Name: "F", State: &dsl.Ident{Name: "any"}, Steps: load(ok).Flows[0].Steps}}}, Options{Package: "p"}, `state type "any"`},
		{"undefined target", load("flow F {\n    state S\n    step A { on ok -> B irreversible }\n}\n"), Options{Package: "p"}, `unknown step "B"`},
		{"lower-case step", load("flow F {\n    state S\n    step a { irreversible }\n}\n"), Options{Package: "p"}, `step name "a"`},
		{"nil flow", &dsl.File{Name: "x.flow", Flows: []*dsl.Flow{nil}}, Options{Package: "p"}, "nil"},
		{"unknown kind", &dsl.File{Name: "x.flow", Flows: []*dsl.Flow{{Name: "F", Steps: []*dsl.Step{{Name: "A", Action: &dsl.Action{Kind: "teleport"}}}}}}, Options{Package: "p"}, `unknown kind "teleport"`},
		{"rollback of a kind that cannot undo", &dsl.File{Name: "x.flow", Flows: []*dsl.Flow{{Name: "F", Steps: []*dsl.Step{{Name: "A", Rollback: &dsl.Rollback{Action: &dsl.Action{Kind: dsl.ActionPublish, Topic: "t", Event: "e"}}}}}}}, Options{Package: "p"}, "a rollback is a Go method or an action of kind rpc, call, not publish"},
		{"sleep without a time", &dsl.File{Name: "x.flow", Flows: []*dsl.Flow{{Name: "F", Steps: []*dsl.Step{{Name: "A", Action: &dsl.Action{Kind: dsl.ActionSleep}}}}}}, Options{Package: "p"}, `sleep in step "A" waits no time`},
		{"sleep until a field that is not a Go identifier", &dsl.File{Name: "x.flow", Flows: []*dsl.Flow{{Name: "F", State: &dsl.Ident{Name: "S"}, Steps: []*dsl.Step{{Name: "A", Action: &dsl.Action{Kind: dsl.ActionSleep, Until: &dsl.Ident{Name: "a-b"}}}}}}}, Options{Package: "p"}, `state field "a-b" is not a Go identifier`},
		{"rpc without endpoint", &dsl.File{Name: "x.flow", Flows: []*dsl.Flow{{Name: "F", Steps: []*dsl.Step{{Name: "A", Action: &dsl.Action{Kind: dsl.ActionRPC, Service: "s"}}}}}}, Options{Package: "p"}, "its action without service or endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Generate(tc.f, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Generate = %d files, %v; want an error containing %q", len(out), err, tc.want)
			}
		})
	}
}

// TestGenerateRefusesWhatCheckReports: for a malformed condition or sleep,
// which only a model built in Go can have, Generate refuses with the first
// diagnostic Check reports (dsl.CondProblems, dsl.SleepProblem: the rules'
// one home), word for word, and refuses nothing Check lets through.
func TestGenerateRefusesWhatCheckReports(t *testing.T) {
	field := func(name string) *dsl.Ident { return &dsl.Ident{Name: name} }
	cmp := func(f string, op dsl.CondOp, v *dsl.Literal) *dsl.Cond {
		return &dsl.Cond{Op: op, Field: field(f), Value: v}
	}
	num := &dsl.Literal{Kind: dsl.LitNumber, Text: "1"}
	yes := &dsl.Literal{Kind: dsl.LitBool, Text: "true"}
	choose := func(c *dsl.Cond) *dsl.Action {
		return &dsl.Action{Kind: dsl.ActionChoose, When: []*dsl.Branch{{When: c, Target: field(dsl.TargetDone)}}, Otherwise: field(dsl.TargetFail)}
	}
	sleep := func(d time.Duration, until *dsl.Ident) *dsl.Action {
		return &dsl.Action{Kind: dsl.ActionSleep, Duration: dsl.Duration(d), Until: until}
	}
	for _, tc := range []struct {
		name string
		a    *dsl.Action
		bad  bool
	}{
		{"no condition", choose(nil), true},
		{"and of one", choose(&dsl.Cond{Op: dsl.CondAnd, Args: []*dsl.Cond{cmp("N", dsl.CondEq, num)}}), true},
		{"not of two", choose(&dsl.Cond{Op: dsl.CondNot, Args: []*dsl.Cond{{Op: dsl.CondField, Field: field("B")}, {Op: dsl.CondField, Field: field("C")}}}), true},
		{"empty field under or", choose(&dsl.Cond{Op: dsl.CondOr, Args: []*dsl.Cond{{Op: dsl.CondField, Field: field("B")}, cmp(" ", dsl.CondEq, num)}}), true},
		{"no value", choose(cmp("N", dsl.CondGe, nil)), true},
		{"ordered booleans", choose(cmp("B", dsl.CondLt, yes)), true},
		{"unknown operator", choose(&dsl.Cond{Op: "~", Field: field("N"), Value: num}), true},
		{"a good condition", choose(&dsl.Cond{Op: dsl.CondAnd, Args: []*dsl.Cond{cmp("N", dsl.CondGe, num), {Op: dsl.CondNot, Args: []*dsl.Cond{cmp("B", dsl.CondEq, yes)}}}}), false},
		{"sleep no time", sleep(0, nil), true},
		{"sleep both", sleep(time.Hour, field("At")), true},
		{"sleep until an empty field", sleep(0, field(" ")), true},
		{"sleep a duration", sleep(time.Hour, nil), false},
		{"sleep until a field", sleep(0, field("At")), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &dsl.File{Name: "x.flow", Flows: []*dsl.Flow{{Name: "F", State: field("S"), Steps: []*dsl.Step{{Name: "A", Action: tc.a}}}}}
			var first *diag.Diagnostic
			for _, d := range dsl.Check(f, dsl.CheckOptions{}) {
				if d.Severity == diag.Error {
					first = &d
					break
				}
			}
			_, err := Generate(f, Options{Package: "p", Types: syntheticTypes(f)})
			switch {
			case !tc.bad && first != nil:
				t.Fatalf("Check reports %s: %s", first.Code, first.Message)
			case !tc.bad && err != nil:
				t.Errorf("Generate refuses what Check lets through: %v", err)
			case tc.bad && first == nil:
				t.Fatalf("Check reports no error")
			case tc.bad && (err == nil || err.Error() != `gen: flow "F": `+first.Message):
				t.Errorf("Generate = %v; want the error of Check's first diagnostic, %q", err, first.Message)
			}
		})
	}
}

// TestGenerateRefusesStateTypeAsCheck: a state type generated code cannot
// use is refused with Check's diagnostic (dsl.StateTypeProblem), word for
// word.
func TestGenerateRefusesStateTypeAsCheck(t *testing.T) {
	for _, name := range []string{"a-b", "func", "any"} {
		f := &dsl.File{Name: "x.flow", Flows: []*dsl.Flow{{Name: "F", State: &dsl.Ident{Name: name},
			Steps: []*dsl.Step{{Name: "A", Irreversible: true}}}}}
		var want string
		for _, d := range dsl.Check(f, dsl.CheckOptions{}) {
			if d.Code == "name" {
				want = `gen: flow "F": ` + d.Message
				break
			}
		}
		if want == "" {
			t.Fatalf("state %q: Check reports no name error", name)
		}
		if _, err := Generate(f, Options{Package: "p"}); err == nil || err.Error() != want {
			t.Errorf("state %q: Generate = %v; want %q", name, err, want)
		}
	}
}

// TestEveryCorpusFlow generates every .flow and .json of the repository's
// test corpus: a file that checks without errors generates Go that parses
// and declares exactly the names dsl.Names lists; any other file gives a
// result or an error, never a panic.
func TestEveryCorpusFlow(t *testing.T) {
	var paths []string
	for _, pattern := range []string{"../testdata/*/*/*.flow", "../testdata/*/*/*.json", "testdata/*/input.flow", "../examples/*/*.flow"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	if len(paths) < 20 {
		t.Fatalf("only %d corpus files", len(paths))
	}
	clean := 0
	for _, path := range paths {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, ds := flowfile.Load(filepath.Base(path), src, dsl.CheckOptions{})
		out, err := Generate(f, Options{Package: "p", Types: syntheticTypes(f)})
		if ds.HasErrors() || f == nil {
			continue // only: no panic
		}
		clean++
		if err != nil {
			t.Errorf("%s checks clean but does not generate: %v", path, err)
			continue
		}
		for name, code := range out {
			checkDecls(t, path, name, code, f, TargetRuntime)
			checkPredeclared(t, path, name, code)
		}
		// The Temporal target declares more names, which dsl.Names lists
		// with that target.
		if f, ds := flowfile.Load(filepath.Base(path), src, dsl.CheckOptions{Target: TargetTemporal}); !ds.HasErrors() {
			out, err := Generate(f, Options{Package: "p", Types: syntheticTypes(f), Target: TargetTemporal})
			if err != nil {
				t.Errorf("%s checks clean for Temporal but does not generate: %v", path, err)
				continue
			}
			for name, code := range out {
				checkDecls(t, path, name, code, f, TargetTemporal)
				checkPredeclared(t, path, name, code)
			}
		}
	}
	if clean < 10 {
		t.Errorf("only %d corpus files check clean", clean)
	}
}

// checkPredeclared fails when code, generated over syntheticTypes (whose
// fields are strings, a type dsl.GeneratedPredeclared has), names a
// predeclared identifier that dsl.GeneratedPredeclared does not list: the
// Go package checks would not report a package that hides it
// (dsl/gocheck's TestDeclaredPredeclared).
func checkPredeclared(t *testing.T, path, name string, code []byte) {
	t.Helper()
	af, err := parser.ParseFile(token.NewFileSet(), name, code, 0)
	if err != nil {
		return // checkDecls reports it
	}
	for _, id := range af.Unresolved {
		if types.Universe.Lookup(id.Name) != nil && !slices.Contains(dsl.GeneratedPredeclared, id.Name) {
			t.Errorf("%s: the generated %s names the predeclared %s, which dsl.GeneratedPredeclared does not list", path, name, id.Name)
		}
	}
}

// checkDecls parses code generated for target and compares its
// package-level names with the ones dsl.Names promises (Check verifies
// those do not collide).
func checkDecls(t *testing.T, path, name string, code []byte, f *dsl.File, target string) {
	t.Helper()
	af, err := parser.ParseFile(token.NewFileSet(), name, code, parser.ParseComments)
	if err != nil {
		t.Errorf("%s: generated code does not parse: %v", path, err)
		return
	}
	var got []string
	for _, d := range af.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				got = append(got, d.Name.Name)
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					got = append(got, s.Name.Name)
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.Name != "_" {
							got = append(got, n.Name)
						}
					}
				}
			}
		}
	}
	var want []string
	for _, fl := range f.Flows {
		for _, id := range fl.GoNamesFor(target).Identifiers() {
			want = append(want, id.Name)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: package-level names generated for %s\n%v\nwant (dsl.Names)\n%v", path, target, got, want)
	}
}

// FuzzGenerate: whatever the input, Generate does not panic, and an input
// that checks without errors, for either target, generates Go that parses,
// declares exactly the names dsl.Names lists, is gofmt-formatted and is the
// same Go every time (Generate's promise: CI and `gofmt -l` would flag the
// generated file otherwise). Seeds: the corpus of TestEveryCorpusFlow.
//
//	go test ./gen -run '^$' -fuzz FuzzGenerate
func FuzzGenerate(f *testing.F) {
	for _, pattern := range []string{"../testdata/flows/*/*.flow", "testdata/*/input.flow", "../examples/*/*.flow"} {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			if src, err := os.ReadFile(p); err == nil {
				f.Add(src)
			}
		}
	}
	// Blocks in every position: first, last, routed to, looping.
	f.Add([]byte("flow A { state S parallel P { step B { writes X irreversible } step C { rpc s \"E\" (X) -> Y irreversible } on ok -> P on error -> Q } parallel Q { step D { irreversible } } }"))
	f.Fuzz(func(t *testing.T, src []byte) {
		for _, target := range []string{TargetRuntime, TargetTemporal} {
			file, ds := flowfile.Load("fuzz.flow", src, dsl.CheckOptions{Target: target})
			opts := Options{Package: "p", Types: syntheticTypes(file), Target: target}
			out, err := Generate(file, opts)
			if ds.HasErrors() || file == nil || unexportedMember(file) {
				continue
			}
			if err != nil {
				t.Fatalf("checks clean for %s but does not generate: %v\n%s", target, err, src)
			}
			again, err := Generate(file, opts)
			if err != nil || !maps.EqualFunc(out, again, bytes.Equal) {
				t.Fatalf("%s: a second Generate gave other code (%v)\n%s", target, err, src)
			}
			for name, code := range out {
				checkDecls(t, "fuzz.flow", name, code, file, target)
				if gofmt, err := format.Source(code); err == nil && !bytes.Equal(gofmt, code) {
					t.Fatalf("%s: %s is not gofmt-formatted\n%s", target, name, src)
				}
			}
		}
	})
}

// unexportedMember reports whether a condition of f reads an unexported
// member (`when Customer.tier`): the Go package checks refuse it
// (state-field-unexported), and FuzzGenerate runs without them, on
// synthetic types whose members gen cannot name from outside.
func unexportedMember(f *dsl.File) bool {
	for _, fl := range f.Flows {
		if fl == nil {
			continue
		}
		for _, ref := range fl.FieldRefs() {
			if ref.Cond == nil {
				continue
			}
			for _, m := range ref.Cond.Members {
				if m != nil && !token.IsExported(m.Name) {
					return true
				}
			}
		}
	}
	return false
}

// The Go rollback of a sleep or call step, which may not have a
// `timeout`, takes the flow's (dsl.RollbackTimeoutFor): before, the
// generated step had no RollbackTimeout, so its rollback could run for
// ever. A `rollback call` of a call step takes none: the child's steps
// bound it.
func TestWaitingStepRollbackTakesFlowTimeout(t *testing.T) {
	src := `flow F {
    state S
    timeout 10s

    step Nap {
        sleep 1h
        rollback Wake
    }

    step Bill {
        call G (In) -> Out
        rollback Void
    }

    step Refund {
        call G (In) -> Out
        rollback call G (Out)
        on ok -> done
    }
}

flow G {
    state T

    step A { irreversible }
}
`
	f, ds := flowfile.Load("f.flow", []byte(src), dsl.CheckOptions{})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	out, err := Generate(f, Options{Package: "p"})
	if err != nil {
		t.Fatal(err)
	}
	code := string(out["f_flow.go"])
	for _, step := range []string{"FStepNap", "FStepBill", "FStepRefund"} {
		i := strings.Index(code, "("+step+",")
		if i < 0 {
			t.Fatalf("no step %s in\n%s", step, code)
		}
		rest := code[i:]
		if j := strings.Index(rest, "steps = append(steps, st)"); j >= 0 {
			rest = rest[:j]
		}
		got := strings.Contains(rest, "st.RollbackTimeout = 10 * time.Second")
		if want := step != "FStepRefund"; got != want {
			t.Errorf("%s: RollbackTimeout of the flow's 10s written %v, want %v:\n%s", step, got, want, rest)
		}
	}
}

// TestCorrelateWithoutTypes: without the package's types (-nopkg) the
// generator cannot tell a string field from an integer one, so it reads the
// correlation field through runtime.CorrelationValue, which is right for
// both and does not compile for a field it cannot read. string(s.N) of an
// integer compiled, a rune that no event's member matched.
func TestCorrelateWithoutTypes(t *testing.T) {
	src := []byte("flow F {\n    state S\n    step A { await t \"e\" correlate N on n timeout 1h }\n}\n")
	f, ds := flowfile.Load("f.flow", src, dsl.CheckOptions{})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	out, err := Generate(f, Options{Package: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out["f_flow.go"]); !strings.Contains(got, "return runtime.CorrelationValue(s.N) }") {
		t.Errorf("the correlation field is not read through runtime.CorrelationValue:\n%s", got)
	}
}

// TestGenerateRefusesKeywordFieldAtIt: a state field or a condition's
// member named with a Go keyword (dsl.FieldNameProblem) is refused at the
// name, with a position, when no Go package tells that the state has no
// such field (gen -nopkg); gen failed with no position.
func TestGenerateRefusesKeywordFieldAtIt(t *testing.T) {
	for _, tc := range []struct{ body, at string }{
		{"choose {\n when func == 1 -> done\n otherwise -> done }", "5:7"},
		{"choose {\n when X.type == 1 -> done\n otherwise -> done }", "5:9"},
		{"sleep until range", "4:14"},
		{"publish t \"e\" (select) irreversible", "4:17"},
		{"call G (chan) irreversible", "4:10"},
		{"await t \"e\" -> map timeout 1s", "4:17"},
		{"irreversible }\n parallel P {\n step B {\n writes N, default\n irreversible }", "7:12"},
	} {
		src := "flow F {\n state S\n step C {\n " + tc.body + "\n }\n}\nflow G { state S step X { irreversible } }\n"
		f, ds := flowfile.Load("k.flow", []byte(src), dsl.CheckOptions{})
		if ds.HasErrors() {
			t.Fatalf("%q: %v", tc.body, ds.Err())
		}
		_, err := Generate(f, Options{Package: "p"})
		var d diag.Diagnostic
		if !errors.As(err, &d) || d.Code != "name" || fmt.Sprintf("%d:%d", d.Range.Start.Line, d.Range.Start.Column) != tc.at {
			t.Errorf("%q: Generate = %v; want a name error at %s", tc.body, err, tc.at)
		}
	}
}
