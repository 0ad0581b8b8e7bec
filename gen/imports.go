package gen

import (
	"fmt"
	"go/types"
	"maps"
	"slices"

	"github.com/dave/jennifer/jen"
)

// The packages the generated file imports, and the names it refers to
// them by. Go forbids one name in both the file block and the package
// block: a generated file that imports time does not compile beside a
// `var time` in any file of its package. So each import keeps its
// package's name unless something of the package has that name (taken),
// and is then imported as that name with the smallest number appended
// that is free (time1, time2, ...): the user's code needs no change, and
// the renamed import cannot meet a local of the generated code, none of
// which ends in a digit.

// Import paths of the runtime target's code.
const (
	contextPkg = "context"
	runtimePkg = "github.com/flowgen/flowgen/runtime"
	timePkg    = "time"
)

// Import paths of the Temporal target's code, on top of the runtime
// target's.
const (
	flowtemporalPkg = "github.com/flowgen/flowgen/temporal/flowtemporal"
	clientPkg       = "go.temporal.io/sdk/client"
	workerPkg       = "go.temporal.io/sdk/worker"
	workflowPkg     = "go.temporal.io/sdk/workflow"
)

// goImport is one imported package: its path and its package name.
type goImport struct{ path, name string }

// targetImports are the packages the code of target imports, in the order
// they claim their names.
func targetImports(target string) []goImport {
	out := []goImport{{contextPkg, "context"}, {runtimePkg, "runtime"}, {timePkg, "time"}}
	if target == TargetTemporal {
		out = append(out, goImport{flowtemporalPkg, "flowtemporal"}, goImport{clientPkg, "client"},
			goImport{workerPkg, "worker"}, goImport{workflowPkg, "workflow"})
	}
	return out
}

// fileImports are the packages the file of gens imports with target: the
// target's, then those of the types the typed ports name, by path.
func fileImports(target string, gens []*flowGen) []goImport {
	out := targetImports(target)
	ports := map[string]string{}
	for _, g := range gens {
		maps.Copy(ports, g.imports)
	}
	for _, path := range slices.Sorted(maps.Keys(ports)) {
		if !slices.ContainsFunc(out, func(im goImport) bool { return im.path == path }) {
			out = append(out, goImport{path, ports[path]})
		}
	}
	return out
}

// importNames says what the file names each import (see the top of this
// file): path -> name.
func importNames(imports []goImport, taken func(string) bool) map[string]string {
	names := make(map[string]string, len(imports))
	used := map[string]bool{}
	free := func(name string) bool { return !used[name] && !taken(name) }
	for _, im := range imports {
		name := im.name
		for i := 1; !free(name); i++ {
			name = fmt.Sprintf("%s%d", im.name, i)
		}
		used[name] = true
		names[im.path] = name
	}
	return names
}

// nameImports gives jf the names of importNames.
func nameImports(jf *jen.File, imports []goImport, taken func(string) bool) {
	names := importNames(imports, taken)
	for _, im := range imports {
		if name := names[im.path]; name == im.name {
			jf.ImportName(im.path, name)
		} else {
			jf.ImportAlias(im.path, name)
		}
	}
}

// packageNames says whether a name is taken in the package of the
// generated file: declared by the package's own code (pkg, when loaded),
// a flow's state type (declared there, loaded or not), or predeclared (an
// import would hide it from the generated code). The generated
// identifiers need no place here: they start with a flow's exported name,
// or with "new" and end in a digit, and no package is named so.
func packageNames(pkg *types.Package, gens []*flowGen) func(string) bool {
	states := map[string]bool{}
	for _, g := range gens {
		states[g.state] = true
	}
	return func(name string) bool {
		return states[name] || types.Universe.Lookup(name) != nil || pkg != nil && pkg.Scope().Lookup(name) != nil
	}
}
