package deps

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/flowgen/flowgen"

// A rule: no package matched by from depends, directly or through others,
// on a package matched by banned. Patterns are import paths, module-relative
// when they do not start with a domain; "p/..." matches p and every
// package below it.
type rule struct {
	from, banned []string
	// except are packages the banned patterns match that from may import
	// all the same: leaves of the standard library alone (the test checks
	// they stay so), which carry no part of what the rule keeps out.
	except []string
	why    string
}

var heavy = []string{"golang.org/x/tools/...", "github.com/alecthomas/participle/...", "github.com/dave/jennifer/..."}

var rules = []rule{
	{
		from:   []string{"runtime/...", "engine/...", "dsl", "examples/..."},
		banned: heavy,
		why:    "a service that links the runtime, the engine or the model must not link the .flow parser (participle), the Go package loader (x/tools) or the code generator (jennifer)",
	},
	{
		from:   []string{"runtime/..."},
		banned: []string{"parser/...", "dsl/...", "gen/...", "engine/...", "internal/..."},
		// How a run's state is encoded (runtime.EncodeState), and how a
		// value is handed to an encoder (runtime.Addressed):
		// engine/provider encodes its answers and state fields so too,
		// and may not import the runtime. What a file must be to be
		// opened without waiting (internal/regfile):
		// the store's segments, as the engine's and the CLI's inputs. How
		// options are applied (a nil one sets nothing): engine/httpcall's
		// are applied so too. How an error quotes a character of a
		// caller's text (internal/snippet): the runtime's rule of run IDs
		// (runtime.CheckRunID) names the one it refuses as the engine's
		// checks of names and keys do. How a directory is made and
		// synced so that it outlives a crash (internal/atomicfile): the
		// store's log directory, as the engine's flows directory.
		except: []string{"internal/jsonenc", "internal/regfile", "internal/option", "internal/snippet", "internal/atomicfile"},
		why:    "the runtime imports nothing of the front end, the generator or the engine",
	},
	{
		from:   []string{"runtime/...", "engine"},
		banned: []string{"go.opentelemetry.io/...", "github.com/prometheus/...", "observe/..."},
		why:    "telemetry is opt-in: the runtime and the engine report to hooks (runtime.Observer, engine.Telemetry) that package observe fills, so a program that traces nothing links no OpenTelemetry or Prometheus",
	},
	{
		from:   []string{"observe/tracectx"},
		banned: []string{"go.opentelemetry.io/otel/sdk/...", "github.com/prometheus/...", "observe"},
		why:    "engine/httpcall and engine/natsbus carry trace context through observe/tracectx: it links the OpenTelemetry API only, never the SDK or an exporter",
	},
	{
		from:   []string{"engine/provider"},
		banned: []string{"engine", "runtime/...", "dsl/...", "observe/...", "go.opentelemetry.io/...", "github.com/nats-io/..."},
		why:    "engine/provider is the library a provider's service imports: it links the protocol and the standard library (and the internal scanners it shares with the engine, internal/jsonscan), never the engine, the runtime or a broker's client",
	},
	{
		from:   []string{"parser/..."},
		banned: []string{"dsl/...", "gen/..."},
		why:    "dependencies go parser → dsl → gen: the parser knows neither the model nor the generator",
	},
	{
		from:   []string{"dsl"},
		banned: []string{"parser/...", "gen/..."},
		why:    "dependencies go parser → dsl → gen: the model is fed by the parser through dsl/flowfile, never imports it",
	},
}

// TestDependencyDirection checks every rule on the module's import graph
// (tests excluded) and names the import chain of each violation.
func TestDependencyDirection(t *testing.T) {
	g := loadGraph(t)
	for _, r := range rules {
		roots := g.match(r.from)
		if len(roots) == 0 {
			t.Errorf("no package matches %v: update the rule", r.from)
			continue
		}
		for _, x := range r.except {
			pkg := module + "/" + x
			for _, imp := range g.imports[pkg] {
				if first, _, _ := strings.Cut(imp, "/"); strings.Contains(first, ".") {
					t.Errorf("%s, which %v may import as an exception, imports %s: only the standard library keeps it one", x, r.from, short(imp))
				}
			}
		}
		for _, root := range roots {
			for _, chain := range g.violations(root, r.banned, r.except) {
				t.Errorf("%s depends on %s: %s\n\t(%s)", short(root), short(chain[len(chain)-1]), strings.Join(shortAll(chain), " → "), r.why)
			}
		}
	}
}

// TestDependencyCheckFindsChains keeps TestDependencyDirection from
// passing vacuously: the command links all of the heavy dependencies, and
// the check must find each one with its chain.
func TestDependencyCheckFindsChains(t *testing.T) {
	g := loadGraph(t)
	chains := g.violations(module+"/internal/cli", heavy, nil)
	if len(chains) != len(heavy) {
		t.Fatalf("internal/cli: found %d of the %d heavy dependencies: %v", len(chains), len(heavy), chains)
	}
	for _, c := range chains {
		if len(c) < 2 || c[0] != module+"/internal/cli" {
			t.Errorf("bad chain %v", c)
		}
		for i := 0; i+1 < len(c); i++ {
			if !slices.Contains(g.imports[c[i]], c[i+1]) {
				t.Errorf("chain %v: %s does not import %s", c, c[i], c[i+1])
			}
		}
	}
}

type graph struct {
	imports map[string][]string // import path -> its imports
	order   []string            // packages in go list order
}

func loadGraph(t *testing.T) *graph {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-test=false", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	g := &graph{imports: map[string][]string{}}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		g.imports[f[0]] = f[1:]
		g.order = append(g.order, f[0])
	}
	return g
}

// match returns the module's packages that the patterns match, in go list
// order.
func (g *graph) match(patterns []string) []string {
	var out []string
	for _, p := range g.order {
		if matches(p, patterns) {
			out = append(out, p)
		}
	}
	return out
}

// violations returns, for each banned pattern that root depends on, the
// shortest import chain from root to a package it matches that except does
// not.
func (g *graph) violations(root string, banned, except []string) [][]string {
	parent := map[string]string{root: ""}
	queue := []string{root}
	found := map[string]bool{}
	var chains [][]string
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p != root {
			if b := matching(p, banned); b != "" && matching(p, except) == "" {
				if !found[b] {
					found[b] = true
					var chain []string
					for q := p; q != ""; q = parent[q] {
						chain = append(chain, q)
					}
					slices.Reverse(chain)
					chains = append(chains, chain)
				}
				continue // what the banned package imports is its own business
			}
		}
		for _, imp := range g.imports[p] {
			if _, seen := parent[imp]; !seen {
				parent[imp] = p
				queue = append(queue, imp)
			}
		}
	}
	return chains
}

func matches(path string, patterns []string) bool { return matching(path, patterns) != "" }

// matching returns the first pattern that path matches, or "".
func matching(path string, patterns []string) string {
	for _, pat := range patterns {
		full := pat
		if first, _, _ := strings.Cut(pat, "/"); !strings.Contains(first, ".") {
			full = module + "/" + pat
		}
		if base, ok := strings.CutSuffix(full, "/..."); ok {
			if path == base || strings.HasPrefix(path, base+"/") {
				return pat
			}
		} else if path == full {
			return pat
		}
	}
	return ""
}

func short(path string) string { return strings.TrimPrefix(path, module+"/") }

func shortAll(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = short(p)
	}
	return out
}

// runtimeModules are the only modules besides the standard library that
// the runtime links, and so that generated code and the binaries of
// flowgen's users link through it: the README says so ("Using it in your
// module").
var runtimeModules = []string{"github.com/looplab/fsm", "github.com/robfig/cron/v3"}

// TestRuntimeLinksFewModules checks what the runtime links outside the
// standard library and this module, so that adding a dependency to it is a
// decision the README's promise and this list are updated for.
func TestRuntimeLinksFewModules(t *testing.T) {
	g := loadGraph(t)
	seen := map[string]bool{}
	queue := []string{module + "/runtime"}
	var outside []string
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, imp := range g.imports[p] {
			if seen[imp] {
				continue
			}
			seen[imp] = true
			queue = append(queue, imp)
			first, _, _ := strings.Cut(imp, "/")
			if strings.Contains(first, ".") && !strings.HasPrefix(imp, module+"/") && !slices.ContainsFunc(runtimeModules, func(m string) bool {
				return imp == m || strings.HasPrefix(imp, m+"/")
			}) {
				outside = append(outside, imp)
			}
		}
	}
	if len(outside) > 0 {
		t.Errorf("the runtime links packages of modules other than %v: %v", runtimeModules, outside)
	}
}
