package runtime_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/internal/docblocks"
	"github.com/flowgen/flowgen/runtime"
)

// TestDocsGoBlocks compiles every Go block of docs/runtime.md against this
// checkout, in a module of its own as a user's would be, so that the manual
// cannot drift from the API:
//
//   - the complete program (a `package main` block) is run, and what it
//     prints must be what its comments say, its first run's events the
//     listing that follows it;
//   - a fragment is compiled inside a function whose parameters and the
//     declarations below give its free names their types (fragments);
//   - a block of type declarations must declare the types the package has:
//     each struct converts to and from the package's, each interface is
//     assignable both ways, with every other name of the block standing for
//     the package's own.
//
// The blocks that show generated code or a third-party client are skipped:
// the generator's goldens and examples/order compile those. The module is
// package docblocks's, which store.md's and observability.md's tests use too.
func TestDocsGoBlocks(t *testing.T) {
	m, doc := docblocks.ForPage(t, "..", "docs/runtime.md")
	var program string
	types := 0
	frags := m.Fragments("frags/frags.go", doc, docblocks.Fragments{
		Page:    "docs/runtime.md",
		Wrap:    fragments,
		Prelude: fragmentPrelude,
		// Generated code and a Connect client: the generator's goldens and
		// examples/order compile those.
		Skip: []string{"type OrderPayments interface", "flow, err := NewOrderFlow(", "// payments is OrderPayments over Connect."},
		Other: func(first, b string) bool {
			switch {
			case strings.HasPrefix(first, "package main"):
				if program != "" {
					t.Fatal("docs/runtime.md has two complete programs: teach TestDocsGoBlocks which to run")
				}
				program = b
			case strings.HasPrefix(first, "type "):
				types += typeBlockPackages(t, b, func(pkg, src string) { m.Write(filepath.Join("types", pkg, "doc.go"), src) })
			default:
				return false
			}
			return true
		},
	})
	if program == "" || frags == 0 || types == 0 {
		t.Fatalf("found a program %v, %d fragments, %d types: docs/runtime.md changed shape", program != "", frags, types)
	}
	m.Write("prog/main.go", program)
	m.Go("vet", "./...")
	out := m.Go("run", "./prog")
	checkProgramOutput(t, doc, program, string(out))
}

// fragments maps the start of a fragment's first line to the function it is
// compiled in (%d a number, %s the fragment).
var fragments = map[string]string{
	"f := runtime.New[S](id, options...)": `func frag%d(ctx context.Context, id string, initial S, runID string, lister runtime.RunLister, steps []*runtime.Step[S], states []runtime.RunState, options ...runtime.Option) {
%s	_, _ = res, err
}
`,
	`runtime.NewRPC("customers", "Customer.Create"`: `func frag%d() {
	_ = %s}
`,
	`billing := runtime.New[Invoice]("Billing"`: `func frag%d(opts []runtime.Option, refund *runtime.Flow[Invoice]) {
%s}
`,
	`prepare := runtime.NewParallel(`: `func frag%d() {
%s	_ = prepare
}
`,
	`for k := 1; k <= retries; k++ {`: `func frag%d(ctx context.Context, sink *runtime.MemorySink, id string, retries int, clock *runtime.FakeClock, maxBackoff time.Duration) error {
%s	return nil
}
`,
}

const fragmentPrelude = `package frags

import (
	"context"
	"time"

	"github.com/flowgen/flowgen/runtime"
)

type S struct{ Customer, CustomerID string }

type Invoice struct{ Total int }

type Order struct {
	Invoice, Receipt                  Invoice
	Items, Reservation, Authorization string
}

func authorize(ctx context.Context, s *Order) (runtime.Outcome, error) { return "", nil }
func voidCard(ctx context.Context, s *Order) error                     { return nil }

`

// typeBlockPackages writes, for each type a block declares, a package that
// declares it as the block does, every other name of the block an alias of
// the runtime's, and checks that it is the runtime's type. It returns how
// many types it checked.
func typeBlockPackages(t *testing.T, block string, write func(pkg, src string)) int {
	t.Helper()
	fset := token.NewFileSet()
	src := "package doc\n" + block
	file, err := parser.ParseFile(fset, "", src, 0)
	if err != nil {
		t.Fatalf("docs/runtime.md type block does not parse: %v\n%s", err, block)
	}
	var specs []*ast.TypeSpec
	for _, d := range file.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE {
			for _, s := range g.Specs {
				specs = append(specs, s.(*ast.TypeSpec))
			}
		}
	}
	for _, spec := range specs {
		var b strings.Builder
		b.WriteString("package doc\n\nimport (\n\t\"context\"\n\t\"encoding/json\"\n\t\"time\"\n\n\t\"github.com/flowgen/flowgen/runtime\"\n)\n\n")
		b.WriteString("var (\n\t_ context.Context\n\t_ json.RawMessage\n\t_ time.Time\n)\n\n")
		// The names the type may use, as the package has them.
		for _, name := range []string{"Event", "Wait", "Delivery", "RunRef", "RunState", "Outcome", "HistoryLoader", "Sink", "Subscriber", "RunLister"} {
			if name != spec.Name.Name {
				fmt.Fprintf(&b, "type %s = runtime.%s\n", name, name)
			}
		}
		fmt.Fprintf(&b, "\ntype %s\n\n", src[fset.Position(spec.Pos()).Offset:fset.Position(spec.End()).Offset])
		n := spec.Name.Name
		switch spec.Type.(type) {
		case *ast.StructType:
			fmt.Fprintf(&b, "var (\n\t_ = runtime.%s(%s{})\n\t_ = %s(runtime.%s{})\n)\n", n, n, n, n)
		case *ast.InterfaceType:
			fmt.Fprintf(&b, "var (\n\t_ runtime.%s = %s(nil)\n\t_ %s = runtime.%s(nil)\n)\n", n, n, n, n)
		default:
			t.Fatalf("docs/runtime.md declares %s, neither a struct nor an interface", n)
		}
		write(strings.ToLower(n), b.String())
	}
	return len(specs)
}

// checkProgramOutput checks what the complete program printed: each
// fmt.Println with a trailing comment prints what the comment says (<run>
// standing for a run ID), and the first run's events, one JSON object per
// line, are the transitions the listing after the program shows.
func checkProgramOutput(t *testing.T, doc, program, out string) {
	t.Helper()
	var printed []string
	var events []runtime.Event
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, "{") {
			var e runtime.Event
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("program line %q: %v", line, err)
			}
			events = append(events, e)
			continue
		}
		printed = append(printed, line)
	}
	i := 0
	for _, line := range strings.Split(program, "\n") {
		if !strings.Contains(line, "fmt.Println(") {
			continue
		}
		if _, want, ok := strings.Cut(line, ") // "); ok && i < len(printed) {
			re := "^" + strings.ReplaceAll(regexp.QuoteMeta(want), regexp.QuoteMeta("<run>"), `[^/ ]+`) + "$"
			if !regexp.MustCompile(re).MatchString(printed[i]) {
				t.Errorf("the program printed %q where docs/runtime.md says %q", printed[i], want)
			}
		}
		i++
	}
	if i != len(printed) {
		t.Errorf("the program printed %d lines besides events, its Println calls %d:\n%s", len(printed), i, out)
	}

	_, after, _ := strings.Cut(doc, program)
	_, after, _ = strings.Cut(after, "\n```\n")
	listing, _, _ := strings.Cut(after, "```")
	var want, got []string
	for _, line := range strings.Split(strings.TrimSpace(listing), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[1] != "->" {
			t.Fatalf("docs/runtime.md: listing line %q is not `from -> to ...`", line)
		}
		entry := f[0] + " -> " + f[2]
		if _, rest, ok := strings.Cut(line, "outcome "); ok {
			entry += " " + strings.TrimSuffix(strings.Fields(rest)[0], ",")
		}
		want = append(want, entry)
	}
	for _, e := range events {
		if e.RunID != events[0].RunID {
			break
		}
		entry := e.From + " -> " + e.To
		if e.Outcome != "" {
			entry += " " + e.Outcome
		}
		got = append(got, entry)
	}
	if strings.Join(want, "\n") != strings.Join(got, "\n") {
		t.Errorf("the first run's events:\n%s\ndocs/runtime.md lists:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
