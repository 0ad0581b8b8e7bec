package jsontag

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestParseAgreesWithEncodingJSON marshals a struct whose fields carry
// every kind of tag and checks Parse's answer for each against the keys
// encoding/json wrote.
func TestParseAgreesWithEncodingJSON(t *testing.T) {
	type S struct {
		Plain     int
		Named     int `json:"named"`
		OmitEmpty int `json:",omitempty"`
		Both      int `json:"both,omitempty"`
		Dropped   int `json:"-"`
		//lint:ignore SA5008 the tag under test: encoding/json names this field "-"
		Dash  int `json:"-,"`
		Other int `yaml:"other"`
		//lint:ignore SA5008 the tag under test: encoding/json ignores a name with a character it does not allow
		Bad int `json:"a\\b"`
		//lint:ignore SA5008 as Bad
		Quote int `json:"x'y"`
		Punct int `json:"a-b.c/d"`
	}
	out, err := json.Marshal(S{1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]int
	if err := json.Unmarshal(out, &keys); err != nil {
		t.Fatal(err)
	}
	st := reflect.TypeFor[S]()
	for i := range st.NumField() {
		f := st.Field(i)
		name, omitted := Parse(f.Tag)
		key := name
		if key == "" {
			key = f.Name
		}
		_, written := keys[key]
		if omitted == written {
			t.Errorf("field %s (tag %q): Parse says omitted=%v, name %q; encoding/json wrote %s", f.Name, f.Tag, omitted, name, out)
		}
		if !omitted {
			delete(keys, key)
		}
	}
	if len(keys) != 0 {
		t.Errorf("keys encoding/json wrote that Parse named no field for: %v", keys)
	}
}
