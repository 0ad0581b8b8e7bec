// Package jsontag reads a struct field's `json` tag as encoding/json does.
// The checks of a state type (dsl/gocheck), the member paths of conditions
// (dsl), the names of the JSON form's keys (dsl) and the provider
// protocol's check of member names (engine/provider) all ask it, so that
// they agree with encoding/json and with each other.
package jsontag

import (
	"reflect"
	"strings"
)

// Parse returns the name tag gives its field (empty when it gives none:
// the field's Go name is used) and whether encoding/json leaves the field
// out. Only a tag of exactly "-" does; `json:"-,"` names the field "-".
func Parse(tag reflect.StructTag) (name string, omitted bool) {
	v := tag.Get("json")
	if v == "-" {
		return "", true
	}
	name, _, _ = strings.Cut(v, ",")
	return name, false
}
