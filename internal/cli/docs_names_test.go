package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The user documentation names tests and benchmarks as proof (`TestKillEventsDurable`
// checks...) and the API by qualified name (`engine.DefaultMaxRunning`,
// `runtime.Status.Retrying`): each must still exist, or a reader is sent
// to a proof or an option that is gone. Every TestX and BenchmarkX of README.md,
// CONTRIBUTING.md and docs/*.md is a function of some _test.go file
// of the repository (the temporal module included), and every pkg.Name
// (pkg.Type.Member) of the packages below is a declaration of that
// package: a top-level name, or a method or field of the type.
func TestDocNamesExist(t *testing.T) {
	root := filepath.Join("..", "..")
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, filepath.Join(root, "README.md"), filepath.Join(root, "CONTRIBUTING.md"))

	tests := map[string]bool{}
	testFunc := regexp.MustCompile(`(?m)^func ((?:Test|Benchmark)\w+)\(`)
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range testFunc.FindAllStringSubmatch(string(b), -1) {
			tests[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The packages the documents name by their import name.
	pkgDirs := map[string]string{
		"engine":       "engine",
		"runtime":      "runtime",
		"store":        "runtime/store",
		"wal":          "runtime/store/internal/wal",
		"httpcall":     "engine/httpcall",
		"natsbus":      "engine/natsbus",
		"provider":     "engine/provider",
		"natsprovider": "engine/provider/natsprovider",
		"observe":      "observe",
		"dsl":          "dsl",
		"parser":       "parser",
		"listen":       "internal/listen",
		"flowtemporal": "temporal/flowtemporal",
		"jsonflows":    "temporal/jsonflows",
	}
	decls := map[string]map[string]bool{} // package -> "Name" and "Type.Member"
	declsOf := func(pkg string) map[string]bool {
		if d, ok := decls[pkg]; ok {
			return d
		}
		d := packageDecls(t, filepath.Join(root, pkgDirs[pkg]))
		decls[pkg] = d
		return d
	}

	testName := regexp.MustCompile(`\b(?:Test|Benchmark)[A-Z]\w*`)
	qualified := regexp.MustCompile(`\b([a-z]+)\.([A-Z]\w*)(?:\.([A-Z]\w*))?`)
	checked := 0
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := filepath.Rel(root, doc)
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range testName.FindAllString(line, -1) {
				checked++
				if !tests[m] {
					t.Errorf("%s:%d: %s: no test or benchmark of that name in the repository", name, i+1, m)
				}
			}
			for _, m := range qualified.FindAllStringSubmatch(line, -1) {
				if _, ok := pkgDirs[m[1]]; !ok {
					continue
				}
				checked++
				d := declsOf(m[1])
				switch {
				case !d[m[2]]:
					t.Errorf("%s:%d: %s.%s: package %s declares no %s", name, i+1, m[1], m[2], pkgDirs[m[1]], m[2])
				case m[3] != "" && d[m[2]+"."] && !d[m[2]+"."+m[3]]:
					t.Errorf("%s:%d: %s.%s.%s: %s has no method or field %s", name, i+1, m[1], m[2], m[3], m[2], m[3])
				}
			}
		}
	}
	if checked < 300 {
		t.Fatalf("%d names checked: the documents were not read", checked)
	}
}

// packageDecls returns the exported names the non-test files of dir
// declare at top level, and for each type T "T." and "T.M" for its
// methods and struct fields (embedded ones by their type's name) and its
// interface methods, those of the types it embeds promoted. A name that is not a type has no "T." entry, so
// that pkg.Func.X (a value's field in prose) is not held to a member.
func packageDecls(t *testing.T, dir string) map[string]bool {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	d := map[string]bool{}
	embeds := map[string][]string{} // type -> the local types it embeds
	member := func(typ, name string) {
		d[typ+"."] = true
		d[typ+"."+name] = true
	}
	fields := func(typ string, fl *ast.FieldList) {
		for _, f := range fl.List {
			for _, n := range f.Names {
				member(typ, n.Name)
			}
			if len(f.Names) == 0 { // embedded: its type's name
				x := f.Type
				if s, ok := x.(*ast.StarExpr); ok {
					x = s.X
				}
				switch x := x.(type) {
				case *ast.Ident:
					member(typ, x.Name)
					embeds[typ] = append(embeds[typ], x.Name)
				case *ast.SelectorExpr:
					member(typ, x.Sel.Name)
				}
			}
		}
	}
	for _, f := range files {
		for _, decl := range f.Decls {
			switch decl := decl.(type) {
			case *ast.FuncDecl:
				if decl.Recv == nil {
					d[decl.Name.Name] = true
					continue
				}
				x := decl.Recv.List[0].Type
				if s, ok := x.(*ast.StarExpr); ok {
					x = s.X
				}
				switch x := x.(type) {
				case *ast.IndexExpr:
					member(x.X.(*ast.Ident).Name, decl.Name.Name)
				case *ast.IndexListExpr:
					member(x.X.(*ast.Ident).Name, decl.Name.Name)
				case *ast.Ident:
					member(x.Name, decl.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range decl.Specs {
					switch s := s.(type) {
					case *ast.ValueSpec:
						for _, n := range s.Names {
							d[n.Name] = true
						}
					case *ast.TypeSpec:
						d[s.Name.Name] = true
						d[s.Name.Name+"."] = true
						switch st := s.Type.(type) {
						case *ast.StructType:
							fields(s.Name.Name, st.Fields)
						case *ast.InterfaceType:
							fields(s.Name.Name, st.Methods)
						}
					}
				}
			}
		}
	}
	// Promote the members of embedded types, as Go does (Store's
	// PutMessages is its embedded inboxOps's).
	var promote func(typ string, seen map[string]bool)
	promote = func(typ string, seen map[string]bool) {
		for _, e := range embeds[typ] {
			if seen[e] {
				continue
			}
			seen[e] = true
			promote(e, seen)
			var ms []string
			for k := range d {
				if m, ok := strings.CutPrefix(k, e+"."); ok && m != "" {
					ms = append(ms, m)
				}
			}
			for _, m := range ms {
				member(typ, m)
			}
		}
	}
	for typ := range embeds {
		promote(typ, map[string]bool{typ: true})
	}
	return d
}
