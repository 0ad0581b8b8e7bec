package provider

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/flowgen/flowgen/internal/jsonpath"
	"github.com/flowgen/flowgen/internal/snippet"
)

// FuzzDecodeStrict checks DecodeStrict, whose exactNames is a hand-written
// scan of the bytes encoding/json decoded, against strictReference, a
// slow reading of the same rule from json.Decoder's tokens, for each of
// the protocol's messages: both take the same documents, and refuse the
// others with the same error.
func FuzzDecodeStrict(f *testing.F) {
	for _, cs := range [][]struct{ in, err string }{oneObjectCases, exactNameCases, registrationNameCases} {
		for _, c := range cs {
			f.Add([]byte(c.in))
		}
	}
	for _, s := range []string{
		`{"version":1,"run_id":"r","flow":"F","step":"S","handler":"S","idempotency_key":"k","attempt":1,"deadline":"2026-12-03T19:00:00Z","state":{}}`,
		`{"provider":"p","ttl":"30s","expires":"2026-12-03T19:00:00Z","handlers":[{"name":"R","url":"http://h/r"}],"replicas":["a"]}`,
		`{"handlers":[{"name":"R","outcomes":["x",null],"rollback":true}],"handlers":null}`,
		`{"error":null,"error":{"message":"m"}}`,
		`{"\u0073tate":{"\"":[{}]},"outcome":"ok"}`,
		"{\"handlers\":[{\"name\":\"R\",\"ſubject\":\"x\"}]}", // a long s, which encoding/json folds to s
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, newV := range []func() any{
			func() any { return new(Response) },
			func() any { return new(Registration) },
			func() any { return new(Request) },
			func() any { return new(Lease) },
		} {
			got, want := DecodeStrict(b, newV()), strictReference(b, newV())
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("DecodeStrict(%q) into %T: %v, the reference says %v", b, newV(), got, want)
			}
		}
	})
}

// strictReference is DecodeStrict as its comment states it: one JSON
// object, decoded with DisallowUnknownFields (a member it refuses named
// by the walk below), nothing after it but white space, then each member
// named exactly as v's types name it and given once, found by walking
// the document's tokens.
func strictReference(b []byte, v any) error {
	switch t := bytes.TrimLeft(b, " \t\r\n"); {
	case len(t) == 0:
		return errors.New("no JSON object: the body is empty")
	case t[0] != '{':
		if err := CheckJSON(b); err != nil { // TestCheckJSON
			return err
		}
		var x any
		_ = json.Unmarshal(b, &x)
		kind := map[bool]string{true: "null"}[x == nil]
		switch x.(type) {
		case []any:
			kind = "an array"
		case string:
			kind = "a string"
		case bool:
			kind = "a boolean"
		case float64:
			kind = "a number"
		}
		return fmt.Errorf("not a JSON object: found %s", kind)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		// An unknown member is named by its path, as the walk finds it.
		if !errors.As(err, new(*json.UnmarshalTypeError)) && json.Valid(b) {
			if nerr := namesByTokens(json.NewDecoder(bytes.NewReader(b)), reflect.TypeOf(v), ""); nerr != nil {
				return nerr
			}
		}
		return decodeError(b, err) // its phrasing: TestDecodeStrictTypeErrorsNameJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		// The data after starts past the shortest prefix that is JSON,
		// and the white space after it.
		end := 1
		for !json.Valid(b[:end]) {
			end++
		}
		for end < len(b) && strings.ContainsRune(" \t\r\n", rune(b[end])) {
			end++
		}
		line := 1 + bytes.Count(b[:end], []byte("\n"))
		col := end - bytes.LastIndexByte(b[:end], '\n')
		return fmt.Errorf("data after the JSON value, at line %d, column %d", line, col)
	}
	return namesByTokens(json.NewDecoder(bytes.NewReader(b)), reflect.TypeOf(v), "")
}

// namesByTokens reads one value from dec, decoded into a t, at path.
func namesByTokens(dec *json.Decoder, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	open, isDelim := tok.(json.Delim)
	pt := reflect.PointerTo(t)
	switch {
	case !isDelim:
		return nil
	case pt.Implements(reflect.TypeFor[json.Unmarshaler]()) || pt.Implements(reflect.TypeFor[encoding.TextUnmarshaler]()):
	case t.Kind() == reflect.Struct && open == '{':
		var seen []string
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return err
			}
			name := key.(string)
			f, ok := t.FieldByNameFunc(func(n string) bool {
				sf, _ := t.FieldByName(n)
				tag, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
				return sf.IsExported() && tag != "-" && (tag == name || tag == "" && n == name)
			})
			switch {
			case !ok:
				hint := ""
				for sf := range t.Fields() {
					tag, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
					if tag == "" {
						tag = sf.Name
					}
					if sf.IsExported() && tag != "-" && strings.EqualFold(tag, name) {
						hint = " (names are case-sensitive)"
					}
				}
				return fmt.Errorf("%sunknown member %s%s", at(path), snippet.Quote(name, snippet.BodyBytes), hint)
			case slices.Contains(seen, name):
				return fmt.Errorf("%smember %s given twice", at(path), snippet.Quote(name, snippet.BodyBytes))
			}
			seen = append(seen, name)
			if err := namesByTokens(dec, f.Type, jsonpath.Member(path, name)); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return err
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8 && open == '[':
		for i := 0; dec.More(); i++ {
			if err := namesByTokens(dec, t.Elem(), jsonpath.Index(path, i)); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return err
	}
	// A value read whole: skip it.
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}
