package gen

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"testing"

	"github.com/flowgen/flowgen/dsl"
)

// typeCode writes the Go types of the typed ports' signatures, and
// dsl.PortTypeProblem is its rule, which the Go package checks report at
// the field: the two must agree on every type, or a flow that checks
// clean fails in gen with no position (an interface literal with
// methods, a channel inside a slice did).
func TestTypeCodeAgreesWithPortTypeProblem(t *testing.T) {
	const src = `package p

import (
	"fmt"
	"net/url"
	"time"
)

type Pair[K comparable, V any] struct{ K K; V V }
type Fn func()
type Local struct{ x int }

type S struct {
	Int     int
	Str     *string
	URL     url.URL
	Dur     []time.Duration
	Named   fmt.Stringer
	Err     error
	Any     any
	AnyLit  interface{}
	Map     map[string][]*url.URL
	Arr     [3]struct{ X int "json:\"x\"" }
	Pair    Pair[url.URL, map[string]Local]
	NamedFn Fn
	Lit     interface{ String() string }
	Chan    chan int
	Func    func() error
	Chans   []chan int
	Funcs   map[string]struct{ F func() }
	PairCh  Pair[string, chan int]
	PtrLit  *interface{ M() }
	Emb     struct{ fmt.Stringer }
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := (&types.Config{Importer: caseImporter}).Check("p", fset, []*ast.File{f}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := pkg.Scope().Lookup("S").Type().Underlying().(*types.Struct)
	refused := 0
	for i := range st.NumFields() {
		fd := st.Field(i)
		_, err := typeCode(fd.Type(), pkg, map[string]string{})
		why := dsl.PortTypeProblem(fd.Type(), pkg)
		if (err != nil) != (why != "") {
			t.Errorf("field %s (%s): typeCode error %v, PortTypeProblem %q", fd.Name(), fd.Type(), err, why)
		}
		if err != nil {
			refused++
		}
	}
	if refused != 7 {
		t.Errorf("typeCode refused %d field types, want the 7 from Lit on", refused)
	}
}
