// Package gocheck checks a flow model against the Go package it is
// generated into: when the .flow file sits in a Go package, the state type
// and the fields the flow names are checked against that package's types,
// so that mistakes are reported at their .flow position rather than as
// compile errors in generated code.
//
// It loads the package with golang.org/x/tools/go/packages (the go
// command), which is why it is not part of dsl: the command (flowgen check,
// flowgen gen) plugs it into dsl.Check through dsl.CheckOptions.GoPackage,
// and a program that only runs flows (the engine) does not link it.
//
// Decisions:
//   - The state type must be a non-generic struct type declared in the
//     package (code "state-type").
//   - Every named field must exist, directly or promoted from an embedded
//     struct (code "state-field", with did-you-mean); a promoted one must
//     be neither ambiguous nor reached through an embedded pointer
//     (promoted.go).
//   - Two branches of a parallel block may not write an embedded struct
//     and a field promoted from it (code "parallel-write", parallel.go):
//     the merge would lose one of the writes.
//   - Every named field, and every member a condition reads, must be one
//     encoding/json keeps (code "state-field-unexported", dsl.JSONLoss):
//     exported, not tagged `json:"-"` nor promoted from a struct so
//     tagged, and not hidden by another field with its JSON name. Run
//     snapshots, resume and the JSON engine carry the state as JSON, so a
//     field that JSON drops would be silently zero after a resume. This is
//     also what makes responses settable from outside the package.
//   - Every field of the state type must be encodable as JSON (code
//     "state-json", jsonstate.go): a run's state is JSON in its history.
//     With the Temporal target a field JSON drops is a warning too: each
//     step is an activity whose input and result are the state as JSON.
//   - The correlation field must have a string underlying type (code
//     "field-type"): the generated code converts it with string(...).
//     fmt.Stringer is not accepted, because a method may depend on state
//     that is not yet set when the await starts.
//   - The field of `sleep until Field` must be a time.Time (code
//     "field-type"): the generated code passes it to the runtime as one.
//     Not a *time.Time: the generator reads no Go types, so it cannot
//     tell the two apart, and a zero time.Time already says "not set"
//     (the runtime ends such a sleep with the outcome error).
//   - The field of a choose condition must have the literal's type (code
//     "cond-type", condtype.go): the generated code compares them in Go.
//   - Fields that carry requests, responses and payloads must be
//     encodable as JSON: no channels, functions, complex numbers or
//     unsafe pointers (code "field-type").
//   - A field whose type does not type-check is left to the compiler
//     (the package may be waiting for its generated code), except an
//     rpc's request or response (code "field-type"): the generator
//     declares the port's method with its type.
//   - No generated name may be declared by the package's own code (code
//     "name-collision", dsl.File.DeclaredNameCollisions): the package
//     would not compile. This needs the package even for a flow
//     without a state type; loading it is then not worth a warning when
//     it fails.
//   - Generated files (those starting with dsl.GeneratedHeader) may be
//     stale or refer to names that do not exist yet, so they are replaced
//     by an empty file of the same package while loading, as is a file of
//     white space alone (dsl.IsBlank), which the go command would refuse.
//   - A package that cannot be loaded (no go.mod, no Go files, syntax
//     errors, go command failure) gives ONE warning (code "go-package") and
//     the rest of the checks go on without the Go types. Type errors in the
//     user's own files do not stop the checks: declarations survive them.
package gocheck

import (
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/tools/go/packages"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/internal/ident"
	"github.com/flowgen/flowgen/internal/regfile"
)

// Check loads the Go package in dir and checks the state type of every
// flow of f that names one, the fields the flow names, and the names
// generated for the runtime target against the package's own
// declarations.
func Check(f *dsl.File, dir string) diag.List {
	return CheckLoaded(f, dir, dsl.TargetRuntime, func() (*Package, error) { return Load(dir) })
}

// Package is a Go package as Load reads it.
type Package struct {
	// Types are the package's types, from source, with flowgen's
	// generated files emptied: the generator reads the Go types of the
	// state fields the typed service ports carry from them
	// (gen.Options.Types).
	Types *types.Package
	fset  *token.FileSet // the positions of Types' objects
	dir   string         // absolute: positions are shown relative to it
}

// Load loads the Go package in dir as Check reads it: from source, with
// flowgen's generated files emptied, type errors tolerated.
func Load(dir string) (*Package, error) { return loadGoPackage(dir) }

// CheckLoaded is Check with the package from load, which is called at most
// once, and only when f has a flow: a caller that needs the package again
// (the generator) loads it once for both. The generated names checked are
// target's (dsl.Flow.GoNamesFor). A package that cannot be loaded is a
// warning only when a flow names a state type: the generated names are
// checked against a package when there is one, but a state-less flow
// needs none.
func CheckLoaded(f *dsl.File, dir, target string, load func() (*Package, error)) diag.List {
	var flows []*dsl.Flow
	named := false
	for _, fl := range f.Flows {
		if fl == nil || fl.Name == "" {
			continue
		}
		named = true
		if fl.State != nil && ident.IsGo(fl.State.Name) {
			flows = append(flows, fl)
		}
	}
	if !named {
		return nil // nothing is generated
	}
	p, err := load()
	if err != nil {
		if len(flows) == 0 {
			return nil
		}
		at := flows[0].State.Range
		if !at.Start.IsValid() {
			at = flows[0].NameRange
		}
		hint := "run `go build` in that directory to see why; the flow itself is still checked"
		if !hasGoFile(dir) {
			// go build would only say the same; the flow may well be
			// meant for no Go package (a flow flowgen serve runs).
			hint = "declare the state type in a Go file of that directory, or give -nopkg for a flow of no Go package (one that flowgen serve runs); the flow itself is still checked"
		}
		return diag.List{diag.Warnf(at, "go-package",
			"cannot load the Go package in %s, so the state type is not checked: %v", filepath.ToSlash(dir), err).
			WithHint(hint)}
	}
	ds := checkDeclared(p, f, target)
	for _, fl := range flows {
		ds = append(ds, checkState(p.Types, fl, p.dir)...)
		ds = append(ds, checkCalls(p.Types, f, fl)...)
		ds = append(ds, checkStateJSON(p.Types, fl, target)...)
		ds = append(ds, checkStateLock(p.Types, fl)...)
	}
	return ds
}

// hasGoFile reports whether dir holds a .go file, of any build tags, test
// or generated: then it is meant to be a Go package.
func hasGoFile(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return true // unknown: the go command's error says more
	}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".go") {
			return true
		}
	}
	return false
}

// checkDeclared reports the names generated for target that the
// package's own code declares (dsl.File.DeclaredNameCollisions), and the
// predeclared names the generated code uses that it hides
// (dsl.GeneratedPredeclared), with
// where it declares them: the Go file shown beside f as f.Name shows it,
// so that from any working directory both paths open the files.
func checkDeclared(p *Package, f *dsl.File, target string) diag.List {
	scope := p.Types.Scope()
	declared := func(name string) (string, bool) {
		obj := scope.Lookup(name)
		if obj == nil {
			return "", false
		}
		at := p.fset.Position(obj.Pos())
		file := at.Filename
		if rel, err := filepath.Rel(p.dir, file); err == nil && !strings.HasPrefix(rel, "..") {
			file = diag.Beside(f.Name, rel) // p.dir is the flow file's directory
		}
		return fmt.Sprintf("the %s %s declared at %s:%d:%d", objectKind(obj), name, filepath.ToSlash(file), at.Line, at.Column), true
	}
	ds := f.DeclaredNameCollisions(target, declared)
	// The predeclared names the generated code uses that the package
	// hides: one diagnostic naming them all (the command shows one per
	// line), at the file's first flow, whose code uses them.
	var names, decls []string
	for _, name := range dsl.GeneratedPredeclared {
		if aliasOfPredeclared(scope.Lookup(name)) {
			continue // the generated code means the same type by it
		}
		if decl, ok := declared(name); ok {
			names, decls = append(names, name), append(decls, decl)
		}
	}
	for _, fl := range f.Flows {
		if fl == nil || fl.Name == "" || len(names) == 0 {
			continue
		}
		ds = append(ds, diag.Errorf(fl.NameRange, "name-collision", "the generated code of flow %q uses Go's predeclared %s, which the package hides: %s", fl.Name, strings.Join(names, ", "), strings.Join(decls, "; ")).
			WithHint("rename the package's %s: a package-level name hides the predeclared one in every file of the package", strings.Join(names, ", ")))
		break
	}
	return ds
}

// aliasOfPredeclared reports whether obj, a package-level declaration of a
// predeclared name, is an alias of Go's own type of that name (type any =
// interface{}, type byte = uint8: shims that code older than Go 1.18
// keeps), which hides nothing the generated code means by the name.
func aliasOfPredeclared(obj types.Object) bool {
	tn, ok := obj.(*types.TypeName)
	if !ok || !tn.IsAlias() {
		return false
	}
	u, ok := types.Universe.Lookup(tn.Name()).(*types.TypeName)
	return ok && types.Identical(tn.Type(), u.Type())
}

// loadGoPackage loads the package in dir from source (its dependencies
// from export data), with generated flowgen files emptied.
func loadGoPackage(dir string) (*Package, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	cfg := &packages.Config{
		Mode:    packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes,
		Fset:    token.NewFileSet(),
		Dir:     abs,
		Overlay: generatedOverlay(abs),
		Tests:   false,
	}
	pkgs, err := packages.Load(cfg, ".")
	if err != nil {
		return nil, firstLine(err.Error())
	}
	if len(pkgs) != 1 {
		if len(pkgs) == 0 {
			return nil, loadError("no Go package found (is there a go.mod in it or a parent directory?)")
		}
		return nil, fmt.Errorf("found %d Go packages, want 1", len(pkgs))
	}
	p := pkgs[0]
	typeErrors := false
	for _, e := range p.Errors {
		typeErrors = typeErrors || e.Kind == packages.TypeError
	}
	var blocking []packages.Error
	for _, e := range p.Errors {
		switch {
		case e.Kind == packages.TypeError:
			continue // declarations survive type errors; see the file comment
		case typeErrors && e.Kind == packages.ListError && strings.HasPrefix(e.Msg, "# "):
			continue // the go command's compile output repeating the type errors
		case isGeneratedPos(e.Pos, cfg.Overlay):
			continue
		}
		blocking = append(blocking, e)
	}
	if len(blocking) > 0 {
		// Prefer a positioned parse error over the go command's summary
		// ("# example.com/m") of the same failure.
		e := blocking[0]
		for _, b := range blocking {
			if b.Kind == packages.ParseError {
				e = b
				break
			}
		}
		msg := strings.TrimSpace(e.Msg)
		if e.Pos != "" && e.Pos != "-" {
			pos := e.Pos
			if rel, err := filepath.Rel(abs, pos); err == nil && !strings.HasPrefix(rel, "..") {
				pos = rel
			}
			msg = filepath.ToSlash(pos) + ": " + msg
		}
		return nil, firstLine(msg)
	}
	if p.Types == nil || len(p.Syntax) == 0 {
		return nil, fmt.Errorf("no Go files")
	}
	return &Package{Types: p.Types, fset: cfg.Fset, dir: abs}, nil
}

type loadError string

func (e loadError) Error() string { return string(e) }

// firstLine keeps the go command's first line: the rest is usually a
// repetition or a long list.
func firstLine(s string) error {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return loadError(s)
}

func isGeneratedPos(pos string, overlay map[string][]byte) bool {
	for file := range overlay {
		if strings.HasPrefix(pos, file+":") {
			return true
		}
	}
	return false
}

// generatedOverlay returns, for every generated flowgen file in dir, an
// empty file of the same package, so stale generated code cannot break
// loading. A .go file of white space alone (an editor or touch made it,
// as gen's output to come, which gen replaces) declares nothing, but
// the go command refuses it for want of a package clause: it becomes one
// of the package's (PackageName), so that it does not cost the checks
// the package.
func generatedOverlay(dir string) map[string][]byte {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	overlay := map[string][]byte{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") {
			continue
		}
		path := filepath.Join(dir, name)
		src, _, err := regfile.Read(path, -1)
		if err == nil && dsl.IsBlank(src) && !strings.HasSuffix(name, "_test.go") {
			if pkg, err := PackageName(dir); err == nil {
				overlay[path] = []byte("package " + pkg + "\n")
			}
			continue
		}
		if err != nil || !dsl.IsGenerated(src) {
			continue
		}
		fset := token.NewFileSet()
		af, err := parser.ParseFile(fset, path, src, parser.PackageClauseOnly)
		if err != nil {
			continue
		}
		overlay[path] = []byte("package " + af.Name.Name + "\n")
	}
	return overlay
}

// declaredOutside is the name of a .go file of dir, in name order, that
// declares a type name at package level although the loaded package has
// no such type: a _test.go file, or one its build constraints leave out
// (not generated code, which loading empties). "" when there is none.
func declaredOutside(dir, name string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	for _, e := range entries {
		file := e.Name()
		if e.IsDir() || !strings.HasSuffix(file, ".go") {
			continue
		}
		path := filepath.Join(dir, file)
		src, _, err := regfile.Read(path, -1)
		if err != nil || dsl.IsGenerated(src) { // flowgen's are emptied while loading
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), path, src, parser.SkipObjectResolution)
		if err != nil {
			continue
		}
		for _, decl := range af.Decls {
			if g, ok := decl.(*ast.GenDecl); ok && g.Tok == token.TYPE {
				for _, spec := range g.Specs {
					if spec.(*ast.TypeSpec).Name.Name == name {
						return file
					}
				}
			}
		}
	}
	return ""
}

// checkState checks one flow's state type and the fields it names; dir
// is the package's directory.
func checkState(pkg *types.Package, f *dsl.Flow, dir string) diag.List {
	var ds diag.List
	st := f.State
	obj := pkg.Scope().Lookup(st.Name)
	if obj == nil {
		d := diag.Errorf(st.Range, "state-type", "state type %q is not declared in package %s", st.Name, pkg.Name())
		if file := declaredOutside(dir, st.Name); strings.HasSuffix(file, "_test.go") {
			d = diag.Errorf(st.Range, "state-type", "state type %q is declared in %s, a test file: package %s, which the generated code compiles in, does not have it", st.Name, file, pkg.Name()).
				WithHint("move the type to a file whose name does not end in _test.go")
		} else if file != "" {
			d = diag.Errorf(st.Range, "state-type", "state type %q is declared in %s, which package %s leaves out (its build constraints, or another package clause)", st.Name, file, pkg.Name()).
				WithHint("declare the type in a file of the package that every build takes")
		} else if m := diag.DidYouMean(st.Name, packageTypeNames(pkg)); m != "" {
			d = d.WithHint("did you mean %q?", m)
		} else {
			d = d.WithHint("declare `type %s struct { ... }` in the package", st.Name)
		}
		return diag.List{d}
	}
	tn, ok := obj.(*types.TypeName)
	if !ok {
		return diag.List{diag.Errorf(st.Range, "state-type", "state type %q is a %s, not a type", st.Name, objectKind(obj)).
			WithHint("name a struct type declared in package %s", pkg.Name())}
	}
	if named, ok := tn.Type().(*types.Named); ok && named.TypeParams().Len() > 0 {
		return diag.List{diag.Errorf(st.Range, "state-type", "state type %q is generic; flowgen needs a concrete struct type", st.Name).
			WithHint("declare a non-generic struct type, such as `type %sState struct { ... }`", f.Name)}
	}
	if tn.Type().Underlying() == types.Typ[types.Invalid] {
		// go/types gives a declaration it could not check this
		// placeholder, whose name, "invalid type", would read as a type;
		// the type error itself is the compiler's to show.
		return diag.List{diag.Errorf(st.Range, "state-type", "state type %q does not type-check, so flowgen cannot know its fields", st.Name).
			WithHint("run go build in its package: the compiler says what is wrong with its declaration (a struct that contains itself, a type that is not declared)")}
	}
	if _, ok := tn.Type().Underlying().(*types.Struct); !ok {
		return diag.List{diag.Errorf(st.Range, "state-type", "state type %q is %s, not a struct", st.Name, dsl.TypeString(tn.Type().Underlying(), pkg)).
			WithHint("the state of a run is a struct whose fields the steps read and write")}
	}
	T := tn.Type()
	for _, ref := range f.FieldRefs() {
		if d, bad := checkField(pkg, T, st.Name, ref); bad {
			ds = append(ds, d)
		} else if d, bad := checkCorrelateMember(pkg, T, ref); bad {
			ds = append(ds, d)
		}
	}
	ds = append(ds, checkParallelWrites(pkg, T, f)...)
	return append(ds, checkPortTypes(pkg, T, f)...)
}

// checkPortTypes reports an endpoint whose calls carry fields of different
// Go types (code "port-type"): its method of the typed port has one
// signature. A field that does not exist is checkField's to report. It
// also reports a field whose type does not type-check (code "field-type"):
// the other checks leave such a field to the compiler, since the package
// may be waiting for its generated code, but the generator declares the
// port's method with the field's type and could not write it; and so,
// with the same code, is a type the generator cannot write in a method's
// signature for another reason (dsl.PortTypeProblem).
func checkPortTypes(pkg *types.Package, T types.Type, f *dsl.Flow) diag.List {
	var ds diag.List
	for _, p := range f.Ports() {
		for _, m := range p.Methods {
			first := map[string]types.Type{} // "request"/"response" -> the first call's type
			firstAt := map[string]diag.Range{}
			for _, c := range m.Calls {
				for _, fld := range []struct {
					role string
					id   *dsl.Ident
				}{{"request", c.Action.Request}, {"response", c.Action.Response}} {
					ft := dsl.FieldType(pkg, T, fld.id)
					if ft == nil {
						continue
					}
					switch why := dsl.PortTypeProblem(ft, pkg); {
					case why == "":
					case why == dsl.PortTypeInvalid:
						ds = append(ds, diag.Errorf(fld.id.Range, "field-type", "%s field %q of rpc %s %q has a type that does not type-check, so method %s of port %s cannot be declared",
							fld.role, fld.id.Name, ident.Format(p.Service), m.Endpoint, m.Name, p.Interface).
							WithHint("fix the type of field %s of %s: `go build` shows the error", fld.id.Name, f.State.Name))
						continue
					case unencodable(ft) != "":
						continue // checkField reports it, as JSON cannot carry it
					default:
						hint := "use data types for fields the flow sends, receives or stores"
						if _, lit := ft.Underlying().(*types.Interface); lit {
							hint = "use a concrete type: JSON cannot decode into an interface with methods"
						}
						ds = append(ds, diag.Errorf(fld.id.Range, "field-type", "%s field %q of rpc %s %q has type %s, %s, so method %s of port %s cannot be declared",
							fld.role, fld.id.Name, ident.Format(p.Service), m.Endpoint, dsl.TypeString(ft, pkg), why, m.Name, p.Interface).
							WithHint("%s", hint))
						continue
					}
					prev, ok := first[fld.role]
					if !ok {
						first[fld.role], firstAt[fld.role] = ft, fld.id.Range
						continue
					}
					if !types.Identical(prev, ft) {
						this, that := dsl.TypeString(ft, pkg), dsl.TypeString(prev, pkg)
						if this == that { // they differ in their tags only: show them
							this, that = types.TypeString(ft, types.RelativeTo(pkg)), types.TypeString(prev, types.RelativeTo(pkg))
						}
						ds = append(ds, diag.Errorf(fld.id.Range, "port-type", "%s field %q of rpc %s %q has type %s, but the %s at %s has type %s: method %s of port %s has one signature",
							fld.role, fld.id.Name, ident.Format(p.Service), m.Endpoint, this, fld.role, whereAt(firstAt[fld.role]), that, m.Name, p.Interface).
							WithHint("use fields of one type for every call of an endpoint, or call two endpoints"))
					}
				}
			}
		}
	}
	return ds
}

// whereAt is "line N" of a range in the .flow file, or its JSON path.
func whereAt(r diag.Range) string {
	if r.Start.Line > 0 {
		return fmt.Sprintf("line %d", r.Start.Line)
	}
	return r.Start.Path
}

func checkField(pkg *types.Package, T types.Type, typeName string, ref dsl.FieldRef) (diag.Diagnostic, bool) {
	id := ref.Field
	obj, index, indirect := types.LookupFieldOrMethod(T, true, pkg, id.Name)
	v, isVar := obj.(*types.Var)
	switch {
	case obj == nil && index != nil: // found more than once at one depth
		return ambiguousField(T, typeName, id.Name, id.Range), true
	case obj == nil:
		d := diag.Errorf(id.Range, "state-field", "state type %q has no field %q", typeName, id.Name)
		if h := fieldSuggestion(id.Name, T); h != "" {
			return d.WithHint("%s", h), true
		}
		if field, member, ok := strings.Cut(id.Name, "."); ok && ref.Role != dsl.RoleCondition {
			// A JSON flow's "Plan.At" where a field goes: .flow cannot
			// write it, and Go cannot declare a field of that name.
			if f, _, _ := types.LookupFieldOrMethod(T, true, pkg, field); f != nil {
				return d.WithHint("%s", ident.FieldMemberHint(field, member)), true
			}
		}
		return d.WithHint("add the field to %s, or name one of its fields", typeName), true
	case !isVar || !v.IsField():
		return diag.Errorf(id.Range, "state-field", "%q is a method of %q, not a field", id.Name, typeName).
			WithHint("name a field of the state type"), true
	case indirect: // through an embedded pointer: see promoted.go
		path, typ := embeddedPointer(T, index)
		return diag.Errorf(id.Range, "state-field", "state field %q is promoted through the embedded pointer %s (%s) of state type %q: the generated code reads and writes it as s.%s, which panics whenever %s is nil",
			id.Name, path, typ, typeName, id.Name, path).
			WithHint("embed %s by value rather than as a pointer, or declare %s in %s itself", strings.TrimLeft(typ, "*"), id.Name, typeName), true
	}
	if !v.Exported() {
		d := diag.Errorf(id.Range, "state-field-unexported", "state field %q is unexported: run snapshots are JSON, so a resumed run would lose it", id.Name)
		return d.WithHint("%s", dsl.ExportHint(id.Name)), true
	}
	// A condition's members are judged with them, below: a struct JSON
	// inlines may lose a member the condition does not read.
	members := ref.Role == dsl.RoleCondition && ref.Cond != nil && len(ref.Cond.Members) > 0
	if why, hint := dsl.JSONLoss(T, index); why != "" && !members {
		return diag.Errorf(id.Range, "state-field-unexported", "state field %q is %s: run snapshots are JSON, so a resumed run would lose it", id.Name, why).
			WithHint("%s", hint), true
	}
	ft := v.Type()
	if ref.Role == dsl.RoleCondition {
		sels, leaf, problem := dsl.CondSelectors(pkg, ft, ref.Cond)
		if problem != nil {
			if b, ok := problem.In.Underlying().(*types.Basic); ok && b.Kind() == types.Invalid {
				return diag.Diagnostic{}, false // a type error the compiler reports
			}
			return memberDiag(pkg, ref.Cond, problem), true
		}
		// Each member is kept in the JSON of the struct that declares it
		// (CondSelectors); a struct JSON inlines into the state, as an
		// embedded one, may still lose it there.
		full := slices.Clone(index)
		for _, sel := range sels {
			full = append(full, sel.Index)
		}
		if why, hint := dsl.JSONLoss(T, full); why != "" {
			return diag.Errorf(ref.Cond.PathRange(), "state-field-unexported", "condition %q reads a field that is %s: run snapshots and the JSON engine carry the state as JSON, which drops it, so it would read as zero there", ref.Cond.Path(), why).
				WithHint("%s", hint), true
		}
		return checkCondType(pkg, leaf, ref.Cond)
	}
	if ref.Role == dsl.RoleUntil {
		if isTime(ft) {
			return diag.Diagnostic{}, false
		}
		if b, ok := ft.Underlying().(*types.Basic); ok && b.Kind() == types.Invalid {
			return diag.Diagnostic{}, false // a type error already reported by the compiler
		}
		d := diag.Errorf(id.Range, "field-type", "sleep until field %q has type %s; it must be time.Time", id.Name, dsl.TypeString(ft, pkg))
		if p, ok := ft.(*types.Pointer); ok && isTime(p.Elem()) {
			return d.WithHint("declare it as time.Time: its zero value says the time is not set (the sleep then ends with the outcome error)"), true
		}
		if isDuration(ft) {
			// Meant as "sleep for this long", which a sleep cannot read
			// from the state: its length is written in the flow.
			return d.WithHint("sleep until takes the time to wake at; a sleep's length is written in the flow (`sleep 48h`): to sleep for a duration the run computes, set a time.Time field to now plus it in a step before, and sleep until that field"), true
		}
		return d.WithHint("declare the field as time.Time: it holds when the run wakes"), true
	}
	if ref.Role == dsl.RoleCorrelate {
		if !correlatable(ft) {
			if b, ok := ft.Underlying().(*types.Basic); ok && b.Kind() == types.Invalid {
				return diag.Diagnostic{}, false // a type error already reported by the compiler
			}
			return diag.Errorf(id.Range, "field-type", "correlation field %q has type %s; it must be a string, an integer or a bool", id.Name, dsl.TypeString(ft, pkg)).
				WithHint("correlate on a field whose underlying type is a string, an integer or a bool: an event's member is compared with its JSON text"), true
		}
		return diag.Diagnostic{}, false
	}
	if bad := unencodable(ft); bad != "" {
		return diag.Errorf(id.Range, "field-type", "%s field %q has type %s, which JSON cannot carry (%s)", ref.Role, id.Name, dsl.TypeString(ft, pkg), bad).
			WithHint("use data types for fields the flow sends, receives or stores"), true
	}
	return diag.Diagnostic{}, false
}

// correlatable reports whether a correlation field may have type t: the
// generated code reads it with runtime.CorrelationValue, so t must satisfy
// its constraint, runtime.Correlatable (strings, booleans and integers but
// uintptr). The checker sees go/types, not the runtime's type set, so this
// restates it; TestCorrelatableMatchesRuntime fails when the two differ.
func correlatable(t types.Type) bool {
	b, ok := t.Underlying().(*types.Basic)
	return ok && b.Info()&(types.IsString|types.IsBoolean|types.IsInteger) != 0 && b.Kind() != types.Uintptr
}

// isTime reports whether t is time.Time itself (not a type defined on it,
// which would lose its JSON methods).
func isTime(t types.Type) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "time" && n.Obj().Name() == "Time"
}

// pointee is what t points to through its pointers, pointers to pointers
// included (a bounded number, not recursive: a named pointer type may
// point to itself), or t when it is not a pointer. JSON encodes and
// decodes through pointers, so the JSON checks look at what they point to.
func pointee(t types.Type) types.Type {
	for range 8 {
		p, ok := t.Underlying().(*types.Pointer)
		if !ok {
			break
		}
		t = p.Elem()
	}
	return t
}

// unencodable says why t cannot be JSON-encoded at the top level, or "".
func unencodable(t types.Type) string {
	t = pointee(t)
	switch u := t.Underlying().(type) {
	case *types.Chan:
		return "a channel"
	case *types.Signature:
		return "a function"
	case *types.Basic:
		switch {
		case u.Kind() == types.UnsafePointer:
			return "an unsafe pointer"
		case u.Info()&types.IsComplex != 0:
			return "a complex number"
		}
	}
	return ""
}

// fieldSuggestion is the hint for name, which no field of T has: the
// closest name of its fields, if one is close, and when that field is
// unexported, that it must be exported (writing its name would only meet
// state-field-unexported). "" when none is close.
func fieldSuggestion(name string, T types.Type) string {
	m := diag.DidYouMean(name, fieldNames(T))
	switch {
	case m == "":
		return ""
	case token.IsExported(m):
		return fmt.Sprintf("did you mean %q?", m)
	}
	return fmt.Sprintf("did you mean %q? It is unexported, which a flow cannot name (run snapshots are JSON): %s", m, dsl.ExportHint(m))
}

// fieldNames lists the fields of struct type T, promoted ones included
// (embedding is followed a few levels, without cycles), for did-you-mean.
func fieldNames(T types.Type) []string {
	var names []string
	seen := map[types.Type]bool{}
	var walk func(t types.Type, depth int)
	walk = func(t types.Type, depth int) {
		if p, ok := t.Underlying().(*types.Pointer); ok {
			t = p.Elem()
		}
		s, ok := t.Underlying().(*types.Struct)
		if !ok || seen[t] || depth > 4 {
			return
		}
		seen[t] = true
		for i := range s.NumFields() {
			fv := s.Field(i)
			names = append(names, fv.Name())
			if fv.Embedded() {
				walk(fv.Type(), depth+1)
			}
		}
	}
	walk(T, 0)
	return names
}

func packageTypeNames(pkg *types.Package) []string {
	var names []string
	for _, n := range pkg.Scope().Names() { // sorted: deterministic hints
		if _, ok := pkg.Scope().Lookup(n).(*types.TypeName); ok {
			names = append(names, n)
		}
	}
	return names
}

func objectKind(obj types.Object) string {
	switch obj.(type) {
	case *types.TypeName:
		return "type"
	case *types.Func:
		return "function"
	case *types.Var:
		return "variable"
	case *types.Const:
		return "constant"
	default:
		return "declaration"
	}
}

// PackageName is the name of the Go package in dir, which the generated
// file joins: the package clause of its .go files, leaving out tests, files
// that build constraints exclude, and files flowgen generated (a stale one
// may name an old package). No such file, or files of two packages, is an
// error that says to use -pkg: the state type has to live in a package, so
// guessing a name would only move the error to the compiler.
func PackageName(dir string) (string, error) {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return "", err
	}
	fset := token.NewFileSet()
	var names []string
	for _, e := range entries {
		file := e.Name()
		if e.IsDir() || !strings.HasSuffix(file, ".go") || strings.HasSuffix(file, "_test.go") {
			continue
		}
		if ok, err := build.Default.MatchFile(dir, file); err != nil || !ok {
			continue
		}
		path := filepath.Join(dir, file)
		src, _, err := regfile.Read(path, -1)
		if err != nil || dsl.IsGenerated(src) {
			continue
		}
		f, err := parser.ParseFile(fset, path, src, parser.PackageClauseOnly)
		if err != nil {
			continue
		}
		if !slices.Contains(names, f.Name.Name) {
			names = append(names, f.Name.Name)
		}
	}
	switch len(names) {
	case 0:
		return "", fmt.Errorf("no Go files in %s to take the package name from (the state type must be declared there); use -pkg NAME", dir)
	case 1:
		return names[0], nil
	}
	return "", fmt.Errorf("the Go files in %[2]s belong to several packages (%[1]s); use -pkg NAME", strings.Join(names, ", "), dir)
}
