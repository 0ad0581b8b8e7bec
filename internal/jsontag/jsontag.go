// Package jsontag reads a struct field's `json` tag as encoding/json does.
// The checks of a state type (dsl/gocheck), the member paths of conditions
// (dsl), the names of the JSON form's keys (dsl) and the provider
// protocol's check of member names (engine/provider) all ask it, so that
// they agree with encoding/json and with each other.
package jsontag

import (
	"reflect"
	"strings"
	"unicode"
)

// Parse returns the name tag gives its field (empty when it gives none,
// or one encoding/json ignores because it holds a character other than a
// letter, a digit or the punctuation it allows: the field's Go name is
// used) and whether encoding/json leaves the field out. Only a tag of
// exactly "-" does; `json:"-,"` names the field "-".
func Parse(tag reflect.StructTag) (name string, omitted bool) {
	v := tag.Get("json")
	if v == "-" {
		return "", true
	}
	name, _, _ = strings.Cut(v, ",")
	if !valid(name) {
		name = ""
	}
	return name, false
}

// valid is encoding/json's isValidTag: backslash and quote characters are
// reserved, other punctuation is allowed.
func valid(name string) bool {
	for _, c := range name {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}
