package jsonenc

import (
	"testing"

	"github.com/flowgen/flowgen/internal/pointerjsontest"
)

// A value is handed to the encoder through a pointer to a copy of it, so
// that its field keeps its MarshalJSON (as a value: {}); a pointer and nil
// are handed on as they are.
func TestAddressed(t *testing.T) {
	m := pointerjsontest.New(1234)
	if b, err := Marshal(Addressed(m)); err != nil || string(b) != pointerjsontest.JSON(1234) {
		t.Errorf("a value: %s %v, want %s", b, err, pointerjsontest.JSON(1234))
	}
	if p := &m; Addressed(p) != any(p) {
		t.Error("a pointer is not handed on as it is")
	}
	if Addressed(nil) != nil {
		t.Error("nil is not handed on as it is")
	}
}
