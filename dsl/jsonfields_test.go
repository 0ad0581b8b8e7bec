package dsl

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"reflect"
	"strings"
	"testing"
)

var jsonFieldsTypes = map[string]reflect.Type{
	"jfDashEmbedded":   reflect.TypeFor[jfDashEmbedded](),
	"jfEmbeddedTie":    reflect.TypeFor[jfEmbeddedTie](),
	"jfTagWins":        reflect.TypeFor[jfTagWins](),
	"jfShallowWins":    reflect.TypeFor[jfShallowWins](),
	"jfTaggedDeepWins": reflect.TypeFor[jfTaggedDeepWins](),
	"jfDeepTagged":     reflect.TypeFor[jfDeepTagged](),
	"jfNested":         reflect.TypeFor[jfNested](),
	"jfNestedTie":      reflect.TypeFor[jfNestedTie](),
	"jfTwice":          reflect.TypeFor[jfTwice](),
	"jfPointer":        reflect.TypeFor[jfPointer](),
	"jfInvalidTag":     reflect.TypeFor[jfInvalidTag](),
	"jfUnexported":     reflect.TypeFor[jfUnexported](),
	"jfPair":           reflect.TypeFor[jfPair](),
	"jfCodec":          reflect.TypeFor[jfCodec](),
	"jfHoldsCodec":     reflect.TypeFor[jfHoldsCodec](),
}

// TestJSONLossAgreesWithEncodingJSON: for every field of the types of
// jsonfields_types_test.go that a Go selector reaches (promoted ones
// included), JSONLoss says the field is lost exactly when a value set in
// it does not come back from a json.Marshal and json.Unmarshal round trip,
// which is what a run's snapshot and resume do.
func TestJSONLossAgreesWithEncodingJSON(t *testing.T) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "jsonfields_types_test.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := new(types.Config).Check("dsl", fset, []*ast.File{file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for name, rt := range jsonFieldsTypes {
		T := pkg.Scope().Lookup(name).Type()
		for _, index := range leafSelections(T, nil) {
			why, hint := JSONLoss(T, index)
			kept := roundTrips(t, rt, index)
			sel := GoPath(T, index)
			if kept != (why == "") {
				t.Errorf("%s.%s: JSONLoss says %q; encoding/json keeps it: %v", name, sel, why, kept)
			}
			if why != "" && (hint == "" || strings.Contains(why, "\n")) {
				t.Errorf("%s.%s: why %q, hint %q", name, sel, why, hint)
			}
			checked++
		}
	}
	if checked < 30 {
		t.Errorf("only %d fields checked", checked)
	}
}

// leafSelections are the selections of every int or string field of
// struct type T, through embedded fields (by value or pointer) and struct
// fields.
func leafSelections(T types.Type, prefix []int) [][]int {
	st := structOf(T)
	if st == nil {
		return nil
	}
	var out [][]int
	for i := range st.NumFields() {
		index := append(append([]int(nil), prefix...), i)
		if structOf(st.Field(i).Type()) != nil {
			out = append(out, leafSelections(st.Field(i).Type(), index)...)
			continue
		}
		out = append(out, index)
	}
	return out
}

// roundTrips sets the field index of a new value of rt and reports
// whether a JSON round trip keeps it.
func roundTrips(t *testing.T, rt reflect.Type, index []int) bool {
	in := reflect.New(rt).Elem()
	f := valueAt(in, index)
	switch f.Kind() {
	case reflect.String:
		f.SetString("set")
	case reflect.Int:
		f.SetInt(7)
	default:
		t.Fatalf("%s %v: field of kind %s", rt, index, f.Kind())
	}
	data, err := json.Marshal(in.Interface())
	if err != nil {
		t.Fatal(err)
	}
	out := reflect.New(rt)
	if err := json.Unmarshal(data, out.Interface()); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	return !valueAt(out.Elem(), index).IsZero()
}

// valueAt is v's field index, allocating the nil pointers on the way and
// reaching unexported fields (the test only sets and reads them).
func valueAt(v reflect.Value, index []int) reflect.Value {
	for _, i := range index {
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(i)
		v = reflect.NewAt(v.Type(), v.Addr().UnsafePointer()).Elem()
	}
	return v
}
