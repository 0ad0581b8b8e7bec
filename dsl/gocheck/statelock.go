package gocheck

import (
	"go/token"
	"go/types"
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
)

// checkStateLock reports a state type that holds a lock by value (code
// "state-lock"): a sync.Mutex, a sync.WaitGroup, an atomic value, or any
// type whose pointer has Lock and Unlock and whose value has not (go vet's
// copylocks rule, which this follows so that what passes here passes vet).
// The generated code takes and returns the state by value (Start, Execute,
// the run's results), so vet, and with it go test, refuses the package;
// and a lock copied with the state would copy its locked or unlocked
// state into every snapshot. A lock behind a pointer is not copied.
func checkStateLock(pkg *types.Package, f *dsl.Flow) diag.List {
	tn, ok := pkg.Scope().Lookup(f.State.Name).(*types.TypeName)
	if !ok {
		return nil // checkState reports it
	}
	path := lockPath(tn.Type(), 0)
	if path == nil {
		return nil
	}
	what := "is itself a lock (its pointer has Lock and Unlock methods)"
	if len(path) > 1 {
		what = "holds a lock by value, field " + strings.Join(path[:len(path)-1], ".") + " (" + path[len(path)-1] + ")"
	}
	return diag.List{diag.Errorf(f.State.Range, "state-lock",
		"state type %s %s: the generated code passes the state by value, which go vet refuses (copylocks), and a run's state is copied at every event", f.State.Name, what).
		WithHint("keep the lock out of the state (a dependency of the steps belongs in the handlers value), or hold it by pointer")}
}

// lockPath is the way to a lock that a value of typ holds (the field
// names, then the lock's type), or nil: as vet's copylocks, a type whose
// pointer is a sync.Locker and whose value is not, found through struct
// fields and array elements, never through a pointer, slice or map.
func lockPath(typ types.Type, depth int) []string {
	if depth > 16 { // a type cannot hold itself by value; this only bounds the walk
		return nil
	}
	for {
		a, ok := typ.Underlying().(*types.Array)
		if !ok {
			break
		}
		typ = a.Elem()
	}
	st, ok := typ.Underlying().(*types.Struct)
	if !ok {
		return nil
	}
	if types.Implements(types.NewPointer(typ), locker) && !types.Implements(typ, locker) {
		return []string{typeName(typ)}
	}
	for i := range st.NumFields() {
		fd := st.Field(i)
		if inner := lockPath(fd.Type(), depth+1); inner != nil {
			if n, ok := typ.(*types.Named); ok && n.Obj().Pkg() != nil && (n.Obj().Pkg().Path() == "sync" || n.Obj().Pkg().Path() == "sync/atomic") {
				// atomic.Int64 holds a lock only as its noCopy marker:
				// name the type the user wrote.
				return []string{typeName(typ)}
			}
			return append([]string{fd.Name()}, inner...)
		}
	}
	return nil
}

func typeName(t types.Type) string {
	return types.TypeString(t, func(p *types.Package) string { return p.Name() })
}

// locker is sync.Locker's method set, built here so that the check needs
// no sync package in the program it checks.
var locker = func() *types.Interface {
	sig := types.NewSignatureType(nil, nil, nil, nil, nil, false)
	i := types.NewInterfaceType([]*types.Func{
		types.NewFunc(token.NoPos, nil, "Lock", sig),
		types.NewFunc(token.NoPos, nil, "Unlock", sig),
	}, nil)
	return i.Complete()
}()
