package jsonenc

import "reflect"

// Addressed is v through a pointer to a copy of it, unless v is nil or a
// pointer already: how a user's value (a run's state, a request, a
// payload, a provider's state field) is handed to an encoder, Marshal,
// encoding/json's or another's (the Temporal SDK's). Encoded as a value,
// a field whose JSON methods have pointer receivers (a math/big.Int) is
// not addressable, so encoding/json skips its MarshalJSON and writes its
// unexported fields, {}, which its UnmarshalJSON refuses. Its home is
// here, not in the runtime (runtime.Addressed gives it), so that
// engine/provider, which may not import the runtime, encodes so too.
func Addressed(v any) any {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || rv.Kind() == reflect.Pointer {
		return v
	}
	p := reflect.New(rv.Type())
	p.Elem().Set(rv)
	return p.Interface()
}
