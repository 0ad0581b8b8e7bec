package jsonflows

import (
	"encoding/json"
	"testing"

	"github.com/flowgen/flowgen/internal/pointerjsontest"
)

// A call's input that is not the state field's JSON is encoded as a
// run's state is (runtime.EncodeState): through a pointer, so that a
// value whose JSON methods have pointer receivers keeps them, and with <,
// > and & as they are, as the child's run records its state.
func TestCallStateEncodedAsAState(t *testing.T) {
	for _, c := range []struct {
		name  string
		input any
		want  string
	}{
		{"none", nil, `{}`},
		{"empty field", json.RawMessage(nil), `{}`},
		{"field", json.RawMessage(`{"a":"<b>"}`), `{"a":"<b>"}`},
		{"html kept", map[string]string{"a": "<b>&"}, `{"a":"<b>&"}`},
		{"pointer methods", pointerjsontest.New(42), pointerjsontest.JSON(42)},
	} {
		got, err := callState(c.input)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if string(got) != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
