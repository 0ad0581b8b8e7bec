package runtime

import (
	"encoding"
	"encoding/json"
	"reflect"
)

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// isValueType reports whether t's JSON encoding is a function of its value
// as == compares it: no pointers, slices, maps, interfaces, channels or
// functions anywhere (strings are fine: == compares their contents), and no
// custom marshaling that might read anything else. For such a state an
// unchanged value (==) needs no new snapshot.
func isValueType(t reflect.Type) bool {
	if t.Implements(jsonMarshaler) || t.Implements(textMarshaler) ||
		reflect.PointerTo(t).Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(textMarshaler) {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.String:
		return true
	case reflect.Array:
		return isValueType(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !isValueType(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}
