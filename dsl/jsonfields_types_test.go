package dsl

// The struct types of TestJSONLossAgreesWithEncodingJSON: the test
// type-checks this file alone with go/types and compares what JSONLoss says
// of each field with what encoding/json does to it, through reflect. The
// file imports nothing, so that go/types needs no importer.

type jfBase struct{ Region, Zone string }

type jfOrder struct {
	ID    string
	Total int
}

type jfCustomer struct{ ID string }

type jfInner struct{ X, Y int }

type jfPair struct {
	jfInner
	Z int
}

type jfOuter struct{ jfInner }

type jfDashEmbedded struct {
	jfBase `json:"-"`
	Own    string
}

type jfEmbeddedTie struct {
	jfOrder
	jfCustomer
}

type jfTagWins struct {
	X int `json:"Y"`
	Y int
}

type jfShallowWins struct {
	jfPair
	X int
}

type jfTaggedDeepWins struct {
	jfInner
	P jfPairTagged
}

type jfPairTagged struct{ V int }

type jfDeepTagged struct {
	jfTagged
	X int
}

type jfTagged struct {
	Q int `json:"X"`
	R int
}

type jfNested struct {
	jfBase `json:"base"`
	Region string
}

type jfNestedTie struct {
	jfBase `json:"b"`
	jfTagC
}

type jfTagC struct {
	Regions string `json:"b"`
}

type jfTwice struct {
	jfOuter
	jfPair
}

// JFPointee is exported: encoding/json cannot decode into a nil embedded
// pointer to an unexported struct type (the check of a promoted field
// through an embedded pointer is gocheck's).
type JFPointee struct{ ID string }

type jfPointer struct {
	*JFPointee
	N int
}

// jfInvalidTag: encoding/json ignores the name a\b, so A is "A" and B,
// tagged, takes its name.
type jfInvalidTag struct {
	//lint:ignore SA5008 the tag under test: encoding/json ignores the name
	A int `json:"a\\b"`
	B int `json:"A"`
}

type jfUnexported struct {
	jfBase
	own string //lint:ignore U1000 the test reaches it through reflect
	Pub string
}

// jfStamp encodes itself, as time.Time does; jfCodec promotes its methods,
// so encoding/json writes a jfCodec as its jfStamp alone.
type jfStamp struct{ v int }

func (s jfStamp) MarshalJSON() ([]byte, error) {
	if s.v == 0 {
		return []byte("0"), nil
	}
	return []byte("1"), nil
}

func (s *jfStamp) UnmarshalJSON(b []byte) error {
	if string(b) == "1" {
		s.v = 1
	}
	return nil
}

type jfCodec struct {
	jfStamp
	Region string
}

type jfHoldsCodec struct {
	C jfCodec
	N int
}
