package runtime

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// flatEncoder encodes one struct type exactly as encoding/json does
// (Marshal, and Encoder with its default HTML escaping, without the
// newline), for the common shape of a flow state: a struct of strings,
// booleans and integers. encoding/json looks the type up, walks it by
// reflection and pools its buffers on every call, which costs more than the
// encoding itself for a small state; this one reads the fields at their
// offsets. newFlatEncoder accepts only types for which the two agree
// (checked by TestFlatEncoderMatchesJSON and FuzzFlatEncoder); any other
// type is encoded by encoding/json.
type flatEncoder struct {
	fields []flatField
}

type flatField struct {
	offset    uintptr
	kind      reflect.Kind
	omitEmpty bool
	key       string // `"name":`, escaped as encoding/json does
}

var jsonNumber = reflect.TypeFor[json.Number]()

// newFlatEncoder returns an encoder for t, or nil if t is not a struct
// whose fields (after encoding/json's rules: exported, not "-") are all
// strings, booleans or integers without custom marshaling, named by a tag or
// their Go name, with no option but omitempty, none embedded and no two with
// the same name.
func newFlatEncoder(t reflect.Type) *flatEncoder {
	if t.Kind() != reflect.Struct || marshalsItself(t) {
		return nil
	}
	e := &flatEncoder{}
	names := make(map[string]bool)
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			return nil
		}
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if !validTagName(name) {
			name = ""
		}
		if name == "" {
			name = sf.Name
		}
		omitEmpty := false
		for opt := range strings.SplitSeq(opts, ",") {
			switch opt {
			case "":
			case "omitempty":
				omitEmpty = true
			default: // "string", "omitzero", ...: left to encoding/json
				return nil
			}
		}
		if names[name] {
			return nil
		}
		names[name] = true
		ft := sf.Type
		if ft == jsonNumber || marshalsItself(ft) {
			return nil
		}
		switch ft.Kind() {
		case reflect.String, reflect.Bool,
			reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		default:
			return nil
		}
		key := string(appendJSONString(nil, name)) + ":"
		e.fields = append(e.fields, flatField{offset: sf.Offset, kind: ft.Kind(), omitEmpty: omitEmpty, key: key})
	}
	return e
}

func marshalsItself(t reflect.Type) bool {
	return t.Implements(jsonMarshaler) || t.Implements(textMarshaler) ||
		reflect.PointerTo(t).Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(textMarshaler)
}

// validTagName is encoding/json's isValidTag.
func validTagName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// encode appends the JSON of the struct at p.
func (e *flatEncoder) encode(dst []byte, p unsafe.Pointer) []byte {
	dst = append(dst, '{')
	first := true
	for i := range e.fields {
		f := &e.fields[i]
		v := unsafe.Add(p, f.offset)
		if f.omitEmpty && isZeroField(f.kind, v) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, f.key...)
		switch f.kind {
		case reflect.String:
			dst = appendJSONString(dst, *(*string)(v))
		case reflect.Bool:
			dst = strconv.AppendBool(dst, *(*bool)(v))
		case reflect.Int:
			dst = strconv.AppendInt(dst, int64(*(*int)(v)), 10)
		case reflect.Int8:
			dst = strconv.AppendInt(dst, int64(*(*int8)(v)), 10)
		case reflect.Int16:
			dst = strconv.AppendInt(dst, int64(*(*int16)(v)), 10)
		case reflect.Int32:
			dst = strconv.AppendInt(dst, int64(*(*int32)(v)), 10)
		case reflect.Int64:
			dst = strconv.AppendInt(dst, *(*int64)(v), 10)
		case reflect.Uint:
			dst = strconv.AppendUint(dst, uint64(*(*uint)(v)), 10)
		case reflect.Uint8:
			dst = strconv.AppendUint(dst, uint64(*(*uint8)(v)), 10)
		case reflect.Uint16:
			dst = strconv.AppendUint(dst, uint64(*(*uint16)(v)), 10)
		case reflect.Uint32:
			dst = strconv.AppendUint(dst, uint64(*(*uint32)(v)), 10)
		case reflect.Uint64:
			dst = strconv.AppendUint(dst, *(*uint64)(v), 10)
		case reflect.Uintptr:
			dst = strconv.AppendUint(dst, uint64(*(*uintptr)(v)), 10)
		}
	}
	return append(dst, '}')
}

func isZeroField(k reflect.Kind, v unsafe.Pointer) bool {
	switch k {
	case reflect.String:
		return len(*(*string)(v)) == 0
	case reflect.Bool:
		return !*(*bool)(v)
	case reflect.Int, reflect.Uint, reflect.Uintptr:
		return *(*uintptr)(v) == 0
	case reflect.Int8, reflect.Uint8:
		return *(*uint8)(v) == 0
	case reflect.Int16, reflect.Uint16:
		return *(*uint16)(v) == 0
	case reflect.Int32, reflect.Uint32:
		return *(*uint32)(v) == 0
	}
	return *(*uint64)(v) == 0 // Int64, Uint64
}

const hexDigits = "0123456789abcdef"

// appendJSONString is encoding/json's appendString with HTML escaping (its
// default): the same escapes, byte for byte.
func appendJSONString(dst []byte, src string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(src); {
		if b := src[i]; b < utf8.RuneSelf {
			if b >= ' ' && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, src[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default: // other control bytes, and <, > and & for HTML
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(src[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, src[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, src[start:]...)
	return append(dst, '"')
}
