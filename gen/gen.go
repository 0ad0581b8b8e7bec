// Package gen turns the dsl model of a .flow file into Go source on the
// flowgen runtime: per flow, constants for its steps and declared outcomes,
// the interface of the Go steps the user implements, a typed definition
// with its constructor, and a typed run. Every package-level identifier it
// emits comes from dsl.Flow.GoNamesFor its target, which Check verifies,
// so a file that checks clean generates code that compiles; its imports
// are named apart from the package's own names (imports.go).
//
// Generate returns the files; it never writes them (the CLI does, atomically).
package gen

import (
	"bytes"
	"fmt"
	"go/doc/comment"
	"go/token"
	"go/types"
	"path/filepath"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/flowgen/flowgen/dsl"
)

// Options say where the generated file goes.
type Options struct {
	// Package is the name of the Go package of the generated file: the
	// package of the directory the .flow file is in. Required.
	Package string
	// Source is the .flow file's name, for the header and the generated
	// file's name; only its base name is used. "" means the model's
	// File.Name.
	Source string
	// Target is what the code runs on: TargetRuntime ("" too) or
	// TargetTemporal.
	Target string
	// Types is the Go package the file is generated into, loaded
	// (dsl/gocheck.Load's Types): the typed service ports' signatures are the Go
	// types of the state fields the rpc lines name. nil is enough for a
	// file whose rpc lines name no state field; otherwise Generate refuses
	// the file.
	Types *types.Package
}

// FileName is the name of the file generated from source:
// "dir/signup.flow" gives "signup_flow.go".
func FileName(source string) string {
	base := filepath.Base(filepath.ToSlash(source))
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	return base + "_flow.go"
}

// Generate returns the Go source of f, keyed by file name (one file,
// FileName(opts.Source)). f must have been checked without errors
// (dsl.Check); Generate still refuses, with an error rather than a panic or
// code that does not compile, a model it cannot generate from. The output
// depends only on f and opts, and is gofmt-formatted.
func Generate(f *dsl.File, opts Options) (map[string][]byte, error) {
	if f == nil {
		return nil, fmt.Errorf("gen: no file")
	}
	if !token.IsIdentifier(opts.Package) {
		return nil, fmt.Errorf("gen: package name %q is not a Go identifier", opts.Package)
	}
	source := opts.Source
	if source == "" {
		source = f.Name
	}
	if source == "" {
		return nil, fmt.Errorf("gen: no source file name")
	}
	source = filepath.Base(filepath.ToSlash(source))
	if err := CheckTarget(opts.Target); err != nil {
		return nil, fmt.Errorf("gen: %w", err)
	}

	gens := make([]*flowGen, len(f.Flows))
	for i, fl := range f.Flows {
		if fl == nil {
			return nil, fmt.Errorf("gen: flow %d is nil", i)
		}
		g, err := newFlowGen(f, fl, source, opts.Target, opts.Types)
		if err != nil {
			return nil, err
		}
		gens[i] = g
	}

	jf := jen.NewFile(opts.Package)
	nameImports(jf, fileImports(opts.Target, gens), packageNames(opts.Types, gens))
	jf.HeaderComment(strings.TrimPrefix(dsl.GeneratedHeader, "// "))
	jf.HeaderComment(strings.TrimPrefix(dsl.SourceHeader, "// ") + source)

	jf.Add(docComment(
		"This file does not compile against a runtime with another generated-code",
		"ABI: regenerate it with the flowgen of the runtime's module version.",
	))
	jf.Const().Id("_").Op("=").Qual(runtimePkg, "IsVersion1")

	for _, g := range gens {
		g.emit(jf)
		if opts.Target == TargetTemporal {
			g.emitTemporal(jf)
		}
	}

	var buf bytes.Buffer
	// Render formats the source (go/format) once; nothing formats it again.
	if err := jf.Render(&buf); err != nil {
		return nil, fmt.Errorf("gen: %s: %w", source, err)
	}
	return map[string][]byte{FileName(source): buf.Bytes()}, nil
}

// docComment renders lines as a // comment, one line each; empty lines
// become "//". jen.Comment would turn multi-line text into /* */.
//
// The text is first put in the canonical form of a Go doc comment
// (go/doc/comment), which is what gofmt rewrites a declaration's doc comment
// to: a line of a .flow doc that reads as a heading ("Refunds", alone
// between blank lines) becomes "# Refunds", a list is indented. Render's
// go/format pass does not do that rewrite for comments jennifer emits, so
// without this the file would not be gofmt-clean (found by FuzzGenerate).
func docComment(lines ...string) jen.Code {
	var text strings.Builder
	for _, l := range lines {
		text.WriteString(strings.TrimRight(strings.ReplaceAll(l, "\r", ""), " \t"))
		text.WriteByte('\n')
	}
	var p comment.Parser
	var pr comment.Printer
	canonical := strings.TrimRight(string(pr.Comment(p.Parse(text.String()))), "\n")
	var b strings.Builder
	for i, l := range strings.Split(canonical, "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		switch {
		case l == "":
			b.WriteString("//")
		case l[0] == '\t': // a code block: gofmt writes "//\tcode"
			b.WriteString("//" + l)
		default:
			b.WriteString("// " + l)
		}
	}
	return jen.Comment(b.String())
}

// docLines splits a .flow doc comment into lines; "" gives none.
func docLines(doc string) []string {
	doc = strings.TrimSpace(strings.ReplaceAll(doc, "\r", ""))
	if doc == "" {
		return nil
	}
	return strings.Split(doc, "\n")
}

// paragraphs joins groups of comment lines with an empty line between the
// groups that are not empty.
func paragraphs(groups ...[]string) []string {
	var out []string
	for _, g := range groups {
		if len(g) == 0 {
			continue
		}
		if len(out) > 0 {
			out = append(out, "")
		}
		out = append(out, g...)
	}
	return out
}

// commentWidth is where prose written by the generator wraps, so that a
// comment indented one level stays within 80 columns. Lines from the .flow
// file are kept as written.
const commentWidth = 72

// prose wraps text (words separated by spaces) into comment lines.
func prose(text string) []string {
	var lines []string
	var b strings.Builder
	for _, w := range strings.Fields(text) {
		if b.Len() > 0 && b.Len()+1+len(w) > commentWidth {
			lines = append(lines, b.String())
			b.Reset()
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	if b.Len() > 0 {
		lines = append(lines, b.String())
	}
	return lines
}
