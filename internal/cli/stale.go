package cli

import (
	"errors"
	"fmt"
	"go/ast"
	goparser "go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/flowgen/flowgen/diag"
	"github.com/flowgen/flowgen/dsl"
	"github.com/flowgen/flowgen/gen"
	"github.com/flowgen/flowgen/internal/regfile"
)

// sourceGone reports whether the generated Go file src names, on its
// source line (dsl.GeneratedSource; gen writes the base name), a file that
// dir does not hold. A file without that line is not taken for stale.
func sourceGone(dir string, src []byte) bool {
	name, ok := dsl.GeneratedSource(src)
	if !ok {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, filepath.Base(name)))
	return errors.Is(err, fs.ErrNotExist)
}

// sourceIs reports whether the generated Go file src names base on its
// source line (dsl.GeneratedSource, where gen writes the base name).
func sourceIs(src []byte, base string) bool {
	name, ok := dsl.GeneratedSource(src)
	return ok && filepath.Base(name) == base
}

// staleCollision reports the first name f generates that a stale
// generated file of the input's package declares: one flowgen generated
// (dsl.IsGenerated) from a source the directory no longer holds, that no
// .flow or .json file of the directory makes (signup_flow.go once
// signup.flow is renamed onboarding.flow), and that this command does not
// replace; or one generated from the input itself into another file than
// the one this command writes (x_flow.go, then gen -o y.go x.flow). The
// package checks read such a file as generated code, emptied, and the
// generated names of the other .flow
// files are checked from those files: nothing else sees it, and go build
// then finds every name declared twice. One diagnostic, whose hint is to
// remove the file, rather than one per name.
func (in *input) staleCollision(f *dsl.File, target string) diag.List {
	dir := in.packageDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	made := map[string]bool{} // the files the directory's sources and this command's inputs make
	for _, ent := range ents {
		if ext := filepath.Ext(ent.Name()); !ent.IsDir() && (ext == ".flow" || ext == ".json") {
			made[filepath.Join(dir, gen.FileName(ent.Name()))] = true
		}
	}
	for _, p := range in.peers {
		made[filepath.Join(filepath.Dir(p), gen.FileName(p))] = true
	}
	out := filepath.Join(dir, gen.FileName(in.path)) // where this command writes the input's code
	if in.out != "" {
		if abs, err := filepath.Abs(in.out); err == nil {
			made[abs] = true
			out = abs
		}
	}
	for _, ent := range ents {
		name := ent.Name()
		path := filepath.Join(dir, name)
		if ent.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || path == out {
			continue
		}
		src, _, err := regfile.Read(path, -1)
		if err != nil || !dsl.IsGenerated(src) {
			continue
		}
		// The input's own code written before to another file (its
		// default one, before -o named another, or the other way round):
		// both files declare the same names.
		again := in.dir == dir && sourceIs(src, filepath.Base(in.path))
		if !again && (made[path] || !sourceGone(dir, src)) {
			continue
		}
		fset := token.NewFileSet()
		af, err := goparser.ParseFile(fset, path, src, goparser.SkipObjectResolution)
		if err != nil {
			continue
		}
		decls := topLevelNames(af)
		shown := in.beside(name)
		ds := f.DeclaredNameCollisions(target, func(n string) (string, bool) {
			pos, ok := decls[n]
			if !ok {
				return "", false
			}
			at := fset.Position(pos)
			if again {
				return fmt.Sprintf("%s declared at %s:%d:%d, a file flowgen generated from %s too", n, shown, at.Line, at.Column, filepath.Base(in.path)), true
			}
			return fmt.Sprintf("%s declared at %s:%d:%d, a file flowgen generated whose source is not in the directory any more", n, shown, at.Line, at.Column), true
		})
		if len(ds) > 0 {
			ds[0].Hint = fmt.Sprintf("remove %s: it is left from a .flow file that was renamed or removed, and go build would find its names twice", shown)
			if again {
				ds[0].Hint = fmt.Sprintf("remove %s: it holds the code of %s generated before, and this command writes it to %s, so go build would find its names twice", shown, filepath.Base(in.path), in.beside(filepath.Base(out)))
			}
			return ds[:1]
		}
	}
	return nil
}

// topLevelNames maps the package-level names af declares (functions, not
// methods; types, variables and constants) to where it declares them.
func topLevelNames(af *ast.File) map[string]token.Pos {
	decls := map[string]token.Pos{}
	for _, d := range af.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				decls[d.Name.Name] = d.Name.Pos()
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					decls[s.Name.Name] = s.Name.Pos()
				case *ast.ValueSpec:
					for _, n := range s.Names {
						decls[n.Name] = n.Pos()
					}
				}
			}
		}
	}
	return decls
}
