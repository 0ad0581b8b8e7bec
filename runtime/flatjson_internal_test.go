package runtime

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// flatAll has a field of every kind and tag form the flat encoder takes.
type flatAll struct {
	S       string
	Tagged  string `json:"tagged"`
	Omit    string `json:"omit,omitempty"`
	Dash    string `json:"-,"`
	Skipped string `json:"-"`
	Odd     string `json:"a<b>&c"`
	Bad     string `json:"bad\"name"` // invalid tag name: Go name used
	Uni     string `json:"ñame"`
	unexp   string
	B       bool
	BO      bool `json:",omitempty"`
	I       int
	I8      int8    `json:"i8,omitempty"`
	I16     int16   `json:"i16,omitempty"`
	I32     int32   `json:"i32,omitempty"`
	I64     int64   `json:"i64,omitempty"`
	U       uint    `json:"u,omitempty"`
	U8      uint8   `json:"u8,omitempty"`
	U16     uint16  `json:"u16,omitempty"`
	U32     uint32  `json:"u32,omitempty"`
	U64     uint64  `json:"u64,omitempty"`
	UP      uintptr `json:"up,omitempty"`
	Named   flatName
	Empty   struct{} `json:"-"`
}

type flatName string

type flatEmbedded struct {
	flatName
	A string
}

type flatQuoted struct {
	N int `json:"n,string"`
}

type flatDup struct { // both named B: encoding/json keeps the tagged one
	A string `json:"B"`
	B string
}

type flatNumber struct{ N json.Number }

type flatFloat struct{ F float64 }

type flatNested struct{ In struct{ A string } }

type flatMarshals struct{ A string }

func (flatMarshals) MarshalJSON() ([]byte, error) { return []byte(`{}`), nil }

func TestNewFlatEncoderTakesOnlyFlatTypes(t *testing.T) {
	cases := map[reflect.Type]bool{
		reflect.TypeFor[flatAll]():               true,
		reflect.TypeFor[struct{}]():              true,
		reflect.TypeFor[struct{ a int }]():       true,
		reflect.TypeFor[flatEmbedded]():          false,
		reflect.TypeFor[flatQuoted]():            false,
		reflect.TypeFor[flatDup]():               false,
		reflect.TypeFor[flatNumber]():            false,
		reflect.TypeFor[flatFloat]():             false,
		reflect.TypeFor[flatNested]():            false,
		reflect.TypeFor[flatMarshals]():          false,
		reflect.TypeFor[struct{ J jsonNamed }](): false,
		reflect.TypeFor[textNamed]():             false,
		reflect.TypeFor[string]():                false,
		reflect.TypeFor[struct{ P *int }]():      false,
		reflect.TypeFor[struct {
			A string `json:"a,omitzero"`
		}](): false,
	}
	for typ, want := range cases {
		if got := newFlatEncoder(typ) != nil; got != want {
			t.Errorf("newFlatEncoder(%v) != nil is %v, want %v", typ, got, want)
		}
	}
}

// flatStrings are strings that exercise every escape of encoding/json.
var flatStrings = []string{
	"", "x", "plain text", `quote " backslash \ slash /`, "<script>&amp;</script>",
	"\b\f\n\r\t\x00\x01\x1f\x7f", "ünïcødé ✓ 😀", "\u2028\u2029", "bad \xff utf8 \xc3", "\xed\xa0\x80",
	strings.Repeat("long ", 100),
}

func checkFlat[T any](t *testing.T, v T) {
	t.Helper()
	e := newFlatEncoder(reflect.TypeFor[T]())
	if e == nil {
		t.Fatalf("no flat encoder for %T", v)
	}
	want, err := json.Marshal(&v)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.encode(nil, unsafe.Pointer(&v)); string(got) != string(want) {
		t.Fatalf("flat encoding of %#v:\n got %s\nwant %s", v, got, want)
	}
}

func TestFlatEncoderMatchesJSON(t *testing.T) {
	checkFlat(t, struct{}{})
	checkFlat(t, flatAll{})
	r := rand.New(rand.NewPCG(1, 2))
	str := func() string { return flatStrings[r.IntN(len(flatStrings))] }
	for range 2000 {
		v := flatAll{
			S: str(), Tagged: str(), Omit: str(), Dash: str(), Skipped: str(), Odd: str(), Bad: str(), Uni: str(),
			unexp: str(), B: r.IntN(2) == 0, BO: r.IntN(2) == 0, I: int(r.Int64()) >> r.IntN(64),
			I8: int8(r.Int()), I16: int16(r.Int()), I32: int32(r.Int()), I64: r.Int64() - r.Int64(),
			U: uint(r.Uint64()) >> r.IntN(64), U8: uint8(r.Uint32()), U16: uint16(r.Uint32()), U32: r.Uint32(),
			U64: r.Uint64() >> r.IntN(64), UP: uintptr(r.Uint64()), Named: flatName(str()),
		}
		if r.IntN(4) == 0 { // zero integers for omitempty
			v.I8, v.I16, v.I32, v.I64, v.U, v.U8, v.U16, v.U32, v.U64, v.UP = 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
		}
		checkFlat(t, v)
	}
	checkFlat(t, flatAll{I: math.MinInt, I64: math.MinInt64, U64: math.MaxUint64, I8: math.MinInt8})
}

func FuzzFlatEncoder(f *testing.F) {
	for _, s := range flatStrings {
		f.Add(s, int64(len(s)), true)
	}
	f.Fuzz(func(t *testing.T, s string, n int64, b bool) {
		checkFlat(t, flatAll{S: s, Omit: s, Odd: s, Named: flatName(s), I: int(n), I64: n, U64: uint64(n), BO: b, I8: int8(n)})
	})
}
